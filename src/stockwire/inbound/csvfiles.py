"""CSV files in and out: cycle counts, a channel's view, and availability exports.

Parsing is strict: the first bad row stops it, naming its line number (the
header is line 1), so nothing of a bad file is applied.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterable
from typing import TextIO

from stockwire.domain.models import ChannelAvailability

MAX_SKU = 128
MAX_NUMBER = 1_000_000_000


class BadRow(Exception):
    """A row (or the header, line 1) that cannot be read."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.message = message


def checksum(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _rows(data: bytes, number_column: str) -> list[tuple[str, int]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadRow(1, "the file is not UTF-8") from exc
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [h.strip().lower() for h in next(reader, [])]
    if "sku" not in header or number_column not in header:
        raise BadRow(1, f"the header must name the columns sku and {number_column}")
    sku_at, number_at = header.index("sku"), header.index(number_column)
    found: list[tuple[str, int]] = []
    seen: set[str] = set()
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < len(header):
            raise BadRow(line, f"expected {len(header)} columns, found {len(row)}")
        sku, raw = row[sku_at].strip(), row[number_at].strip()
        if not 0 < len(sku) <= MAX_SKU:
            raise BadRow(line, f"a sku is 1 to {MAX_SKU} characters")
        if sku in seen:
            raise BadRow(line, f"sku {sku!r} is listed twice")
        if not raw.isdigit() or int(raw) > MAX_NUMBER:
            raise BadRow(line, f"{number_column} must be a whole number from 0 to {MAX_NUMBER}, not {raw!r}")
        seen.add(sku)
        found.append((sku, int(raw)))
    return found


def read_counts(data: bytes) -> list[tuple[str, int]]:
    """A cycle count: columns `sku,on_hand`; at least one row."""
    rows = _rows(data, "on_hand")
    if not rows:
        raise BadRow(2, "the file counts no sku")
    return rows


def read_view(data: bytes) -> list[tuple[str, int]]:
    """A channel's own numbers: columns `sku,available`."""
    return _rows(data, "available")


def write_availability(rows: Iterable[ChannelAvailability], out: TextIO) -> int:
    """Write `sku,available,version` rows; return how many."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["sku", "available", "version"])
    n = 0
    for row in rows:
        writer.writerow([row.sku, row.available, row.version])
        n += 1
    return n
