"""Train and evaluate a HOG + linear SVM detector (one SVM per class) on CPU, in seconds.

The `hog` algorithm (training_job.py runs it as a SageMaker script-mode job):
- images are resized to the model input (the longer side = `image_shape`, the aspect of the
  training images) and converted to grey;
- per class, a detection window (multiple of 8 px) from the training boxes' median aspect and a
  low percentile of their sizes (the detector finds objects as large as the window or larger);
- positives: each box resized to the window, its mirror image and jittered copies (shift/scale);
  negatives: random windows overlapping no box of the class by more than 0.3 IoU;
- a linear SVM on the HOG descriptors, one round of hard-negative mining (false positives the
  first SVM finds in the training images are added as negatives), a logistic calibration of the
  margin into a score (Platt scaling);
- inference is the device's own code (visionpipe_edge.detectors.hog_detector.detect_scored):
  sliding windows over a pyramid and non-maximum suppression at `nms_threshold`.
Deterministic: the random choices use a fixed seed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import cv2
import numpy as np
from visionpipe_edge.detectors.hog_detector import HogClassModel, HogParameters, HogSvmModel, detect_scored

from visionpipe.detector_model.contract import TrainingDataError
from visionpipe.detector_model.mean_average_precision import MapResult, ScoredBox, iou, mean_average_precision

Box = tuple[float, float, float, float]


@dataclass
class Sample:
    name: str
    image: np.ndarray  # grey, at the model input size
    boxes: list[tuple[int, Box]]  # (class_id, box) in input pixels


@dataclass(frozen=True)
class TrainingSettings:
    image_shape: int = 512
    nms_threshold: float = 0.45
    overlap_threshold: float = 0.5  # evaluation IoU
    svm_c: float = 0.01
    negatives_per_image: int = 30
    jitter_copies: int = 3
    hard_negatives_per_image: int = 20
    min_window: int = 32
    max_window: int = 96
    seed: int = 0


@dataclass
class TrainingReport:
    model: HogSvmModel
    input_size: tuple[int, int]
    positives: dict[int, int] = field(default_factory=dict)
    negatives: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0


def input_size_for(sizes: list[tuple[int, int]], image_shape: int) -> tuple[int, int]:
    """(width, height) of the model input: longer side image_shape, median aspect, multiples of 8."""
    if not sizes:
        raise TrainingDataError("no training images")
    aspect = float(np.median([w / h for w, h in sizes]))
    if aspect >= 1:
        width, height = image_shape, image_shape / aspect
    else:
        width, height = image_shape * aspect, image_shape
    return max(8, int(round(width / 8)) * 8), max(8, int(round(height / 8)) * 8)


def to_input(image_bgr: np.ndarray, boxes: list[tuple[int, Box]], size: tuple[int, int]) -> Sample:
    height, width = image_bgr.shape[:2]
    sx, sy = size[0] / width, size[1] / height
    grey = image_bgr if image_bgr.ndim == 2 else cv2.cvtColor(image_bgr, cv2.COLOR_BGR2GRAY)
    resized = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
    scaled = [(c, (b[0] * sx, b[1] * sy, b[2] * sx, b[3] * sy)) for c, b in boxes]
    return Sample(name="", image=resized, boxes=scaled)


def window_for(boxes: list[Box], settings: TrainingSettings) -> tuple[int, int]:
    widths = np.array([b[2] - b[0] for b in boxes])
    heights = np.array([b[3] - b[1] for b in boxes])
    aspect = float(np.median(widths / np.maximum(heights, 1)))
    base = float(np.percentile(np.minimum(widths, heights), 20))
    short = int(np.clip(base // 8 * 8, settings.min_window, settings.max_window))
    if aspect >= 1:
        return max(16, int(round(short * aspect / 8)) * 8), short
    return short, max(16, int(round(short / aspect / 8)) * 8)


def _crop(image: np.ndarray, box: Box, window: tuple[int, int]) -> np.ndarray | None:
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    height, width = image.shape
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(width, x1), min(height, y1)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    return cv2.resize(image[y0:y1, x0:x1], window, interpolation=cv2.INTER_AREA)


def _jittered(box: Box, rng: np.random.Generator) -> Box:
    w, h = box[2] - box[0], box[3] - box[1]
    scale = rng.uniform(0.92, 1.08)
    cx = (box[0] + box[2]) / 2 + rng.uniform(-0.06, 0.06) * w
    cy = (box[1] + box[3]) / 2 + rng.uniform(-0.06, 0.06) * h
    return cx - w * scale / 2, cy - h * scale / 2, cx + w * scale / 2, cy + h * scale / 2


def _random_negative(
    sample: Sample, class_boxes: list[Box], window: tuple[int, int], rng: np.random.Generator
) -> Box | None:
    height, width = sample.image.shape
    largest = min(width / window[0], height / window[1])
    if largest < 1:
        return None
    for _ in range(20):
        scale = rng.uniform(1.0, max(1.0, min(largest, 4.0)))
        w, h = window[0] * scale, window[1] * scale
        x, y = rng.uniform(0, width - w), rng.uniform(0, height - h)
        box = (x, y, x + w, y + h)
        if all(iou(box, b) < 0.3 for b in class_boxes):
            return box
    return None


def _fit_linear_svm(features: np.ndarray, labels: np.ndarray, c: float) -> np.ndarray:
    """Weights with the bias last, oriented so that positives score higher (w.x + b)."""
    svm = cv2.ml.SVM_create()
    svm.setType(cv2.ml.SVM_C_SVC)
    svm.setKernel(cv2.ml.SVM_LINEAR)
    svm.setC(c)
    svm.setTermCriteria((cv2.TERM_CRITERIA_MAX_ITER + cv2.TERM_CRITERIA_EPS, 2000, 1e-4))
    svm.train(features.astype(np.float32), cv2.ml.ROW_SAMPLE, labels.astype(np.int32))
    w = svm.getSupportVectors()[0].astype(np.float64)
    rho = svm.getDecisionFunction(0)[0]
    margins = features @ w - rho
    if margins[labels > 0].mean() < margins[labels < 0].mean():
        w, rho = -w, -rho
        return np.append(w, rho).astype(np.float32)
    return np.append(w, -rho).astype(np.float32)


def _platt(margins: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Logistic fit p = sigmoid(a * margin + b) (Platt scaling with Lin et al.'s smoothed targets),
    by Newton's method with backtracking and a small ridge term (separable data stays bounded)."""
    positives, negatives = (labels > 0).sum(), (labels <= 0).sum()
    target = np.where(labels > 0, (positives + 1) / (positives + 2), 1 / (negatives + 2))
    x = margins.astype(np.float64)
    ridge = 1e-3 * len(x)

    def loss(params: np.ndarray) -> float:
        z = params[0] * x + params[1]
        return float(np.sum(np.logaddexp(0, z) - target * z) + 0.5 * ridge * params[0] ** 2)

    params = np.array([1.0, 0.0])
    for _ in range(100):
        p = 1 / (1 + np.exp(-np.clip(params[0] * x + params[1], -50, 50)))
        gradient = np.array([np.sum((p - target) * x) + ridge * params[0], np.sum(p - target)])
        s = p * (1 - p)
        hessian = np.array([[np.sum(s * x * x) + ridge, np.sum(s * x)], [np.sum(s * x), np.sum(s) + 1e-9]])
        step = np.linalg.solve(hessian, gradient)
        rate, current = 1.0, loss(params)
        while rate > 1e-6 and loss(params - rate * step) > current:
            rate /= 2
        params = params - rate * step
        if np.abs(rate * step).max() < 1e-8:
            break
    a, b = float(params[0]), float(params[1])
    return (a, b) if a > 0 else (1.0, 0.0)


