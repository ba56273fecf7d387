"""Where captured video frames live and how their names map back to the source video.

Both frame-capture engines (MediaConvert and OpenCV) write
    <image bucket>/video_inputs/<video path under video_inputs/>/<video stem>_frame.NNNNNNN.jpg
which is MediaConvert's FRAME_CAPTURE naming (<name><modifier>.NNNNNNN.jpg, counting from 0) with
the destination folder named after the video. Frame N was taken at N * interval seconds. The
OpenCV engine also stores the source and time as object metadata; the MediaConvert engine cannot,
so the key alone must be enough.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import PurePosixPath

VIDEO_PREFIX = "video_inputs/"
NAME_MODIFIER = "_frame"
# User metadata written by the OpenCV engine (S3 returns these lower-cased, without x-amz-meta-).
META_SOURCE_BUCKET = "source-bucket"
META_SOURCE_KEY = "source-key"
META_FRAME_TIME = "frame-time"

_FRAME_KEY = re.compile(
    r"^video_inputs/(?P<video>.+)/(?P<stem>[^/]+)" + NAME_MODIFIER + r"\.(?P<index>\d{7})\.jpg$"
)


@dataclass(frozen=True)
class FrameSource:
    video_bucket: str
    video_key: str
    frame_time: float


def frame_folder(video_key: str) -> str:
    """Folder (in the image bucket) that receives the frames of a video uploaded at video_key."""
    relative = video_key[len(VIDEO_PREFIX) :] if video_key.startswith(VIDEO_PREFIX) else video_key
    return f"{VIDEO_PREFIX}{relative}/"


def frame_key(video_key: str, index: int) -> str:
    """Key of the index-th frame (0-based) of a video, exactly as MediaConvert names it."""
    stem = PurePosixPath(video_key).stem
    return f"{frame_folder(video_key)}{stem}{NAME_MODIFIER}.{index:07d}.jpg"


def frame_source(
    key: str, metadata: dict[str, str], video_bucket: str, interval_seconds: float
) -> FrameSource | None:
    """The video a frame came from and its time, or None when the image is not a captured frame.

    Only what our frame capture wrote is trusted: the key must be a frame key under video_inputs/
    (the source video follows from it), and the OpenCV engine's metadata is used only where it
    agrees with the key (same video, in the configured video bucket) and holds a finite time.
    Anything else, such as an upload under image_inputs/ carrying source-key metadata, is judged
    as a plain upload.
    """
    match = _FRAME_KEY.match(key)
    if not match:
        return None
    video_key = VIDEO_PREFIX + match["video"]
    frame_time = int(match["index"]) * interval_seconds
    written_by_capture = (
        metadata.get(META_SOURCE_KEY) == video_key
        and metadata.get(META_SOURCE_BUCKET, video_bucket) == video_bucket
    )
    if written_by_capture:
        frame_time = _finite_seconds(metadata.get(META_FRAME_TIME), frame_time)
    return FrameSource(video_bucket=video_bucket, video_key=video_key, frame_time=frame_time)


def _finite_seconds(value: str | None, fallback: float) -> float:
    try:
        seconds = float(value) if value is not None else fallback
    except ValueError:
        return fallback
    return seconds if math.isfinite(seconds) and seconds >= 0 else fallback
