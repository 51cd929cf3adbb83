"""Batch and reconciliation: availability snapshot, CSV count import, reconcile, over HTTP and the CLI."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from stockwire.cli.main import cli
from stockwire.config import Settings
from tests.support import Shop

CSV = {"content-type": "text/csv"}


def setup_shop(shop: Shop, skus: int = 5) -> None:
    shop.location("wh-1", "warehouse")
    shop.channel("web-1", "storefront", ["wh-1"])
    for i in range(skus):
        r = shop.admin.post(f"/v1/stock/SKU-{i}/adjustments", json={"location": "wh-1", "delta": 10 + i})
        assert r.status_code == 200, r.text


def test_availability_snapshot_pages_until_a_null_cursor(shop: Shop) -> None:
    """The snapshot lists every sku once, in sku order, page by page."""
    setup_shop(shop)
    items, cursor, pages = [], None, 0
    while True:
        params = {"channel": "web-1", "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = shop.admin.get("/v1/availability", params=params).json()
        items += page["items"]
        pages += 1
        cursor = page["cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert [i["sku"] for i in items] == [f"SKU-{i}" for i in range(5)]
    assert items[0] == {"sku": "SKU-0", "available": 10, "version": items[0]["version"]}


def test_availability_of_an_unknown_channel_is_404(shop: Shop) -> None:
    """No channel, no snapshot."""
    assert shop.admin.get("/v1/availability", params={"channel": "nope"}).status_code == 404


def test_count_import_applies_once(shop: Shop) -> None:
    """A CSV count sets on_hand; the same file again is a duplicate and changes nothing."""
    setup_shop(shop)
    body = b"sku,on_hand\nSKU-0,3\nSKU-1,0\nNEW-1,7\n"
    first = shop.admin.post("/v1/locations/wh-1/counts", content=body, headers=CSV)
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "applied"
    assert shop.level("SKU-0", "wh-1")["on_hand"] == 3
    assert shop.level("NEW-1", "wh-1")["on_hand"] == 7
    shop.admin.post("/v1/stock/SKU-0/adjustments", json={"location": "wh-1", "delta": 1})
    again = shop.admin.post("/v1/locations/wh-1/counts", content=body, headers=CSV)
    assert again.json()["status"] == "duplicate"
    assert shop.level("SKU-0", "wh-1")["on_hand"] == 4


def test_a_bad_row_stops_the_import_with_its_line(shop: Shop) -> None:
    """Line 3 is bad: 422 naming line 3, and line 2 is not applied either."""
    setup_shop(shop)
    body = b"sku,on_hand\nSKU-0,3\nSKU-1,-2\n"
    r = shop.admin.post("/v1/locations/wh-1/counts", content=body, headers=CSV)
    assert r.status_code == 422
    assert "line 3" in r.json()["detail"]
    assert r.json()["errors"][0]["pointer"] == "/line/3"
    assert shop.level("SKU-0", "wh-1")["on_hand"] == 10


def test_import_to_an_unknown_location_is_404_and_json_is_415(shop: Shop) -> None:
    """Counts need a real location and a CSV body."""
    setup_shop(shop)
    r = shop.admin.post("/v1/locations/nope/counts", content=b"sku,on_hand\nA,1\n", headers=CSV)
    assert r.status_code == 404
    assert shop.admin.post("/v1/locations/wh-1/counts", json={"sku": "A"}).status_code == 415


def test_reconcile_lists_drift_and_queues_corrections(shop: Shop) -> None:
    """Every listed sku that differs is drift with one correcting availability.changed; others are left."""
    setup_shop(shop)
    before = shop.admin.get("/v1/events", params={"limit": 1000}).json()["cursor"]
    view = {"items": [{"sku": "SKU-0", "available": 10}, {"sku": "SKU-1", "available": 2},
                      {"sku": "GHOST", "available": 4}]}
    r = shop.admin.post("/v1/channels/web-1/reconcile", json=view)
    assert r.status_code == 200, r.text
    drift = [{"sku": "SKU-1", "channel": 2, "hub": 11}, {"sku": "GHOST", "channel": 4, "hub": 0}]
    assert r.json() == {"drift": drift, "corrections": 2}
    events = shop.admin.get("/v1/events", params={"after": before}).json()["items"]
    assert [(e["type"], e["data"]["sku"], e["data"]["available"]) for e in events] == [
        ("availability.changed", "SKU-1", 11), ("availability.changed", "GHOST", 0)]
    assert events[0]["data"]["version"] == shop.stock("SKU-1")["channels"][0]["version"]


def test_reconcile_refuses_a_sku_twice_and_unknown_channels(shop: Shop) -> None:
    """A view listing a sku twice is 422; an unknown channel is 404."""
    setup_shop(shop, skus=1)
    twice = {"items": [{"sku": "SKU-0", "available": 1}, {"sku": "SKU-0", "available": 2}]}
    assert shop.admin.post("/v1/channels/web-1/reconcile", json=twice).status_code == 422
    assert shop.admin.post("/v1/channels/nope/reconcile", json={"items": []}).status_code == 404


def test_cli_export_import_and_reconcile(shop: Shop, settings: Settings, tmp_path: Path) -> None:
    """The CLI runs on the database: export a snapshot, import a count once, reconcile from a file."""
    setup_shop(shop, skus=2)
    runner = CliRunner()
    db = ["--database-url", settings.database_url]
    out = tmp_path / "availability.csv"
    r = runner.invoke(cli, ["export", *db, "--channel", "web-1", str(out)])
    assert r.exit_code == 0, r.output
    assert out.read_text().splitlines()[:2] == ["sku,available,version", out.read_text().splitlines()[1]]
    assert out.read_text().splitlines()[1].startswith("SKU-0,10,")

    counts = tmp_path / "counts.csv"
    counts.write_text("sku,on_hand\nSKU-0,4\n")
    r = runner.invoke(cli, ["import", *db, str(counts), "--location", "wh-1"])
    assert r.exit_code == 0, r.output
    assert shop.level("SKU-0", "wh-1")["on_hand"] == 4
    r = runner.invoke(cli, ["import", *db, str(counts), "--location", "wh-1"])
    assert r.exit_code == 0
    assert "already imported" in r.output

    bad = tmp_path / "bad.csv"
    bad.write_text("sku,on_hand\nSKU-1,1\nSKU-0,many\n")
    r = runner.invoke(cli, ["import", *db, str(bad), "--location", "wh-1"])
    assert r.exit_code == 1
    assert "line 3" in r.output
    assert shop.level("SKU-1", "wh-1")["on_hand"] == 11

    view = tmp_path / "view.csv"
    view.write_text("sku,available\nSKU-0,9\nSKU-1,11\n")
    r = runner.invoke(cli, ["reconcile", *db, "--channel", "web-1", str(view)])
    assert r.exit_code == 0, r.output
    assert "1 of 2 skus drifted" in r.output
    params = {"types": "availability.changed", "limit": 1000}
    feed = shop.admin.get("/v1/events", params=params).json()["items"]
    assert feed[-1]["data"]["sku"] == "SKU-0"
    assert feed[-1]["data"]["available"] == 4
