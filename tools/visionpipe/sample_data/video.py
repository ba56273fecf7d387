"""A short inspection video: a brushed part pans under a fixed camera, defects passing by.

Encoded as H.264 in .mp4 with a quiet AAC audio track, as camera recordings usually carry, by the
static ffmpeg that imageio-ffmpeg ships (OpenCV's pip build has no H.264 encoder).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from visionpipe.sample_data.defects import PAINTERS
from visionpipe.sample_data.surface import Lighting, brushed_texture, sensor_noise
from visionpipe.synthetic_video import encode_frames


@dataclass
class VideoSpec:
    width: int = 320
    height: int = 240
    fps: int = 15
    seconds: float = 12.0
    speed: float = 80.0  # pixels per second the part moves to the left (a defect is in view ~4 s)
    defects: tuple[tuple[str, float], ...] = (("scratch", 3.0), ("stain", 9.0))  # kind, time at frame centre


@dataclass
class VideoResult:
    path: Path
    codec: str
    frame_count: int
    fps: int
    duration_s: float
    width: int
    height: int
    audio: str | None
    defects: list[dict] = field(default_factory=list)


def render_frames(rng: np.random.Generator, spec: VideoSpec) -> tuple[list[np.ndarray], list[dict]]:
    """RGB uint8 frames, and each defect with the time span it is (at least partly) in view."""
    frame_count = int(round(spec.fps * spec.seconds))
    travel = spec.speed * (frame_count - 1) / spec.fps
    strip_width = int(np.ceil(spec.width + travel)) + 2
    reflectance = np.repeat(brushed_texture(rng, spec.height, strip_width)[..., None], 3, axis=2)
    lighting = Lighting(exposure=float(rng.uniform(0.95, 1.05)))
    defects = []
    for kind, at_time in spec.defects:
        # The part point at the frame centre at time t sits at strip x = width / 2 + speed * t.
        center = (spec.width / 2.0 + spec.speed * at_time, spec.height * float(rng.uniform(0.3, 0.7)))
        x0, y0, x1, y1 = PAINTERS[kind](rng, reflectance, center, float(rng.uniform(0.7, 1.0)))
        # Visible while the strip window [speed*t, speed*t + width) overlaps [x0, x1).
        start = max(0.0, (x0 - spec.width) / spec.speed)
        end = min(spec.seconds, x1 / spec.speed)
        defects.append(
            {
                "kind": kind,
                "visible_from_s": round(start, 3),
                "visible_to_s": round(end, 3),
                "box_on_part": [x0, y0, x1, y1],
            }
        )
    frames = []
    for index in range(frame_count):
        shift = spec.speed * index / spec.fps
        # Sub-pixel pan: translate the strip, then cut the camera's window.
        matrix = np.float32([[1, 0, -shift], [0, 1, 0]])
        window = cv2.warpAffine(reflectance, matrix, (spec.width, spec.height), flags=cv2.INTER_LINEAR)
        frames.append(sensor_noise(rng, lighting.apply(window), sigma=2.0))
    return frames, defects


def write_video(path: Path, rng: np.random.Generator, spec: VideoSpec | None = None) -> VideoResult:
    spec = spec or VideoSpec()
    frames, defects = render_frames(rng, spec)
    encode_frames(path, frames, spec.fps, audio=True)
    codec, audio = "h264", "aac"
    return VideoResult(
        path=path,
        codec=codec,
        frame_count=len(frames),
        fps=spec.fps,
        duration_s=len(frames) / spec.fps,
        width=spec.width,
        height=spec.height,
        audio=audio,
        defects=defects,
    )
