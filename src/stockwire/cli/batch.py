"""Batch commands: `export` a channel's availability, `import` a cycle count, `reconcile` a channel.

They run directly on the database. Outbound events go to the outbox as from
the server; on PostgreSQL the commit's NOTIFY wakes running servers at once, on
SQLite their dispatchers and feed readers pick the events up on their next look.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from stockwire.config import Settings
from stockwire.domain.errors import Refusal
from stockwire.inbound import csvfiles
from stockwire.inbound.imports import import_counts
from stockwire.inbound.reconcile import reconcile_channel
from stockwire.storage import catalog, outbox, stock
from stockwire.storage.database import Database

console = Console()
err = Console(stderr=True)

PAGE = 1000

database_option = click.option(
    "--database-url", envvar="STOCKWIRE_DATABASE_URL", default=None,
    help="SQLAlchemy-style URL; default sqlite:///./stockwire.db (env STOCKWIRE_DATABASE_URL).",
)


def _database(database_url: str | None) -> Database:
    return Database(Settings.from_env(database_url=database_url).database_url, pool_size=1)


@click.command("export")
@database_option
@click.option("--channel", required=True, help="The channel whose availability to write.")
@click.argument("path", type=click.Path(dir_okay=False, allow_dash=True))
def export_availability(database_url: str | None, channel: str, path: str) -> None:
    """Write a channel's availability as CSV (sku,available,version); `-` is stdout."""
    db = _database(database_url)
    try:
        with db.read() as conn:
            if catalog.get_channel(conn, channel) is None:
                err.print(f"[red]no channel {channel}[/]")
                sys.exit(1)
            rows = []
            after: str | None = None
            while True:
                page = stock.availability_page(conn, channel, after_sku=after, limit=PAGE)
                rows.extend(page)
                if len(page) < PAGE:
                    break
                after = page[-1].sku
    finally:
        db.dispose()
    if path == "-":
        csvfiles.write_availability(rows, sys.stdout)
        return
    with open(path, "w", newline="", encoding="utf-8") as out:
        n = csvfiles.write_availability(rows, out)
    err.print(f"wrote {n} skus of channel {channel} to {path}")


@click.command("import")
@database_option
@click.option("--location", required=True, help="The location that was counted.")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def import_counts_command(database_url: str | None, location: str, path: str) -> None:
    """Apply a cycle count (CSV sku,on_hand) to a location: every row or none; a file applies once."""
    data = Path(path).read_bytes()
    try:
        counts = csvfiles.read_counts(data)
    except csvfiles.BadRow as exc:
        err.print(f"[red]nothing imported[/]: {path} {exc}")
        sys.exit(1)
    db = _database(database_url)
    try:
        with db.write() as conn:
            if catalog.get_location(conn, location) is None:
                err.print(f"[red]nothing imported[/]: no location {location}")
                sys.exit(1)
            outcome = import_counts(conn, location=location, counts=counts,
                                    checksum=csvfiles.checksum(data), source=f"file {Path(path).name}")
            outbox.append(conn, outcome.events)
    except Refusal as refusal:
        err.print(f"[red]nothing imported[/]: {refusal.message}")
        sys.exit(1)
    finally:
        db.dispose()
    result = outcome.body["result"]
    if outcome.body["status"] == "duplicate":
        console.print(f"already imported ({outcome.body['import_id'][:12]}): nothing changed")
    else:
        changed = result["levels_changed"]
        console.print(f"counted {result['rows']} skus at {location}; {changed} levels changed")


@click.command("reconcile")
@database_option
@click.option("--channel", required=True, help="The channel whose view the file holds.")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def reconcile_command(database_url: str | None, channel: str, path: str) -> None:
    """Compare a channel's own numbers (CSV sku,available) with the hub's; queue a correction per drift."""
    try:
        view = csvfiles.read_view(Path(path).read_bytes())
    except csvfiles.BadRow as exc:
        err.print(f"[red]not reconciled[/]: {path} {exc}")
        sys.exit(1)
    db = _database(database_url)
    try:
        with db.write() as conn:
            if catalog.get_channel(conn, channel) is None:
                err.print(f"[red]no channel {channel}[/]")
                sys.exit(1)
            outcome = reconcile_channel(conn, channel, view)
            outbox.append(conn, outcome.corrections)
    finally:
        db.dispose()
    if not outcome.drift:
        console.print(f"[green]no drift[/]: {len(view)} skus agree with the hub")
        return
    table = Table("sku", "channel shows", "hub", title=f"{len(outcome.drift)} of {len(view)} skus drifted")
    for d in outcome.drift:
        table.add_row(d.sku, str(d.channel), str(d.hub))
    console.print(table)
    console.print(f"queued {len(outcome.corrections)} corrections (availability.changed)")


def register(group: click.Group) -> None:
    """Add the batch commands to the `stockwire` group."""
    for command in (export_availability, import_counts_command, reconcile_command):
        group.add_command(command)
