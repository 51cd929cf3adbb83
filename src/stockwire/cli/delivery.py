"""Webhook commands: `worker`, `endpoints`, `deliveries`, `retry`, `replay`.

They talk to the database directly, like the server. Changes made here wake
running dispatchers at once on PostgreSQL (NOTIFY); on SQLite a dispatcher
picks them up on its next look (within a few seconds).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import secrets
import sys

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from stockwire import signatures
from stockwire.config import Settings
from stockwire.delivery import operations
from stockwire.delivery.models import DEFAULT_RETRY_SCHEDULE, DeliveryStatus, Endpoint, Ordering
from stockwire.storage import deliveries
from stockwire.storage import endpoints as endpoint_store
from stockwire.storage.database import Database, utcnow

console = Console()
err = Console(stderr=True)

database_option = click.option(
    "--database-url",
    envvar="STOCKWIRE_DATABASE_URL",
    default=None,
    help="SQLAlchemy-style URL; default sqlite:///./stockwire.db (env STOCKWIRE_DATABASE_URL).",
)


def _settings(database_url: str | None) -> Settings:
    return Settings.from_env(database_url=database_url)


def _database(database_url: str | None) -> Database:
    return Database(_settings(database_url).database_url, pool_size=2)


def _fail(message: str, code: int = 1) -> None:
    err.print(f"[red]{message}[/]")
    sys.exit(code)


def parse_since(text: str, *, now: dt.datetime | None = None) -> dt.datetime:
    """An ISO time (UTC if no zone) or a duration back from now: `90s`, `15m`, `2h`, `3d`."""
    now = now or utcnow()
    match = re.fullmatch(r"(\d+)([smhd])", text.strip())
    if match:
        unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[match.group(2)]
        return now - dt.timedelta(**{unit: int(match.group(1))})
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise click.BadParameter("give an ISO time or a duration such as 2h or 3d") from exc
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


@click.command()
@database_option
@click.option("--log-level", default="warning", show_default=True)
def worker(database_url: str | None, log_level: str) -> None:
    """Deliver webhooks without serving the API (any number of workers may share PostgreSQL)."""
    import logging

    from stockwire.delivery.dispatcher import DispatcherConfig
    from stockwire.delivery.runner import CONFIG_EXTENSION, run_worker
    from stockwire.hub import Hub

    logging.basicConfig(level=log_level.upper())
    hub = Hub(_settings(database_url))
    hub.prepare()
    if hub.db.is_sqlite:
        # No LISTEN on SQLite: another process's commits are noticed by looking once a second.
        config = DispatcherConfig.from_env()
        hub.extensions[CONFIG_EXTENSION] = DispatcherConfig(**{**config.__dict__, "idle_wake": 1.0})
    console.print(f"stockwire worker delivering from {hub.db.dialect}")
    asyncio.run(run_worker(hub))


@click.group(invoke_without_command=True)
@database_option
@click.pass_context
def endpoints(ctx: click.Context, database_url: str | None) -> None:
    """List webhook endpoints; subcommands add, change and remove them."""
    ctx.obj = database_url
    if ctx.invoked_subcommand is not None:
        return
    db = _database(database_url)
    with db.read() as conn:
        found = endpoint_store.list_all(conn)
        backlog = deliveries.backlog(conn)
    table = Table(
        "id", "url", "events", "channel", "ordering", "enabled", "pending", title="webhook endpoints"
    )
    for ep in found:
        state = "[green]yes[/]" if ep.enabled else f"[red]no[/] ({ep.disabled_reason or 'disabled'})"
        table.add_row(
            ep.id,
            ep.url,
            ",".join(ep.event_types),
            ep.channel or "*",
            ep.ordering.value,
            state,
            str(backlog.get(ep.id, 0)),
        )
    console.print(table)


@endpoints.command("add")
@click.argument("url")
@click.option("--types", "event_types", default="*", show_default=True, help="Comma-separated, e.g. order.*")
@click.option("--channel", default=None, help="Only events for this channel.")
@click.option("--description", default="")
@click.option("--rate-limit", type=float, default=None, help="Requests per second.")
@click.option("--ordering", type=click.Choice([o.value for o in Ordering]), default=Ordering.PER_KEY.value)
@click.option("--timeout", type=float, default=15.0, show_default=True)
@click.option("--retry-schedule", default=None, help="Seconds between attempts, comma-separated.")
@click.pass_obj
def add_endpoint(
    database_url: str | None,
    url: str,
    event_types: str,
    channel: str | None,
    description: str,
    rate_limit: float | None,
    ordering: str,
    timeout: float,
    retry_schedule: str | None,
) -> None:
    """Subscribe URL to events and print its signing secret (shown once)."""
    settings = _settings(database_url)
    db = _database(database_url)
    types = [t.strip() for t in event_types.split(",") if t.strip()]
    schedule = (
        tuple(float(x) for x in retry_schedule.split(",") if x.strip())
        if retry_schedule is not None
        else DEFAULT_RETRY_SCHEDULE
    )
    endpoint = Endpoint(
        id="ep_" + secrets.token_hex(8),
        url=url,
        event_types=tuple(types),
        channel=channel,
        secret=signatures.new_secret(),
        description=description,
        rate_limit=rate_limit,
        ordering=Ordering(ordering),
        retry_schedule=schedule,
        timeout=timeout,
    )
    with db.write() as conn:
        problem = operations.endpoint_problem(
            conn, allow_private=settings.allow_private_targets, url=url, event_types=types, channel=channel
        )
        if problem:
            _fail(f"{problem[0]}: {problem[1]}", 2)
        endpoint_store.insert(conn, endpoint)
    console.print(f"endpoint [bold]{endpoint.id}[/] -> {url}")
    console.print(f"signing secret (shown once): {endpoint.secret}")


def _toggle(database_url: str | None, endpoint_id: str, enabled: bool) -> None:
    db = _database(database_url)
    with db.write() as conn:
        if not endpoint_store.set_enabled(conn, endpoint_id, enabled, reason="disabled by an operator"):
            _fail(f"no endpoint {endpoint_id}")
        deliveries.notify(conn)
    console.print(f"{endpoint_id} {'enabled' if enabled else 'disabled'}")


@endpoints.command("enable")
@click.argument("endpoint_id")
@click.pass_obj
def enable_endpoint(database_url: str | None, endpoint_id: str) -> None:
    """Deliver to the endpoint again; what waited goes out now."""
    _toggle(database_url, endpoint_id, True)


@endpoints.command("disable")
@click.argument("endpoint_id")
@click.pass_obj
def disable_endpoint(database_url: str | None, endpoint_id: str) -> None:
    """Stop delivering to the endpoint; pending deliveries wait."""
    _toggle(database_url, endpoint_id, False)


@endpoints.command("delete")
@click.argument("endpoint_id")
@click.pass_obj
def delete_endpoint(database_url: str | None, endpoint_id: str) -> None:
    """Remove the endpoint and its delivery history."""
    with _database(database_url).write() as conn:
        if not endpoint_store.delete(conn, endpoint_id):
            _fail(f"no endpoint {endpoint_id}")
    console.print(f"{endpoint_id} deleted")


@click.command("deliveries")
@database_option
@click.argument("endpoint_id")
@click.option("--status", type=click.Choice([s.value for s in DeliveryStatus]), default=None)
@click.option("--limit", type=int, default=30, show_default=True)
def list_deliveries(database_url: str | None, endpoint_id: str, status: str | None, limit: int) -> None:
    """An endpoint's recent deliveries, newest first, with their last attempt."""
    db = _database(database_url)
    with db.read() as conn:
        if endpoint_store.get(conn, endpoint_id) is None:
            _fail(f"no endpoint {endpoint_id}")
        views = deliveries.history(
            conn, endpoint_id, status=DeliveryStatus(status) if status else None, limit=limit
        )
        counts = deliveries.counts(conn, endpoint_id)
    summary = ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none yet"
    table = Table(
        "id",
        "event",
        "type",
        "status",
        "attempts",
        "last answer",
        "latency",
        "at",
        title=f"deliveries to {endpoint_id} ({summary})",
    )
    colours = {"delivered": "green", "failed": "red", "pending": "yellow", "superseded": "dim"}
    for v in views:
        last = v.attempts[-1] if v.attempts else None
        answer = "" if last is None else (str(last.status_code) if last.status_code else (last.error or ""))
        table.add_row(
            str(v.id),
            v.event_id,
            v.event_type,
            f"[{colours[v.status.value]}]{v.status.value}[/]",
            str(len(v.attempts)),
            answer[:60],
            f"{last.latency_ms} ms" if last else "",
            last.at if last else v.created_at,
        )
    console.print(table)


