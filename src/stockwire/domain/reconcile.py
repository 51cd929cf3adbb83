"""Reconciliation: compare what a channel shows with the hub's number, and correct the difference."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from stockwire.domain.book import availability_key
from stockwire.domain.models import ChannelAvailability, OutboundEvent


@dataclass(frozen=True, kw_only=True)
class Drift:
    """A sku the channel shows differently from the hub."""

    sku: str
    channel: int
    hub: int


@dataclass(frozen=True, kw_only=True)
class Reconciliation:
    drift: tuple[Drift, ...]
    corrections: tuple[OutboundEvent, ...]

    def as_result(self) -> dict[str, Any]:
        return {
            "drift": [{"sku": d.sku, "channel": d.channel, "hub": d.hub} for d in self.drift],
            "corrections": len(self.corrections),
        }


def correction(channel: str, sku: str, number: ChannelAvailability | None) -> OutboundEvent:
    """An `availability.changed` re-stating the hub's current number (0, version 0, for an unknown sku)."""
    available = number.available if number else 0
    version = number.version if number else 0
    return OutboundEvent(
        type="availability.changed",
        key=availability_key(sku, channel),
        channels=(channel,),
        data={"sku": sku, "channel": channel, "available": available, "version": version},
    )


def reconcile(channel: str, view: Sequence[tuple[str, int]],
              hub: Mapping[str, ChannelAvailability]) -> Reconciliation:
    """Every sku in `view` (the channel's own numbers) whose number differs from the hub's.

    Skus the channel leaves out are not compared. Each drifted sku gets one
    correcting event at the hub's current number and version.
    """
    drift: list[Drift] = []
    events: list[OutboundEvent] = []
    for sku, shown in view:
        number = hub.get(sku)
        ours = number.available if number else 0
        if shown != ours:
            drift.append(Drift(sku=sku, channel=shown, hub=ours))
            events.append(correction(channel, sku, number))
    return Reconciliation(drift=tuple(drift), corrections=tuple(events))
