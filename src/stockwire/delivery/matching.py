"""Which endpoints want which events: pure functions over records."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from stockwire.delivery.models import EVENT_FAMILIES, Endpoint, EventHead, NewDelivery


def type_pattern_error(pattern: str) -> str | None:
    """Why an `event_types` entry is not acceptable, or None: `*`, `family.*` or `family.name`."""
    if pattern == "*":
        return None
    family, dot, rest = pattern.partition(".")
    if not dot or not rest or family not in EVENT_FAMILIES:
        return f"unknown event type {pattern!r}; use '*', a type such as 'inventory.updated' or 'order.*'"
    if rest != "*" and not rest.replace("_", "").isalpha():
        return f"unknown event type {pattern!r}"
    return None


def type_matches(patterns: Iterable[str], event_type: str) -> bool:
    """True if any pattern (`*`, `order.*`, `order.reserved`) covers the type."""
    return any(p == "*" or p == event_type or (p.endswith(".*") and event_type.startswith(p[:-1])) for p in patterns)


def wants(endpoint: Endpoint, event: EventHead) -> bool:
    """The endpoint is enabled, subscribed to the type and channel, and existed when the event happened."""
    return (
        endpoint.enabled
        and event.id > endpoint.after_event_id
        and type_matches(endpoint.event_types, event.type)
        and (endpoint.channel is None or endpoint.channel in event.channels)
    )


def deliveries_for(events: Sequence[EventHead], endpoints: Sequence[Endpoint]) -> list[NewDelivery]:
    """One delivery per (event, endpoint that wants it), in event order."""
    return [
        NewDelivery(endpoint_id=ep.id, event_id=ev.id, event_type=ev.type, key=ev.key)
        for ev in events
        for ep in endpoints
        if wants(ep, ev)
    ]