@click.command("retry")
@database_option
@click.argument("delivery_id", type=int)
def retry_delivery(database_url: str | None, delivery_id: int) -> None:
    """Send one delivery again now, past an open circuit breaker."""
    with _database(database_url).write() as conn:
        if deliveries.retry_now(conn, delivery_id) is None:
            _fail(f"no delivery {delivery_id}")
    console.print(f"delivery {delivery_id} will be sent again now")


@click.command("replay")
@database_option
@click.argument("endpoint_id")
@click.option("--since", required=True, help="ISO time, or a duration back from now such as 2h or 3d.")
@click.option(
    "--status",
    type=click.Choice([s.value for s in operations.ReplayScope]),
    default="all",
    show_default=True,
    help="all: every matching event; failed: only failed deliveries.",
)
def replay(database_url: str | None, endpoint_id: str, since: str, status: str) -> None:
    """Send an endpoint's past events again (same webhook-id, so receivers can de-duplicate)."""
    db = _database(database_url)
    with Progress(
        TextColumn("replaying"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("events"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("replay", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        try:
            queued = operations.replay(
                db,
                endpoint_id,
                since=parse_since(since),
                scope=operations.ReplayScope(status),
                progress=progress,
            )
        except operations.UnknownEndpoint:
            _fail(f"no endpoint {endpoint_id}")
            return
    console.print(f"queued [bold]{queued}[/] deliveries to {endpoint_id}")


def register(group: click.Group) -> None:
    """Add the webhook commands to the `stockwire` group."""
    for command in (worker, endpoints, list_deliveries, retry_delivery, replay):
        group.add_command(command)
