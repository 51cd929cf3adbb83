"""Platform fixtures and signing, as Shopify, WooCommerce and Square sign their webhooks."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import uuid
from pathlib import Path
from typing import Any

import httpx

FIXTURES = Path(__file__).parent / "fixtures" / "platforms"


def fixture(platform: str, name: str) -> Any:
    """A fixture's decoded JSON (a fresh copy each time, free to change)."""
    return copy.deepcopy(json.loads((FIXTURES / platform / name).read_text()))


def compact(payload: Any) -> bytes:
    """The bytes a platform would send: JSON without pretty-printing."""
    return json.dumps(payload, separators=(",", ":")).encode()


def hmac_b64(key: str, message: bytes) -> str:
    return base64.b64encode(hmac.new(key.encode(), message, hashlib.sha256).digest()).decode()


def shopify_headers(secret: str, body: bytes, topic: str, event_id: str | None = None) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "x-shopify-topic": topic,
        "x-shopify-hmac-sha256": hmac_b64(secret, body),
        "x-shopify-event-id": event_id or str(uuid.uuid4()),
        "x-shopify-webhook-id": str(uuid.uuid4()),
        "x-shopify-shop-domain": "example.myshopify.com",
        "x-shopify-api-version": "2024-10",
    }


def woocommerce_headers(secret: str, body: bytes, topic: str) -> dict[str, str]:
    resource, _, event = topic.partition(".")
    return {
        "content-type": "application/json",
        "user-agent": "WooCommerce/8.9.0 Hookshot (WordPress/6.5.0)",
        "x-wc-webhook-source": "https://shop.example.com/",
        "x-wc-webhook-topic": topic,
        "x-wc-webhook-resource": resource,
        "x-wc-webhook-event": event,
        "x-wc-webhook-signature": hmac_b64(secret, body),
        "x-wc-webhook-id": "12",
        "x-wc-webhook-delivery-id": hashlib.md5(uuid.uuid4().bytes).hexdigest(),  # noqa: S324 - an id, as WC makes
    }


def square_headers(secret: str, notification_url: str, body: bytes) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "x-square-hmacsha256-signature": hmac_b64(secret, notification_url.encode() + body),
    }


def post(http: httpx.Client, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return http.post(path, content=body, headers=headers)
