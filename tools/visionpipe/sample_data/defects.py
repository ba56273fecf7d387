"""Surface defects painted onto a part's reflectance (RGB float32, 0..255, modified in place).

Each painter takes the random generator, the reflectance, a centre (x, y) and a strength in 0..1
(below ~0.5 the defect is subtle: thin, faint or small) and returns the defect's bounding box
(x0, y0, x1, y1) in pixels. Defects live on the part, so in a video they move with it.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

Box = tuple[int, int, int, int]


def _blend(reflectance: np.ndarray, mask: np.ndarray, colour, opacity: float) -> None:
    alpha = (np.clip(mask, 0.0, 1.0) * opacity)[..., None]
    reflectance *= 1.0 - alpha
    reflectance += alpha * np.asarray(colour, np.float32)


def _box_of(mask: np.ndarray, threshold: float = 0.05) -> Box:
    ys, xs = np.nonzero(mask > threshold)
    if xs.size == 0:
        return (0, 0, 0, 0)
    return (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)


def scratch(rng: np.random.Generator, reflectance: np.ndarray, center, strength: float) -> Box:
    """A thin straight or slightly curved line, brighter (cut through the finish) or darker."""
    h, w = reflectance.shape[:2]
    length = rng.uniform(0.15, 0.45) * min(h, w) * (0.6 + 0.6 * strength)
    angle = rng.uniform(0.0, np.pi)
    bend = rng.uniform(-0.15, 0.15) * length
    t = np.linspace(-0.5, 0.5, 24)
    xs = center[0] + t * length * np.cos(angle) - np.sin(angle) * bend * (1 - 4 * t * t)
    ys = center[1] + t * length * np.sin(angle) + np.cos(angle) * bend * (1 - 4 * t * t)
    points = np.stack([xs, ys], axis=1)
    mask = np.zeros((h, w), np.float32)
    thickness = 1 if strength < 0.6 else 2
    cv2.polylines(mask, [np.round(points * 4).astype(np.int32)], False, 1.0, thickness, cv2.LINE_AA, shift=2)
    mask = cv2.GaussianBlur(mask, (3, 3), 0.6)
    bright = rng.random() < 0.6
    colour = (235, 238, 242) if bright else (60, 60, 64)
    _blend(reflectance, mask, colour, 0.45 + 0.5 * strength)
    return _box_of(mask)


def dent(rng: np.random.Generator, reflectance: np.ndarray, center, strength: float) -> Box:
    """A shallow round impression: lit on one rim, shadowed on the other (bump shading)."""
    h, w = reflectance.shape[:2]
    radius = rng.uniform(0.035, 0.08) * min(h, w) * (0.7 + 0.6 * strength)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    dx, dy = xs - center[0], ys - center[1]
    depth = np.exp(-(dx * dx + dy * dy) / (2.0 * radius * radius))
    gy, gx = np.gradient(depth)
    light = np.deg2rad(-135.0 + rng.uniform(-20.0, 20.0))
    shading = (gx * np.cos(light) + gy * np.sin(light)) * radius  # ~unitless slope along the light
    gain = 1.0 + (0.25 + 0.45 * strength) * shading - (0.02 + 0.04 * strength) * depth
    reflectance *= gain[..., None]
    return _box_of(np.abs(gain - 1.0), 0.02)


def stain(rng: np.random.Generator, reflectance: np.ndarray, center, strength: float) -> Box:
    """An irregular soft blob of oil, rust or residue tinting the surface."""
    h, w = reflectance.shape[:2]
    radius = rng.uniform(0.05, 0.12) * min(h, w) * (0.6 + 0.7 * strength)
    mask = np.zeros((h, w), np.float32)
    for _ in range(int(rng.integers(3, 7))):
        offset = rng.normal(0.0, radius * 0.45, 2)
        axes = (max(2, int(radius * rng.uniform(0.4, 0.9))), max(2, int(radius * rng.uniform(0.3, 0.8))))
        c = (int(center[0] + offset[0]), int(center[1] + offset[1]))
        cv2.ellipse(mask, c, axes, float(rng.uniform(0, 180)), 0, 360, 1.0, -1, cv2.LINE_AA)
    mask = cv2.GaussianBlur(mask, (0, 0), max(1.5, radius * 0.25))
    colour = [(115, 80, 45), (70, 65, 55), (150, 120, 60)][int(rng.integers(0, 3))]  # rust, oil, residue
    _blend(reflectance, mask, colour, 0.25 + 0.5 * strength)
    return _box_of(mask, 0.1)


def crack(rng: np.random.Generator, reflectance: np.ndarray, center, strength: float) -> Box:
    """A dark jagged fracture line, sometimes branching."""
    h, w = reflectance.shape[:2]
    mask = np.zeros((h, w), np.float32)
    steps = int((12 + 22 * strength) * min(h, w) / 240)
    heading = rng.uniform(0.0, 2 * np.pi)

    def walk(x: float, y: float, heading: float, steps: int, width: int) -> None:
        points = [(x, y)]
        for _ in range(steps):
            heading += rng.normal(0.0, 0.45)
            step = rng.uniform(2.5, 5.0)
            x, y = x + step * np.cos(heading), y + step * np.sin(heading)
            points.append((x, y))
        pts = np.round(np.asarray(points) * 4).astype(np.int32)
        cv2.polylines(mask, [pts], False, 1.0, width, cv2.LINE_AA, shift=2)
        return points

    main = walk(center[0], center[1], heading, steps, 2 if strength > 0.5 else 1)
    walk(center[0], center[1], heading + np.pi, steps // 2, 1)
    for _ in range(int(rng.integers(0, 3))):
        x, y = main[int(rng.integers(1, len(main)))]
        walk(x, y, heading + rng.choice([-1, 1]) * rng.uniform(0.6, 1.2), steps // 3, 1)
    mask = cv2.GaussianBlur(mask, (3, 3), 0.5)
    _blend(reflectance, mask, (28, 26, 26), 0.55 + 0.4 * strength)
    return _box_of(mask)


PAINTERS: dict[str, Callable[..., Box]] = {"scratch": scratch, "dent": dent, "stain": stain, "crack": crack}
KINDS = tuple(PAINTERS)
