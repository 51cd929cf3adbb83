"""Daily-work commands: `channels`, `stock [SKU]`, `orders [ORDER_ID]`, as rich tables.

They read the database directly (like `verify`), so they work beside a running
server or without one; nothing here writes.
"""

from __future__ import annotations

import contextlib
import difflib
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import sqlalchemy as sa
from rich.console import Console
from rich.table import Table
from rich.text import Text
from sqlalchemy.engine import Connection

from stockwire.config import Settings
from stockwire.domain.models import ChannelFormat, OrderStatus
from stockwire.domain.orders import order_view
from stockwire.storage import catalog, stock
from stockwire.storage import orders as order_store
from stockwire.storage.database import Database

console = Console()
err = Console(stderr=True)

database_option = click.option(
    "--database-url", envvar="STOCKWIRE_DATABASE_URL", default=None,
    help="SQLAlchemy-style URL; default sqlite:///./stockwire.db (env STOCKWIRE_DATABASE_URL).",
)

STATUS_STYLE = {
    OrderStatus.RESERVED: "cyan", OrderStatus.FULFILLMENT_REQUESTED: "cyan", OrderStatus.ACCEPTED: "blue",
    OrderStatus.PARTIALLY_SHIPPED: "yellow", OrderStatus.SHIPPED: "green", OrderStatus.REJECTED: "red",
    OrderStatus.CANCELLED: "dim",
}


def fail(message: str, advice: str) -> None:
    err.print(f"[red]{message}[/]")
    err.print(advice)
    sys.exit(1)


@contextlib.contextmanager
def reading(database_url: str | None) -> Iterator[Connection]:
    """A read transaction on the configured database, or a message saying how to get one."""
    url = Settings.from_env(database_url=database_url).database_url
    parsed = sa.engine.make_url(url) if "://" in url else None
    if parsed is not None and parsed.drivername.startswith("sqlite") and parsed.database not in (None, "", ":memory:"):
        path = Path(str(parsed.database))
        if not path.exists():
            fail(f"no stockwire database at {path}",
                 "Run `stockwire serve` here to create one, or point STOCKWIRE_DATABASE_URL (or --database-url) "
                 "at yours.")
    db = Database(url, pool_size=1)
    try:
        with db.read() as conn:
            yield conn
    except sa.exc.OperationalError as exc:
        text = str(exc.orig) if exc.orig is not None else str(exc)
        if "no such table" in text or "does not exist" in text:
            fail(f"the database at {url.split('@')[-1]} has no stockwire schema", "Run `stockwire migrate` first.")
        fail(f"cannot read the database {url.split('@')[-1]}: {text}",
             "Check STOCKWIRE_DATABASE_URL, or start PostgreSQL.")
    finally:
        db.dispose()


@click.command("channels")
@database_option
def channels_command(database_url: str | None) -> None:
    """List connected systems: kind, inbound format and URL, locations in priority order, buffer."""
    with reading(database_url) as conn:
        records = catalog.list_channels(conn)
    if not records:
        fail("no channels yet", "Connect one: POST /v1/channels (see README.md), or run `stockwire demo`.")
    table = Table("id", "name", "kind", "format", "locations (priority order)", "buffer", "orders", "inbound URL",
                  title=f"{len(records)} channels", title_justify="left")
    for record in records:
        ch = record.channel
        suffix = "" if ch.format is ChannelFormat.STOCKWIRE else f"/{ch.format.value}"
        table.add_row(ch.id, ch.name, ch.kind.value, ch.format.value, " > ".join(ch.locations) or "-",
                      str(ch.buffer), ch.order_policy.value, f"/v1/inbound/{ch.id}{suffix}")
    console.print(table)


@click.command("stock")
@database_option
@click.argument("sku", required=False)
@click.option("--limit", default=100, show_default=True, help="Skus to list when no SKU is given.")
def stock_command(database_url: str | None, sku: str | None, limit: int) -> None:
    """Show one SKU at every location and what each channel shows; without SKU, list skus."""
    with reading(database_url) as conn:
        if sku is None:
            _all_skus(conn, limit)
            return
        if sku not in catalog.get_products(conn, [sku]):
            known = stock.all_skus(conn)
            close = difflib.get_close_matches(sku, known, n=3)
            hint = f"Did you mean {', '.join(close)}? " if close else ""
            fail(f"no product {sku}",
                 f"{hint}Run `stockwire stock` to list skus; a sku is created by the first event that names it.")
        product = catalog.get_products(conn, [sku])[sku]
        levels = stock.load_levels(conn, [sku])
        shown = {a.channel: a for a in stock.load_availability(conn, [sku])}
        records = [r for r in catalog.list_channels(conn) if r.channel.locations]
    title = f"{sku}" + (f" ({product.name})" if product.name else "") + \
        f": safety stock {product.safety_stock}, low-stock threshold {product.low_stock_threshold}"
    where = Table("location", "on hand", "reserved", "safety", "available", "version", title=title,
                  title_justify="left")
    for lv in levels:
        where.add_row(lv.location, str(lv.on_hand), str(lv.reserved), str(lv.safety_stock),
                      Text(str(lv.available), style="bold" if lv.available else "red"), str(lv.version))
    if not levels:
        where.add_row("-", "0", "0", str(product.safety_stock), "0", "-")
    console.print(where)
    shows = Table("channel", "kind", "from", "buffer", "shows buyers", "version", title="what each channel shows",
                  title_justify="left")
    for record in records:
        ch = record.channel
        number = shown.get(ch.id)
        shows.add_row(ch.id, ch.kind.value, " > ".join(ch.locations), str(ch.buffer),
                      str(number.available if number else 0), str(number.version if number else "-"))
    console.print(shows)


