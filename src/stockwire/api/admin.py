"""Admin routes: locations, channels, products, stock, orders and the ledger."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request, Response

from stockwire import signatures
from stockwire.api.models import (
    AdjustmentIn,
    ChannelIn,
    ChannelNumberOut,
    ChannelOut,
    ChannelPatch,
    LevelOut,
    LocationIn,
    LocationOut,
    Page,
    ProductIn,
    ProductOut,
    StockOut,
)
from stockwire.domain.errors import Refusal
from stockwire.domain.models import Cause, Channel, ChannelFormat, ChannelKind, Location, Product
from stockwire.domain.orders import order_view
from stockwire.hub import Hub
from stockwire.inbound import service
from stockwire.inbound.payloads import Adjustment, InboundEvent
from stockwire.storage import catalog, ledger, outbox, stock
from stockwire.storage import orders as order_store
from stockwire.storage.catalog import ChannelRecord
from stockwire.storage.database import utcnow

router = APIRouter(prefix="/v1")

PLATFORM_SETTINGS = ("location_map", "sku_map", "notification_url", "counts_authoritative")


def _hub(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


def _not_found(what: str) -> HTTPException:
    return HTTPException(404, f"no {what}")


def _unprocessable(pointer: str, detail: str) -> HTTPException:
    return HTTPException(422, {"detail": detail, "errors": [{"pointer": pointer, "detail": detail}]})


# -- locations ---------------------------------------------------------------


@router.post("/locations", status_code=201, response_model=LocationOut, tags=["locations"])
def create_location(body: LocationIn, request: Request) -> LocationOut:
    """Create a store or warehouse."""
    hub = _hub(request)
    with hub.db.write() as conn:
        if not catalog.insert_location(conn, Location(id=body.id, name=body.name, kind=body.kind)):
            raise HTTPException(409, f"location {body.id} already exists")
    return LocationOut(id=body.id, name=body.name, kind=body.kind)


@router.get("/locations", tags=["locations"])
def list_locations(request: Request) -> dict[str, Any]:
    with _hub(request).db.read() as conn:
        items = catalog.list_locations(conn)
    return {"items": [LocationOut(id=x.id, name=x.name, kind=x.kind).model_dump(mode="json") for x in items]}


@router.get("/locations/{location_id}", response_model=LocationOut, tags=["locations"])
def get_location(location_id: str, request: Request) -> LocationOut:
    with _hub(request).db.read() as conn:
        found = catalog.get_location(conn, location_id)
    if found is None:
        raise _not_found(f"location {location_id}")
    return LocationOut(id=found.id, name=found.name, kind=found.kind)


# -- channels ----------------------------------------------------------------


def channel_out(record: ChannelRecord, *, with_secret: bool = False) -> ChannelOut:
    ch = record.channel
    route = f"/v1/inbound/{ch.id}" + ("" if ch.format is ChannelFormat.STOCKWIRE else f"/{ch.format.value}")
    return ChannelOut(
        id=ch.id, name=ch.name, kind=ch.kind, format=ch.format, locations=list(ch.locations),
        buffer=ch.buffer, order_policy=ch.order_policy,
        location_map=record.settings.get("location_map", {}),
        sku_map=record.settings.get("sku_map", {}),
        notification_url=record.settings.get("notification_url"),
        counts_authoritative=bool(record.settings.get("counts_authoritative", False)),
        secret=record.secret if with_secret else None,
        inbound_url=route,
    )


def _check_locations(conn: Any, locations: list[str], pointer: str = "/locations") -> None:
    known = catalog.location_ids(conn)
    for i, loc in enumerate(locations):
        if loc not in known:
            raise _unprocessable(f"{pointer}/{i}", f"unknown location {loc!r}; create it first")
    if len(set(locations)) != len(locations):
        raise _unprocessable(pointer, "a location is listed twice")


def _settings_from(body: ChannelIn | ChannelPatch, base: dict[str, Any]) -> dict[str, Any]:
    settings = dict(base)
    for name in PLATFORM_SETTINGS:
        value = getattr(body, name)
        if value is not None:
            settings[name] = value
    return settings


@router.post("/channels", status_code=201, response_model=ChannelOut, response_model_exclude_none=True,
             tags=["channels"])
def create_channel(body: ChannelIn, request: Request) -> ChannelOut:
    """Connect a system; the answer holds its inbound signing secret, shown in full only here."""
    hub = _hub(request)
    if body.format is ChannelFormat.STOCKWIRE and body.secret is not None and not signatures.is_valid_secret(
        body.secret
    ):
        raise _unprocessable("/secret", "a stockwire channel's secret is 'whsec_' + base64 of 24+ bytes")
    secret = body.secret or signatures.new_secret()
    record = ChannelRecord(
        channel=Channel(id=body.id, name=body.name, kind=body.kind, format=body.format,
                        locations=tuple(body.locations), buffer=body.buffer, order_policy=body.order_policy),
        secret=secret,
        settings=_settings_from(body, {}),
    )
    with hub.db.write() as conn:
        _check_locations(conn, body.locations)
        for i, loc in enumerate(body.location_map.values()):
            if loc not in catalog.location_ids(conn):
                raise _unprocessable(f"/location_map/{i}", f"unknown location {loc!r}")
        if not catalog.insert_channel(conn, record):
            raise HTTPException(409, f"channel {body.id} already exists")
        events = service.refresh_availability(conn, service.load_catalog(conn))
        outbox.append(conn, events)
    _after_write(hub, events, body.id)
    return channel_out(record, with_secret=True)


def _after_write(hub: Hub, events: Any, channel_id: str | None = None) -> None:
    if channel_id is not None:
        hub.channels.invalidate(channel_id)
    if events:
        hub.signal.fire()


@router.get("/channels", tags=["channels"])
def list_channels(request: Request) -> dict[str, Any]:
    with _hub(request).db.read() as conn:
        records = catalog.list_channels(conn)
    return {"items": [channel_out(r).model_dump(mode="json", exclude_none=True) for r in records]}


@router.get("/channels/{channel_id}", response_model=ChannelOut, response_model_exclude_none=True,
            tags=["channels"])
def get_channel(channel_id: str, request: Request) -> ChannelOut:
    with _hub(request).db.read() as conn:
        record = catalog.get_channel(conn, channel_id)
    if record is None:
        raise _not_found(f"channel {channel_id}")
    return channel_out(record)


@router.patch("/channels/{channel_id}", response_model=ChannelOut, response_model_exclude_none=True,
              tags=["channels"])
def patch_channel(channel_id: str, body: ChannelPatch, request: Request) -> ChannelOut:
    """Change a channel; new locations or buffer re-push its availability at once."""
    hub = _hub(request)
    with hub.db.write() as conn:
        record = catalog.get_channel(conn, channel_id, lock=True)
        if record is None:
            raise _not_found(f"channel {channel_id}")
        if body.locations is not None:
            _check_locations(conn, body.locations)
        ch = record.channel
        changed = Channel(
            id=ch.id, name=body.name if body.name is not None else ch.name, kind=ch.kind, format=ch.format,
            locations=tuple(body.locations) if body.locations is not None else ch.locations,
            buffer=body.buffer if body.buffer is not None else ch.buffer,
            order_policy=body.order_policy or ch.order_policy,
        )
        record = ChannelRecord(channel=changed, secret=record.secret, settings=_settings_from(body, record.settings))
        catalog.update_channel(conn, record)
        events = service.refresh_availability(conn, service.load_catalog(conn))
        outbox.append(conn, events)
    _after_write(hub, events, channel_id)
    return channel_out(record)


@router.post("/channels/{channel_id}/rotate-secret", response_model=ChannelOut,
             response_model_exclude_none=True, tags=["channels"])
def rotate_channel_secret(channel_id: str, request: Request) -> ChannelOut:
    """Issue a new inbound secret; the old one keeps verifying for 24 hours."""
    hub = _hub(request)
    with hub.db.write() as conn:
        record = catalog.get_channel(conn, channel_id, lock=True)
        if record is None:
            raise _not_found(f"channel {channel_id}")
        if record.channel.format is not ChannelFormat.STOCKWIRE:
            raise HTTPException(409, "a platform channel's secret is the platform's key; PATCH is not enough, "
                                     "recreate the channel with the new key")
        grace_until = (utcnow() + dt.timedelta(hours=24)).isoformat()
        settings = dict(record.settings, previous_secrets=[record.secret], previous_secrets_until=grace_until)
        record = ChannelRecord(channel=record.channel, secret=signatures.new_secret(), settings=settings)
        catalog.update_channel(conn, record)
    hub.channels.invalidate(channel_id)
    return channel_out(record, with_secret=True)


@router.delete("/channels/{channel_id}", status_code=204, tags=["channels"])
def delete_channel(channel_id: str, request: Request) -> Response:
    hub = _hub(request)
    with hub.db.write() as conn:
        if not catalog.delete_channel(conn, channel_id):
            raise _not_found(f"channel {channel_id}")
    hub.channels.invalidate(channel_id)
    return Response(status_code=204)


# -- products and stock ------------------------------------------------------


@router.put("/products/{sku}", response_model=ProductOut, tags=["products"])
def put_product(sku: str, body: ProductIn, request: Request, response: Response) -> ProductOut:
    """Create or change a product (201 when new); safety stock changes what every channel shows."""
    if not 0 < len(sku) <= 128:
        raise _unprocessable("/sku", "a sku is 1 to 128 characters")
    hub = _hub(request)
    product = Product(sku=sku, name=body.name, safety_stock=body.safety_stock,
                      low_stock_threshold=body.low_stock_threshold)
    with hub.db.write() as conn:
        created, events = service.update_product(conn, service.load_catalog(conn), product)
        outbox.append(conn, events)
    _after_write(hub, events)
    response.status_code = 201 if created else 200
    return ProductOut(sku=sku, name=body.name, safety_stock=body.safety_stock,
                      low_stock_threshold=body.low_stock_threshold)


@router.get("/products/{sku}", response_model=ProductOut, tags=["products"])
def get_product(sku: str, request: Request) -> ProductOut:
    with _hub(request).db.read() as conn:
        found = catalog.get_products(conn, [sku]).get(sku)
    if found is None:
        raise _not_found(f"product {sku}")
    return ProductOut(sku=found.sku, name=found.name, safety_stock=found.safety_stock,
                      low_stock_threshold=found.low_stock_threshold)


def stock_view(conn: Any, sku: str) -> StockOut | None:
    if sku not in catalog.get_products(conn, [sku]):
        return None
    levels = stock.load_levels(conn, [sku])
    numbers = {a.channel: a for a in stock.load_availability(conn, [sku])}
    channels = [r.channel for r in catalog.list_channels(conn) if r.channel.locations]
    return StockOut(
        sku=sku,
        locations=[
            LevelOut(location=lv.location, on_hand=lv.on_hand, reserved=lv.reserved,
                     safety_stock=lv.safety_stock, available=lv.available, version=lv.version)
            for lv in levels
        ],
        channels=[
            ChannelNumberOut(
                channel=ch.id,
                available=numbers[ch.id].available if ch.id in numbers else 0,
                version=numbers[ch.id].version if ch.id in numbers else 0,
            )
            for ch in channels
        ],
    )


@router.get("/stock/{sku}", response_model=StockOut, tags=["stock"])
def get_stock(sku: str, request: Request) -> StockOut:
    """A sku's levels at every location and the number every channel shows."""
    with _hub(request).db.read() as conn:
        view = stock_view(conn, sku)
    if view is None:
        raise _not_found(f"product {sku}")
    return view


