"""Bounded-memory aggregates: their size depends on the value range, never on the number of values."""

from __future__ import annotations

import heapq
import itertools
import math
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

CONFIDENCE_STEPS = 10_000  # the device rounds confidences to 4 decimals: exact at that resolution


class ConfidenceHistogram:
    """Exact distribution of confidences in [0, 1] at 1e-4 resolution (at most 10,001 counters)."""

    __slots__ = ("bins", "count", "total")

    def __init__(self) -> None:
        self.bins: Counter[int] = Counter()
        self.count = 0
        self.total = 0.0

    def add(self, confidence: float) -> None:
        step = min(CONFIDENCE_STEPS, max(0, round(confidence * CONFIDENCE_STEPS)))
        self.bins[step] += 1
        self.count += 1
        self.total += confidence

    @property
    def mean(self) -> float | None:
        return self.total / self.count if self.count else None

    def quantile(self, q: float) -> float | None:
        """The lower q-quantile (the value at rank ceil(q*n)), like a sorted list's element."""
        if not self.count:
            return None
        rank = max(1, math.ceil(q * self.count))
        seen = 0
        for step in sorted(self.bins):
            seen += self.bins[step]
            if seen >= rank:
                return step / CONFIDENCE_STEPS
        return max(self.bins) / CONFIDENCE_STEPS

    @property
    def median(self) -> float | None:
        """Median as statistics.median computes it (mean of the two middle values for an even n)."""
        if not self.count:
            return None
        low = self._at_rank((self.count + 1) // 2)
        high = self._at_rank(self.count // 2 + 1)
        return (low + high) / 2 / CONFIDENCE_STEPS

    def _at_rank(self, rank: int) -> int:
        seen = 0
        for step in sorted(self.bins):
            seen += self.bins[step]
            if seen >= rank:
                return step
        return max(self.bins)

    def at_least(self, threshold: float) -> int:
        bar = math.ceil(threshold * CONFIDENCE_STEPS - 1e-9)
        return sum(n for step, n in self.bins.items() if step >= bar)

    def share_at_least(self, threshold: float) -> float | None:
        return self.at_least(threshold) / self.count if self.count else None

    def counts(self, edges: int = 20) -> list[int]:
        """Counts in `edges` equal-width bins over [0, 1] (the last bin includes 1.0)."""
        out = [0] * edges
        for step, n in self.bins.items():
            out[min(edges - 1, step * edges // CONFIDENCE_STEPS)] += n
        return out

    def summary(self, threshold: float) -> dict[str, Any]:
        return {
            "count": self.count,
            "mean": _round(self.mean, 6),
            "median": _round(self.median, 6),  # an even count's median has a fifth decimal
            "p05": _round(self.quantile(0.05)),
            "p25": _round(self.quantile(0.25)),
            "p75": _round(self.quantile(0.75)),
            "p95": _round(self.quantile(0.95)),
            "min": _round(min(self.bins) / CONFIDENCE_STEPS) if self.bins else None,
            "max": _round(max(self.bins) / CONFIDENCE_STEPS) if self.bins else None,
            "at_or_above_threshold": self.at_least(threshold),
            "share_at_or_above_threshold": _round(self.share_at_least(threshold), 6),
        }


class QuantileSketch:
    """Positive values in log-spaced buckets of relative width `accuracy`: quantiles within that
    relative error (DDSketch's idea), a few thousand counters at most for 1 µs .. 1 day in ms."""

    __slots__ = ("accuracy", "buckets", "count", "zeros", "total", "_gamma_log")

    def __init__(self, accuracy: float = 0.005) -> None:
        self.accuracy = accuracy
        self._gamma_log = math.log((1 + accuracy) / (1 - accuracy))
        self.buckets: Counter[int] = Counter()
        self.count = 0
        self.zeros = 0
        self.total = 0.0

    def add(self, value: float) -> None:
        self.count += 1
        self.total += value
        if value <= 0:
            self.zeros += 1
            return
        self.buckets[math.ceil(math.log(value) / self._gamma_log)] += 1

    def quantile(self, q: float) -> float | None:
        """Estimate of the value at rank ceil(q*n) (relative error <= accuracy)."""
        if not self.count:
            return None
        rank = max(1, math.ceil(q * self.count))
        if rank <= self.zeros:
            return 0.0
        seen = self.zeros
        for index in sorted(self.buckets):
            seen += self.buckets[index]
            if seen >= rank:
                gamma = math.exp(self._gamma_log)
                return 2 * gamma**index / (gamma + 1)
        return None

    @property
    def mean(self) -> float | None:
        return self.total / self.count if self.count else None

    def summary(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "mean": _round(self.mean, 2),
            "p50": _round(self.quantile(0.50), 2),
            "p95": _round(self.quantile(0.95), 2),
            "p99": _round(self.quantile(0.99), 2),
        }


class TopK:
    """The k largest items by key, kept in a heap of k entries (ties: the first seen stays)."""

    def __init__(self, k: int, key: Callable[[Any], Any]) -> None:
        self.k = k
        self.key = key
        self._heap: list[tuple[Any, int, Any]] = []
        self._order = itertools.count()

    def add(self, item: Any) -> None:
        if self.k <= 0:
            return
        entry = (self.key(item), -next(self._order), item)
        if len(self._heap) < self.k:
            heapq.heappush(self._heap, entry)
        elif entry[:2] > self._heap[0][:2]:
            heapq.heapreplace(self._heap, entry)

    def items(self) -> list[Any]:
        """Largest first."""
        return [item for *_, item in sorted(self._heap, key=lambda e: e[:2], reverse=True)]

    def extend(self, items: Iterable[Any]) -> None:
        for item in items:
            self.add(item)


class CappedCounter:
    """A Counter that keeps at most `limit` distinct keys; later new keys count under `other`."""

    def __init__(self, limit: int, other: str = "(other)") -> None:
        self.limit = limit
        self.other = other
        self.counts: Counter[str] = Counter()

    def add(self, key: str, n: int = 1) -> None:
        if key in self.counts or len(self.counts) < self.limit:
            self.counts[key] += n
        else:
            self.counts[self.other] += n


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)