def _all_skus(conn: Connection, limit: int) -> None:
    skus = stock.all_skus(conn)
    if not skus:
        fail("no products yet", "Send a receipt or a count to /v1/inbound/{channel} (see README.md), "
                                "or PUT /v1/products/{sku}.")
    shown = skus[:limit]
    levels = stock.load_levels(conn, shown)
    locations = sorted({lv.location for lv in levels})
    table = Table("sku", *[f"{loc}\nhand / res / avail" for loc in locations],
                  title=f"{len(shown)} of {len(skus)} skus", title_justify="left")
    by_key = {(lv.sku, lv.location): lv for lv in levels}
    for sku in shown:
        cells = []
        for loc in locations:
            lv = by_key.get((sku, loc))
            cells.append("-" if lv is None else f"{lv.on_hand} / {lv.reserved} / {lv.available}")
        table.add_row(sku, *cells)
    console.print(table)
    if len(skus) > limit:
        err.print(f"{len(skus) - limit} more; raise --limit, or run `stockwire stock SKU` for one.")


@click.command("orders")
@database_option
@click.argument("order_id", required=False)
@click.option("--channel", default=None, help="Only orders placed on this channel.")
@click.option("--status", default=None, type=click.Choice([s.value for s in OrderStatus]),
              help="Only orders in this state.")
@click.option("--limit", default=50, show_default=True, help="Most recently changed first.")
def orders_command(database_url: str | None, order_id: str | None, channel: str | None, status: str | None,
                   limit: int) -> None:
    """List recent orders, or show one ORDER_ID with its lines and where each is held."""
    with reading(database_url) as conn:
        if order_id is not None:
            found = [o for o in order_store.find(conn, order_id) if channel is None or o.channel == channel]
            if not found:
                fail(f"no order {order_id}" + (f" on channel {channel}" if channel else ""),
                     "Run `stockwire orders` to list recent orders; ids are the channel's own order ids.")
            for order in found:
                _order_detail(order_view(order))
            return
        if channel is not None and catalog.get_channel(conn, channel) is None:
            fail(f"no channel {channel}", "Run `stockwire channels` to list channels.")
        found = order_store.page(conn, channel=channel, status=status, limit=limit)
    if not found:
        fail("no orders" + (f" on {channel}" if channel else "") + (f" {status}" if status else ""),
             "Orders arrive as `order.placed` events on a storefront or marketplace channel (see README.md).")
    table = Table("channel", "order", "status", "location", "lines (sku x qty)", "reserved", "shipped", "reason",
                  title=f"{len(found)} most recently changed orders", title_justify="left")
    for order in found:
        table.add_row(
            order.channel, order.order_id, Text(order.status.value, style=STATUS_STYLE[order.status]),
            ", ".join(order.locations) or "-",
            ", ".join(f"{ln.sku} x {ln.quantity}" for ln in order.lines),
            str(sum(ln.reserved for ln in order.lines)), str(sum(ln.shipped for ln in order.lines)),
            order.reason or "",
        )
    console.print(table)


def _order_detail(view: dict[str, object]) -> None:
    status = OrderStatus(str(view["status"]))
    title = f"order {view['order_id']} on {view['channel']}: {status.value}" + \
        (f" ({view['reason']})" if view.get("reason") else "")
    table = Table("sku", "quantity", "location", "reserved", "shipped", title=title, title_justify="left")
    lines = view["lines"]
    assert isinstance(lines, list)
    for line in lines:
        allocations = line["allocations"] or [{"location": "-", "reserved": 0, "shipped": 0}]
        for i, a in enumerate(allocations):
            table.add_row(line["sku"] if i == 0 else "", str(line["quantity"]) if i == 0 else "",
                          a["location"], str(a["reserved"]), str(a["shipped"]))
    console.print(table)


def register(group: click.Group) -> None:
    """Add the daily-work commands (and `demo`) to the `stockwire` group."""
    from stockwire.cli.demo import demo

    for command in (channels_command, stock_command, orders_command, demo):
        group.add_command(command)
