"""Apply one inbound event inside the caller's transaction: load, rule, store."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy.engine import Connection

from stockwire.domain import inventory
from stockwire.domain import orders as orders_rules
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

    @functools.cached_property
    def fulfillers(self) -> dict[str, str]:
        """Location -> the WMS channel that fulfils from it."""
        found: dict[str, str] = {}
        for ch in self.channels:
            if ch.kind is ChannelKind.WMS:
                for loc in ch.locations:
                    found.setdefault(loc, ch.id)
        return found

    @functools.cached_property
    def by_id(self) -> dict[str, Channel]:
        return {ch.id: ch for ch in self.channels}

    def channel(self, channel_id: str) -> Channel:
        found = self.by_id.get(channel_id)
        if found is None:
            raise Refusal(f"unknown channel {channel_id}", status=404)
        return found


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


def refusal_outcome(refusal: Refusal) -> Outcome:
    """The problem+json answer for a refused event."""
    title = "not found" if refusal.status == 404 else "event refused"
    body = _problem(refusal.status, title, refusal.message)
    if refusal.pointer:
        body["errors"] = [{"pointer": refusal.pointer, "detail": refusal.message}]
    return Outcome(status=refusal.status, body=body)


def _problem(status: int, title: str, detail: str) -> dict[str, Any]:
    return {"type": "about:blank", "title": title, "status": status, "detail": detail}


class OrderBook:
    """The orders a batch reads and writes, with the same settle/rollback rhythm as StockBook."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._orders: dict[tuple[str, str], Order] = {}
        self._new: set[tuple[str, str]] = set()
        self._changed: set[tuple[str, str]] = set()
        self._pending: dict[tuple[str, str], Order] = {}
        self._pending_new: set[tuple[str, str]] = set()

    def get(self, channel: str, order_id: str) -> Order | None:
        key = (channel, order_id)
        if key in self._pending:
            return self._pending[key]
        if key not in self._orders:
            found = order_store.get(self.conn, channel, order_id, lock=True)
            if found is None:
                return None
            self._orders[key] = found
        return self._orders[key]

    def find(self, channel: Channel, data: OrderRef | Shipment) -> Order:
        """The order an event names: on `data.channel`, else the sender's, else the only one with that id."""
        if data.channel is not None:
            found = self.get(data.channel, data.order_id)
            if found is None:
                raise Refusal(f"no order {data.order_id} on channel {data.channel}", pointer="/data/order_id")
            return found
        own = self.get(channel.id, data.order_id)
        if own is not None:
            return own
        known = {k for k in (*self._orders, *self._pending) if k[1] == data.order_id}
        for order in order_store.find(self.conn, data.order_id, lock=True):
            known.add((order.channel, order.order_id))
            self._orders.setdefault((order.channel, order.order_id), order)
        if not known:
            raise Refusal(f"no order {data.order_id}", pointer="/data/order_id")
        if len(known) > 1:
            raise Refusal(
                f"order id {data.order_id} exists on several channels; name one in data.channel",
                pointer="/data/channel",
            )
        found = self.get(*known.pop())
        assert found is not None
        return found

    def put(self, order: Order, *, new: bool = False) -> None:
        key = (order.channel, order.order_id)
        self._pending[key] = order
        if new:
            self._pending_new.add(key)

    def settle(self) -> None:
        self._orders.update(self._pending)
        self._new |= self._pending_new
        self._changed |= set(self._pending) - self._pending_new
        self._pending, self._pending_new = {}, set()

    def rollback(self) -> None:
        self._pending, self._pending_new = {}, set()

    def save(self) -> None:
        for key in self._new:
            order_store.insert(self.conn, self._orders[key])
        for key in self._changed - self._new:
            order_store.update(self.conn, self._orders[key])


