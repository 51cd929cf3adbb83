"""Fixtures shared by the delivery tests: scripted receivers and second-scale delivery settings."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.receiver import FAST_DELIVERY_ENV, Receivers


@pytest.fixture
def fast_delivery(monkeypatch: pytest.MonkeyPatch) -> None:
    """Second-scale retry, breaker and idle-wake settings (a module opts in with `usefixtures`)."""
    for name, value in FAST_DELIVERY_ENV.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def receivers() -> Iterator[Receivers]:
    r = Receivers()
    yield r
    r.stop()
