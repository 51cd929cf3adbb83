"""What the demo measures: counters, rates per second and latency percentiles."""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass, field


def percentile(sorted_values: list[float], fraction: float) -> float | None:
    """The nearest-rank percentile of already sorted values; None when there are none."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass
class Latencies:
    """Propagation latencies in milliseconds, kept whole so the summary is exact."""

    samples: list[float] = field(default_factory=list)
    _sorted: list[float] = field(default_factory=list)
    _sorted_len: int = -1

    def add(self, ms: float) -> None:
        self.samples.append(ms)

    def _ordered(self) -> list[float]:
        if self._sorted_len != len(self.samples):
            self._sorted = sorted(self.samples)
            self._sorted_len = len(self.samples)
        return self._sorted

    def p(self, fraction: float) -> float | None:
        return percentile(self._ordered(), fraction)

    @property
    def max(self) -> float | None:
        ordered = self._ordered()
        return ordered[-1] if ordered else None

    def __len__(self) -> int:
        return len(self.samples)


class RateMeter:
    """Per-second rates of a few counters, from the change since the last second."""

    def __init__(self) -> None:
        self._last: tuple[float, Counter[str]] | None = None
        self.rates: dict[str, float] = {}

    def update(self, counts: Counter[str], now: float | None = None) -> dict[str, float]:
        now = time.monotonic() if now is None else now
        if self._last is None:
            self._last = (now, Counter(counts))
            return self.rates
        then, before = self._last
        if now - then >= 1.0:
            self.rates = {k: (counts[k] - before[k]) / (now - then) for k in counts}
            self._last = (now, Counter(counts))
        return self.rates


@dataclass
class Metrics:
    """Everything the screen and the summary show, shared by the systems and the traffic."""

    counts: Counter[str] = field(default_factory=Counter)
    availability: Latencies = field(default_factory=Latencies)
    fulfilment: Latencies = field(default_factory=Latencies)
    answers: Latencies = field(default_factory=Latencies)
    oversells: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def count(self, name: str, n: int = 1) -> None:
        self.counts[name] += n

    def oversell(self, detail: str) -> None:
        self.oversells.append(detail)

    def problem(self, detail: str) -> None:
        """Something a correct hub never causes (a 5xx, a bad signature); shown and fails the run."""
        if len(self.problems) < 100:
            self.problems.append(detail)
        self.counts["problems"] += 1
