"""Where frames come from: a camera index, a video file, an RTSP/HTTP URL (OpenCV), or `awscam`.

`open_source("0")` is the first camera, `open_source("clip.mp4")` a file, `open_source("rtsp://...")`
a stream, `open_source("awscam")` the DeepLens camera (only where the `awscam` module exists).
Every source yields BGR frames (numpy uint8, H x W x 3) and ends with StopIteration.
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

LOG = logging.getLogger(__name__)
STREAM_PREFIXES = ("rtsp://", "rtsps://", "http://", "https://", "rtmp://", "udp://", "tcp://")


class FrameSourceError(RuntimeError):
    """The source could not be opened."""


class FrameSource:
    name = "source"

    def read(self) -> np.ndarray | None:
        """The next frame, or None when the source has ended."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the device or file."""

    def __iter__(self) -> Iterator[np.ndarray]:
        while (frame := self.read()) is not None:
            yield frame

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class OpenCvSource(FrameSource):
    """cv2.VideoCapture over a camera index, a file or a stream URL.

    loop: restart a file at its end (demo cameras). realtime: pace a file to its own frame rate
    (cameras and streams pace themselves). Streams reconnect after a read failure.
    """

    def __init__(self, spec: str, loop: bool = False, realtime: bool = False, reconnect_seconds: float = 2.0):
        self.spec = spec
        self.kind = (
            "camera" if spec.isdigit() else "stream" if spec.lower().startswith(STREAM_PREFIXES) else "file"
        )
        if self.kind == "file" and not Path(spec).is_file():
            raise FrameSourceError(f"video file not found: {spec}")
        self.name = f"{self.kind}:{spec}"
        self.loop = loop and self.kind == "file"
        self.realtime = realtime and self.kind == "file"
        self.reconnect_seconds = reconnect_seconds
        self._capture = self._open()
        fps = self._capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps if fps and fps > 0 else 0.0
        self._next_due = 0.0

    def _open(self) -> cv2.VideoCapture:
        capture = cv2.VideoCapture(int(self.spec) if self.kind == "camera" else self.spec)
        if not capture.isOpened():
            raise FrameSourceError(f"cannot open {self.name}")
        return capture

    def read(self) -> np.ndarray | None:
        ok, frame = self._capture.read()
        if not ok and self.loop:
            self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = self._capture.read()
        if not ok and self.kind == "stream":
            LOG.warning("%s: read failed, reconnecting in %.1fs", self.name, self.reconnect_seconds)
            self._capture.release()
            time.sleep(self.reconnect_seconds)
            try:
                self._capture = self._open()
            except FrameSourceError:
                return None
            ok, frame = self._capture.read()
        if not ok:
            return None
        if self.realtime and self.fps:
            now = time.monotonic()
            if self._next_due > now:
                time.sleep(self._next_due - now)
            self._next_due = max(now, self._next_due) + 1.0 / self.fps
        return frame

    def close(self) -> None:
        self._capture.release()


class AwscamSource(FrameSource):
    """The DeepLens camera through `awscam.getLastFrame()` (present only on a DeepLens)."""

    name = "awscam"

    def __init__(self) -> None:
        try:
            self._awscam = importlib.import_module("awscam")
        except ImportError as error:
            raise FrameSourceError("awscam is not installed (it exists only on an AWS DeepLens)") from error

    def read(self) -> np.ndarray | None:
        ok, frame = self._awscam.getLastFrame()
        if not ok:
            raise FrameSourceError("awscam.getLastFrame() returned no frame")
        return frame


def open_source(spec: str, loop: bool = False, realtime: bool = False) -> FrameSource:
    """The frame source a `frameSource` setting names."""
    spec = str(spec).strip()
    if spec.lower() == "awscam":
        return AwscamSource()
    return OpenCvSource(spec, loop=loop, realtime=realtime)
