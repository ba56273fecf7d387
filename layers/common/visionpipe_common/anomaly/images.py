"""Tell an image's real type from its bytes and decode it safely, as it looks.

Every JPEG/PNG mode becomes the 8-bit RGB a viewer shows: 16-bit grayscale scaled (not clipped to
white), grayscale and palette expanded, alpha composited on white, CMYK converted, and the EXIF
orientation applied (width and height are the upright image's). A JPEG far larger than the model's
input is decoded at 1/2, 1/4 or 1/8 size (libjpeg's DCT scaling, Pillow's draft mode): still at least
twice the model's input on each side, at a fraction of the time and memory.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps

from visionpipe_common.errors import RejectedInput

SUPPORTED_SUFFIXES = (".jpg", ".jpeg", ".png")
# Below this a model's 32 x 32 patch grid (256 px input, stride 8) would have less than a pixel per
# patch: nothing can be judged there.
MIN_IMAGE_SIDE = 32
_EXIF_ORIENTATION = 0x0112
_SWAPS_SIDES = {5, 6, 7, 8}  # transposed or rotated by 90 / 270 degrees

_SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"BM", "image/bmp"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"%PDF", "application/pdf"),
)


@dataclass(frozen=True)
class DecodedImage:
    data: bytes
    content_type: str
    width: int
    height: int
    pixels: Image.Image  # RGB, upright; smaller than width x height when draft-decoded


def sniff_content_type(data: bytes) -> str:
    """MIME type from magic bytes; 'application/octet-stream' when unknown."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    for signature, content_type in _SIGNATURES:
        if data.startswith(signature):
            return content_type
    return "application/octet-stream"


def to_rgb(image: Image.Image) -> Image.Image:
    """Any decoded PNG/JPEG mode -> 8-bit RGB as it looks."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        # Imported here: frame capture and CaptureJobState import this module (sniff_content_type)
        # and have no numpy (no onnx layer).
        import numpy as np

        values = np.asarray(image, dtype=np.float64)
        # PNG stores 16-bit samples (Pillow's I;16 or I); 0..65535 -> 0..255, not clipped at 255.
        top = 65535.0 if image.mode != "F" or values.max() > 1.0 else 1.0
        grey = np.clip(np.rint(values * (255.0 / top)), 0, 255).astype(np.uint8)
        return Image.fromarray(grey, mode="L").convert("RGB")
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("LA", "La", "PA", "RGBa") or (image.mode == "L" and "transparency" in image.info):
        image = image.convert("RGBA")
    if image.mode == "RGB" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode == "RGBA":
        white = Image.new("RGBA", image.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, image).convert("RGB")
    return image.convert("RGB")  # L, 1, CMYK (Pillow undoes Adobe's inverted CMYK), YCbCr, RGB


def decode_image(
    data: bytes, name: str, max_pixels: int, reduce_to: tuple[int, int] | None = None
) -> DecodedImage:
    """Validate and decode a JPEG or PNG; raise RejectedInput with a reason users can act on.

    reduce_to: the model's input (width, height); a JPEG more than twice as large on both sides is
    draft-decoded to no less than twice that.
    """
    if not data:
        raise RejectedInput("empty object (0 bytes)")
    if not name.lower().endswith(SUPPORTED_SUFFIXES):
        raise RejectedInput(
            f"unsupported file type {name.rsplit('.', 1)[-1] if '.' in name else '(none)'!r}: "
            "upload .jpg, .jpeg or .png"
        )
    content_type = sniff_content_type(data)
    if content_type not in ("image/jpeg", "image/png"):
        raise RejectedInput(f"content is {content_type}, not a JPEG or PNG image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=["JPEG", "PNG"])
            width, height = image.size
            # Check the header's dimensions before decoding a single pixel.
            if width * height > max_pixels:
                raise RejectedInput(
                    f"image is {width}x{height} = {width * height} pixels, over the limit of {max_pixels}"
                )
            if 0 < min(width, height) < MIN_IMAGE_SIDE:
                raise RejectedInput(
                    f"image is {width}x{height}: too small to judge (each side needs at least "
                    f"{MIN_IMAGE_SIDE} pixels for the model's patch grid)"
                )
            orientation = image.getexif().get(_EXIF_ORIENTATION, 1)
            if orientation in _SWAPS_SIDES:
                width, height = height, width
            if reduce_to and image.format == "JPEG":
                # Model input in the stored (unrotated) frame: draft keeps each side >= the request.
                want = (reduce_to[1], reduce_to[0]) if orientation in _SWAPS_SIDES else reduce_to
                image.draft("RGB" if image.mode != "CMYK" else "CMYK", (2 * want[0], 2 * want[1]))
            image.load()
            upright = ImageOps.exif_transpose(image)
    except RejectedInput:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise RejectedInput(f"image rejected as a decompression bomb: {exc}") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise RejectedInput(f"corrupt or truncated {content_type} image: {exc}") from exc
    if width == 0 or height == 0:
        raise RejectedInput("image has no pixels")
    return DecodedImage(
        data=data,
        content_type=content_type,
        width=width,
        height=height,
        pixels=to_rgb(upright),
    )
