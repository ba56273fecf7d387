"""Where frames come from: a camera index, a video file, an RTSP/HTTP URL (OpenCV), or `awscam`.

`open_source("0")` is the first camera, `open_source("clip.mp4")` a file, `open_source("rtsp://...")`
a stream, `open_source("awscam")` the DeepLens camera (only where the `awscam` module exists).
Every source yields BGR frames (numpy uint8, H x W x 3) and ends with StopIteration.
"""

from __future__ import annotations

import importlib
import logging
import os
import stat
import sys
import time
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np

LOG = logging.getLogger(__name__)
STREAM_PREFIXES = ("rtsp://", "rtsps://", "http://", "https://", "rtmp://", "udp://", "tcp://")


class FrameSourceError(RuntimeError):
    """The source could not be opened."""


class CameraAccessError(FrameSourceError):
    """The camera's device file exists but this process may not open it. Retrying cannot help: a
    process's groups are fixed when it starts, so the fix (joining the device's group) needs a restart."""


def _name(lookup: Callable[[int], Any], number: int) -> str:
    """A user or group name (pwd.getpwuid / grp.getgrgid), or the number if it has none."""
    try:
        return str(lookup(number)[0])
    except KeyError:
        return str(number)


def camera_error(
    index: int,
    dev: str | Path = "/dev",
    access: Callable[[Path, int], bool] = os.access,
    groups: Collection[int] | None = None,
    user: str | None = None,
) -> FrameSourceError:
    """Why camera <index> did not open, as far as its V4L2 device file /dev/video<index> tells.

    The usual cause on a Greengrass core: the component runs as ggc_user, who is not in the group
    owning /dev/video* (`video`). groups: this process's (default: os.getgroups() + egid).
    """
    base = f"cannot open camera:{index}"
    if not sys.platform.startswith("linux"):
        return FrameSourceError(base)
    path = Path(dev) / f"video{index}"
    try:
        info = path.stat()
    except FileNotFoundError:
        return FrameSourceError(
            f"{base}: {path} does not exist (no camera at index {index}, or its driver is not loaded; "
            "`ls /dev/video*` lists the cameras)"
        )
    except OSError as error:
        return FrameSourceError(f"{base}: {path}: {error.strerror}")
    if access(path, os.R_OK | os.W_OK):
        return FrameSourceError(
            f"{base}: {path} is accessible (busy in another process, or not a capture device?)"
        )
    import grp
    import pwd

    user = user or _name(pwd.getpwuid, os.geteuid())
    group = _name(grp.getgrgid, info.st_gid)
    groups = set(os.getgroups()) | {os.getegid()} if groups is None else set(groups)
    mode = stat.filemode(info.st_mode)
    if info.st_gid not in groups and info.st_mode & stat.S_IRGRP and info.st_mode & stat.S_IWGRP:
        return CameraAccessError(
            f"{base}: {path} ({mode}, group {group}) cannot be opened by user {user}, who is not in "
            f"group {group}. Fix: `sudo usermod -aG {group} {user}`, then restart this process (on a "
            "Greengrass core: restart the component, or `sudo systemctl restart greengrass`)"
        )
    owner = _name(pwd.getpwuid, info.st_uid)
    return CameraAccessError(f"{base}: user {user} may not read and write {path} ({mode}, {owner}:{group})")


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
            raise (
                camera_error(int(self.spec))
                if self.kind == "camera"
                else FrameSourceError(f"cannot open {self.name}")
            )
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
