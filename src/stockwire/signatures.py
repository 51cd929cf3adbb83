"""Standard Webhooks signatures (https://www.standardwebhooks.com), both ways.

`sign` is what the delivery engine puts in `webhook-signature`; `verify` is
what inbound routes check. The key is the base64 part of a `whsec_` secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from collections.abc import Iterable

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
TOLERANCE_SECONDS = 300


class SignatureError(Exception):
    """The request is not signed by who it claims to be."""


def new_secret() -> str:
    """A fresh `whsec_` secret: 32 random bytes, base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key inside a `whsec_` secret (a secret without the prefix is taken as base64 too)."""
    raw = secret[len(SECRET_PREFIX):] if secret.startswith(SECRET_PREFIX) else secret
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("a signing secret must be 'whsec_' followed by base64") from exc


def is_valid_secret(secret: str) -> bool:
    try:
        return len(secret_key(secret)) >= 24
    except ValueError:
        return False


def signature(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """One `v1,<base64>` signature of `{id}.{timestamp}.{body}`."""
    signed = b"%s.%d.%s" % (msg_id.encode(), timestamp, body)
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def sign(keys: Iterable[bytes], msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header value: one signature per key, space separated."""
    return " ".join(signature(k, msg_id, timestamp, body) for k in keys)


def verify(
    key: bytes,
    *,
    msg_id: str | None,
    timestamp: str | None,
    header: str | None,
    body: bytes,
    now: float | None = None,
    tolerance: int = TOLERANCE_SECONDS,
) -> None:
    """Raise SignatureError unless one of the header's signatures is valid and fresh."""
    if not msg_id or not timestamp or not header:
        raise SignatureError("missing webhook-id, webhook-timestamp or webhook-signature header")
    try:
        ts = int(timestamp)
    except ValueError as exc:
        raise SignatureError("webhook-timestamp must be unix seconds") from exc
    current = time.time() if now is None else now
    if abs(current - ts) > tolerance:
        raise SignatureError(f"webhook-timestamp is more than {tolerance} s from now")
    expected = signature(key, msg_id, ts, body).encode()
    for candidate in header.split(" "):
        version, _, value = candidate.partition(",")
        if version == "v1" and value and hmac.compare_digest(("v1," + value).encode(), expected):
            return
    raise SignatureError("no valid signature in webhook-signature")
