"""Inbound adapters for the platforms shops already run: Shopify, WooCommerce, Square."""

from __future__ import annotations

from stockwire.connectors import shopify, square, woocommerce
from stockwire.connectors.base import Adapter

ADAPTERS: dict[str, Adapter] = {
    shopify.ADAPTER.format: shopify.ADAPTER,
    woocommerce.ADAPTER.format: woocommerce.ADAPTER,
    square.ADAPTER.format: square.ADAPTER,
}

__all__ = ["ADAPTERS", "Adapter"]
