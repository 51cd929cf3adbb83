"""The admin API: auth, create/get conventions, products and channel changes."""

from __future__ import annotations

import httpx

from tests.support import LiveServer, Shop


def test_admin_routes_need_the_bearer_token(server: LiveServer) -> None:
    """No or wrong token is 401 with a hint; health and OpenAPI stay open."""
    anon = httpx.Client(base_url=server.url)
    assert anon.get("/v1/locations").status_code == 401
    wrong = anon.get("/v1/locations", headers={"authorization": "Bearer nope"})
    assert wrong.status_code == 401 and "Bearer" in wrong.json()["detail"]
    assert anon.get("/healthz").json() == {"status": "ok"}
    assert anon.get("/readyz").status_code == 200
    spec = anon.get("/openapi.json").json()
    assert "/v1/channels" in spec["paths"] and "/v1/stock/{sku}" in spec["paths"]


def test_create_conflict_missing_and_invalid(shop: Shop) -> None:
    """201 on create, 409 on a repeat id, 404 for a missing object, 422 naming bad fields."""
    assert shop.admin.post("/v1/locations", json={"id": "s1", "name": "S", "kind": "store"}).status_code == 201
    assert shop.admin.post("/v1/locations", json={"id": "s1", "name": "S", "kind": "store"}).status_code == 409
    assert shop.admin.get("/v1/locations/nope").status_code == 404
    bad = shop.admin.post("/v1/locations", json={"id": "s2", "kind": "castle"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["pointer"] == "/kind"
    ch = shop.admin.post("/v1/channels", json={"id": "c1", "kind": "pos", "locations": ["s1", "ghost"]})
    assert ch.status_code == 422 and ch.json()["errors"][0]["pointer"] == "/locations/1"
    created = shop.admin.post("/v1/channels", json={"id": "c1", "name": "C", "kind": "pos", "locations": ["s1"]})
    assert created.status_code == 201
    assert created.json()["secret"].startswith("whsec_")
    assert "secret" not in shop.admin.get("/v1/channels/c1").json()
    assert shop.admin.post("/v1/channels", json={"id": "c1", "kind": "pos"}).status_code == 409
    assert shop.admin.get("/v1/orders/c1/none").status_code == 404
    assert shop.admin.get("/v1/stock/none").status_code == 404


def test_product_safety_stock_lowers_what_channels_show(shop: Shop) -> None:
    """PUT /v1/products creates (201) then updates (200); safety stock is withheld from channels."""
    shop.location("wh-1", "warehouse")
    shop.channel("web-1", "storefront", ["wh-1"])
    shop.send("web-1", "receipt", {"location": "wh-1", "lines": [{"sku": "A", "quantity": 10}]})
    assert shop.shown("A", "web-1") == 10
    r = shop.admin.put("/v1/products/A", json={"name": "Mug", "safety_stock": 3, "low_stock_threshold": 2})
    assert r.status_code == 200
    assert shop.admin.put("/v1/products/NEW", json={"name": "New"}).status_code == 201
    assert shop.shown("A", "web-1") == 7
    level = shop.level("A", "wh-1")
    assert (level["on_hand"], level["safety_stock"], level["available"]) == (10, 3, 7)


def test_channel_buffer_and_locations_change_what_it_shows(shop: Shop) -> None:
    """PATCHing a channel's buffer or locations recomputes its number at once."""
    shop.location("wh-1", "warehouse")
    shop.location("s-1")
    shop.channel("mkt-1", "marketplace", ["wh-1"], buffer=2)
    shop.send("mkt-1", "receipt", {"location": "wh-1", "lines": [{"sku": "A", "quantity": 5}]})
    shop.send("mkt-1", "receipt", {"location": "s-1", "lines": [{"sku": "A", "quantity": 4}]})
    assert shop.shown("A", "mkt-1") == 3
    assert shop.admin.patch("/v1/channels/mkt-1", json={"buffer": 0}).status_code == 200
    assert shop.shown("A", "mkt-1") == 5
    assert shop.admin.patch("/v1/channels/mkt-1", json={"locations": ["wh-1", "s-1"]}).status_code == 200
    assert shop.shown("A", "mkt-1") == 9


def test_admin_adjustment_is_ledgered_as_admin(shop: Shop) -> None:
    """An operator's correction moves stock and names the admin as the cause."""
    shop.location("wh-1", "warehouse")
    r = shop.admin.post("/v1/stock/A/adjustments", json={"location": "wh-1", "on_hand": 4, "reason": "found"})
    assert r.status_code == 200, r.text
    assert r.json()["locations"][0]["on_hand"] == 4
    entry = shop.admin.get("/v1/ledger", params={"sku": "A"}).json()["items"][-1]
    assert entry["cause"]["admin"] == "admin" and entry["cause"]["reason"] == "found"
    bad = shop.admin.post("/v1/stock/A/adjustments", json={"location": "nowhere", "delta": 1})
    assert bad.status_code == 422