def apply_submissions(conn: Connection, catalog: Catalog, subs: Sequence[Submission]) -> list[Outcome]:
    """Apply a batch of events in the caller's transaction, each exactly once, in order.

    One StockBook carries the whole batch: the skus of every event are locked
    and loaded together, each event settles or rolls back on its own, and the
    result is written with a handful of statements for the whole batch.
    Each (channel, event id) must appear once in `subs`.
    """
    outcomes: list[Outcome | None] = [None] * len(subs)
    claimed = receipts.claim_many(conn, [(s.channel, s.event_id, s.body_sha256, s.event.type) for s in subs])
    repeats = [(s.channel, s.event_id) for s in subs if (s.channel, s.event_id) not in claimed]
    earlier = receipts.find_many(conn, repeats)
    work = []
    for i, sub in enumerate(subs):
        key = (sub.channel, sub.event_id)
        if key in claimed:
            work.append((i, sub))
            continue
        first = earlier[key]
        if first.body_sha256 != sub.body_sha256:
            outcomes[i] = Outcome(status=409, body=_problem(
                409, "webhook-id reused", f"event {sub.event_id} was already received with a different body"))
        else:
            outcomes[i] = Outcome(status=200, body={"status": "duplicate", "event_id": sub.event_id,
                                                    "result": first.result})

    orders = OrderBook(conn)
    skus: set[str] = set()
    for _, sub in work:
        skus |= skus_named(sub.event)
        if isinstance(sub.event.data, OrderRef | Shipment) and sub.channel in catalog.by_id:
            with contextlib.suppress(Refusal):
                skus |= {ln.sku for ln in orders.find(catalog.by_id[sub.channel], sub.event.data).lines}
    book = _open_book(conn, catalog, skus)

    results: list[tuple[str, str, dict[str, Any]]] = []
    refused: list[tuple[str, str]] = []
    for i, sub in work:
        cause = Cause(kind=sub.event.type, channel=sub.channel, event_id=sub.event_id)
        try:
            result, events = _apply(catalog, catalog.channel(sub.channel), sub.event, cause, book, orders)
        except Refusal as refusal:
            book.rollback()
            orders.rollback()
            refused.append((sub.channel, sub.event_id))
            outcomes[i] = refusal_outcome(refusal)
            continue
        results.append((sub.channel, sub.event_id, result))
        outcomes[i] = Outcome(status=200, body={"status": "applied", "event_id": sub.event_id, "result": result},
                              events=events)
    _close_book(conn, book)
    orders.save()
    receipts.set_results(conn, results)
    receipts.release(conn, refused)
    return [o for o in outcomes if o is not None]


def apply_submission(conn: Connection, catalog: Catalog, sub: Submission) -> Outcome:
    """Apply one event (a batch of one)."""
    return apply_submissions(conn, catalog, [sub])[0]


def _lines(items: Sequence[Any]) -> list[Line]:
    return [Line(sku=i.sku, quantity=i.quantity) for i in items]


def _require_location(catalog: Catalog, location: str, pointer: str = "/data/location") -> None:
    if location not in catalog.locations:
        raise Refusal(f"unknown location {location!r}; create it with POST /v1/locations", pointer=pointer)


def _open_book(conn: Connection, catalog: Catalog, skus: set[str]) -> StockBook:
    products = catalog_store.lock_products(conn, skus)
    return StockBook(
        products=products,
        levels=stock.load_levels(conn, skus),
        channels=catalog.channels,
        availability=stock.load_availability(conn, skus),
    )


def _close_book(conn: Connection, book: StockBook) -> tuple[OutboundEvent, ...]:
    changes = book.close()
    stock.save_levels(conn, changes.levels)
    stock.save_availability(conn, changes.availability)
    ledger.append(conn, changes.movements)
    return changes.events


def apply_event(
    conn: Connection, catalog: Catalog, channel: Channel, event: InboundEvent, cause: Cause
) -> tuple[dict[str, Any], tuple[OutboundEvent, ...]]:
    """Run the rules for one event and store the result; return its `result` and outbound events."""
    orders = OrderBook(conn)
    data = event.data
    skus = skus_named(event)
    if isinstance(data, OrderRef | Shipment):
        skus |= {ln.sku for ln in orders.find(channel, data).lines}
    book = _open_book(conn, catalog, skus)
    result, events = _apply(catalog, channel, event, cause, book, orders)
    _close_book(conn, book)
    orders.save()
    return result, events


