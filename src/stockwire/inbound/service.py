"""Apply one inbound event inside the caller's transaction: load, rule, store."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy.engine import Connection

from stockwire.domain import inventory, orders
from stockwire.domain.book import StockBook
from stockwire.domain.errors import Refusal
from stockwire.domain.models import Cause, Channel, ChannelKind, Line, Order, OutboundEvent, Product
from stockwire.inbound.payloads import (
    Adjustment,
    Counts,
    InboundEvent,
    OrderPlaced,
    OrderRef,
    Shipment,
    StockLines,
    skus_named,
)
from stockwire.storage import catalog as catalog_store
from stockwire.storage import inbound as receipts
from stockwire.storage import ledger, stock
from stockwire.storage import orders as order_store


@dataclass(frozen=True, kw_only=True)
class Catalog:
    """The shop's configuration as one transaction sees it."""

    channels: tuple[Channel, ...]
    locations: frozenset[str]

    @property
    def fulfillers(self) -> dict[str, str]:
        """Location -> the WMS channel that fulfils from it."""
        found: dict[str, str] = {}
        for ch in self.channels:
            if ch.kind is ChannelKind.WMS:
                for loc in ch.locations:
                    found.setdefault(loc, ch.id)
        return found

    def channel(self, channel_id: str) -> Channel:
        for ch in self.channels:
            if ch.id == channel_id:
                return ch
        raise Refusal(f"unknown channel {channel_id}", status=404)


def load_catalog(conn: Connection) -> Catalog:
    return Catalog(
        channels=tuple(r.channel for r in catalog_store.list_channels(conn)),
        locations=frozenset(catalog_store.location_ids(conn)),
    )


@dataclass(frozen=True, kw_only=True)
class Submission:
    """An authenticated, validated event waiting to be applied."""

    channel: str
    event_id: str
    body_sha256: str
    event: InboundEvent


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """What the caller is answered: HTTP status and JSON body."""

    status: int
    body: dict[str, Any]
    events: tuple[OutboundEvent, ...] = field(default=())


def apply_submission(conn: Connection, catalog: Catalog, sub: Submission) -> Outcome:
    """Apply `sub` once; a repeat is answered from the first answer. Raises Refusal."""
    if not receipts.claim(conn, channel=sub.channel, event_id=sub.event_id,
                          body_sha256=sub.body_sha256, type_=sub.event.type):
        first = receipts.find(conn, sub.channel, sub.event_id)
        assert first is not None
        if first.body_sha256 != sub.body_sha256:
            return Outcome(
                status=409,
                body=_problem(409, "webhook-id reused",
                              f"event {sub.event_id} was already received with a different body"),
            )
        return Outcome(status=200, body={"status": "duplicate", "event_id": sub.event_id, "result": first.result})
    channel = catalog.channel(sub.channel)
    cause = Cause(kind=sub.event.type, channel=sub.channel, event_id=sub.event_id)
    result, events = apply_event(conn, catalog, channel, sub.event, cause)
    receipts.set_result(conn, channel=sub.channel, event_id=sub.event_id, result=result)
    return Outcome(
        status=200, body={"status": "applied", "event_id": sub.event_id, "result": result}, events=events
    )


def _problem(status: int, title: str, detail: str) -> dict[str, Any]:
    return {"type": "about:blank", "title": title, "status": status, "detail": detail}


def _lines(items: Sequence[Any]) -> list[Line]:
    return [Line(sku=i.sku, quantity=i.quantity) for i in items]


def _require_location(catalog: Catalog, location: str, pointer: str = "/data/location") -> None:
    if location not in catalog.locations:
        raise Refusal(f"unknown location {location!r}; create it with POST /v1/locations", pointer=pointer)


def _find_order(conn: Connection, channel: Channel, data: OrderRef | Shipment) -> Order:
    if data.channel is not None:
        found = order_store.get(conn, data.channel, data.order_id, lock=True)
        if found is None:
            raise Refusal(f"no order {data.order_id} on channel {data.channel}", pointer="/data/order_id")
        return found
    own = order_store.get(conn, channel.id, data.order_id, lock=True)
    if own is not None:
        return own
    matches = order_store.find(conn, data.order_id, lock=True)
    if not matches:
        raise Refusal(f"no order {data.order_id}", pointer="/data/order_id")
    if len(matches) > 1:
        raise Refusal(
            f"order id {data.order_id} exists on several channels; name one in data.channel",
            pointer="/data/channel",
        )
    return matches[0]


def _open_book(conn: Connection, catalog: Catalog, skus: set[str]) -> StockBook:
    products = catalog_store.lock_products(conn, skus)
    return StockBook(
        products=products,
        levels=stock.load_levels(conn, skus),
        channels=catalog.channels,
        availability=stock.load_availability(conn, skus),
    )


