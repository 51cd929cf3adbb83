"""The physical shop the demo simulates: products, places and what is really on the shelves.

The hub never sees this; it only hears about it through the systems' webhooks.
At the end the demo checks that the hub's truth matches the shelves.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

STORE = "store-1"
WAREHOUSE = "wh-1"


@dataclass(frozen=True, kw_only=True)
class ProductSpec:
    sku: str
    name: str


PRODUCTS = (
    ProductSpec(sku="TEE-BLK-M", name="T-shirt, black, M"),
    ProductSpec(sku="TEE-WHT-L", name="T-shirt, white, L"),
    ProductSpec(sku="HOODIE-GRY-M", name="Hoodie, grey, M"),
    ProductSpec(sku="CAP-NVY", name="Cap, navy"),
    ProductSpec(sku="MUG-ENAMEL", name="Enamel mug"),
    ProductSpec(sku="TOTE-CANVAS", name="Canvas tote"),
    ProductSpec(sku="SOCKS-3PK", name="Socks, 3 pack"),
    ProductSpec(sku="BEANIE-RED", name="Beanie, red"),
)
SKUS = tuple(p.sku for p in PRODUCTS)

# Safety stock is held back from every channel at every location. It also
# absorbs the one race webhooks cannot close: a till selling the unit a web
# order reserved in the same few milliseconds (tills sell at most this many).
SAFETY_STOCK = 2
LOW_STOCK_THRESHOLD = 5
MARKETPLACE_BUFFER = 3
INITIAL_STOCK = {STORE: 12, WAREHOUSE: 40}


class Shelves:
    """Units physically at each (sku, location), and units picked for orders not yet shipped."""

    def __init__(self) -> None:
        self.on_shelf: Counter[tuple[str, str]] = Counter()
        self.picked: Counter[tuple[str, str]] = Counter()

    def free(self, sku: str, location: str) -> int:
        return self.on_shelf[(sku, location)] - self.picked[(sku, location)]

    def arrive(self, sku: str, location: str, quantity: int) -> None:
        self.on_shelf[(sku, location)] += quantity

    def take(self, sku: str, location: str, quantity: int) -> bool:
        """A customer walks out with units that were free on the shelf."""
        if self.free(sku, location) < quantity:
            return False
        self.on_shelf[(sku, location)] -= quantity
        return True

    def pick(self, location: str, lines: list[tuple[str, int]]) -> list[str]:
        """Set aside every line for an order; the skus that are short (then nothing is picked)."""
        short = [sku for sku, qty in lines if self.free(sku, location) < qty]
        if not short:
            for sku, qty in lines:
                self.picked[(sku, location)] += qty
        return short

    def unpick(self, location: str, lines: list[tuple[str, int]]) -> None:
        for sku, qty in lines:
            self.picked[(sku, location)] -= qty

    def ship(self, location: str, lines: list[tuple[str, int]]) -> None:
        for sku, qty in lines:
            self.picked[(sku, location)] -= qty
            self.on_shelf[(sku, location)] -= qty
