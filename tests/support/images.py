"""Real images encoded by real codecs (Pillow's libjpeg and zlib), made on the fly."""

import io

import numpy as np
from PIL import Image


def textured_rgb(width: int = 64, height: int = 48, seed: int = 0, brightness: int = 80) -> Image.Image:
    rng = np.random.default_rng(seed)
    base = np.full((height, width, 3), brightness, dtype=np.int16)
    noise = rng.integers(-20, 20, size=(height, width, 3))
    return Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8), "RGB")


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def jpeg_bytes(width=64, height=48, seed=0, brightness=80) -> bytes:
    return encode(textured_rgb(width, height, seed, brightness), "JPEG", quality=90)


def png_bytes(width=64, height=48, seed=0, brightness=80) -> bytes:
    return encode(textured_rgb(width, height, seed, brightness), "PNG")
