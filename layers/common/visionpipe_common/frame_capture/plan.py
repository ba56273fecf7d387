"""Which frames a video yields and where they go: the contract both engines honour.

MediaConvert's FRAME_CAPTURE at one frame every `interval` seconds takes frame N at N * interval,
counting from 0, up to MaxCaptures, and only while the video lasts. A video shorter than one
interval still yields frame 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from visionpipe_common.anomaly.frames import frame_key


@dataclass(frozen=True)
class FrameTarget:
    index: int
    time_seconds: float
    key: str  # in the image bucket


def capture_count(duration_seconds: float, interval_seconds: float, max_captures: int) -> int:
    """Number of frames at 0, interval, 2*interval, ... strictly before the end of the video."""
    if duration_seconds <= 0:
        return 0
    within = math.ceil(round(duration_seconds / interval_seconds, 6))
    return max(1, min(max_captures, within))


def capture_plan(
    video_key: str, duration_seconds: float, interval_seconds: float, max_captures: int
) -> list[FrameTarget]:
    count = capture_count(duration_seconds, interval_seconds, max_captures)
    return [
        FrameTarget(index=i, time_seconds=round(i * interval_seconds, 6), key=frame_key(video_key, i))
        for i in range(count)
    ]