def train_detector(
    samples: list[Sample], class_names: dict[int, str], settings: TrainingSettings
) -> TrainingReport:
    started = time.perf_counter()
    if not samples:
        raise TrainingDataError("no training images")
    rng = np.random.default_rng(settings.seed)
    hog = HogParameters()
    classes, report_pos, report_neg = [], {}, {}
    for class_id in sorted(class_names):
        boxes = [b for s in samples for c, b in s.boxes if c == class_id]
        if not boxes:
            continue
        window = window_for(boxes, settings)
        descriptor = hog.descriptor(window)
        positives, negatives = [], []
        for sample in samples:
            mine = [b for c, b in sample.boxes if c == class_id]
            for box in mine:
                for variant in [box] + [_jittered(box, rng) for _ in range(settings.jitter_copies)]:
                    crop = _crop(sample.image, variant, window)
                    if crop is not None:
                        positives.append(descriptor.compute(crop).reshape(-1))
                        positives.append(descriptor.compute(cv2.flip(crop, 1)).reshape(-1))
            for _ in range(settings.negatives_per_image):
                box = _random_negative(sample, mine, window, rng)
                crop = _crop(sample.image, box, window) if box else None
                if crop is not None:
                    negatives.append(descriptor.compute(crop).reshape(-1))
        if not positives or not negatives:
            continue
        features = np.vstack(positives + negatives)
        labels = np.array([1] * len(positives) + [-1] * len(negatives))
        weights = _fit_linear_svm(features, labels, settings.svm_c)
        # hard negatives: what the first SVM wrongly finds in the training images
        model = HogClassModel(class_id, class_names[class_id], window, weights, 1.0, 0.0)
        probe = HogSvmModel([model], hog, nms_threshold=settings.nms_threshold)
        hard = []
        for sample in samples:
            mine = [b for c, b in sample.boxes if c == class_id]
            found = detect_scored(probe, sample.image, min_score=0.5)  # margin > 0 with the identity scale
            wrong = [box for _, _, box in found if all(iou(box, b) < 0.3 for b in mine)]
            for box in wrong[: settings.hard_negatives_per_image]:
                crop = _crop(sample.image, box, window)
                if crop is not None:
                    hard.append(descriptor.compute(crop).reshape(-1))
        if hard:
            features = np.vstack([features, *hard])
            labels = np.concatenate([labels, -np.ones(len(hard), int)])
            weights = _fit_linear_svm(features, labels, settings.svm_c)
        margins = features @ weights[:-1].astype(np.float64) + float(weights[-1])
        scale, bias = _platt(margins, labels)
        classes.append(HogClassModel(class_id, class_names[class_id], window, weights, scale, bias))
        report_pos[class_id], report_neg[class_id] = len(positives), len(negatives) + len(hard)
    if not classes:
        raise TrainingDataError("no class has training boxes (and room for negative windows)")
    model = HogSvmModel(classes, hog, nms_threshold=settings.nms_threshold)
    height, width = samples[0].image.shape
    return TrainingReport(model, (width, height), report_pos, report_neg, time.perf_counter() - started)


def evaluate(model: HogSvmModel, samples: list[Sample], iou_threshold: float = 0.5) -> MapResult:
    detections = []
    descriptors: dict = {}
    for index, sample in enumerate(samples):
        for class_index, score, box in detect_scored(model, sample.image, 0.01, descriptors):
            detections.append(ScoredBox(index, model.classes[class_index].class_id, score, box))
    truth = {index: sample.boxes for index, sample in enumerate(samples)}
    return mean_average_precision(detections, truth, iou_threshold)
