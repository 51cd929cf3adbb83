"""`stockwire demo`: the hub and four simulated shop systems, live, on one machine.

The hub runs on a temporary SQLite database; a store till (POS), a web
storefront, a marketplace and a warehouse (WMS) run as real HTTP servers on
loopback, each keeping its own view of stock from the webhooks it receives.
"""

from __future__ import annotations

from stockwire.demo.runner import DemoOptions, run_demo

__all__ = ["DemoOptions", "run_demo"]
