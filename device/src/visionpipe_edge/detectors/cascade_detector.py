"""Detection with OpenCV's cascade classifiers: runs with no trained model.

The cascade XML (e.g. `haarcascade_frontalface_default.xml`) is found as given, in the model
directory, or in `cv2.data.haarcascades` (OpenCV 4 wheels). With OpenCV 4 the native
`cv2.CascadeClassifier` runs it; OpenCV 5 removed that class, so the numpy evaluator in
`haar_cascade` runs the same file. A cascade gives votes, not probabilities: the score is
neighbours / (neighbours + minNeighbors), 0.5 at the acceptance limit and rising with agreement.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from visionpipe_edge.detections import Detection, clip_box
from visionpipe_edge.detectors.haar_cascade import HaarCascade


def find_cascade(name: str, model_dir: str | Path | None = None) -> Path:
    candidates = [Path(name)]
    if model_dir:
        candidates.append(Path(model_dir) / name)
    data = getattr(getattr(cv2, "data", None), "haarcascades", None)
    if data:
        candidates.append(Path(data) / name)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"cascade {name!r} not found in {[str(c) for c in candidates]}")


class CascadeDetector:
    kind = "cascade"

    def __init__(
        self,
        cascade_path: Path,
        label: str,
        scale_factor: float = 1.2,
        min_neighbours: int = 3,
        min_size: int = 24,
        prefer_native: bool = True,
    ):
        self.label = label
        self.scale_factor, self.min_neighbours, self.min_size = scale_factor, min_neighbours, min_size
        native = getattr(cv2, "CascadeClassifier", None) if prefer_native else None
        self._native = native(str(cascade_path)) if native else None
        self._numpy = None if self._native is not None else HaarCascade(cascade_path)
        self.engine = "opencv" if self._native is not None else "numpy"

    def _boxes(self, gray: np.ndarray) -> list[tuple[int, int, int, int, int]]:
        size = (self.min_size, self.min_size)
        if self._native is not None:
            boxes, votes = self._native.detectMultiScale2(
                gray, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbours, minSize=size
            )
            return [(*map(int, b), int(n)) for b, n in zip(boxes, votes, strict=True)]
        found = self._numpy.detect(gray, self.scale_factor, self.min_neighbours, min_size=size)
        return [(d.x, d.y, d.width, d.height, d.neighbours) for d in found]

    def detect(self, resized_bgr: np.ndarray, threshold: float) -> list[Detection]:
        gray = cv2.equalizeHist(cv2.cvtColor(resized_bgr, cv2.COLOR_BGR2GRAY))
        height, width = gray.shape
        detections = []
        for x, y, w, h, votes in self._boxes(gray):
            score = votes / (votes + max(self.min_neighbours, 1))
            if score >= threshold:
                box = clip_box(x, y, x + w, y + h, width, height)
                detections.append(Detection(class_id=0, label=self.label, score=round(score, 4), box=box))
        detections.sort(key=lambda d: d.score, reverse=True)
        return detections
