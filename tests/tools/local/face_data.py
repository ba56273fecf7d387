"""Camera-like training data from real photographs, labelled the way the edge camera labels it.

Frames: a real photograph (scikit-image's bundled coffee, chelsea, brick, rocket, ...) as the
scene, with one or two real faces from scikit-image's LFW subset (100 different 25x25 face
crops) enlarged into it. Labels: the boxes the edge device's own detector (OpenCV's frontal-face
Haar cascade, visionpipe_edge.CascadeDetector) finds on the model input, scaled to the frame and
written with the device's build_training_annotation: exactly the SageMaker annotation the camera
uploads. Frames where the cascade finds nothing are skipped, as the camera writes nothing then.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache

import cv2
import numpy as np
from skimage import data
from visionpipe_edge.detections import scale_detections
from visionpipe_edge.detectors.cascade_detector import CascadeDetector, find_cascade
from visionpipe_edge.records import build_training_annotation

SCENES = ("coffee", "chelsea", "brick", "rocket", "grass", "gravel", "astronaut", "camera", "moon", "page")
FRAME = (640, 480)
MODEL_INPUT = (320, 240)


@cache
def faces() -> np.ndarray:
    return (data.lfw_subset()[:100] * 255).astype(np.uint8)  # the first 100 are faces


@cache
def scene(name: str) -> np.ndarray:
    image = getattr(data, name)()
    image = (
        cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        if image.ndim == 2
        else cv2.cvtColor(image[..., :3], cv2.COLOR_RGB2BGR)
    )
    return cv2.resize(image, FRAME, interpolation=cv2.INTER_AREA)


@cache
def cascade() -> CascadeDetector:
    return CascadeDetector(find_cascade("haarcascade_frontalface_default.xml"), label="face")


@dataclass
class Frame:
    name: str
    image: np.ndarray  # BGR, FRAME size
    annotation: dict  # SageMaker object-detection JSON (the device's)

    @property
    def jpeg(self) -> bytes:
        return cv2.imencode(".jpg", self.image, [cv2.IMWRITE_JPEG_QUALITY, 92])[1].tobytes()

    @property
    def annotation_json(self) -> bytes:
        return json.dumps(self.annotation).encode()

    @property
    def boxes(self) -> list[tuple[int, int, int, int]]:
        return [
            (a["left"], a["top"], a["left"] + a["width"], a["top"] + a["height"])
            for a in self.annotation["annotations"]
        ]


def camera_frames(
    count: int, face_ids: range, seed: int, prefix: str = "raw_cam", sizes: tuple[int, int] = (90, 150)
) -> list[Frame]:
    """`count` labelled frames using faces face_ids (disjoint ranges give unseen people)."""
    rng = np.random.default_rng(seed)
    frames: list[Frame] = []
    attempt = 0
    while len(frames) < count:
        attempt += 1
        image = scene(SCENES[int(rng.integers(len(SCENES)))]).copy()
        placed: list[tuple[int, int, int, int]] = []
        for _ in range(int(rng.integers(1, 3))):
            size = int(rng.integers(*sizes))
            x, y = int(rng.integers(0, FRAME[0] - size)), int(rng.integers(0, FRAME[1] - size))
            if any(x < b[2] and b[0] < x + size and y < b[3] and b[1] < y + size for b in placed):
                continue
            face = cv2.resize(faces()[int(rng.choice(face_ids))], (size, size), interpolation=cv2.INTER_CUBIC)
            image[y : y + size, x : x + size] = cv2.cvtColor(face, cv2.COLOR_GRAY2BGR)
            placed.append((x, y, x + size, y + size))
        resized = cv2.resize(image, MODEL_INPUT, interpolation=cv2.INTER_AREA)
        found = scale_detections(cascade().detect(resized, 0.5), MODEL_INPUT, FRAME)
        if not found:
            continue
        name = f"{prefix}_20261121-09{attempt // 60 % 60:02d}{attempt % 60:02d}.jpg"
        annotation = build_training_annotation(name, found, FRAME, ("face",))
        frames.append(Frame(name, image, annotation))
    return frames
