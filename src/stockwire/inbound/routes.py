"""`POST /v1/inbound/{channel_id}`: the native, Standard-Webhooks-signed route.

A plain Starlette endpoint: it reads the raw body once (the signature covers
the exact bytes), checks, validates and hands the event to the writer.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from stockwire import signatures
from stockwire.api.problems import json_response, problem
from stockwire.hub import Hub
from stockwire.inbound.payloads import InvalidPayload, parse_event
from stockwire.inbound.service import Submission
from stockwire.storage.catalog import ChannelRecord


class BodyTooLarge(Exception):
    pass


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refusing anything over `limit` bytes before reading it all."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks = bytearray()
    async for chunk in request.stream():
        chunks += chunk
        if len(chunks) > limit:
            raise BodyTooLarge
    return bytes(chunks)


async def body_or_problem(request: Request, limit: int) -> bytes | Response:
    """The raw body, or the answer to give when it is too large or never arrived."""
    try:
        return await read_body(request, limit)
    except BodyTooLarge:
        return too_large(limit)
    except ClientDisconnect:
        return problem(400, "client disconnected", "the body was not received in full")


def channel_keys(record: ChannelRecord) -> list[bytes]:
    """Keys that may sign for a channel: its secret, and a rotated-out one still in grace."""
    secrets_ = [record.secret]
    until = record.settings.get("previous_secrets_until")
    if until and dt.datetime.fromisoformat(until) > dt.datetime.now(dt.UTC):
        secrets_ += record.settings.get("previous_secrets", [])
    keys = []
    for s in secrets_:
        try:
            keys.append(signatures.secret_key(s))
        except ValueError:
            keys.append(s.encode())
    return keys


def is_json(content_type: str | None) -> bool:
    if not content_type:
        return True  # many senders omit it; the body is checked below
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def too_large(limit: int) -> Response:
    return problem(413, "payload too large", f"the body exceeds {limit} bytes")


async def receive_native(request: Request) -> Response:
    hub: Hub = request.app.state.hub
    channel_id = request.path_params["channel_id"]
    record = await hub.channels.get(channel_id)
    if record is None:
        return problem(404, "unknown channel", f"no channel {channel_id!r}; create it with POST /v1/channels")
    body = await body_or_problem(request, hub.settings.max_body_bytes)
    if isinstance(body, Response):
        return body
    headers = request.headers
    msg_id = headers.get("webhook-id")
    error = None
    for key in channel_keys(record):
        try:
            signatures.verify(
                key, msg_id=msg_id, timestamp=headers.get("webhook-timestamp"),
                header=headers.get("webhook-signature"), body=body,
                tolerance=hub.settings.signature_tolerance,
            )
            break
        except signatures.SignatureError as exc:
            error = exc
    else:
        return problem(401, "invalid signature", str(error))
    assert msg_id is not None
    if len(msg_id) > 256:
        return problem(422, "invalid webhook-id", "webhook-id is longer than 256 characters",
                       errors=[{"pointer": "", "detail": "webhook-id too long"}])
    if not is_json(headers.get("content-type")):
        return problem(415, "unsupported media type", "send the event as application/json")
    try:
        decoded = orjson.loads(body)
    except orjson.JSONDecodeError:
        try:  # orjson refuses some valid JSON (e.g. huge integers): ask the stdlib too
            decoded = json.loads(body)
        except (ValueError, RecursionError):
            return problem(415, "unsupported media type", "the body is not valid JSON")
    try:
        event = parse_event(decoded)
    except InvalidPayload as exc:
        return problem(422, "invalid payload", str(exc), errors=[e.model_dump() for e in exc.errors])
    return await submit(hub, Submission(
        channel=channel_id, event_id=msg_id, body_sha256=hashlib.sha256(body).hexdigest(), event=event,
    ))


async def submit(hub: Hub, submission: Submission) -> Response:
    """Hand an event to the writer, unless the hub is truly overloaded."""
    if hub.writer.backlog > hub.settings.max_backlog:
        return problem(503, "overloaded", "too many events are waiting; retry shortly",
                       headers={"Retry-After": "1"})
    outcome = await hub.writer.submit(submission)
    headers = {"Retry-After": "1"} if outcome.status == 503 else None
    return json_response(outcome.body, outcome.status, headers=headers)
