"""What the demo shows: the live screen, the quiet progress line and the final summary."""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from stockwire.demo.metrics import Latencies, Metrics, RateMeter
from stockwire.demo.traffic import Cast
from stockwire.demo.world import SKUS, STORE, WAREHOUSE

COUNTERS = ("orders reserved", "turned away at checkout", "orders shipped", "orders cancelled",
            "fulfilment rejected", "till sales", "receipts", "cancels too late")


@dataclass(frozen=True, kw_only=True)
class Level:
    on_hand: int
    reserved: int
    available: int


@dataclass(kw_only=True)
class Truth:
    """The hub's numbers as last read through the admin API."""

    levels: dict[tuple[str, str], Level] = field(default_factory=dict)
    shown: dict[tuple[str, str], int] = field(default_factory=dict)

    def channel(self, sku: str, channel: str) -> int:
        return self.shown.get((sku, channel), 0)


@dataclass(kw_only=True)
class DemoState:
    """Everything the screen needs, updated by the runner."""

    cast: Cast
    metrics: Metrics
    rate: float
    duration: float
    flaky: bool
    database: str
    hub_url: str
    phase: str = "setting up"
    elapsed: float = 0.0
    truth: Truth = field(default_factory=Truth)
    meter: RateMeter = field(default_factory=RateMeter)


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} ms"


def drift(state: DemoState) -> int:
    """How many (sku, channel) numbers a channel shows differently from the hub."""
    return sum(
        1 for system in (state.cast.pos, state.cast.web, state.cast.market) for sku in SKUS
        if system.shows(sku) != state.truth.channel(sku, system.channel)
    )


def _shown_cell(hub: int, seen: int) -> Text:
    if hub == seen:
        return Text(str(seen), style="green")
    return Text(f"{seen} (hub {hub})", style="bold yellow")


def stock_table(state: DemoState) -> Table:
    cast, truth = state.cast, state.truth
    table = Table(title="Stock: the hub's truth and what each channel shows", title_justify="left",
                  expand=False)
    table.add_column("sku")
    for loc in (STORE, WAREHOUSE):
        table.add_column(f"{loc}\non hand / reserved", justify="right")
    for system in (cast.pos, cast.web, cast.market):
        table.add_column(f"{system.channel} shows\n({system.kind})", justify="right")
    for sku in SKUS:
        cells: list[Text | str] = [sku]
        for loc in (STORE, WAREHOUSE):
            lv = truth.levels.get((sku, loc))
            cells.append("-" if lv is None else f"{lv.on_hand} / {lv.reserved}")
        for system in (cast.pos, cast.web, cast.market):
            cells.append(_shown_cell(truth.channel(sku, system.channel), system.shows(sku)))
        table.add_row(*cells)
    return table


def flow_table(state: DemoState) -> Table:
    m = state.metrics
    rates = state.meter.update(m.counts)
    table = Table.grid(padding=(0, 3))
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_column(style="bold")
    table.add_column(justify="right")
    oversells = Text(str(len(m.oversells)), style="bold green" if not m.oversells else "bold red")
    table.add_row("events/s (2xx)", f"{rates.get('events', 0):.0f}",
                  "deliveries/s", f"{rates.get('deliveries', 0):.0f}")
    table.add_row("events", str(m.counts["events"]), "deliveries", str(m.counts["deliveries"]))
    table.add_row("retries", str(m.counts["retries"]), "failures injected", str(m.counts["failures injected"]))
    table.add_row("propagation p50", ms(m.availability.p(0.50)), "propagation p99", ms(m.availability.p(0.99)))
    table.add_row("order -> WMS p50", ms(m.fulfilment.p(0.50)), "order -> WMS p99", ms(m.fulfilment.p(0.99)))
    table.add_row("hub answer p50", ms(m.answers.p(0.50)), "hub answer p99", ms(m.answers.p(0.99)))
    table.add_row("oversells", oversells, "drift now", str(drift(state)))
    for left, right in zip(COUNTERS[::2], COUNTERS[1::2], strict=True):
        table.add_row(left, str(m.counts[left]), right, str(m.counts[right]))
    if m.problems:
        table.add_row(Text("problems", style="bold red"), str(m.counts["problems"]), "last", m.problems[-1][:60])
    return table


