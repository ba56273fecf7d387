"""Tell an image's real type from its bytes and decode it safely."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image

from visionpipe_common.errors import RejectedInput

SUPPORTED_SUFFIXES = (".jpg", ".jpeg", ".png")

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
    pixels: Image.Image  # RGB


def sniff_content_type(data: bytes) -> str:
    """MIME type from magic bytes; 'application/octet-stream' when unknown."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    for signature, content_type in _SIGNATURES:
        if data.startswith(signature):
            return content_type
    return "application/octet-stream"


def decode_image(data: bytes, name: str, max_pixels: int) -> DecodedImage:
    """Validate and decode a JPEG or PNG; raise RejectedInput with a reason users can act on."""
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
            image.load()
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
        pixels=image.convert("RGB"),
    )