@router.post("/stock/{sku}/adjustments", response_model=StockOut, tags=["stock"])
def adjust_stock(sku: str, body: AdjustmentIn, request: Request) -> StockOut:
    """An operator's correction of on_hand (relative `delta` or absolute `on_hand`), ledgered as admin."""
    if (body.delta is None) == (body.on_hand is None):
        raise _unprocessable("", "give exactly one of delta or on_hand")
    hub = _hub(request)
    event = InboundEvent(type="adjustment", data=Adjustment(
        location=body.location, sku=sku, delta=body.delta, on_hand=body.on_hand, reason=body.reason))
    cause = Cause(kind="adjustment", admin="admin", reason=body.reason)
    with hub.db.write() as conn:
        cat = service.load_catalog(conn)
        pseudo = Channel(id="admin", name="admin", kind=ChannelKind.OTHER)
        try:
            _, events = service.apply_event(conn, cat, pseudo, event, cause)
        except Refusal as refusal:
            raise _unprocessable(refusal.pointer.replace("/data", ""), refusal.message) from refusal
        outbox.append(conn, events)
        view = stock_view(conn, sku)
    _after_write(hub, events)
    assert view is not None
    return view


# -- orders and ledger -------------------------------------------------------


@router.get("/orders/{channel_id}/{order_id}", tags=["orders"])
def get_order(channel_id: str, order_id: str, request: Request) -> dict[str, Any]:
    with _hub(request).db.read() as conn:
        order = order_store.get(conn, channel_id, order_id)
    if order is None:
        raise _not_found(f"order {order_id} on channel {channel_id}")
    return order_view(order)


@router.get("/orders", response_model=Page, tags=["orders"])
def list_orders(
    request: Request,
    channel: str | None = None,
    status: str | None = None,
    limit: int = Query(50, ge=1, le=500),
) -> Page:
    with _hub(request).db.read() as conn:
        found = order_store.page(conn, channel=channel, status=status, limit=limit)
    return Page(items=[order_view(o) for o in found])


@router.get("/ledger", response_model=Page, tags=["stock"])
def get_ledger(
    request: Request,
    sku: str | None = None,
    location: str | None = None,
    after: int = Query(0, ge=0),
    limit: int = Query(100, ge=1, le=1000),
) -> Page:
    """Movements oldest first; pass `cursor` back as `after` for the next page."""
    with _hub(request).db.read() as conn:
        items = ledger.entries(conn, sku=sku, location=location, after=after, limit=limit)
    return Page(items=items, cursor=str(items[-1]["id"]) if items else str(after))
