"""Pull and batch, for systems that cannot take webhooks.

`GET /v1/events` (the outbox as a feed, long-poll), `GET /v1/availability`
(a channel's paged snapshot), `POST /v1/locations/{id}/counts` (a CSV cycle
count) and `POST /v1/channels/{id}/reconcile` (a channel's view -> drift and
corrections).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field, StrictInt, StringConstraints
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from stockwire.api.problems import json_response
from stockwire.domain.errors import Refusal
from stockwire.hub import Hub
from stockwire.inbound import csvfiles
from stockwire.inbound.imports import import_counts
from stockwire.inbound.reconcile import reconcile_channel
from stockwire.inbound.routes import BodyTooLarge, read_body
from stockwire.storage import catalog, outbox, stock
from stockwire.storage.outbox import StoredEvent

router = APIRouter(prefix="/v1")

MAX_WAIT = 60.0
MAX_CSV_BYTES = 32 * 1024 * 1024
CSV_TYPES = ("text/csv", "application/csv", "text/plain")


def _hub(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


def _unprocessable(pointer: str, detail: str) -> HTTPException:
    return HTTPException(422, {"detail": detail, "errors": [{"pointer": pointer, "detail": detail}]})


# -- cursors -----------------------------------------------------------------


def encode_cursor(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, prefix: str, pointer: str) -> str:
    """The value inside an opaque cursor made by `encode_cursor(prefix + value)`."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    if not text.startswith(prefix):
        raise _unprocessable(pointer, "not a cursor this server gave out; pass back `cursor` from an answer")
    return text[len(prefix):]


def event_position(after: str | None) -> int:
    """The event id a feed resumes after: from a cursor, or from an event id `evt_N`."""
    if not after:
        return 0
    if after.startswith("evt_") and after[4:].isdigit():
        return int(after[4:])
    value = decode_cursor(after, "e:", "/after")
    if not value.isdigit():
        raise _unprocessable("/after", "not a cursor this server gave out")
    return int(value)


# -- the event feed ------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class FeedPage:
    items: list[StoredEvent]
    position: int


def read_feed(hub: Hub, after: int, limit: int, types: tuple[str, ...], channel: str | None) -> FeedPage:
    """One page after `after`, and the position to resume from.

    Event ids become visible in commit order (see storage.outbox), so once the
    newest id is N every id below N that will ever exist is visible. Reading
    up to a newest id taken first lets a filtered reader skip past events that
    did not match without ever passing one that is yet to commit.
    """
    filtered = bool(types or channel)
    with hub.db.read() as conn:
        # Unfiltered, the last item read is the position: one query on the hot path.
        newest = outbox.last_id(conn) if filtered else None
        items = outbox.read_after(conn, after, limit=limit, types=types, channel=channel, upto=newest)
    if len(items) == limit or newest is None:
        return FeedPage(items=items, position=items[-1].id if items else after)
    return FeedPage(items=items, position=max(after, newest))


PageKey = tuple[int, int, tuple[str, ...], str | None]


class SharedReads:
    """One query for every reader asking for the same page at the same moment.

    A commit wakes all long-polling readers at once, and readers at the head of
    the feed ask for the same page; they share one read. A reader joins a read
    only if it started after the reader began listening (by the signal's
    generation), so the shared page cannot predate a commit the reader relies on.
    """

    def __init__(self) -> None:
        self._reads: dict[PageKey, tuple[int, asyncio.Future[FeedPage]]] = {}

    async def read(self, hub: Hub, key: PageKey, listening_since: int) -> FeedPage:
        found = self._reads.get(key)
        if found is None or found[0] < listening_since:
            started = hub.signal.generation
            future: asyncio.Future[FeedPage] = asyncio.ensure_future(run_in_threadpool(read_feed, hub, *key))
            self._reads[key] = (started, future)
            future.add_done_callback(lambda _: self._forget(key, future))
        else:
            future = found[1]
        return await asyncio.shield(future)

    def _forget(self, key: PageKey, future: asyncio.Future[FeedPage]) -> None:
        found = self._reads.get(key)
        if found is not None and found[1] is future:
            del self._reads[key]


def _shared_reads(hub: Hub) -> SharedReads:
    reads = hub.extensions.get("feed.shared_reads")
    if not isinstance(reads, SharedReads):
        reads = hub.extensions["feed.shared_reads"] = SharedReads()
    return reads


