"""`stockwire`: serve the hub, migrate, verify the ledger, and the daily admin commands."""

from __future__ import annotations

import os
import sys

import click
from rich.console import Console
from rich.table import Table

from stockwire import __version__
from stockwire.config import Settings

console = Console()
err = Console(stderr=True)


def _settings(database_url: str | None) -> Settings:
    return Settings.from_env(database_url=database_url)


database_option = click.option(
    "--database-url", envvar="STOCKWIRE_DATABASE_URL", default=None,
    help="SQLAlchemy-style URL; default sqlite:///./stockwire.db (env STOCKWIRE_DATABASE_URL).",
)


@click.group()
@click.version_option(__version__, prog_name="stockwire")
def cli() -> None:
    """stockwire: inventory as the single source of truth, pushed out by signed webhooks."""


@cli.command()
@database_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8080, show_default=True, type=int, help="TCP port.")
@click.option("--workers", default=1, show_default=True, type=int,
              help="Server processes (PostgreSQL only; SQLite allows one writer).")
@click.option("--no-dispatcher", is_flag=True, help="Serve the API only; run `stockwire worker` elsewhere.")
@click.option("--log-level", default="warning", show_default=True)
def serve(database_url: str | None, host: str, port: int, workers: int, no_dispatcher: bool,
          log_level: str) -> None:
    """Serve the HTTP API and deliver webhooks, in one process."""
    import uvicorn

    from stockwire.hub import Hub

    settings = _settings(database_url)
    hub = Hub(settings)
    try:
        hub.prepare()
        _, fresh = hub.admin_token_digest()
    except Exception as exc:
        err.print(f"[red]cannot open the database[/] {settings.database_url}: {exc}")
        err.print("Check STOCKWIRE_DATABASE_URL, or start PostgreSQL; SQLite needs a writable folder.")
        sys.exit(2)
    finally:
        hub.db.dispose()
    if fresh:
        console.print(f"[bold]Admin token[/] (shown once; set STOCKWIRE_ADMIN_TOKEN to choose your own): {fresh}")
    if workers > 1 and hub.db.is_sqlite:
        err.print("[yellow]SQLite has one writer: serving with 1 worker.[/] Use PostgreSQL for more.")
        workers = 1
    os.environ["STOCKWIRE_DATABASE_URL"] = settings.database_url
    if no_dispatcher:
        os.environ["STOCKWIRE_RUN_DISPATCHER"] = "0"
    console.print(f"stockwire {__version__} on http://{host}:{port} ({hub.db.dialect})")
    uvicorn.run(
        "stockwire.cli.serve:app_factory", factory=True, host=host, port=port, workers=workers,
        log_level=log_level, access_log=False, timeout_graceful_shutdown=10,
    )


@cli.command()
@database_option
def migrate(database_url: str | None) -> None:
    """Apply schema migrations up to the newest."""
    from stockwire.storage import migrate as migrations
    from stockwire.storage.database import Database

    db = Database(_settings(database_url).database_url)
    before = migrations.current(db)
    migrations.upgrade(db)
    after = migrations.current(db)
    console.print(f"schema at revision [bold]{after}[/] (was {before or 'empty'})")


@cli.command()
@database_option
def verify(database_url: str | None) -> None:
    """Rebuild every stock level from the ledger and compare; exit 1 on any difference."""
    from stockwire.storage import ledger
    from stockwire.storage.database import Database

    db = Database(_settings(database_url).database_url)
    with db.read() as conn:
        checked, differences = ledger.verify(conn)
    if not differences:
        console.print(f"[green]ledger and stock agree[/] ({checked} levels checked)")
        return
    table = Table("sku", "location", "stored on_hand", "ledger on_hand", "stored reserved", "ledger reserved",
                  title=f"{len(differences)} of {checked} levels differ from the ledger")
    for d in differences:
        table.add_row(d.sku, d.location, str(d.stored_on_hand), str(d.ledger_on_hand),
                      str(d.stored_reserved), str(d.ledger_reserved))
    console.print(table)
    err.print("The ledger is the truth: investigate the differing rows before changing stock by hand.")
    sys.exit(1)


@cli.command("rotate-admin-token")
@database_option
def rotate_admin_token(database_url: str | None) -> None:
    """Replace the stored admin token and print the new one (once)."""
    from stockwire.hub import Hub

    hub = Hub(_settings(database_url))
    hub.prepare()
    console.print(f"new admin token: {hub.rotate_admin_token()}")


from stockwire.cli import batch  # noqa: E402 - registers after the group exists

batch.register(cli)


from stockwire.cli import delivery  # noqa: E402 - registers after the group exists

delivery.register(cli)


from stockwire.cli import shop  # noqa: E402 - registers after the group exists

shop.register(cli)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
