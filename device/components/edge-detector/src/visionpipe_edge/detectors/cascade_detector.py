"""Detection with OpenCV's cascade classifiers: runs with no trained model.

The cascade XML (e.g. `haarcascade_frontalface_default.xml`) is found as given, in the model
directory, or in `cv2.data.haarcascades` (bundled with the OpenCV 4 wheels; OpenCV 5 dropped
cascade classifiers, which is why the project pins OpenCV below 5). A cascade gives votes, not
probabilities: the score is neighbours / (neighbours + minNeighbors), 0.5 at the acceptance limit
and rising with agreement.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from visionpipe_edge.detections import Detection, clip_box


class CascadeFormatError(ValueError):
    """The file is not a cascade OpenCV can load."""


def find_cascade(name: str, model_dir: str | Path | None = None) -> Path:
    candidates = [Path(name)]
    if model_dir:
        candidates.append(Path(model_dir) / name)
    candidates.append(Path(cv2.data.haarcascades) / name)
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
    ):
        self.label = label
        self.scale_factor, self.min_neighbours, self.min_size = scale_factor, min_neighbours, min_size
        try:
            self._classifier = cv2.CascadeClassifier(str(cascade_path))
        except (cv2.error, SystemError) as error:  # OpenCV raises on XML it cannot parse
            raise CascadeFormatError(f"{cascade_path} is not a cascade classifier OpenCV can load") from error
        if self._classifier.empty():
            raise CascadeFormatError(f"{cascade_path} is not a cascade classifier OpenCV can load")

    def detect(self, resized_bgr: np.ndarray, threshold: float) -> list[Detection]:
        gray = cv2.equalizeHist(cv2.cvtColor(resized_bgr, cv2.COLOR_BGR2GRAY))
        height, width = gray.shape
        boxes, votes = self._classifier.detectMultiScale2(
            gray,
            scaleFactor=self.scale_factor,
            minNeighbors=self.min_neighbours,
            minSize=(self.min_size, self.min_size),
        )
        if len(boxes) != len(votes):  # one vote count per box (zip(strict=True) needs Python 3.10)
            raise ValueError(f"detectMultiScale2 returned {len(boxes)} boxes and {len(votes)} vote counts")
        detections = []
        for (x, y, w, h), neighbours in zip(boxes, votes):
            score = int(neighbours) / (int(neighbours) + max(self.min_neighbours, 1))
            if score >= threshold:
                box = clip_box(int(x), int(y), int(x + w), int(y + h), width, height)
                detections.append(Detection(class_id=0, label=self.label, score=round(score, 4), box=box))
        detections.sort(key=lambda d: d.score, reverse=True)
        return detections
