"""`stockwire demo`: the hub and four simulated systems, live on this machine."""

from __future__ import annotations

import sys

import click
from rich.console import Console


@click.command()
@click.option("--duration", default=20.0, show_default=True, type=click.FloatRange(min=1),
              help="Seconds of traffic.")
@click.option("--rate", default=50.0, show_default=True, type=click.FloatRange(min=1, max=2000),
              help="Events per second sent to the hub (sales, orders, receipts, cancellations, shipments).")
@click.option("--flaky", is_flag=True, help="The marketplace fails 30% of webhook requests and drops connections.")
@click.option("--live/--no-live", default=None,
              help="The live screen; by default on when stdout is a terminal, a few progress lines otherwise.")
@click.option("--settle", default=20.0, show_default=True, type=click.FloatRange(min=1),
              help="Seconds to wait, after the traffic, for every channel to converge.")
@click.option("--seed", default=None, type=int, help="Seed the traffic, to repeat a run.")
def demo(duration: float, rate: float, flaky: bool, live: bool | None, settle: float, seed: int | None) -> None:
    """Run the hub with a store till, a web shop, a marketplace and a warehouse, and watch stock flow.

    Exits 0 only if no order was accepted beyond stock and every channel converged.
    """
    from stockwire.demo.runner import DemoError, DemoOptions, run_demo

    console = Console()
    options = DemoOptions(duration=duration, rate=rate, flaky=flaky, live=live, settle=settle, seed=seed)
    try:
        verdict = run_demo(options, console)
    except DemoError as exc:
        Console(stderr=True).print(f"[red]the demo could not run:[/] {exc}")
        sys.exit(2)
    except KeyboardInterrupt:
        Console(stderr=True).print("interrupted")
        sys.exit(130)
    sys.exit(0 if verdict.ok else 1)
