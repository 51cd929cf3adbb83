"""What every platform adapter returns, and the small helpers they share.

An adapter is pure: it checks a platform's signature against the raw bytes and
maps the decoded payload to one of three outcomes. The route does the I/O.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from stockwire.inbound.payloads import FieldError, InboundEvent, InvalidPayload, parse_event
from stockwire.storage.catalog import ChannelRecord

__all__ = [
    "Adapter",
    "DriftReport",
    "Ignored",
    "NativeEvents",
    "Translation",
    "hmac_sha256_base64",
    "invalid",
    "native",
    "signature_matches",
]


@dataclass(frozen=True, kw_only=True)
class NativeEvent:
    """One native event with its idempotency key and the fingerprint a repeat must match."""

    event_id: str
    fingerprint: str
    event: InboundEvent


@dataclass(frozen=True, kw_only=True)
class NativeEvents:
    """Apply these through the writer. Usually one; several only when a payload
    spans locations (each then has its own derived event id, so a retry
    re-applies only the parts that did not commit)."""

    events: tuple[NativeEvent, ...]


@dataclass(frozen=True, kw_only=True)
class DriftReport:
    """The platform's own view of what it shows (sku -> available), to compare, not to apply."""

    event_id: str
    fingerprint: str
    available: tuple[tuple[str, int], ...]


@dataclass(frozen=True, kw_only=True)
class Ignored:
    """Nothing to do; answered 200 so the platform keeps the webhook enabled."""

    reason: str


Translation = NativeEvents | DriftReport | Ignored


class Adapter(Protocol):
    """A platform's inbound dialect."""

    format: str

    def is_ping(self, headers: Mapping[str, str], body: bytes) -> bool:
        """True for an unsigned hello that must be answered 200 with no effect."""

    def verify(self, record: ChannelRecord, headers: Mapping[str, str], body: bytes) -> str | None:
        """None when the signature is good, else why it is not."""

    def translate(self, record: ChannelRecord, headers: Mapping[str, str], payload: Any,
                  body: bytes) -> Translation:
        """Map a verified, decoded payload; raise InvalidPayload for one that cannot be mapped."""


def hmac_sha256_base64(key: bytes, message: bytes) -> str:
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()


def signature_matches(expected: str, given: str | None) -> bool:
    """Constant-time comparison of two base64 signatures."""
    if not given:
        return False
    return hmac.compare_digest(expected.encode(), given.strip().encode())



def body_signature_error(record: ChannelRecord, headers: Mapping[str, str], body: bytes, header: str) -> str | None:
    """Check `header` holds the base64 HMAC-SHA256 of the raw body under the channel's secret.

    Shopify and WooCommerce sign the same way; None when it matches, else why not.
    """
    if signature_matches(hmac_sha256_base64(record.secret.encode(), body), headers.get(header)):
        return None
    return f"{header} is missing or does not match the body"

def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def invalid(pointer: str, detail: str) -> InvalidPayload:
    return InvalidPayload([FieldError(pointer=pointer, detail=detail)])


def native(event_id: str, type_: str, data: dict[str, Any], *, fingerprint: str | None = None) -> NativeEvent:
    """Validate a mapped event like any native one; the fingerprint defaults to the mapped event's hash."""
    event = parse_event({"type": type_, "data": data})
    if fingerprint is None:
        fingerprint = sha256_hex(orjson.dumps({"type": type_, "data": data}, option=orjson.OPT_SORT_KEYS))
    return NativeEvent(event_id=event_id, fingerprint=fingerprint, event=event)


def mapped_location(record: ChannelRecord, platform_location: object) -> str | None:
    """Our location for a platform location id, or None when the channel does not map it."""
    found = record.settings.get("location_map", {}).get(str(platform_location))
    return str(found) if found else None


def mapped_sku(record: ChannelRecord, platform_id: object) -> str | None:
    """Our sku for a platform variant / inventory item / catalog object id."""
    if platform_id is None:
        return None
    found = record.settings.get("sku_map", {}).get(str(platform_id))
    return str(found) if found else None


def counts_authoritative(record: ChannelRecord) -> bool:
    return bool(record.settings.get("counts_authoritative", False))


def whole_number(value: object, pointer: str) -> int:
    """A platform quantity (int, or a decimal string as Square sends) as an int."""
    if isinstance(value, bool):
        raise invalid(pointer, "expected a whole number")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            number = float(text)
        except ValueError:
            raise invalid(pointer, "expected a whole number") from None
        if number.is_integer():
            return int(number)
    raise invalid(pointer, "expected a whole number (fractional stock cannot be counted)")


def member(parent: dict[str, Any], key: str) -> dict[str, Any]:
    """`parent[key]` when it is a JSON object, else an empty one."""
    value = parent.get(key)
    return value if isinstance(value, dict) else {}
