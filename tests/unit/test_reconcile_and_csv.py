"""Reconciliation rules and the strict CSV reader."""

from __future__ import annotations

import io

import pytest

from stockwire.domain.models import ChannelAvailability
from stockwire.domain.reconcile import reconcile
from stockwire.inbound import csvfiles


def test_only_listed_skus_that_differ_are_drift() -> None:
    """Equal numbers are not drift; skus the channel leaves out are not compared; unknown skus are 0."""
    hub = {"A": ChannelAvailability(sku="A", channel="c", available=5, version=3),
           "B": ChannelAvailability(sku="B", channel="c", available=2, version=7)}
    result = reconcile("c", [("A", 5), ("B", 4), ("Z", 1)], hub)
    assert result.as_result() == {"drift": [{"sku": "B", "channel": 4, "hub": 2},
                                            {"sku": "Z", "channel": 1, "hub": 0}], "corrections": 2}
    assert result.corrections[0].data == {"sku": "B", "channel": "c", "available": 2, "version": 7}
    assert result.corrections[0].key == "availability:B:c"
    assert result.corrections[0].channels == ("c",)


def test_counts_file_reads_with_a_bom_and_blank_lines() -> None:
    """Excel's BOM, extra columns in any order and blank lines are fine."""
    data = "\ufeffname,on_hand,sku\nTee,3,A\n\nMug,0,B\n".encode()
    assert csvfiles.read_counts(data) == [("A", 3), ("B", 0)]


@pytest.mark.parametrize(("data", "line"), [
    (b"sku,qty\nA,1\n", 1),
    (b"sku,on_hand\n", 2),
    (b"sku,on_hand\nA,1\nA,2\n", 3),
    (b"sku,on_hand\nA,1\n,2\n", 3),
    (b"sku,on_hand\nA,1\nB,1.5\n", 3),
    (b"sku,on_hand\nA\n", 2),
])
def test_a_bad_file_names_its_first_bad_line(data: bytes, line: int) -> None:
    """Wrong header, no rows, a repeated sku, an empty sku, a fraction, a short row."""
    with pytest.raises(csvfiles.BadRow) as caught:
        csvfiles.read_counts(data)
    assert caught.value.line == line


def test_availability_export_round_trips_as_a_view() -> None:
    """An export can be read back as a channel view."""
    out = io.StringIO()
    csvfiles.write_availability([ChannelAvailability(sku="A", channel="c", available=2, version=1)], out)
    assert csvfiles.read_view(out.getvalue().encode()) == [("A", 2)]
