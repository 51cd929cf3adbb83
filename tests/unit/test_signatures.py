"""Standard Webhooks signing and verification."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC

import pytest
import standardwebhooks
import svix

from stockwire import signatures

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def test_our_signature_verifies_with_the_standardwebhooks_and_svix_libraries() -> None:
    """What we sign, both reference libraries accept."""
    body = json.dumps({"type": "x", "data": {}}).encode()
    ts = int(time.time())
    headers = {"webhook-id": "evt_1", "webhook-timestamp": str(ts),
               "webhook-signature": signatures.sign([signatures.secret_key(SECRET)], "evt_1", ts, body)}
    standardwebhooks.Webhook(SECRET).verify(body, headers)
    svix.Webhook(SECRET).verify(body, {k.replace("webhook", "svix"): v for k, v in headers.items()})


def test_reference_library_signature_verifies_with_ours() -> None:
    """What the standardwebhooks library signs, we accept."""
    body = b'{"type":"sale"}'
    ts = int(time.time())
    from datetime import datetime

    sig = standardwebhooks.Webhook(SECRET).sign("msg_1", datetime.fromtimestamp(ts, tz=UTC), body.decode())
    signatures.verify(signatures.secret_key(SECRET), msg_id="msg_1", timestamp=str(ts), header=sig, body=body)


def test_any_one_of_several_signatures_passes() -> None:
    """A header with a stale and a valid signature verifies."""
    key = signatures.secret_key(SECRET)
    ts = int(time.time())
    good = signatures.signature(key, "m", ts, b"{}")
    header = "v1," + base64.b64encode(b"x" * 32).decode() + " " + good
    signatures.verify(key, msg_id="m", timestamp=str(ts), header=header, body=b"{}")


@pytest.mark.parametrize(
    ("msg_id", "offset", "body"),
    [("other", 0, b"{}"), ("m", 0, b"{ }"), ("m", 301, b"{}"), ("m", -301, b"{}")],
)
def test_wrong_id_body_or_stale_timestamp_fails(msg_id: str, offset: int, body: bytes) -> None:
    """Any change to the signed content, or a timestamp 300+ s off, fails."""
    key = signatures.secret_key(SECRET)
    ts = int(time.time())
    header = signatures.signature(key, "m", ts + offset, b"{}")
    with pytest.raises(signatures.SignatureError):
        signatures.verify(key, msg_id=msg_id, timestamp=str(ts + offset), header=header, body=body)


def test_missing_headers_fail() -> None:
    """Absent headers are a signature failure, not a crash."""
    with pytest.raises(signatures.SignatureError):
        signatures.verify(b"k", msg_id=None, timestamp=None, header=None, body=b"")


def test_new_secrets_are_whsec_with_enough_entropy() -> None:
    """Generated secrets are whsec_ + base64 of at least 24 bytes and all differ."""
    made = {signatures.new_secret() for _ in range(20)}
    assert len(made) == 20
    assert all(s.startswith("whsec_") and len(signatures.secret_key(s)) >= 24 for s in made)
