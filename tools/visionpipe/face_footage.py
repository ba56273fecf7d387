"""Real photographs with faces, as camera footage and as labelled camera frames (offline).

scikit-image bundles real photographs (a dev dependency, installed by `make install`); nothing is
downloaded. Two uses:

- Footage for the edge camera: a photograph (astronaut: Eileen Collins, a frontal face; coffee and
  chelsea: no face) placed on a mid-grey 1280x960 canvas, written as an MJPEG AVI that OpenCV's own
  codec decodes again (`face_frames`, `no_face_frames`, `write_video`). Used by `visionpipe demo`,
  the device tests and the device benchmark.
- Labelled frames for retraining: a real scene (coffee, chelsea, rocket, ...) with one or two real
  faces from scikit-image's LFW subset (100 different 25x25 face crops) enlarged into it, labelled
  the way the camera labels it: the boxes the device's own detector (OpenCV's frontal-face Haar
  cascade, visionpipe_edge.CascadeDetector) finds on the model input, scaled to the frame and written
  with the device's build_training_annotation. Frames where the cascade finds nothing are skipped, as
  the camera writes nothing then (`camera_frames`, `write_channels`: the four SageMaker channels that
  `visionpipe dataset upload` takes).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import cv2
import numpy as np
from skimage import data
from visionpipe_edge.detections import scale_detections
from visionpipe_edge.detectors.cascade_detector import CascadeDetector, find_cascade
from visionpipe_edge.records import build_training_annotation

from visionpipe_common.retraining.annotations import CLASS_MAP_FILE, ClassMap

# ------------------------------------------------------------------------------------ footage
PHOTO_FRAME_SIZE = (1280, 960)  # full frame (w, h); the default model input is 320x240: boxes scale by 4


def photograph(name: str) -> np.ndarray:
    """A bundled photograph as BGR uint8 (astronaut: Eileen Collins, a frontal face)."""
    image = getattr(data, name)()
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    return cv2.cvtColor(image[..., :3], cv2.COLOR_RGB2BGR)


def place(
    photo: np.ndarray, size: tuple[int, int] = PHOTO_FRAME_SIZE, scale: float = 1.0, offset=(0, 0)
) -> np.ndarray:
    """The photo scaled (aspect kept) onto a mid-grey canvas of `size`, top-left at `offset`."""
    canvas = np.full((size[1], size[0], 3), 110, np.uint8)
    height = int(min(size[1], size[0] * photo.shape[0] / photo.shape[1]) * scale)
    width = int(height * photo.shape[1] / photo.shape[0])
    resized = cv2.resize(photo, (width, height), interpolation=cv2.INTER_AREA)
    x, y = offset
    canvas[y : y + height, x : x + width] = resized[: size[1] - y, : size[0] - x]
    return canvas


def face_frames() -> list[np.ndarray]:
    astronaut = photograph("astronaut")
    return [
        place(astronaut, offset=(160, 0)),
        place(astronaut, offset=(320, 0)),
        place(cv2.flip(astronaut, 1), offset=(0, 0)),
    ]


def no_face_frames() -> list[np.ndarray]:
    return [place(photograph("coffee")), place(photograph("chelsea"))]


def write_video(path: Path, frames: list[np.ndarray], fps: float = 5.0, repeat: int = 1) -> Path:
    """An MJPEG AVI (decoded again by OpenCV's own codec) of the frames, each shown `repeat` times."""
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
    if not writer.isOpened():
        raise RuntimeError("OpenCV cannot write MJPG video")
    for frame in frames:
        for _ in range(repeat):
            writer.write(frame)
    writer.release()
    return path


# ------------------------------------------------------------------------------------ labelled frames
# scikit-image's brick, gravel and grass photographs are held out for acceptance: never used here
SCENES = (
    "coffee",
    "chelsea",
    "rocket",
    "astronaut",
    "camera",
    "moon",
    "hubble_deep_field",
    "coins",
    "retina",
    "immunohistochemistry",
)
CAMERA_FRAME = (640, 480)
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
    return cv2.resize(image, CAMERA_FRAME, interpolation=cv2.INTER_AREA)


@cache
def cascade() -> CascadeDetector:
    return CascadeDetector(find_cascade("haarcascade_frontalface_default.xml"), label="face")


@dataclass
class Frame:
    name: str
    image: np.ndarray  # BGR, CAMERA_FRAME size
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
            x, y = int(rng.integers(0, CAMERA_FRAME[0] - size)), int(rng.integers(0, CAMERA_FRAME[1] - size))
            if any(x < b[2] and b[0] < x + size and y < b[3] and b[1] < y + size for b in placed):
                continue
            face = cv2.resize(faces()[int(rng.choice(face_ids))], (size, size), interpolation=cv2.INTER_CUBIC)
            image[y : y + size, x : x + size] = cv2.cvtColor(face, cv2.COLOR_GRAY2BGR)
            placed.append((x, y, x + size, y + size))
        resized = cv2.resize(image, MODEL_INPUT, interpolation=cv2.INTER_AREA)
        found = scale_detections(cascade().detect(resized, 0.5), MODEL_INPUT, CAMERA_FRAME)
        if not found:
            continue
        name = f"{prefix}_20261121-09{attempt // 60 % 60:02d}{attempt % 60:02d}.jpg"
        annotation = build_training_annotation(name, found, CAMERA_FRAME, ("face",))
        frames.append(Frame(name, image, annotation))
    return frames


def write_channels(folder: Path, train: list[Frame], validation: list[Frame]) -> Path:
    """The four channel folders and class_map.json, as `visionpipe dataset split` writes them."""
    for side, frames in (("train", train), ("validation", validation)):
        (folder / side).mkdir(parents=True)
        (folder / f"{side}_annotation").mkdir()
        for frame in frames:
            (folder / side / frame.name).write_bytes(frame.jpeg)
            (folder / f"{side}_annotation" / frame.name.replace(".jpg", ".json")).write_bytes(
                frame.annotation_json
            )
    (folder / CLASS_MAP_FILE).write_text(ClassMap.from_names(["face"]).to_json())
    return folder