def _close_book(conn: Connection, book: StockBook) -> tuple[list[dict[str, Any]], tuple[OutboundEvent, ...]]:
    changes = book.close()
    stock.save_levels(conn, changes.levels)
    stock.save_availability(conn, changes.availability)
    ledger.append(conn, changes.movements)
    levels = [
        {"sku": lv.sku, "location": lv.location, "on_hand": lv.on_hand, "reserved": lv.reserved,
         "available": lv.available, "version": lv.version}
        for lv in changes.levels
    ]
    return levels, changes.events


def apply_event(
    conn: Connection, catalog: Catalog, channel: Channel, event: InboundEvent, cause: Cause
) -> tuple[dict[str, Any], tuple[OutboundEvent, ...]]:
    """Run the rules for one event; return the answer's `result` and the outbound events."""
    data = event.data
    fulfillers = catalog.fulfillers
    result: dict[str, Any] = {}
    order: Order | None = None
    new_order = False

    if isinstance(data, StockLines | Adjustment | Counts | Shipment):
        _require_location(catalog, data.location)
    if isinstance(data, OrderRef | Shipment):
        order = _find_order(conn, channel, data)
    elif isinstance(data, OrderPlaced):
        if order_store.get(conn, channel.id, data.order_id) is not None:
            raise Refusal(f"order {data.order_id} already exists on {channel.id}", status=409,
                          pointer="/data/order_id")
        if not channel.locations:
            raise Refusal(f"channel {channel.id} sells from no location; set its locations",
                          status=409, pointer="/data/order_id")

    skus = skus_named(event) | ({ln.sku for ln in order.lines} if order else set())
    book = _open_book(conn, catalog, skus)

    if isinstance(data, StockLines):
        rule = {"sale": inventory.record_sale, "return": inventory.record_return,
                "receipt": inventory.record_receipt}[event.type]
        rule(book, data.location, _lines(data.lines), cause)
    elif isinstance(data, Adjustment):
        cause = replace(cause, reason=data.reason)
        inventory.adjust(book, data.location, data.sku, delta=data.delta, on_hand=data.on_hand, cause=cause)
    elif isinstance(data, Counts):
        inventory.count(book, data.location, [(c.sku, c.on_hand) for c in data.counts], cause)
    elif isinstance(data, OrderPlaced):
        cause = replace(cause, order_id=data.order_id)
        order, result = orders.place_order(
            book, channel, data.order_id, _lines(data.lines), fulfillers=fulfillers, cause=cause,
            ship_to=data.ship_to, customer=data.customer,
        )
        new_order = True
    else:
        assert order is not None
        cause = replace(cause, order_id=order.order_id)
        if event.type == "order.cancelled":
            assert isinstance(data, OrderRef)
            order, result = orders.cancel_order(book, order, fulfillers=fulfillers, cause=cause,
                                                reason=data.reason)
        elif event.type == "fulfillment.accepted":
            order, result = orders.accept_fulfillment(order)
        elif event.type == "fulfillment.rejected":
            assert isinstance(data, OrderRef)
            order, result = orders.reject_fulfillment(
                book, catalog.channel(order.channel), order, fulfillers=fulfillers, cause=cause,
                reason=data.reason,
            )
        else:
            assert isinstance(data, Shipment)
            order, result = orders.ship(book, order, data.location, _lines(data.lines),
                                        fulfillers=fulfillers, cause=cause)

    levels, events = _close_book(conn, book)
    if order is not None:
        if new_order:
            order_store.insert(conn, order)
        else:
            order_store.update(conn, order)
        result = {**result, "order_id": order.order_id, "order_status": order.status.value}
    else:
        result = {"levels": levels}
    return result, events


def update_product(conn: Connection, catalog: Catalog, product: Product) -> tuple[bool, tuple[OutboundEvent, ...]]:
    """Create or change a product; a new safety stock moves every channel's number."""
    created = not catalog_store.get_products(conn, [product.sku])
    book = _open_book(conn, catalog, {product.sku})
    book.with_safety_stock(product.sku, product.safety_stock)
    book.products[product.sku] = product
    catalog_store.save_product(conn, product)
    _, events = _close_book(conn, book)
    return created, events


def refresh_availability(conn: Connection, catalog: Catalog) -> tuple[OutboundEvent, ...]:
    """Recompute every channel's availability for every sku (after a channel's locations or buffer changed)."""
    skus = set(stock.all_skus(conn))
    if not skus:
        return ()
    book = _open_book(conn, catalog, skus)
    book.refresh_availability()
    _, events = _close_book(conn, book)
    return events
