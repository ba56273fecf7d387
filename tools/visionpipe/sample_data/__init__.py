"""Sample data for the demo, the tests and the benchmarks: nothing to download.

generate(out, normal=200, anomalous=60, seed=0, video=True) writes
    out/normal/normal_NNN.jpg (every fourth one .png)      defect-free brushed-steel parts
    out/anomalous/<kind>_NNN.jpg                           kind in scratch, dent, stain, crack
    out/video/inspection_pan.mp4                           the part panning under the camera
    out/manifest.json                                      every file -> label, kind, details
and returns the manifest. The same seed gives byte-identical images (each image has its own
random stream derived from the seed, so images can be rendered in parallel).
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from visionpipe.sample_data.defects import KINDS, PAINTERS
from visionpipe.sample_data.surface import normal_surface, sensor_noise
from visionpipe.sample_data.video import VideoSpec, write_video

WIDTH, HEIGHT = 320, 240
SUBTLE_FRACTION = 0.3
MANIFEST = "manifest.json"
_STREAM = {"normal": 1, "anomalous": 2, "video": 3}

__all__ = ["KINDS", "MANIFEST", "generate", "render_image"]


def render_image(
    seed: int, label: str, index: int, kind: str | None = None, width: int = WIDTH, height: int = HEIGHT
) -> tuple[np.ndarray, dict]:
    """One RGB uint8 image and its manifest details; deterministic in (seed, label, index)."""
    rng = np.random.default_rng([seed, _STREAM[label], index])
    texture, lighting = normal_surface(rng, height, width)
    reflectance = np.repeat(texture[..., None], 3, axis=2)
    details: dict = {"label": label, "kind": kind or "normal"}
    if kind is not None:
        subtle = bool(rng.random() < SUBTLE_FRACTION)
        strength = float(rng.uniform(0.25, 0.5) if subtle else rng.uniform(0.55, 1.0))
        margin = 0.15
        center = (
            float(rng.uniform(margin, 1 - margin) * width),
            float(rng.uniform(margin, 1 - margin) * height),
        )
        box = PAINTERS[kind](rng, reflectance, center, strength)
        details.update(subtle=subtle, strength=round(strength, 3), box=list(box))
    return sensor_noise(rng, lighting.apply(reflectance)), details


def _encode(image: np.ndarray, path: Path, quality: int) -> None:
    bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    params = (
        [cv2.IMWRITE_JPEG_QUALITY, quality] if path.suffix == ".jpg" else [cv2.IMWRITE_PNG_COMPRESSION, 3]
    )
    ok, data = cv2.imencode(path.suffix, bgr, params)
    if not ok:
        raise RuntimeError(f"could not encode {path}")
    path.write_bytes(data.tobytes())


def _plan(normal: int, anomalous: int) -> list[tuple[str, str, int, str | None]]:
    """(relative path, label, index, kind) for every image; kinds take turns."""
    plan = []
    for i in range(normal):
        suffix = ".png" if i % 4 == 3 else ".jpg"
        plan.append((f"normal/normal_{i:03d}{suffix}", "normal", i, None))
    counts = dict.fromkeys(KINDS, 0)
    for i in range(anomalous):
        kind = KINDS[i % len(KINDS)]
        plan.append((f"anomalous/{kind}_{counts[kind]:03d}.jpg", "anomalous", i, kind))
        counts[kind] += 1
    return plan


def generate(
    out: str | os.PathLike,
    normal: int = 200,
    anomalous: int = 60,
    seed: int = 0,
    video: bool = True,
    video_spec: VideoSpec | None = None,
    workers: int | None = None,
) -> dict:
    """Write the sample set under out and return its manifest (also written to out/manifest.json)."""
    out = Path(out)
    for folder in ("normal", "anomalous") + (("video",) if video else ()):
        (out / folder).mkdir(parents=True, exist_ok=True)

    def make(item: tuple[str, str, int, str | None]) -> tuple[str, dict]:
        relative, label, index, kind = item
        image, details = render_image(seed, label, index, kind)
        quality = 88 + (index * 7 + seed) % 8  # varied, deterministic JPEG quality
        _encode(image, out / relative, quality)
        return relative, details

    with ThreadPoolExecutor(max_workers=workers or min(8, os.cpu_count() or 1)) as pool:
        files = dict(pool.map(make, _plan(normal, anomalous)))

    if video:
        result = write_video(
            out / "video" / "inspection_pan.mp4", np.random.default_rng([seed, _STREAM["video"]]), video_spec
        )
        files["video/inspection_pan.mp4"] = {
            "label": "video",
            "kind": "pan",
            "codec": result.codec,
            "audio": result.audio,
            "fps": result.fps,
            "frame_count": result.frame_count,
            "duration_s": result.duration_s,
            "width": result.width,
            "height": result.height,
            "defects": result.defects,
        }
    manifest = {
        "seed": seed,
        "image_size": [WIDTH, HEIGHT],
        "counts": {"normal": normal, "anomalous": anomalous, "video": int(video)},
        "kinds": list(KINDS),
        "files": files,
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
    return manifest
