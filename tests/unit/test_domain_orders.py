"""Order rules: reservation, routing, shipment, cancellation, re-routing."""

from __future__ import annotations

import pytest

from stockwire.domain import orders
from stockwire.domain.book import StockBook
from stockwire.domain.errors import Refusal
from stockwire.domain.models import (
    Cause,
    Channel,
    ChannelKind,
    Line,
    OrderPolicy,
    OrderStatus,
    Product,
    StockLevel,
)

CAUSE = Cause(kind="order.placed", channel="web-1", event_id="e1")
WEB = Channel(id="web-1", name="", kind=ChannelKind.STOREFRONT, locations=("wh-1", "wh-2", "store-1"))
WMS = {"wh-1": "wms-1", "wh-2": "wms-2"}


def book(**on_hand: dict[str, int]) -> StockBook:
    levels = [StockLevel(sku=sku, location=loc, on_hand=n) for loc, skus in on_hand.items() for sku, n in skus.items()]
    return StockBook(products={s: Product(sku=s) for s in ("A", "B")}, levels=levels, channels=(WEB,))


def place(b: StockBook, *lines: tuple[str, int], channel: Channel = WEB):
    return orders.place_order(b, channel, "o1", [Line(sku=s, quantity=q) for s, q in lines],
                              fulfillers=WMS, cause=CAUSE, ship_to={"city": "Leeds"})


def test_whole_order_goes_to_the_first_location_that_can_fill_it_all() -> None:
    """Whole policy: wh-1 lacks B, so the whole order is reserved at wh-2."""
    b = book(**{"wh-1": {"A": 5, "B": 0}, "wh-2": {"A": 2, "B": 2}})
    order, answer = place(b, ("A", 2), ("B", 1))
    assert answer == {"status": "reserved", "location": "wh-2"}
    assert order.status is OrderStatus.FULFILLMENT_REQUESTED
    assert b.level("A", "wh-2").reserved == 2 and b.level("A", "wh-1").reserved == 0
    requested = [e for e in b.close().events if e.type == "fulfillment.requested"]
    assert len(requested) == 1
    assert requested[0].channels == ("wms-2",)
    assert requested[0].data["lines"] == [{"sku": "A", "quantity": 2}, {"sku": "B", "quantity": 1}]
    assert requested[0].data["ship_to"] == {"city": "Leeds"}


def test_order_nobody_can_fill_is_rejected_naming_short_lines() -> None:
    """All-or-nothing: nothing is reserved and the answer names what is short."""
    b = book(**{"wh-1": {"A": 1}})
    order, answer = place(b, ("A", 3))
    assert order.status is OrderStatus.REJECTED
    assert answer["status"] == "rejected"
    assert answer["short"] == [{"sku": "A", "requested": 3, "available": 1}]
    assert b.close().movements == ()


def test_duplicate_sku_lines_are_added_up_before_checking() -> None:
    """Two lines of 2 of the same sku need 4 units, not 2."""
    b = book(**{"wh-1": {"A": 3}})
    order, _ = place(b, ("A", 2), ("A", 2))
    assert order.status is OrderStatus.REJECTED


def test_split_policy_fills_lines_across_locations() -> None:
    """Split policy takes what each location has, in priority order."""
    split = Channel(id="web-1", name="", kind=ChannelKind.STOREFRONT, locations=("wh-1", "wh-2"),
                    order_policy=OrderPolicy.SPLIT)
    b = book(**{"wh-1": {"A": 2}, "wh-2": {"A": 5}})
    order, answer = place(b, ("A", 4), channel=split)
    assert answer["locations"] == ["wh-1", "wh-2"]
    assert [(a.location, a.reserved) for a in order.lines[0].allocations] == [("wh-1", 2), ("wh-2", 2)]
    assert len([e for e in b.close().events if e.type == "fulfillment.requested"]) == 2


def test_partial_then_full_shipment() -> None:
    """Shipments turn reservations into on_hand decrements, partially then fully."""
    b = book(**{"wh-1": {"A": 5}})
    order, _ = place(b, ("A", 3))
    order, _ = orders.ship(b, order, "wh-1", [Line(sku="A", quantity=1)], fulfillers=WMS, cause=CAUSE)
    assert order.status is OrderStatus.PARTIALLY_SHIPPED
    order, _ = orders.ship(b, order, "wh-1", [Line(sku="A", quantity=2)], fulfillers=WMS, cause=CAUSE)
    assert order.status is OrderStatus.SHIPPED
    level = b.level("A", "wh-1")
    assert (level.on_hand, level.reserved) == (2, 0)


