"""Records of the shop's world: locations, channels, products, stock and orders."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class LocationKind(str, enum.Enum):
    STORE = "store"
    WAREHOUSE = "warehouse"


class ChannelKind(str, enum.Enum):
    POS = "pos"
    STOREFRONT = "storefront"
    MARKETPLACE = "marketplace"
    WMS = "wms"
    OTHER = "other"


class ChannelFormat(str, enum.Enum):
    STOCKWIRE = "stockwire"
    SHOPIFY = "shopify"
    WOOCOMMERCE = "woocommerce"
    SQUARE = "square"


class OrderPolicy(str, enum.Enum):
    WHOLE = "whole"
    SPLIT = "split"


class OrderStatus(str, enum.Enum):
    RESERVED = "reserved"
    FULFILLMENT_REQUESTED = "fulfillment_requested"
    ACCEPTED = "accepted"
    PARTIALLY_SHIPPED = "partially_shipped"
    SHIPPED = "shipped"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


OPEN_ORDER_STATUSES = frozenset(
    {
        OrderStatus.RESERVED,
        OrderStatus.FULFILLMENT_REQUESTED,
        OrderStatus.ACCEPTED,
        OrderStatus.PARTIALLY_SHIPPED,
    }
)


class MovementKind(str, enum.Enum):
    SALE = "sale"
    RETURN = "return"
    RECEIPT = "receipt"
    ADJUSTMENT = "adjustment"
    COUNT = "count"
    RESERVE = "reserve"
    RELEASE = "release"
    SHIPMENT = "shipment"


@dataclass(frozen=True, kw_only=True)
class Location:
    id: str
    name: str
    kind: LocationKind


@dataclass(frozen=True, kw_only=True)
class Channel:
    """A connected system; `locations` is in priority order."""

    id: str
    name: str
    kind: ChannelKind
    format: ChannelFormat = ChannelFormat.STOCKWIRE
    locations: tuple[str, ...] = ()
    buffer: int = 0
    order_policy: OrderPolicy = OrderPolicy.WHOLE


@dataclass(frozen=True, kw_only=True)
class Product:
    sku: str
    name: str = ""
    safety_stock: int = 0
    low_stock_threshold: int = 0


@dataclass(frozen=True, kw_only=True)
class StockLevel:
    sku: str
    location: str
    on_hand: int = 0
    reserved: int = 0
    safety_stock: int = 0
    version: int = 0

    @property
    def available(self) -> int:
        return max(0, self.on_hand - self.reserved - self.safety_stock)


@dataclass(frozen=True, kw_only=True)
class ChannelAvailability:
    sku: str
    channel: str
    available: int = 0
    version: int = 0


@dataclass(frozen=True, kw_only=True)
class Cause:
    """Who or what made a movement: a channel's inbound event or an admin."""

    kind: str
    channel: str | None = None
    event_id: str | None = None
    order_id: str | None = None
    admin: str | None = None
    reason: str | None = None

    def as_dict(self) -> dict[str, str]:
        return {k: v for k, v in vars(self).items() if v is not None}


@dataclass(frozen=True, kw_only=True)
class Movement:
    """One ledger row: a change to (sku, location) and the levels it left."""

    kind: MovementKind
    sku: str
    location: str
    delta_on_hand: int
    delta_reserved: int
    on_hand: int
    reserved: int
    cause: Cause


@dataclass(frozen=True, kw_only=True)
class Line:
    sku: str
    quantity: int


@dataclass(frozen=True, kw_only=True)
class Allocation:
    """Part of an order line held at one location."""

    location: str
    reserved: int
    shipped: int = 0


@dataclass(frozen=True, kw_only=True)
class OrderLine:
    sku: str
    quantity: int
    allocations: tuple[Allocation, ...] = ()

    @property
    def reserved(self) -> int:
        return sum(a.reserved for a in self.allocations)

    @property
    def shipped(self) -> int:
        return sum(a.shipped for a in self.allocations)


@dataclass(frozen=True, kw_only=True)
class Order:
    channel: str
    order_id: str
    status: OrderStatus
    lines: tuple[OrderLine, ...]
    location: str | None = None
    ship_to: dict[str, object] | None = None
    customer: dict[str, object] | None = None
    reason: str | None = None
    tried_locations: tuple[str, ...] = ()
    version: int = 0

    @property
    def locations(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for line in self.lines:
            for a in line.allocations:
                seen.setdefault(a.location, None)
        return tuple(seen)


@dataclass(frozen=True, kw_only=True)
class OutboundEvent:
    """An event for subscribers; `channels` are the channels it is "for"."""

    type: str
    key: str
    data: dict[str, object]
    channels: tuple[str, ...] = field(default=())
