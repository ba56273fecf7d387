"""Detection quality: AUROC, and precision / recall / F1 at a threshold (anomalous = positive).

A score is anomalous when score >= threshold, the same rule the onnx backend applies.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


def auroc(normal_scores, anomalous_scores) -> float:
    """Probability that a random anomalous image outscores a random normal one (ties count half).

    This is the area under the ROC curve (Mann-Whitney U / (n_pos * n_neg)), computed from ranks.
    """
    normal = np.asarray(normal_scores, np.float64).ravel()
    anomalous = np.asarray(anomalous_scores, np.float64).ravel()
    if normal.size == 0 or anomalous.size == 0:
        raise ValueError("AUROC needs at least one normal and one anomalous score")
    both = np.concatenate([normal, anomalous])
    order = np.argsort(both, kind="mergesort")
    ranks = np.empty(both.size, np.float64)
    sorted_values = both[order]
    # Average ranks (1-based) over ties.
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    ends = np.r_[starts[1:], both.size]
    for start, end in zip(starts, ends, strict=True):
        ranks[order[start:end]] = (start + 1 + end) / 2.0
    rank_sum = ranks[normal.size :].sum()
    u = rank_sum - anomalous.size * (anomalous.size + 1) / 2.0
    return float(u / (normal.size * anomalous.size))


@dataclass(frozen=True)
class Confusion:
    true_positives: int
    false_positives: int
    true_negatives: int
    false_negatives: int

    @property
    def precision(self) -> float:
        flagged = self.true_positives + self.false_positives
        return self.true_positives / flagged if flagged else 0.0

    @property
    def recall(self) -> float:
        actual = self.true_positives + self.false_negatives
        return self.true_positives / actual if actual else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def false_positive_rate(self) -> float:
        negatives = self.false_positives + self.true_negatives
        return self.false_positives / negatives if negatives else 0.0

    def as_dict(self) -> dict:
        return {
            **asdict(self),
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "false_positive_rate": self.false_positive_rate,
        }


def confusion_at(normal_scores, anomalous_scores, threshold: float) -> Confusion:
    normal = np.asarray(normal_scores, np.float64).ravel()
    anomalous = np.asarray(anomalous_scores, np.float64).ravel()
    return Confusion(
        true_positives=int((anomalous >= threshold).sum()),
        false_positives=int((normal >= threshold).sum()),
        true_negatives=int((normal < threshold).sum()),
        false_negatives=int((anomalous < threshold).sum()),
    )


def best_f1_interval(normal_scores, anomalous_scores) -> tuple[float, float]:
    """(low, high): every threshold in (low, high] gives the highest F1 (the widest such gap).

    Thresholds between two consecutive distinct scores all give the same confusion; of the gaps
    with the best F1, the widest is returned.
    """
    normal = np.asarray(normal_scores, np.float64).ravel()
    anomalous = np.asarray(anomalous_scores, np.float64).ravel()
    values = np.unique(np.concatenate([normal, anomalous]))
    if values.size == 1:
        return float(values[0]), float(values[0])
    candidates = (values[1:] + values[:-1]) / 2.0
    gaps = values[1:] - values[:-1]
    f1s = np.array([confusion_at(normal, anomalous, t).f1 for t in candidates])
    best = np.flatnonzero(np.isclose(f1s, f1s.max()))
    chosen = best[np.argmax(gaps[best])]
    return float(values[chosen]), float(values[chosen + 1])


def best_f1_threshold(normal_scores, anomalous_scores) -> float:
    """The middle of best_f1_interval: the best F1 with as much margin as the data allows."""
    low, high = best_f1_interval(normal_scores, anomalous_scores)
    return (low + high) / 2.0
