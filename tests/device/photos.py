"""Real photographs (scikit-image's bundled, offline data) and videos of them written with OpenCV."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from skimage import data

FRAME_SIZE = (1280, 960)  # full frame (w, h); the default model input is 320x240: boxes scale by 4


def photograph(name: str) -> np.ndarray:
    """A bundled photograph as BGR uint8 (astronaut: Eileen Collins, a frontal face)."""
    image = getattr(data, name)()
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    return cv2.cvtColor(image[..., :3], cv2.COLOR_RGB2BGR)


def place(
    photo: np.ndarray, size: tuple[int, int] = FRAME_SIZE, scale: float = 1.0, offset=(0, 0)
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
    assert writer.isOpened(), "OpenCV cannot write MJPG video"
    for frame in frames:
        for _ in range(repeat):
            writer.write(frame)
    writer.release()
    return path
