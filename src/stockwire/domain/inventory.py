"""Stock facts reported by channels: sales, returns, receipts, adjustments, counts."""

from __future__ import annotations

from collections.abc import Iterable

from stockwire.domain.book import StockBook
from stockwire.domain.models import Cause, Line, MovementKind


def record_sale(book: StockBook, location: str, lines: Iterable[Line], cause: Cause) -> None:
    """A till sold goods: a fact, never refused; selling past zero raises a discrepancy."""
    for line in lines:
        before = book.level(line.sku, location)
        book.move(MovementKind.SALE, line.sku, location, on_hand=-line.quantity, cause=cause)
        if line.quantity > before.on_hand:
            book.discrepancy(line.sku, location, requested=line.quantity, cause=cause)


def record_return(book: StockBook, location: str, lines: Iterable[Line], cause: Cause) -> None:
    """Goods came back to a location."""
    for line in lines:
        book.move(MovementKind.RETURN, line.sku, location, on_hand=line.quantity, cause=cause)


def record_receipt(book: StockBook, location: str, lines: Iterable[Line], cause: Cause) -> None:
    """Stock arrived at a location."""
    for line in lines:
        book.move(MovementKind.RECEIPT, line.sku, location, on_hand=line.quantity, cause=cause)


def adjust(
    book: StockBook,
    location: str,
    sku: str,
    *,
    delta: int | None = None,
    on_hand: int | None = None,
    cause: Cause,
) -> None:
    """A relative (`delta`) or absolute (`on_hand`) correction of on_hand."""
    if on_hand is not None:
        delta = on_hand - book.level(sku, location).on_hand
    book.move(MovementKind.ADJUSTMENT, sku, location, on_hand=delta or 0, cause=cause, record_zero=True)


def count(book: StockBook, location: str, counts: Iterable[tuple[str, int]], cause: Cause) -> None:
    """A cycle count: each counted sku's on_hand becomes the counted number."""
    for sku, counted in counts:
        delta = counted - book.level(sku, location).on_hand
        book.move(MovementKind.COUNT, sku, location, on_hand=delta, cause=cause, record_zero=True)