@router.get("/events", tags=["feed"])
async def read_events(
    request: Request,
    after: str | None = Query(None, description="`cursor` from the last answer; omit to read from the start"),
    types: str | None = Query(None, description="comma-separated event types; `order.*` matches a prefix"),
    channel: str | None = Query(None, description="only events for this channel"),
    limit: int = Query(100, ge=1, le=1000),
    wait: float = Query(0, ge=0, le=MAX_WAIT, description="seconds to long-poll when nothing is new"),
) -> Response:
    """Every outbound event once, in commit order; pass `cursor` back as `after`."""
    hub = _hub(request)
    position = event_position(after)
    wanted = tuple(t.strip() for t in (types or "").split(",") if t.strip())
    reads = _shared_reads(hub)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while True:
        remaining = deadline - loop.time()
        waiter: asyncio.Task[bool] | None = None
        if remaining > 0:
            # Listen before reading, so a commit landing between the read and the
            # wait still wakes this reader.
            waiter = asyncio.ensure_future(hub.signal.wait(remaining))
            await asyncio.sleep(0)
        listening_since = hub.signal.generation
        try:
            page = await reads.read(hub, (position, limit, wanted, channel), listening_since)
        except BaseException:
            if waiter is not None:
                waiter.cancel()
            raise
        position = page.position
        if page.items or waiter is None:
            if waiter is not None:
                waiter.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await waiter
            return json_response({"items": [e.envelope() for e in page.items],
                                  "cursor": encode_cursor(f"e:{position}")})
        await waiter


# -- availability snapshot -----------------------------------------------------


@router.get("/availability", tags=["feed"])
def read_availability(
    request: Request,
    channel: str = Query(..., description="the channel whose numbers to list"),
    cursor: str | None = Query(None),
    limit: int = Query(500, ge=1, le=5000),
) -> Response:
    """What a channel may sell, per sku, in sku order; follow `cursor` until it is null."""
    after_sku = decode_cursor(cursor, "a:", "/cursor") if cursor else None
    with _hub(request).db.read() as conn:
        if catalog.get_channel(conn, channel) is None:
            raise HTTPException(404, f"no channel {channel}")
        rows = stock.availability_page(conn, channel, after_sku=after_sku, limit=limit)
    following = encode_cursor(f"a:{rows[-1].sku}") if len(rows) == limit else None
    items = [{"sku": r.sku, "available": r.available, "version": r.version} for r in rows]
    return json_response({"items": items, "cursor": following})


# -- cycle-count import ----------------------------------------------------------


@router.post("/locations/{location_id}/counts", tags=["feed"],
             openapi_extra={"requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}}})
async def post_counts(location_id: str, request: Request, source: str | None = None) -> Response:
    """A CSV cycle count (`sku,on_hand`): all rows or none; the same file twice applies once."""
    hub = _hub(request)
    media = (request.headers.get("content-type") or "").split(";", 1)[0].strip().lower()
    if media not in CSV_TYPES:
        raise HTTPException(415, "send the counts as text/csv with the columns sku,on_hand")
    try:
        data = await read_body(request, MAX_CSV_BYTES)
    except BodyTooLarge:
        raise HTTPException(413, f"the file exceeds {MAX_CSV_BYTES} bytes") from None
    try:
        counts = csvfiles.read_counts(data)
    except csvfiles.BadRow as exc:
        errors = [{"pointer": f"/line/{exc.line}", "detail": exc.message}]
        raise HTTPException(422, {"detail": f"nothing imported: {exc}", "errors": errors}) from exc

    def write() -> Any:
        with hub.db.write() as conn:
            if catalog.get_location(conn, location_id) is None:
                raise HTTPException(404, f"no location {location_id}")
            outcome = import_counts(conn, location=location_id, counts=counts,
                                    checksum=csvfiles.checksum(data), source=source or "http")
            outbox.append(conn, outcome.events)
        return outcome

    try:
        outcome = await run_in_threadpool(write)
    except Refusal as refusal:
        raise _unprocessable(refusal.pointer, f"nothing imported: {refusal.message}") from refusal
    if outcome.events:
        hub.signal.fire()
    return json_response(outcome.body, outcome.status)


# -- reconciliation --------------------------------------------------------------


class ViewItem(BaseModel):
    sku: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    available: Annotated[StrictInt, Field(ge=0, le=1_000_000_000)]


class ChannelView(BaseModel):
    items: Annotated[list[ViewItem], Field(max_length=100_000)]


@router.post("/channels/{channel_id}/reconcile", tags=["feed"])
def reconcile(channel_id: str, body: ChannelView, request: Request) -> dict[str, Any]:
    """Compare the channel's own numbers with the hub's; push a correction for each that differs."""
    seen: set[str] = set()
    for i, item in enumerate(body.items):
        if item.sku in seen:
            raise _unprocessable(f"/items/{i}/sku", f"sku {item.sku!r} is listed twice")
        seen.add(item.sku)
    hub = _hub(request)
    with hub.db.write() as conn:
        if catalog.get_channel(conn, channel_id) is None:
            raise HTTPException(404, f"no channel {channel_id}")
        outcome = reconcile_channel(conn, channel_id, [(i.sku, i.available) for i in body.items])
        outbox.append(conn, outcome.corrections)
    if outcome.corrections:
        hub.signal.fire()
    return outcome.as_result()
