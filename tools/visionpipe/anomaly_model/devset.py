"""The development set: crops of scikit-image's real photographs with defects drawn on them.

Each texture is one real photograph that scikit-image ships (moon, immunohistochemistry, hubble deep
field, retina, cell, coins, camera). A "part" is a random crop of it, resized to 256 x 256; every
image, normal or not, gets mild normal variation (brightness x0.85..1.15, a slight blur, JPEG quality
70), so false positives on ordinary variation show. Anomalous crops get one defect before that:
scratch, crack, stain (the generator's painters), hole (drawn here) or subtle (any of them, faint).

scikit-image's brick, gravel and grass photographs are never used (held out for acceptance).

Layout written for one texture (names `<kind>_NNN` as `visionpipe evaluate` reads them):
    <out>/<texture>/train/normal_NNN.jpg            what train-anomaly is given
    <out>/<texture>/test/normal/normal_NNN.jpg      held out, never seen by training
    <out>/<texture>/test/anomalous/<kind>_NNN.jpg
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from visionpipe.sample_data import defects

SIZE = 256
DEFECT_KINDS = ("scratch", "crack", "stain", "hole", "subtle")


def _rgb(array: np.ndarray) -> np.ndarray:
    return np.repeat(array[..., None], 3, axis=2) if array.ndim == 2 else array[..., :3]


@dataclass(frozen=True)
class Texture:
    name: str
    load: Callable[[], np.ndarray]  # RGB uint8
    crop: int  # crop side in source pixels
    region: tuple[int, int, int, int] | None = None  # (y0, x0, y1, x1) to crop within


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from skimage import data

        return _rgb(getattr(data, name)())

    return load


TEXTURES: dict[str, Texture] = {
    t.name: t
    for t in (
        Texture("moon", _skimage("moon"), 160),
        Texture("ihc", _skimage("immunohistochemistry"), 160),
        Texture("hubble", _skimage("hubble_deep_field"), 200),
        # The fundus fills a disc; stay inside it (no black corners).
        Texture("retina", _skimage("retina"), 240, region=(300, 300, 1110, 1110)),
        Texture("cell", _skimage("cell"), 180),
        Texture("coins", _skimage("coins"), 128),
        Texture("camera", _skimage("camera"), 160),
    )
}


def hole(rng: np.random.Generator, reflectance: np.ndarray, center, strength: float) -> defects.Box:
    """A round hole: a dark disc with a lit rim on one side."""
    h, w = reflectance.shape[:2]
    radius = rng.uniform(0.025, 0.05) * min(h, w) * (0.6 + 0.8 * strength)
    mask = np.zeros((h, w), np.float32)
    rim = np.zeros((h, w), np.float32)
    c = (int(center[0]), int(center[1]))
    cv2.circle(mask, c, max(2, int(radius)), 1.0, -1, cv2.LINE_AA)
    offset = (int(center[0] - radius * 0.25), int(center[1] - radius * 0.25))
    cv2.circle(rim, offset, max(3, int(radius * 1.2)), 1.0, max(1, int(radius * 0.2)), cv2.LINE_AA)
    rim = cv2.GaussianBlur(rim * (1.0 - mask), (0, 0), 1.0)
    defects._blend(reflectance, rim, (225, 225, 225), 0.3 + 0.4 * strength)
    defects._blend(reflectance, cv2.GaussianBlur(mask, (0, 0), 0.8), (12, 10, 10), 0.7 + 0.3 * strength)
    return defects._box_of(np.maximum(mask, rim))


PAINTERS = {"scratch": defects.scratch, "crack": defects.crack, "stain": defects.stain, "hole": hole}


def crop(rng: np.random.Generator, source: np.ndarray, texture: Texture) -> np.ndarray:
    """A random crop of the photograph, resized to SIZE x SIZE (RGB float32 0..255)."""
    y0, x0, y1, x1 = texture.region or (0, 0, source.shape[0], source.shape[1])
    side = min(texture.crop, y1 - y0, x1 - x0)
    y = int(rng.integers(y0, y1 - side + 1))
    x = int(rng.integers(x0, x1 - side + 1))
    patch = source[y : y + side, x : x + side]
    return cv2.resize(patch, (SIZE, SIZE), interpolation=cv2.INTER_AREA).astype(np.float32)


def paint(rng: np.random.Generator, image: np.ndarray, kind: str) -> defects.Box:
    """Draw one defect of `kind` (subtle: a faint scratch, crack, stain or hole) in place."""
    if kind == "subtle":
        painter = PAINTERS[str(rng.choice(sorted(PAINTERS)))]
        strength = float(rng.uniform(0.15, 0.35))
    else:
        painter = PAINTERS[kind]
        strength = float(rng.uniform(0.5, 1.0))
    margin = SIZE * 0.2
    center = (float(rng.uniform(margin, SIZE - margin)), float(rng.uniform(margin, SIZE - margin)))
    return painter(rng, image, center, strength)


def vary(rng: np.random.Generator, image: np.ndarray, quality: int = 70) -> bytes:
    """Mild normal variation: brightness x0.85..1.15, blur sigma 0..0.8, then JPEG at `quality`."""
    varied = image * float(rng.uniform(0.85, 1.15))
    sigma = float(rng.uniform(0.0, 0.8))
    if sigma > 0.1:
        varied = cv2.GaussianBlur(varied, (0, 0), sigma)
    pixels = np.clip(varied, 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def build(
    out: str | Path, texture: str, train: int = 60, test_normal: int = 60, per_kind: int = 12, seed: int = 0
) -> Path:
    """Write one texture's train and test folders under out/texture; returns that folder."""
    spec = TEXTURES[texture]
    rng = np.random.default_rng([seed, sorted(TEXTURES).index(texture)])
    source = spec.load().astype(np.uint8)
    root = Path(out) / texture
    for folder in (root / "train", root / "test" / "normal", root / "test" / "anomalous"):
        folder.mkdir(parents=True, exist_ok=True)
    for i in range(train):
        (root / "train" / f"normal_{i:03d}.jpg").write_bytes(vary(rng, crop(rng, source, spec)))
    for i in range(test_normal):
        (root / "test" / "normal" / f"normal_{i:03d}.jpg").write_bytes(vary(rng, crop(rng, source, spec)))
    for kind in DEFECT_KINDS:
        for i in range(per_kind):
            image = crop(rng, source, spec)
            paint(rng, image, kind)
            (root / "test" / "anomalous" / f"{kind}_{i:03d}.jpg").write_bytes(vary(rng, image))
    return root
