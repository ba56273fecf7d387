"""A short inspection video: a brushed part pans under a fixed camera, defects passing by.

Encoded as H.264 in .mp4 (with a quiet AAC audio track, as camera recordings usually carry) through
PyAV's bundled FFmpeg when it is installed; otherwise OpenCV's writer (H.264 if its FFmpeg has an
encoder, else MPEG-4 Part 2 'mp4v', which every OpenCV build can write and read).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from visionpipe.sample_data.defects import PAINTERS
from visionpipe.sample_data.surface import Lighting, brushed_texture, sensor_noise

AUDIO_RATE = 16000


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


def _hum(seconds: float) -> np.ndarray:
    """Quiet machine hum (100 Hz + harmonics), float32 mono, AUDIO_RATE samples per second."""
    t = np.arange(int(seconds * AUDIO_RATE), dtype=np.float32) / AUDIO_RATE
    signal = 0.05 * np.sin(2 * np.pi * 100 * t) + 0.02 * np.sin(2 * np.pi * 300 * t)
    return signal.astype(np.float32)


def _write_pyav(path: Path, frames: list[np.ndarray], fps: int, seconds: float) -> tuple[str, str | None]:
    import av

    with av.open(str(path), "w", format="mp4") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height = frames[0].shape[1], frames[0].shape[0]
        video.pix_fmt = "yuv420p"
        # Deterministic output: one thread, fixed settings.
        video.options = {"crf": "18", "preset": "veryfast", "threads": "1"}
        video.codec_context.thread_count = 1
        audio = container.add_stream("aac", rate=AUDIO_RATE, layout="mono")
        for frame in frames:
            for packet in video.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        samples = _hum(seconds)
        chunk = 1024
        for start in range(0, samples.size, chunk):
            block = av.AudioFrame.from_ndarray(
                samples[np.newaxis, start : start + chunk], format="flt", layout="mono"
            )
            block.sample_rate = AUDIO_RATE
            block.pts = start
            block.time_base = Fraction(1, AUDIO_RATE)
            for packet in audio.encode(block):
                container.mux(packet)
        for packet in audio.encode():
            container.mux(packet)
    return "h264", "aac"


def _write_opencv(path: Path, frames: list[np.ndarray], fps: int) -> str:
    size = (frames[0].shape[1], frames[0].shape[0])
    for fourcc, codec in (("avc1", "h264"), ("mp4v", "mpeg4")):
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, size)
        if writer.isOpened():
            for frame in frames:
                writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
            writer.release()
            return codec
        writer.release()
    raise RuntimeError("no mp4 video encoder available (install PyAV: pip install av)")


def have_pyav() -> bool:
    try:
        import av  # noqa: F401
    except ImportError:
        return False
    return True


def write_video(path: Path, rng: np.random.Generator, spec: VideoSpec | None = None) -> VideoResult:
    spec = spec or VideoSpec()
    frames, defects = render_frames(rng, spec)
    audio = None
    if have_pyav():
        codec, audio = _write_pyav(path, frames, spec.fps, spec.seconds)
    else:
        codec = _write_opencv(path, frames, spec.fps)
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
