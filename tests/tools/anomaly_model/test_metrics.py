"""AUROC, precision, recall and F1 against cases worked out by hand."""

import pytest

from visionpipe.anomaly_model.metrics import auroc, best_f1_interval, best_f1_threshold, confusion_at


def test_auroc_perfect_and_inverted():
    assert auroc([0.1, 0.2, 0.3], [0.4, 0.9]) == 1.0
    assert auroc([0.4, 0.9], [0.1, 0.2, 0.3]) == 0.0


def test_auroc_hand_counted_pairs():
    # Pairs (anomalous > normal): 0.35 beats 0.1, 0.3 (2 of 3); 0.8 beats all 3; 0.2 beats 0.1 (1 of 3).
    # 6 of 9 pairs -> 2/3.
    assert auroc([0.1, 0.3, 0.5], [0.35, 0.8, 0.2]) == pytest.approx(6 / 9)


def test_auroc_ties_count_half():
    # Pairs: (0.5 vs 0.5) tie = 0.5, (0.5 vs 0.2) win = 1, (0.7 vs both) = 2 -> 3.5 of 4.
    assert auroc([0.5, 0.2], [0.5, 0.7]) == pytest.approx(3.5 / 4)
    assert auroc([1.0, 1.0], [1.0]) == pytest.approx(0.5)


def test_auroc_needs_both_classes():
    with pytest.raises(ValueError):
        auroc([], [0.3])


def test_confusion_precision_recall_f1_by_hand():
    # Threshold 0.5, score >= threshold is anomalous.
    # normals 0.1 0.6 0.4 0.5 -> FP: 0.6, 0.5 (2); TN: 2. anomalous 0.9 0.3 0.7 -> TP 2, FN 1.
    c = confusion_at([0.1, 0.6, 0.4, 0.5], [0.9, 0.3, 0.7], 0.5)
    assert (c.true_positives, c.false_positives, c.true_negatives, c.false_negatives) == (2, 2, 2, 1)
    assert c.precision == pytest.approx(2 / 4)
    assert c.recall == pytest.approx(2 / 3)
    assert c.f1 == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))  # 4/7
    assert c.f1 == pytest.approx(4 / 7)
    assert c.false_positive_rate == pytest.approx(0.5)
    assert c.as_dict()["f1"] == pytest.approx(4 / 7)


def test_confusion_with_nothing_flagged_is_zero_not_an_error():
    c = confusion_at([0.1], [0.2], 5.0)
    assert (c.precision, c.recall, c.f1) == (0.0, 0.0, 0.0)


def test_best_f1_threshold_takes_the_middle_of_the_widest_best_gap():
    # Separable: normals up to 0.4, anomalies from 0.8 -> any threshold in (0.4, 0.8] is perfect.
    assert best_f1_interval([0.1, 0.3, 0.4], [0.8, 0.9]) == (0.4, 0.8)
    assert best_f1_threshold([0.1, 0.3, 0.4], [0.8, 0.9]) == pytest.approx(0.6)
    # Overlap: normals 0.1 0.5, anomalies 0.4 0.9. Thresholds in (0.1,0.4] -> TP2 FP1 F1 0.8;
    # (0.4,0.5] -> TP1 FP1 F1 0.5; (0.5,0.9] -> TP1 FP0 F1 2/3. Best: (0.1, 0.4].
    assert best_f1_interval([0.1, 0.5], [0.4, 0.9]) == (0.1, 0.4)
    t = best_f1_threshold([0.1, 0.5], [0.4, 0.9])
    assert confusion_at([0.1, 0.5], [0.4, 0.9], t).f1 == pytest.approx(0.8)