def test_shipping_more_than_held_is_refused() -> None:
    """A shipment larger than the reservation at that location is a 422 naming the line."""
    b = book(**{"wh-1": {"A": 5}})
    order, _ = place(b, ("A", 1))
    with pytest.raises(Refusal) as refused:
        orders.ship(b, order, "wh-1", [Line(sku="A", quantity=2)], fulfillers=WMS, cause=CAUSE)
    assert refused.value.pointer == "/data/lines/0/quantity"
    assert b.level("A", "wh-1").reserved == 1


def test_cancel_releases_what_is_left_and_is_idempotent() -> None:
    """Cancelling releases the remaining reservation; cancelling again changes nothing."""
    b = book(**{"wh-1": {"A": 5}})
    order, _ = place(b, ("A", 3))
    order, _ = orders.ship(b, order, "wh-1", [Line(sku="A", quantity=1)], fulfillers=WMS, cause=CAUSE)
    order, _ = orders.cancel_order(b, order, fulfillers=WMS, cause=CAUSE, reason="buyer")
    assert order.status is OrderStatus.CANCELLED
    assert b.level("A", "wh-1").reserved == 0 and b.level("A", "wh-1").on_hand == 4
    again, answer = orders.cancel_order(b, order, fulfillers=WMS, cause=CAUSE, reason=None)
    assert again == order and answer == {"status": "cancelled"}


def test_shipped_order_cannot_be_cancelled() -> None:
    """A fully shipped order refuses cancellation with 409."""
    b = book(**{"wh-1": {"A": 5}})
    order, _ = place(b, ("A", 1))
    order, _ = orders.ship(b, order, "wh-1", [Line(sku="A", quantity=1)], fulfillers=WMS, cause=CAUSE)
    with pytest.raises(Refusal) as refused:
        orders.cancel_order(b, order, fulfillers=WMS, cause=CAUSE, reason=None)
    assert refused.value.status == 409


def test_rejected_fulfillment_reroutes_to_the_next_location() -> None:
    """The warehouse says no: stock is released there and reserved at the next location."""
    b = book(**{"wh-1": {"A": 5}, "wh-2": {"A": 5}})
    order, _ = place(b, ("A", 2))
    order, answer = orders.reject_fulfillment(b, WEB, order, fulfillers=WMS, cause=CAUSE, reason="damaged")
    assert answer["location"] == "wh-2"
    assert order.tried_locations == ("wh-1",)
    assert b.level("A", "wh-1").reserved == 0 and b.level("A", "wh-2").reserved == 2
    requested = [e for e in b.close().events if e.type == "fulfillment.requested"]
    assert [e.channels for e in requested] == [("wms-1",), ("wms-2",)]


def test_rejected_fulfillment_with_nowhere_left_rejects_the_order() -> None:
    """No other location can fill: the order is rejected and holds nothing."""
    b = book(**{"wh-1": {"A": 5}})
    order, _ = place(b, ("A", 2))
    order, answer = orders.reject_fulfillment(b, WEB, order, fulfillers=WMS, cause=CAUSE, reason="flood")
    assert order.status is OrderStatus.REJECTED and answer["status"] == "rejected"
    assert "flood" in (order.reason or "")
    assert b.level("A", "wh-1").reserved == 0
    assert "order.rejected" in [e.type for e in b.close().events]


def test_rejected_order_event_and_answer_give_the_warehouse_reason() -> None:
    """The order.rejected event and the answer carry the same reason as the stored order."""
    b = book(**{"wh-1": {"A": 5}})
    order, _ = place(b, ("A", 2))
    order, answer = orders.reject_fulfillment(b, WEB, order, fulfillers=WMS, cause=CAUSE, reason="flood")
    [event] = [e for e in b.close().events if e.type == "order.rejected"]
    assert order.reason == answer["reason"] == event.data["reason"] == "fulfillment rejected: flood"