def _apply(
    catalog: Catalog, channel: Channel, event: InboundEvent, cause: Cause, book: StockBook, orders: OrderBook
) -> tuple[dict[str, Any], tuple[OutboundEvent, ...]]:
    """The rules for one event on an open book; settles the book, or raises Refusal."""
    data = event.data
    fulfillers = catalog.fulfillers
    result: dict[str, Any] = {}
    order: Order | None = None

    if isinstance(data, StockLines | Adjustment | Counts | Shipment):
        _require_location(catalog, data.location)

    if isinstance(data, StockLines):
        rule = {"sale": inventory.record_sale, "return": inventory.record_return,
                "receipt": inventory.record_receipt}[event.type]
        rule(book, data.location, _lines(data.lines), cause)
    elif isinstance(data, Adjustment):
        inventory.adjust(book, data.location, data.sku, delta=data.delta, on_hand=data.on_hand,
                         cause=replace(cause, reason=data.reason))
    elif isinstance(data, Counts):
        inventory.count(book, data.location, [(c.sku, c.on_hand) for c in data.counts], cause)
    elif isinstance(data, OrderPlaced):
        if orders.get(channel.id, data.order_id) is not None:
            raise Refusal(f"order {data.order_id} already exists on {channel.id}", status=409,
                          pointer="/data/order_id")
        if not channel.locations:
            raise Refusal(f"channel {channel.id} sells from no location; set its locations",
                          status=409, pointer="/data/order_id")
        order, result = orders_rules.place_order(
            book, channel, data.order_id, _lines(data.lines), fulfillers=fulfillers,
            cause=replace(cause, order_id=data.order_id), ship_to=data.ship_to, customer=data.customer,
        )
        orders.put(order, new=True)
    else:
        assert isinstance(data, OrderRef | Shipment)
        order = orders.find(channel, data)
        cause = replace(cause, order_id=order.order_id)
        if isinstance(data, Shipment):
            order, result = orders_rules.ship(book, order, data.location, _lines(data.lines),
                                              fulfillers=fulfillers, cause=cause)
        elif event.type == "order.cancelled":
            order, result = orders_rules.cancel_order(book, order, fulfillers=fulfillers, cause=cause,
                                                      reason=data.reason)
        elif event.type == "fulfillment.accepted":
            order, result = orders_rules.accept_fulfillment(order)
        else:
            order, result = orders_rules.reject_fulfillment(
                book, catalog.channel(order.channel), order, fulfillers=fulfillers, cause=cause,
                reason=data.reason,
            )
        orders.put(order)

    events, changed = book.settle()
    orders.settle()
    if order is not None:
        return {**result, "order_id": order.order_id, "order_status": order.status.value}, events
    levels = [
        {"sku": lv.sku, "location": lv.location, "on_hand": lv.on_hand, "reserved": lv.reserved,
         "available": lv.available, "version": lv.version}
        for lv in changed
    ]
    return {"levels": levels}, events


def update_product(conn: Connection, catalog: Catalog, product: Product) -> tuple[bool, tuple[OutboundEvent, ...]]:
    """Create or change a product; a new safety stock moves every channel's number."""
    created = not catalog_store.get_products(conn, [product.sku])
    book = _open_book(conn, catalog, {product.sku})
    book.with_safety_stock(product.sku, product.safety_stock)
    book.products[product.sku] = product
    catalog_store.save_product(conn, product)
    return created, _close_book(conn, book)


def refresh_availability(conn: Connection, catalog: Catalog) -> tuple[OutboundEvent, ...]:
    """Recompute every channel's availability for every sku (after a channel's locations or buffer changed)."""
    skus = set(stock.all_skus(conn))
    if not skus:
        return ()
    book = _open_book(conn, catalog, skus)
    book.refresh_availability()
    return _close_book(conn, book)
