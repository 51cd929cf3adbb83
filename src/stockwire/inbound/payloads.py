"""The native inbound payloads, validated at the edge into typed commands."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints, ValidationError, model_validator

Sku = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Ident = Annotated[str, StringConstraints(min_length=1, max_length=128)]
OrderId = Annotated[str, StringConstraints(min_length=1, max_length=256)]
Quantity = Annotated[StrictInt, Field(gt=0, le=1_000_000_000)]
Count = Annotated[StrictInt, Field(ge=0, le=1_000_000_000)]
Reason = Annotated[str, StringConstraints(max_length=1000)]

MAX_LINES = 1000

EventType = Literal[
    "sale",
    "return",
    "receipt",
    "adjustment",
    "count",
    "order.placed",
    "order.cancelled",
    "fulfillment.accepted",
    "fulfillment.rejected",
    "shipment",
]


class _Data(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class LineIn(_Data):
    sku: Sku
    quantity: Quantity


class CountIn(_Data):
    sku: Sku
    on_hand: Count


Lines = Annotated[list[LineIn], Field(min_length=1, max_length=MAX_LINES)]


class StockLines(_Data):
    """`sale`, `return` and `receipt`."""

    location: Ident
    lines: Lines


class Adjustment(_Data):
    location: Ident
    sku: Sku
    delta: Annotated[StrictInt, Field(ge=-1_000_000_000, le=1_000_000_000)] | None = None
    on_hand: Count | None = None
    reason: Reason | None = None

    @model_validator(mode="after")
    def _one_of(self) -> Adjustment:
        if (self.delta is None) == (self.on_hand is None):
            raise ValueError("give exactly one of delta or on_hand")
        return self


class Counts(_Data):
    location: Ident
    counts: Annotated[list[CountIn], Field(min_length=1, max_length=MAX_LINES)]


class OrderPlaced(_Data):
    order_id: OrderId
    lines: Lines
    ship_to: dict[str, Any] | None = None
    customer: dict[str, Any] | None = None


class OrderRef(_Data):
    """`order.cancelled`, `fulfillment.accepted`, `fulfillment.rejected`.

    `channel` names the channel the order was placed on, for a WMS when
    the same order id exists on two channels.
    """

    order_id: OrderId
    reason: Reason | None = None
    channel: Ident | None = None


class Shipment(_Data):
    order_id: OrderId
    location: Ident
    lines: Lines
    channel: Ident | None = None


DATA_MODELS: dict[str, type[_Data]] = {
    "sale": StockLines,
    "return": StockLines,
    "receipt": StockLines,
    "adjustment": Adjustment,
    "count": Counts,
    "order.placed": OrderPlaced,
    "order.cancelled": OrderRef,
    "fulfillment.accepted": OrderRef,
    "fulfillment.rejected": OrderRef,
    "shipment": Shipment,
}


class InboundEvent(BaseModel):
    """A validated inbound event: its type and typed data."""

    model_config = ConfigDict(frozen=True)

    type: EventType
    data: _Data


class FieldError(BaseModel):
    pointer: str
    detail: str


class InvalidPayload(Exception):
    """The body is JSON but not a valid event; `errors` point at each bad field."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.pointer or '/'}: {e.detail}" for e in errors))
        self.errors = errors


def pointer(loc: tuple[int | str, ...]) -> str:
    """A pydantic error location as an RFC 6901 JSON pointer."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in loc)


def errors_from(exc: ValidationError, prefix: tuple[int | str, ...] = ()) -> list[FieldError]:
    return [
        FieldError(pointer=pointer(prefix + tuple(e["loc"])), detail=e["msg"]) for e in exc.errors()
    ]


def parse_event(body: Any) -> InboundEvent:
    """Validate a decoded JSON body `{"type", "data"}`; raise InvalidPayload."""
    if not isinstance(body, dict):
        raise InvalidPayload([FieldError(pointer="", detail="the body must be a JSON object")])
    type_ = body.get("type")
    if type_ not in DATA_MODELS:
        allowed = ", ".join(DATA_MODELS)
        raise InvalidPayload([FieldError(pointer="/type", detail=f"type must be one of: {allowed}")])
    data = body.get("data")
    if not isinstance(data, dict):
        raise InvalidPayload([FieldError(pointer="/data", detail="data must be a JSON object")])
    try:
        parsed = DATA_MODELS[type_].model_validate(data)
    except ValidationError as exc:
        raise InvalidPayload(errors_from(exc, ("data",))) from exc
    return InboundEvent(type=type_, data=parsed)


def skus_named(event: InboundEvent) -> set[str]:
    """The skus an event names in its payload (orders named by id add theirs later)."""
    data = event.data
    if isinstance(data, StockLines | OrderPlaced | Shipment):
        return {line.sku for line in data.lines}
    if isinstance(data, Adjustment):
        return {data.sku}
    if isinstance(data, Counts):
        return {c.sku for c in data.counts}
    return set()
