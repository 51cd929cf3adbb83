"""`stockwire channels`, `stock` and `orders` on a shop set up through the real server."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from stockwire.cli.main import cli
from tests.support import Shop


def run(shop: Shop, *args: str) -> tuple[int, str]:
    url = shop.server.hub.settings.database_url
    result = CliRunner().invoke(cli, [*args, "--database-url", url], env={"COLUMNS": "200"})
    return result.exit_code, result.output


def _table_rows(output: str) -> list[list[str]]:
    return [[c.strip() for c in line.split("│")[1:-1]] for line in output.splitlines() if line.startswith("│")]


def _a_small_shop(shop: Shop) -> None:
    shop.location("store-1")
    shop.location("wh-1", "warehouse")
    shop.channel("pos-1", "pos", ["store-1"])
    shop.channel("web-1", "storefront", ["wh-1", "store-1"], buffer=1)
    shop.send("pos-1", "receipt", {"location": "store-1", "lines": [{"sku": "TEE", "quantity": 4}]})
    shop.send("pos-1", "receipt", {"location": "wh-1", "lines": [{"sku": "TEE", "quantity": 6}]})
    shop.send("web-1", "order.placed", {"order_id": "W7", "lines": [{"sku": "TEE", "quantity": 2}]})


def test_channels_lists_locations_in_priority_order(shop: Shop) -> None:
    """Each channel is listed with its kind, its locations in routing order and its buffer."""
    _a_small_shop(shop)
    code, out = run(shop, "channels")
    assert code == 0, out
    assert "web-1" in out and "wh-1 > store-1" in out and "/v1/inbound/pos-1" in out


def test_stock_shows_every_location_and_every_channel(shop: Shop) -> None:
    """`stock SKU` gives on hand, reserved and available per location, and each channel's number."""
    _a_small_shop(shop)
    code, out = run(shop, "stock", "TEE")
    assert code == 0, out
    rows = {cells[0]: cells for cells in _table_rows(out)}
    assert rows["wh-1"][1:5] == ["6", "2", "0", "4"]  # on hand, reserved, safety, available
    assert rows["web-1"][4] == "7"  # 4 + 4 less a buffer of 1

def test_unknown_sku_suggests_the_closest(shop: Shop) -> None:
    """A typo is answered with the nearest sku and how to list them all, exit code 1."""
    _a_small_shop(shop)
    code, out = run(shop, "stock", "TE")
    assert code == 1
    assert "no product TE" in out and "Did you mean TEE?" in out


def test_orders_lists_and_shows_one(shop: Shop) -> None:
    """`orders` lists recent orders; `orders ID` shows where each line is held."""
    _a_small_shop(shop)
    code, out = run(shop, "orders")
    assert code == 0 and "W7" in out and "reserved" in out, out
    code, out = run(shop, "orders", "W7")
    assert code == 0 and "order W7 on web-1: reserved" in out, out


def test_missing_database_says_how_to_get_one(tmp_path: Path) -> None:
    """Pointing at a SQLite file that does not exist creates nothing and says what to do."""
    url = f"sqlite:///{tmp_path}/nothing-here.db"
    result = CliRunner().invoke(cli, ["channels", "--database-url", url])
    assert result.exit_code == 1
    assert "no stockwire database" in result.output and "stockwire serve" in result.output
    assert not (tmp_path / "nothing-here.db").exists()
