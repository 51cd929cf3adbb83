"""The stock an event touches, and everything the event changes, in memory.

A `StockBook` is loaded by the storage layer with the current levels of every
sku an event names (at every location) and handed to the rules. The rules move
stock through it; `StockBook.close()` then says which levels changed, the ledger
movements, and the outbound events (inventory, alerts, channel availability).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from stockwire.domain.errors import Refusal
from stockwire.domain.models import (
    Cause,
    Channel,
    ChannelAvailability,
    Movement,
    MovementKind,
    OutboundEvent,
    Product,
    StockLevel,
)

LevelKey = tuple[str, str]

# Levels are stored as 32-bit integers; no real shelf comes near this.
MAX_UNITS = 2_000_000_000


def channel_availability(channel: Channel, levels: Mapping[str, StockLevel]) -> int:
    """What `channel` may show for one sku: its locations' available less its buffer."""
    total = sum(levels[loc].available for loc in channel.locations if loc in levels)
    return max(0, total - channel.buffer)


def inventory_key(sku: str, location: str) -> str:
    return f"inventory:{sku}:{location}"


def availability_key(sku: str, channel: str) -> str:
    return f"availability:{sku}:{channel}"


@dataclass(frozen=True, kw_only=True)
class BookChanges:
    levels: tuple[StockLevel, ...]
    availability: tuple[ChannelAvailability, ...]
    movements: tuple[Movement, ...]
    events: tuple[OutboundEvent, ...]


