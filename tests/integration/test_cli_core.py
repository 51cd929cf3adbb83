"""`stockwire migrate` and `stockwire verify` against real databases."""

from __future__ import annotations

import sqlalchemy as sa
from click.testing import CliRunner

from stockwire.cli.main import cli
from stockwire.storage import migrate, schema
from stockwire.storage.database import Database
from tests.support import Shop


def test_migrate_brings_an_empty_database_to_head(db_url: str) -> None:
    """`stockwire migrate` applies every revision and is a no-op the second time."""
    result = CliRunner().invoke(cli, ["migrate", "--database-url", db_url])
    assert result.exit_code == 0, result.output
    db = Database(db_url)
    assert migrate.current(db) == migrate.head()
    again = CliRunner().invoke(cli, ["migrate", "--database-url", db_url])
    assert again.exit_code == 0 and migrate.current(db) == migrate.head()
    db.dispose()


def test_verify_passes_then_catches_a_tampered_level(shop: Shop, db_url: str) -> None:
    """verify rebuilds from the ledger: clean after real traffic, exit 1 once a level is edited by hand."""
    shop.location("s-1")
    shop.channel("pos-1", "pos", ["s-1"])
    shop.send("pos-1", "receipt", {"location": "s-1", "lines": [{"sku": "A", "quantity": 5}]})
    shop.send("pos-1", "order.placed", {"order_id": "o1", "lines": [{"sku": "A", "quantity": 2}]})
    shop.send("pos-1", "sale", {"location": "s-1", "lines": [{"sku": "A", "quantity": 1}]})
    ok = CliRunner().invoke(cli, ["verify", "--database-url", db_url])
    assert ok.exit_code == 0, ok.output
    assert "agree" in ok.output
    db = Database(db_url)
    with db.write() as conn:
        conn.execute(sa.update(schema.stock_levels).values(on_hand=99))
    db.dispose()
    bad = CliRunner().invoke(cli, ["verify", "--database-url", db_url])
    assert bad.exit_code == 1
    assert "differ" in bad.output
