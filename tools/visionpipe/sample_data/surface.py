"""Defect-free brushed-metal surface as a camera sees it: texture, lighting, pose, sensor noise.

The surface is modelled in two layers so a video can move the part under a fixed camera:
- `brushed_texture`: reflectance of the part (brushing streaks, grain, faint machining marks),
  which moves with the part;
- `Lighting`: what belongs to the camera and lamp (gradient, vignetting, exposure), fixed in the frame.
All arrays are float32 in 0..255, shape (height, width, 3), RGB.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

METAL_TINT = np.array([0.97, 1.0, 1.035], np.float32)  # a cool, slightly bluish steel


def brushed_texture(rng: np.random.Generator, height: int, width: int, angle_deg: float = 0.0) -> np.ndarray:
    """Reflectance (grey, mean ~150) of brushed steel, brushing direction rotated by angle_deg."""
    pad = int(0.25 * max(height, width)) + 8
    h, w = height + 2 * pad, width + 2 * pad
    # Brushing: white noise smeared along the brushing direction at two lengths.
    long_streaks = cv2.blur(rng.standard_normal((h, w), dtype=np.float32), (61, 1))
    short_streaks = cv2.blur(rng.standard_normal((h, w), dtype=np.float32), (17, 1))
    # Slow variations of the finish across the part.
    low = cv2.resize(
        rng.standard_normal((max(h // 48, 2), max(w // 48, 2)), dtype=np.float32),
        (w, h),
        interpolation=cv2.INTER_CUBIC,
    )
    texture = 150.0 + 55.0 * long_streaks + 14.0 * short_streaks + 5.0 * low
    if angle_deg:
        rotation = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), angle_deg, 1.0)
        texture = cv2.warpAffine(
            texture, rotation, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
        )
    return texture[pad : pad + height, pad : pad + width]


@dataclass(frozen=True)
class Lighting:
    """Lamp and camera: a linear light gradient, vignetting, exposure and contrast."""

    direction_deg: float = -135.0  # light comes from the top left
    gradient: float = 0.18  # relative brightness change across the frame
    vignette: float = 0.22
    exposure: float = 1.0
    contrast: float = 1.0

    @classmethod
    def random(cls, rng: np.random.Generator) -> Lighting:
        return cls(
            direction_deg=float(rng.uniform(-150.0, -120.0)),
            gradient=float(rng.uniform(0.12, 0.24)),
            vignette=float(rng.uniform(0.16, 0.28)),
            exposure=float(rng.uniform(0.9, 1.1)),
            contrast=float(rng.uniform(0.9, 1.1)),
        )

    def field(self, height: int, width: int) -> np.ndarray:
        """Multiplicative illumination, shape (height, width)."""
        ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
        u, v = (xs - width / 2.0) / width, (ys - height / 2.0) / height
        angle = np.deg2rad(self.direction_deg)
        ramp = 1.0 - self.gradient * (u * np.cos(angle) + v * np.sin(angle)) * 2.0
        falloff = 1.0 - self.vignette * (u * u + v * v) * 2.0
        return (ramp * falloff * self.exposure).astype(np.float32)

    def apply(self, reflectance: np.ndarray) -> np.ndarray:
        """Grey (h, w) or RGB (h, w, 3) reflectance -> RGB image as lit and seen by the camera."""
        grey = reflectance if reflectance.ndim == 2 else None
        rgb = np.repeat(grey[..., None], 3, axis=2) if grey is not None else reflectance
        mean = 150.0
        rgb = (rgb - mean) * self.contrast + mean
        lit = rgb * self.field(*rgb.shape[:2])[..., None] * METAL_TINT
        return lit.astype(np.float32)


def sensor_noise(rng: np.random.Generator, image: np.ndarray, sigma: float = 2.5) -> np.ndarray:
    noisy = image + rng.normal(0.0, sigma, image.shape).astype(np.float32)
    return np.clip(noisy, 0.0, 255.0).astype(np.uint8)


def normal_surface(rng: np.random.Generator, height: int, width: int) -> tuple[np.ndarray, Lighting]:
    """Lit reflectance of a defect-free part at a slightly random pose; noise is added last."""
    texture = brushed_texture(rng, height, width, angle_deg=float(rng.uniform(-3.0, 3.0)))
    lighting = Lighting.random(rng)
    return texture, lighting
