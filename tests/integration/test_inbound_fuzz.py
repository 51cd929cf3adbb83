"""Property: whatever a caller sends to the inbound route, never a 5xx, and a refusal changes nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support import Shop, signed_headers

TYPES = ["sale", "return", "receipt", "adjustment", "count", "order.placed", "order.cancelled",
         "fulfillment.accepted", "fulfillment.rejected", "shipment"]
FIELDS = ["location", "lines", "sku", "quantity", "delta", "on_hand", "reason", "counts", "order_id",
          "ship_to", "customer", "channel"]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False), st.text(max_size=20), st.sampled_from(["store-1", "A", "o-1", ""]),
)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(FIELDS), inner, max_size=5),
    max_leaves=20,
)
line = st.fixed_dictionaries({"sku": st.one_of(st.sampled_from(["A", "B"]), st.text(max_size=3)),
                              "quantity": st.one_of(st.integers(-3, 5), scalars)})
data = st.dictionaries(
    st.sampled_from(FIELDS),
    st.one_of(json_values, st.lists(line, max_size=3), st.sampled_from(["store-1", "nowhere", "o-1"])),
    max_size=6,
)
envelopes = st.fixed_dictionaries({"type": st.one_of(st.sampled_from(TYPES), st.text(max_size=8)),
                                   "data": st.one_of(data, json_values)})


def _counts(shop: Shop) -> tuple[int, int]:
    ledger = shop.admin.get("/v1/ledger", params={"limit": 1000}).json()["items"]
    orders = shop.admin.get("/v1/orders", params={"limit": 500}).json()["items"]
    return len(ledger), len(orders)


@pytest.fixture
def fuzz_shop(shop: Shop) -> Shop:
    shop.location("store-1")
    shop.channel("pos-1", "pos", ["store-1"])
    return shop


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.one_of(envelopes.map(lambda e: json.dumps(e).encode()), st.binary(max_size=64),
                   json_values.map(lambda v: json.dumps(v).encode())),
    sign=st.sampled_from(["good", "none", "garbage"]),
    content_type=st.sampled_from(["application/json", "text/plain", "", "application/json; charset=utf-8"]),
)
def test_inbound_never_5xx_and_refusals_change_nothing(
    fuzz_shop: Shop, body: bytes, sign: str, content_type: str
) -> None:
    """Arbitrary bodies and headers: the answer is < 500; anything but 200 leaves stock untouched."""
    headers: dict[str, Any] = signed_headers(fuzz_shop.secrets["pos-1"], body)
    if sign == "none":
        headers = {}
    elif sign == "garbage":
        headers["webhook-signature"] = "v1,@@@ v2"
    if content_type:
        headers["content-type"] = content_type
    else:
        headers.pop("content-type", None)
    before = _counts(fuzz_shop)
    r = fuzz_shop.http.post("/v1/inbound/pos-1", content=body, headers=headers)
    assert r.status_code < 500, r.text
    if r.status_code != 200:
        assert _counts(fuzz_shop) == before
        assert r.headers["content-type"] == "application/problem+json"