def live_screen(state: DemoState) -> RenderableType:
    flaky = "  [bold yellow]--flaky: marketplace fails 30% of requests[/]" if state.flaky else ""
    header = (f"[bold]stockwire demo[/]  {state.phase}  {state.elapsed:5.1f} s / {state.duration:.0f} s  "
              f"at {state.rate:.0f} events/s{flaky}\nhub {state.hub_url} on {state.database}")
    return Group(Panel(header, expand=False), stock_table(state), Panel(flow_table(state), title="flow",
                                                                        expand=False))


def progress_line(state: DemoState) -> str:
    m = state.metrics
    rates = state.meter.update(m.counts)
    return (f"{state.elapsed:5.1f}s {state.phase}: events {m.counts['events']} ({rates.get('events', 0):.0f}/s), "
            f"deliveries {m.counts['deliveries']} ({rates.get('deliveries', 0):.0f}/s), "
            f"retries {m.counts['retries']}, propagation p50 {ms(m.availability.p(0.5))} "
            f"p99 {ms(m.availability.p(0.99))}, oversells {len(m.oversells)}")


@dataclass(frozen=True, kw_only=True)
class Verdict:
    """The end of a run: what was measured and whether it passed."""

    seconds: float
    events: int
    deliveries: int
    retries: int
    oversells: tuple[str, ...]
    drift: int
    settle_seconds: float | None
    unsettled_orders: int
    open_at_hub: int
    shelf_differences: tuple[str, ...]
    problems: tuple[str, ...]
    availability: Latencies
    fulfilment: Latencies
    per_channel: dict[str, Latencies]

    @property
    def ok(self) -> bool:
        return not (self.oversells or self.drift or self.unsettled_orders or self.open_at_hub
                    or self.shelf_differences or self.problems)


def summary(state: DemoState, verdict: Verdict) -> RenderableType:
    m = state.metrics
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    secs = max(verdict.seconds, 1e-9)
    table.add_row("events accepted", f"{verdict.events} ({verdict.events / secs:.0f}/s over {verdict.seconds:.1f} s)")
    table.add_row("deliveries", f"{verdict.deliveries} ({verdict.deliveries / secs:.0f}/s), retries {verdict.retries}, "
                                f"failures injected {m.counts['failures injected']}")
    table.add_row("orders", ", ".join(f"{k} {m.counts[k]}" for k in COUNTERS[:5]))
    table.add_row("propagation", f"p50 {ms(verdict.availability.p(0.5))}  p99 {ms(verdict.availability.p(0.99))}  "
                                 f"max {ms(verdict.availability.max)}  ({len(verdict.availability)} view updates)")
    for channel, lat in verdict.per_channel.items():
        table.add_row(f"  {channel}", f"p50 {ms(lat.p(0.5))}  p99 {ms(lat.p(0.99))}  ({len(lat)})")
    table.add_row("order -> warehouse", f"p50 {ms(verdict.fulfilment.p(0.5))}  p99 {ms(verdict.fulfilment.p(0.99))}  "
                                        f"({len(verdict.fulfilment)} requests)")
    table.add_row("hub answers",
                  f"p50 {ms(m.answers.p(0.5))}  p99 {ms(m.answers.p(0.99))}  (sender's 2xx, round trip)")
    table.add_row("oversells", Text(str(len(verdict.oversells)), style="green" if not verdict.oversells else "red"))
    settled = "did not settle" if verdict.settle_seconds is None else f"settled in {verdict.settle_seconds:.1f} s"
    total = len(SKUS) * 3
    table.add_row("drift after settling",
                  Text(f"{verdict.drift} of {total} channel numbers ({settled})",
                       style="green" if not verdict.drift else "red"))
    table.add_row("orders not settled",
                  f"{verdict.unsettled_orders} at the channels, {verdict.open_at_hub} open at the hub")
    table.add_row("hub vs shelves", f"{len(verdict.shelf_differences)} differences")
    for line in (*verdict.oversells[:5], *verdict.shelf_differences[:5], *verdict.problems[:5]):
        table.add_row("", Text(line, style="red"))
    result = Text("PASS: no oversells, every channel converged", style="bold green") if verdict.ok else \
        Text("FAIL: see the red lines above", style="bold red")
    return Panel(Group(table, result), title="stockwire demo: summary", expand=False)
