"""The stock rules for facts reported by channels, with no database."""

from __future__ import annotations

from stockwire.domain import inventory
from stockwire.domain.book import StockBook, channel_availability
from stockwire.domain.models import (
    Cause,
    Channel,
    ChannelAvailability,
    ChannelKind,
    Line,
    MovementKind,
    Product,
    StockLevel,
)

CAUSE = Cause(kind="test", channel="pos-1", event_id="e1")
POS = Channel(id="pos-1", name="", kind=ChannelKind.POS, locations=("store-1",))
WEB = Channel(id="web-1", name="", kind=ChannelKind.STOREFRONT, locations=("wh-1", "store-1"), buffer=2)
MARKET = Channel(id="mkt-1", name="", kind=ChannelKind.MARKETPLACE, locations=("wh-1",))


def book(*levels: StockLevel, threshold: int = 0, availability: tuple[ChannelAvailability, ...] = ()) -> StockBook:
    skus = {lv.sku for lv in levels} | {"A"}
    return StockBook(
        products={s: Product(sku=s, low_stock_threshold=threshold) for s in skus},
        levels=levels,
        channels=(POS, WEB, MARKET),
        availability=availability,
    )


def test_available_subtracts_reserved_and_safety_stock_and_never_goes_negative() -> None:
    """available = max(0, on_hand - reserved - safety_stock)."""
    assert StockLevel(sku="A", location="x", on_hand=10, reserved=3, safety_stock=2).available == 5
    assert StockLevel(sku="A", location="x", on_hand=1, reserved=3).available == 0


def test_channel_availability_sums_its_locations_less_its_buffer() -> None:
    """A channel shows the sum over its own locations minus its buffer, floored at zero."""
    levels = {
        "wh-1": StockLevel(sku="A", location="wh-1", on_hand=5),
        "store-1": StockLevel(sku="A", location="store-1", on_hand=4),
        "store-2": StockLevel(sku="A", location="store-2", on_hand=100),
    }
    assert channel_availability(WEB, levels) == 7
    assert channel_availability(MARKET, levels) == 5
    assert channel_availability(Channel(id="x", name="", kind=ChannelKind.OTHER, locations=("wh-1",), buffer=9),
                                levels) == 0


def test_sale_decrements_on_hand_and_ledgers_the_movement() -> None:
    """A till sale lowers on_hand, bumps the version and writes one ledger row."""
    b = book(StockLevel(sku="A", location="store-1", on_hand=5, version=3))
    inventory.record_sale(b, "store-1", [Line(sku="A", quantity=2)], CAUSE)
    changes = b.close()
    assert [(lv.on_hand, lv.version) for lv in changes.levels] == [(3, 4)]
    assert [(m.kind, m.delta_on_hand, m.on_hand) for m in changes.movements] == [(MovementKind.SALE, -2, 3)]


def test_sale_past_zero_is_applied_and_raises_a_discrepancy() -> None:
    """A POS sale is a fact: never refused, but selling what was not there is reported."""
    b = book(StockLevel(sku="A", location="store-1", on_hand=1))
    inventory.record_sale(b, "store-1", [Line(sku="A", quantity=3)], CAUSE)
    changes = b.close()
    assert changes.levels[0].on_hand == -2
    types = [e.type for e in changes.events]
    assert "stock.discrepancy" in types
    discrepancy = next(e for e in changes.events if e.type == "stock.discrepancy")
    assert discrepancy.data["requested"] == 3 and discrepancy.data["on_hand"] == -2


def test_only_channels_whose_number_changed_are_told() -> None:
    """A store sale moves the POS and the storefront, never the warehouse-only marketplace."""
    b = book(
        StockLevel(sku="A", location="store-1", on_hand=5),
        StockLevel(sku="A", location="wh-1", on_hand=5),
        availability=(
            ChannelAvailability(sku="A", channel="pos-1", available=5, version=1),
            ChannelAvailability(sku="A", channel="web-1", available=8, version=1),
            ChannelAvailability(sku="A", channel="mkt-1", available=5, version=1),
        ),
    )
    inventory.record_sale(b, "store-1", [Line(sku="A", quantity=1)], CAUSE)
    told = {e.data["channel"]: e.data for e in b.close().events if e.type == "availability.changed"}
    assert set(told) == {"pos-1", "web-1"}
    assert told["pos-1"]["available"] == 4 and told["pos-1"]["version"] == 2
    assert told["web-1"]["available"] == 7


