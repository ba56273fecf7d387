"""The bounded aggregates against plain Python on the same values."""

import math
import random
import statistics

import pytest

from visionpipe.report.stats import CappedCounter, ConfidenceHistogram, QuantileSketch, TopK


@pytest.mark.parametrize("n", [1, 2, 7, 1000, 1001])
def test_confidence_histogram_is_exact_at_four_decimals(n):
    rng = random.Random(n)
    values = [round(rng.betavariate(5, 2), 4) for _ in range(n)]
    histogram = ConfidenceHistogram()
    for v in values:
        histogram.add(v)
    ordered = sorted(values)
    assert histogram.count == n
    assert math.isclose(histogram.mean, statistics.fmean(values), rel_tol=1e-12)
    assert math.isclose(histogram.median, statistics.median(values), abs_tol=1e-12)
    for q in (0.05, 0.25, 0.75, 0.95):
        assert histogram.quantile(q) == ordered[max(1, math.ceil(q * n)) - 1]
    for threshold in (0.0, 0.5, 0.8, 0.8123, 1.0):
        assert histogram.at_least(threshold) == sum(v >= threshold for v in values)
    assert sum(histogram.counts(20)) == n
    assert len(histogram.bins) <= 10_001


def test_confidence_histogram_bins_ends_and_empty():
    histogram = ConfidenceHistogram()
    assert histogram.mean is None and histogram.median is None and histogram.share_at_least(0.5) is None
    for v in (0.0, 1.0, 1.0):
        histogram.add(v)
    assert histogram.counts(20) == [1] + [0] * 18 + [2]  # 1.0 falls in the last bin
    assert histogram.summary(0.8)["share_at_or_above_threshold"] == pytest.approx(2 / 3, abs=1e-6)


def test_quantile_sketch_is_within_its_relative_accuracy_and_small():
    rng = random.Random(7)
    values = [rng.lognormvariate(3, 1) for _ in range(50_000)] + [0.0] * 10
    sketch = QuantileSketch(accuracy=0.005)
    for v in values:
        sketch.add(v)
    ordered = sorted(values)
    for q in (0.01, 0.5, 0.95, 0.99):
        exact = ordered[max(1, math.ceil(q * len(values))) - 1]
        assert abs(sketch.quantile(q) - exact) <= 0.005 * exact + 1e-12, q
    assert len(sketch.buckets) < 1500  # 50,000 values, a bounded number of counters
    assert sketch.quantile(0.0001) == 0.0  # the zeros come first
    assert QuantileSketch().quantile(0.5) is None


def test_top_k_keeps_the_largest_first_seen_on_ties():
    top = TopK(3, key=lambda item: item[0])
    top.extend([(1, "a"), (5, "b"), (3, "c"), (5, "d"), (4, "e"), (0, "f")])
    assert top.items() == [(5, "b"), (5, "d"), (4, "e")]
    assert TopK(0, key=lambda x: x).items() == []


def test_capped_counter_folds_new_keys_into_other():
    counter = CappedCounter(2)
    for key in ("a", "b", "a", "c", "d", "b"):
        counter.add(key)
    assert counter.counts == {"a": 2, "b": 2, "(other)": 2}