class StockBook:
    """Working copy of the levels of a few skus across all locations.

    A book may carry several events in turn (one group commit): after each,
    `settle()` returns that event's outbound events, or `rollback()` forgets
    it; `close()` returns everything to persist.
    """

    def __init__(
        self,
        *,
        products: Mapping[str, Product],
        levels: Iterable[StockLevel],
        channels: Iterable[Channel],
        availability: Iterable[ChannelAvailability] = (),
    ) -> None:
        self.products = dict(products)
        self.channels = tuple(channels)
        self._loaded: dict[LevelKey, StockLevel] = {(lv.sku, lv.location): lv for lv in levels}
        self._levels = dict(self._loaded)
        self._locations_of: dict[str, set[str]] = {}
        for sku, loc in self._levels:
            self._locations_of.setdefault(sku, set()).add(loc)
        self._availability = {(a.sku, a.channel): a for a in availability}
        self._loaded_availability = dict(self._availability)
        self._movements: list[Movement] = []
        self._settled_events: list[OutboundEvent] = []
        # State at the start of the current event, for settle() and rollback().
        self._before: dict[LevelKey, StockLevel] = {}
        self._dirty: set[LevelKey] = set()
        self._products_mark = dict(self.products)
        self._movements_mark = 0
        self._discrepancies: list[OutboundEvent] = []
        self._events: list[OutboundEvent] = []
        self._refresh = False

    def level(self, sku: str, location: str) -> StockLevel:
        found = self._levels.get((sku, location))
        if found is not None:
            return found
        product = self.products.get(sku)
        return StockLevel(
            sku=sku, location=location, safety_stock=product.safety_stock if product else 0
        )

    def available(self, sku: str, location: str) -> int:
        return self.level(sku, location).available

    def _touch(self, key: LevelKey) -> None:
        if key not in self._dirty:
            self._dirty.add(key)
            if key in self._levels:
                self._before[key] = self._levels[key]

    def move(
        self,
        kind: MovementKind,
        sku: str,
        location: str,
        *,
        on_hand: int = 0,
        reserved: int = 0,
        cause: Cause,
        record_zero: bool = False,
    ) -> StockLevel:
        """Apply a delta to one level and write the ledger movement for it."""
        current = self.level(sku, location)
        if on_hand == 0 and reserved == 0:
            if record_zero:
                self._movements.append(
                    Movement(
                        kind=kind, sku=sku, location=location, delta_on_hand=0,
                        delta_reserved=0, on_hand=current.on_hand,
                        reserved=current.reserved, cause=cause,
                    )
                )
            return current
        new = replace(
            current,
            on_hand=current.on_hand + on_hand,
            reserved=current.reserved + reserved,
            version=current.version + 1,
        )
        if abs(new.on_hand) > MAX_UNITS or abs(new.reserved) > MAX_UNITS:
            raise Refusal(f"{sku} at {location} would hold more than {MAX_UNITS} units", pointer="/data")
        self._touch((sku, location))
        self._levels[(sku, location)] = new
        self._locations_of.setdefault(sku, set()).add(location)
        self._movements.append(
            Movement(
                kind=kind, sku=sku, location=location, delta_on_hand=on_hand,
                delta_reserved=reserved, on_hand=new.on_hand, reserved=new.reserved,
                cause=cause,
            )
        )
        return new

    def emit(self, event: OutboundEvent) -> None:
        """Queue an event that is not derived from levels (orders, fulfilment)."""
        self._events.append(event)

    def discrepancy(self, sku: str, location: str, *, requested: int, cause: Cause) -> None:
        """Record that a channel reported selling more than the hub knew was there."""
        level = self.level(sku, location)
        self._discrepancies.append(
            OutboundEvent(
                type="stock.discrepancy",
                key=inventory_key(sku, location),
                channels=self.channels_at(location),
                data={
                    "sku": sku,
                    "location": location,
                    "on_hand": level.on_hand,
                    "requested": requested,
                    "threshold": self._threshold(sku),
                    "cause": cause.as_dict(),
                },
            )
        )

    def channels_at(self, location: str) -> tuple[str, ...]:
        return tuple(ch.id for ch in self.channels if location in ch.locations)

    def with_safety_stock(self, sku: str, safety_stock: int) -> None:
        """Change a product's safety stock; every level of the sku sees it."""
        product = self.products.get(sku, Product(sku=sku))
        self.products[sku] = replace(product, safety_stock=safety_stock)
        for key, level in list(self._levels.items()):
            if key[0] == sku and level.safety_stock != safety_stock:
                self._touch(key)
                self._levels[key] = replace(level, safety_stock=safety_stock, version=level.version + 1)

    def refresh_availability(self) -> None:
        """Recompute every channel's number for every sku in the book, changed or not."""
        self._refresh = True

    def _threshold(self, sku: str) -> int:
        product = self.products.get(sku)
        return product.low_stock_threshold if product else 0

    def rollback(self) -> None:
        """Forget everything since the last settle(): the event was refused."""
        for key in self._dirty:
            if key in self._before:
                self._levels[key] = self._before[key]
            else:
                self._levels.pop(key, None)
        self.products = dict(self._products_mark)
        del self._movements[self._movements_mark:]
        self._reset_mark()

    def _reset_mark(self) -> None:
        self._before = {}
        self._dirty = set()
        self._products_mark = dict(self.products)
        self._movements_mark = len(self._movements)
        self._discrepancies = []
        self._events = []
        self._refresh = False

    def settle(self) -> tuple[tuple[OutboundEvent, ...], tuple[StockLevel, ...]]:
        """The current event's outbound events and changed levels; starts the next event."""
        changed = [self._levels[k] for k in sorted(self._dirty)
                   if k in self._levels and self._before.get(k) != self._levels[k]]
        events: list[OutboundEvent] = [self._inventory_updated(lv) for lv in changed]
        events.extend(self._discrepancies)
        for level in changed:
            events.extend(self._alerts(level))
        skus = {lv.sku for lv in changed}
        if self._refresh:
            skus |= set(self.products) | {sku for sku, _ in self._levels}
        for a in self._changed_availability(skus):
            events.append(
                OutboundEvent(
                    type="availability.changed",
                    key=availability_key(a.sku, a.channel),
                    channels=(a.channel,),
                    data={"sku": a.sku, "channel": a.channel, "available": a.available, "version": a.version},
                )
            )
        events.extend(self._events)
        self._settled_events.extend(events)
        self._reset_mark()
        return tuple(events), tuple(changed)

    def close(self) -> BookChanges:
        """Everything to persist: changed levels and numbers, movements, all settled events."""
        self.settle()
        return BookChanges(
            levels=tuple(lv for key, lv in self._levels.items() if self._loaded.get(key) != lv),
            availability=tuple(
                a for key, a in self._availability.items() if self._loaded_availability.get(key) != a
            ),
            movements=tuple(self._movements),
            events=tuple(self._settled_events),
        )

    def _inventory_updated(self, level: StockLevel) -> OutboundEvent:
        cause = next(
            (m.cause for m in reversed(self._movements[self._movements_mark:])
             if (m.sku, m.location) == (level.sku, level.location)),
            None,
        )
        return OutboundEvent(
            type="inventory.updated",
            key=inventory_key(level.sku, level.location),
            channels=self.channels_at(level.location),
            data={
                "sku": level.sku,
                "location": level.location,
                "on_hand": level.on_hand,
                "reserved": level.reserved,
                "safety_stock": level.safety_stock,
                "available": level.available,
                "version": level.version,
                "cause": cause.as_dict() if cause else {"kind": "product"},
            },
        )

    def _alerts(self, level: StockLevel) -> list[OutboundEvent]:
        before = self._before.get((level.sku, level.location))
        was = before.available if before else 0
        now = level.available
        threshold = self._threshold(level.sku)
        data = {
            "sku": level.sku,
            "location": level.location,
            "on_hand": level.on_hand,
            "available": now,
            "threshold": threshold,
        }
        key = inventory_key(level.sku, level.location)
        channels = self.channels_at(level.location)
        if was > 0 and now == 0:
            return [OutboundEvent(type="stock.out", key=key, channels=channels, data=data)]
        if was > threshold >= now > 0:
            return [OutboundEvent(type="stock.low", key=key, channels=channels, data=data)]
        return []

    def _changed_availability(self, skus: set[str]) -> list[ChannelAvailability]:
        out: list[ChannelAvailability] = []
        for sku in sorted(skus):
            levels = {
                loc: self._levels[(sku, loc)]
                for loc in self._locations_of.get(sku, ())
                if (sku, loc) in self._levels
            }
            for channel in self.channels:
                if not channel.locations:
                    continue
                number = channel_availability(channel, levels)
                old = self._availability.get((sku, channel.id))
                if (old.available if old else 0) == number:
                    continue
                new = ChannelAvailability(
                    sku=sku, channel=channel.id, available=number,
                    version=(old.version if old else 0) + 1,
                )
                self._availability[(sku, channel.id)] = new
                out.append(new)
        return out
