"""Mean average precision for object detection, VOC style.

For each class, detections (all validation images) are sorted by score; a detection is a true
positive when its IoU with a not-yet-matched ground-truth box of that class in the same image
reaches the threshold (0.5 by default, SageMaker's `overlap_threshold`), else a false positive.
AP is the area under the precision-recall curve with precision made monotonically decreasing
(all-point interpolation, PASCAL VOC 2010+). mAP is the mean of the AP of every class that has
ground truth in the validation set; a class with ground truth but no detections counts as 0.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

Box = tuple[float, float, float, float]  # xmin, ymin, xmax, ymax


@dataclass(frozen=True)
class ScoredBox:
    image: Hashable
    class_id: int
    score: float
    box: Box


@dataclass(frozen=True)
class MapResult:
    mean_ap: float
    per_class: dict[int, float]  # AP per class with ground truth
    ground_truth: dict[int, int]  # boxes per class
    detections: int


def iou(a: Box, b: Box) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def average_precision(recall: np.ndarray, precision: np.ndarray) -> float:
    """Area under the interpolated precision-recall curve (VOC 2010+ all-point)."""
    r = np.concatenate(([0.0], recall, [1.0]))
    p = np.concatenate(([0.0], precision, [0.0]))
    p = np.maximum.accumulate(p[::-1])[::-1]
    steps = np.nonzero(r[1:] != r[:-1])[0]
    return float(np.sum((r[steps + 1] - r[steps]) * p[steps + 1]))


def class_ap(
    detections: Sequence[ScoredBox], truth: Mapping[Hashable, Sequence[Box]], iou_threshold: float
) -> float:
    total = sum(len(boxes) for boxes in truth.values())
    if total == 0:
        raise ValueError("no ground truth for this class")
    matched = {image: np.zeros(len(boxes), bool) for image, boxes in truth.items()}
    ordered = sorted(detections, key=lambda d: d.score, reverse=True)
    hits = np.zeros(len(ordered))
    for i, det in enumerate(ordered):
        boxes = truth.get(det.image, ())
        overlaps = [iou(det.box, gt) for gt in boxes]
        if overlaps:
            best = int(np.argmax(overlaps))
            if overlaps[best] >= iou_threshold and not matched[det.image][best]:
                matched[det.image][best] = True
                hits[i] = 1
    if not len(ordered):
        return 0.0
    tp = np.cumsum(hits)
    fp = np.cumsum(1 - hits)
    return average_precision(tp / total, tp / np.maximum(tp + fp, np.finfo(float).eps))


def mean_average_precision(
    detections: Iterable[ScoredBox],
    ground_truth: Mapping[Hashable, Sequence[tuple[int, Box]]],
    iou_threshold: float = 0.5,
) -> MapResult:
    """ground_truth: image -> [(class_id, box)]; detections from every image of the same set."""
    truth: dict[int, dict[Hashable, list[Box]]] = defaultdict(lambda: defaultdict(list))
    for image, boxes in ground_truth.items():
        for class_id, box in boxes:
            truth[class_id][image].append(box)
    by_class: dict[int, list[ScoredBox]] = defaultdict(list)
    count = 0
    for det in detections:
        by_class[det.class_id].append(det)
        count += 1
    if not truth:
        raise ValueError("the validation set has no ground-truth boxes")
    per_class = {c: class_ap(by_class.get(c, []), truth[c], iou_threshold) for c in sorted(truth)}
    return MapResult(
        mean_ap=float(np.mean(list(per_class.values()))),
        per_class=per_class,
        ground_truth={c: sum(len(b) for b in truth[c].values()) for c in sorted(truth)},
        detections=count,
    )
