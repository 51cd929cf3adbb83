"""Request and response bodies of the admin API."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints

from stockwire.domain.models import ChannelFormat, ChannelKind, LocationKind, OrderPolicy

Ident = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$")]
Name = Annotated[str, StringConstraints(max_length=256)]
Sku = Annotated[str, StringConstraints(min_length=1, max_length=128)]
NonNegative = Annotated[StrictInt, Field(ge=0, le=1_000_000_000)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LocationIn(_Body):
    id: Ident
    name: Name = ""
    kind: LocationKind


class LocationOut(BaseModel):
    id: str
    name: str
    kind: LocationKind


class ChannelIn(_Body):
    id: Ident
    name: Name = ""
    kind: ChannelKind
    format: ChannelFormat = ChannelFormat.STOCKWIRE
    locations: list[Ident] = Field(default_factory=list, max_length=256)
    buffer: NonNegative = 0
    order_policy: OrderPolicy = OrderPolicy.WHOLE
    secret: Annotated[str, StringConstraints(min_length=8, max_length=512)] | None = None
    location_map: dict[str, Ident] = Field(default_factory=dict)
    sku_map: dict[str, Sku] = Field(default_factory=dict)
    notification_url: Annotated[str, StringConstraints(max_length=2048)] | None = None
    counts_authoritative: bool = False


class ChannelPatch(_Body):
    name: Name | None = None
    locations: list[Ident] | None = Field(default=None, max_length=256)
    buffer: NonNegative | None = None
    order_policy: OrderPolicy | None = None
    location_map: dict[str, Ident] | None = None
    sku_map: dict[str, Sku] | None = None
    notification_url: Annotated[str, StringConstraints(max_length=2048)] | None = None
    counts_authoritative: bool | None = None


class ChannelOut(BaseModel):
    id: str
    name: str
    kind: ChannelKind
    format: ChannelFormat
    locations: list[str]
    buffer: int
    order_policy: OrderPolicy
    location_map: dict[str, str] = Field(default_factory=dict)
    sku_map: dict[str, str] = Field(default_factory=dict)
    notification_url: str | None = None
    counts_authoritative: bool = False
    secret: str | None = Field(default=None, description="Shown in full only on create and rotate.")
    inbound_url: str


class ProductIn(_Body):
    name: Name = ""
    safety_stock: NonNegative = 0
    low_stock_threshold: NonNegative = 0


class ProductOut(BaseModel):
    sku: str
    name: str
    safety_stock: int
    low_stock_threshold: int


class LevelOut(BaseModel):
    location: str
    on_hand: int
    reserved: int
    safety_stock: int
    available: int
    version: int


class ChannelNumberOut(BaseModel):
    channel: str
    available: int
    version: int


class StockOut(BaseModel):
    sku: str
    locations: list[LevelOut]
    channels: list[ChannelNumberOut]


class AdjustmentIn(_Body):
    location: Ident
    delta: Annotated[StrictInt, Field(ge=-1_000_000_000, le=1_000_000_000)] | None = None
    on_hand: NonNegative | None = None
    reason: Annotated[str, StringConstraints(max_length=1000)] | None = None


class Page(BaseModel):
    items: list[dict[str, Any]]
    cursor: str | None = None
