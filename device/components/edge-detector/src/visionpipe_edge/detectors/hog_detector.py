"""Detection with HOG features and one linear SVM per class (OpenCV's HOGDescriptor), as trained by
visionpipe.detector_model (the local retraining engine trains it; tools/visionpipe/detector_model/).

The model file (model.json's `file`, e.g. `hog_svm.json`) holds, per class, the detection window,
the SVM weights (HOG descriptor length + 1: the bias last, the layout HOGDescriptor.setSVMDetector
takes) and a logistic calibration turning the SVM margin into a score in [0, 1]:
score = 1 / (1 + exp(-(score_scale * margin + score_bias))). Detection slides each class's window
over an image pyramid (detectMultiScale, no grouping), then keeps the best boxes per class with
non-maximum suppression at the model's `nms_threshold`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from visionpipe_edge.detections import Detection, clip_box

FORMAT = "visionpipe-hog-svm/1"


class HogModelError(ValueError):
    """The file is not a HOG+SVM model this detector can load."""


@dataclass(frozen=True)
class HogParameters:
    block: int = 16
    block_stride: int = 8
    cell: int = 8
    bins: int = 9

    def descriptor(self, window: tuple[int, int]) -> cv2.HOGDescriptor:
        return cv2.HOGDescriptor(
            window,
            (self.block, self.block),
            (self.block_stride, self.block_stride),
            (self.cell, self.cell),
            self.bins,
        )

    def as_dict(self) -> dict[str, int]:
        return {"block": self.block, "block_stride": self.block_stride, "cell": self.cell, "bins": self.bins}


@dataclass
class HogClassModel:
    class_id: int
    name: str
    window: tuple[int, int]  # (width, height), multiples of the cell size
    weights: np.ndarray  # float32, descriptor length + 1 (bias last)
    score_scale: float
    score_bias: float

    def score(self, margins: np.ndarray) -> np.ndarray:
        z = np.clip(self.score_scale * np.asarray(margins, np.float64) + self.score_bias, -50, 50)
        return 1.0 / (1.0 + np.exp(-z))

    def margin_for(self, score: float) -> float:
        """The SVM margin whose calibrated score is `score` (inverse of score())."""
        score = min(max(score, 1e-6), 1 - 1e-6)
        return (math.log(score / (1 - score)) - self.score_bias) / self.score_scale

    def as_dict(self) -> dict[str, Any]:
        return {
            "class_id": self.class_id,
            "name": self.name,
            "window": list(self.window),
            "weights": [round(float(w), 7) for w in self.weights],
            "score_scale": self.score_scale,
            "score_bias": self.score_bias,
        }


@dataclass
class HogSvmModel:
    classes: list[HogClassModel]
    hog: HogParameters
    win_stride: int = 8
    pyramid_scale: float = 1.1
    nms_threshold: float = 0.45

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": FORMAT,
                "hog": self.hog.as_dict(),
                "detect": {
                    "win_stride": self.win_stride,
                    "pyramid_scale": self.pyramid_scale,
                    "nms_threshold": self.nms_threshold,
                },
                "classes": [c.as_dict() for c in self.classes],
            }
        )

    @classmethod
    def from_json(cls, text: str | bytes, source: str = "model") -> HogSvmModel:
        try:
            doc = json.loads(text)
            if doc.get("format") != FORMAT:
                raise HogModelError(f"{source}: format {doc.get('format')!r}, expected {FORMAT!r}")
            hog = HogParameters(**doc["hog"])
            detect = doc.get("detect", {})
            classes = [
                HogClassModel(
                    class_id=int(c["class_id"]),
                    name=str(c["name"]),
                    window=(int(c["window"][0]), int(c["window"][1])),
                    weights=np.asarray(c["weights"], np.float32),
                    score_scale=float(c["score_scale"]),
                    score_bias=float(c["score_bias"]),
                )
                for c in doc["classes"]
            ]
        except (ValueError, KeyError, TypeError, IndexError) as error:
            if isinstance(error, HogModelError):
                raise
            raise HogModelError(f"{source} is not a HOG+SVM model: {error}") from error
        for c in classes:
            expected = hog.descriptor(c.window).getDescriptorSize() + 1
            if c.weights.size != expected:
                raise HogModelError(
                    f"{source}: class {c.name!r} has {c.weights.size} weights, its window needs {expected}"
                )
        return cls(
            classes=classes,
            hog=hog,
            win_stride=int(detect.get("win_stride", 8)),
            pyramid_scale=float(detect.get("pyramid_scale", 1.1)),
            nms_threshold=float(detect.get("nms_threshold", 0.45)),
        )

    @classmethod
    def load(cls, path: str | Path) -> HogSvmModel:
        path = Path(path)
        try:
            text = path.read_text()
        except OSError as error:
            raise HogModelError(f"{path}: {error}") from error
        return cls.from_json(text, str(path))


def detect_scored(
    model: HogSvmModel,
    image_bgr: np.ndarray,
    min_score: float = 0.05,
    descriptors: dict[int, cv2.HOGDescriptor] | None = None,
) -> list[tuple[int, float, tuple[int, int, int, int]]]:
    """(class index in model.classes, score, (xmin, ymin, xmax, ymax)) for every kept box, best first."""
    gray = image_bgr if image_bgr.ndim == 2 else cv2.cvtColor(image_bgr, cv2.COLOR_BGR2GRAY)
    height, width = gray.shape
    found: list[tuple[int, float, tuple[int, int, int, int]]] = []
    for index, cls in enumerate(model.classes):
        if width < cls.window[0] or height < cls.window[1]:
            continue
        hog = (descriptors or {}).get(index)
        if hog is None:
            hog = model.hog.descriptor(cls.window)
            hog.setSVMDetector(cls.weights)
            if descriptors is not None:
                descriptors[index] = hog
        rects, margins = hog.detectMultiScale(
            gray,
            hitThreshold=cls.margin_for(min_score),
            winStride=(model.win_stride, model.win_stride),
            padding=(0, 0),
            scale=model.pyramid_scale,
            groupThreshold=0,
        )
        if len(rects) == 0:
            continue
        margins = np.asarray(margins, np.float64).reshape(-1)
        scores = cls.score(margins)
        boxes = [[int(x), int(y), int(w), int(h)] for x, y, w, h in rects]
        keep = cv2.dnn.NMSBoxes(boxes, scores.astype(float).tolist(), min_score, model.nms_threshold)
        for k in np.asarray(keep).reshape(-1):
            x, y, w, h = boxes[int(k)]
            found.append((index, float(scores[int(k)]), (x, y, x + w, y + h)))
    found.sort(key=lambda f: f[1], reverse=True)
    return found


class HogDetector:
    kind = "hog"

    def __init__(self, model_path: Path, labels: tuple[str, ...] | None = None):
        self.model = HogSvmModel.load(model_path)
        names = [c.name for c in self.model.classes]
        # class_id is the index into the configured labels (the model's own names when none match)
        self.labels = tuple(labels) if labels and set(names) <= set(labels) else tuple(names)
        self._descriptors: dict[int, cv2.HOGDescriptor] = {}

    def detect(self, resized_bgr: np.ndarray, threshold: float) -> list[Detection]:
        height, width = resized_bgr.shape[:2]
        detections = []
        for index, score, (x0, y0, x1, y1) in detect_scored(
            self.model, resized_bgr, min_score=max(threshold, 1e-3), descriptors=self._descriptors
        ):
            if score < threshold:
                continue
            name = self.model.classes[index].name
            detections.append(
                Detection(
                    class_id=self.labels.index(name),
                    label=name,
                    score=round(score, 4),
                    box=clip_box(x0, y0, x1, y1, width, height),
                )
            )
        return detections