def test_unchanged_number_is_not_pushed() -> None:
    """A receipt that leaves a buffered channel at zero tells that channel nothing."""
    b = book(availability=(ChannelAvailability(sku="A", channel="web-1", available=0, version=1),))
    inventory.record_receipt(b, "wh-1", [Line(sku="A", quantity=1)], CAUSE)
    told = {e.data["channel"] for e in b.close().events if e.type == "availability.changed"}
    assert told == {"mkt-1"}


def test_count_sets_absolute_on_hand_and_ledgers_the_difference() -> None:
    """A cycle count writes the difference to the ledger; a matching count changes nothing."""
    b = book(StockLevel(sku="A", location="wh-1", on_hand=7), StockLevel(sku="B", location="wh-1", on_hand=2))
    inventory.count(b, "wh-1", [("A", 4), ("B", 2)], CAUSE)
    changes = b.close()
    assert [(lv.sku, lv.on_hand) for lv in changes.levels] == [("A", 4)]
    assert [(m.sku, m.delta_on_hand) for m in changes.movements] == [("A", -3), ("B", 0)]


def test_adjustment_relative_and_absolute() -> None:
    """An adjustment applies a delta or sets on_hand."""
    b = book(StockLevel(sku="A", location="wh-1", on_hand=7))
    inventory.adjust(b, "wh-1", "A", delta=-2, cause=CAUSE)
    assert b.level("A", "wh-1").on_hand == 5
    inventory.adjust(b, "wh-1", "A", on_hand=11, cause=CAUSE)
    assert b.level("A", "wh-1").on_hand == 11


def test_low_and_out_alerts_fire_on_crossing_downward_only() -> None:
    """stock.low fires when available crosses the threshold downward; stock.out when it hits zero."""
    b = book(StockLevel(sku="A", location="wh-1", on_hand=6), threshold=5)
    inventory.record_sale(b, "wh-1", [Line(sku="A", quantity=2)], CAUSE)
    assert [e.type for e in b.close().events if e.type.startswith("stock.")] == ["stock.low"]

    b = book(StockLevel(sku="A", location="wh-1", on_hand=4), threshold=5)
    inventory.record_sale(b, "wh-1", [Line(sku="A", quantity=1)], CAUSE)
    assert [e.type for e in b.close().events if e.type.startswith("stock.")] == []

    b = book(StockLevel(sku="A", location="wh-1", on_hand=2), threshold=5)
    inventory.record_sale(b, "wh-1", [Line(sku="A", quantity=2)], CAUSE)
    assert [e.type for e in b.close().events if e.type.startswith("stock.")] == ["stock.out"]


def test_safety_stock_change_moves_every_channel() -> None:
    """Raising safety stock lowers what channels show without touching on_hand."""
    b = book(StockLevel(sku="A", location="wh-1", on_hand=10),
             availability=(ChannelAvailability(sku="A", channel="mkt-1", available=10, version=4),))
    b.with_safety_stock("A", 3)
    changes = b.close()
    told = {e.data["channel"]: e.data for e in changes.events if e.type == "availability.changed"}
    assert told["mkt-1"] == {"sku": "A", "channel": "mkt-1", "available": 7, "version": 5}
    assert changes.movements == ()


def test_a_level_beyond_the_storable_range_is_refused() -> None:
    """Receipts that would push on_hand past what the database stores are refused, not crashed on."""
    import pytest

    from stockwire.domain.errors import Refusal

    b = book(StockLevel(sku="A", location="wh-1", on_hand=1_500_000_000))
    with pytest.raises(Refusal):
        inventory.record_receipt(b, "wh-1", [Line(sku="A", quantity=1_000_000_000)], CAUSE)
    assert b.level("A", "wh-1").on_hand == 1_500_000_000
