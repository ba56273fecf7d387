"""Every PNG/JPEG mode decodes to the RGB a viewer shows, from real encoded files (Pillow's codecs)."""

import io

import numpy as np
import pytest
from PIL import Image
from skimage import data

from visionpipe_common.anomaly.images import MIN_IMAGE_SIDE, decode_image
from visionpipe_common.errors import RejectedInput

LIMIT = 40_000_000


def encode(image: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def coins():
    return data.coins()  # real photograph, 303 x 384 grayscale


def close(decoded: Image.Image, expected_grey: np.ndarray, tolerance: float = 3.0) -> bool:
    got = np.asarray(decoded, np.float64)
    assert got.shape == (*expected_grey.shape, 3)
    return float(np.abs(got.mean(axis=2) - expected_grey).mean()) <= tolerance


def test_16_bit_grayscale_png_is_scaled_not_white(coins):
    sixteen = coins.astype(np.uint16) * 257  # full 16-bit range
    png = encode(Image.fromarray(sixteen), "PNG")
    with Image.open(io.BytesIO(png)) as raw:
        assert raw.mode.startswith("I")  # what Pillow gives for 16-bit grey
    decoded = decode_image(png, "part.png", LIMIT)
    assert close(decoded.pixels, coins.astype(np.float64), 0.6)
    assert np.asarray(decoded.pixels).mean() < 200  # the old decode made it all white


def test_8_bit_grayscale_png_and_jpeg(coins):
    for fmt, name, tolerance in (("PNG", "g.png", 0.0), ("JPEG", "g.jpg", 3.0)):
        decoded = decode_image(encode(Image.fromarray(coins, "L"), fmt), name, LIMIT)
        assert decoded.pixels.mode == "RGB" and close(decoded.pixels, coins.astype(np.float64), tolerance)


def test_palette_png_with_and_without_transparency(coins):
    palette = Image.fromarray(coins, "L").convert("P")
    decoded = decode_image(encode(palette, "PNG"), "p.png", LIMIT)
    assert close(decoded.pixels, coins.astype(np.float64), 1.0)
    transparent = palette.copy()
    transparent.info["transparency"] = int(np.asarray(palette)[0, 0])
    decoded = decode_image(
        encode(transparent, "PNG", transparency=transparent.info["transparency"]), "t.png", LIMIT
    )
    assert decoded.pixels.mode == "RGB"
    assert tuple(decoded.pixels.getpixel((0, 0))) == (255, 255, 255)  # transparent -> white


def test_alpha_png_is_composited_on_white():
    rgb = data.astronaut()[:128, :128]
    alpha = np.full((128, 128), 255, np.uint8)
    alpha[:, :64] = 0  # left half fully transparent (its colour channels hold garbage)
    rgba = np.dstack([rgb, alpha])
    decoded = decode_image(encode(Image.fromarray(rgba, "RGBA"), "PNG"), "a.png", LIMIT)
    pixels = np.asarray(decoded.pixels)
    assert (pixels[:, :64] == 255).all()
    assert np.array_equal(pixels[:, 64:], rgb[:, 64:])
    grey = rgb.mean(axis=2).astype(np.uint8)
    grey_alpha = Image.fromarray(np.dstack([grey, alpha]), "LA")
    pixels = np.asarray(decode_image(encode(grey_alpha, "PNG"), "la.png", LIMIT).pixels)
    assert (pixels[:, :64] == 255).all() and np.array_equal(pixels[:, 64:, 1], grey[:, 64:])


def test_cmyk_jpeg_decodes_to_the_same_colours():
    rgb = data.astronaut()[::4, ::4]
    cmyk = Image.fromarray(rgb).convert("CMYK")
    jpeg = encode(cmyk, "JPEG", quality=95)
    with Image.open(io.BytesIO(jpeg)) as raw:
        assert raw.mode == "CMYK"
    decoded = decode_image(jpeg, "c.jpg", LIMIT)
    assert float(np.abs(np.asarray(decoded.pixels, np.float64) - rgb).mean()) < 6.0


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_exif_orientation_is_applied(orientation):
    upright = data.astronaut()[:, :384]  # 512 tall, 384 wide
    # What a phone writes: the sensor's pixels as stored, plus the tag saying how to turn them.
    stored = {
        3: Image.fromarray(upright).rotate(180),
        6: Image.fromarray(upright).transpose(Image.Transpose.ROTATE_90),
        8: Image.fromarray(upright).transpose(Image.Transpose.ROTATE_270),
    }[orientation]
    exif = Image.Exif()
    exif[0x0112] = orientation
    decoded = decode_image(encode(stored, "JPEG", quality=95, exif=exif.tobytes()), "phone.jpg", LIMIT)
    assert (decoded.width, decoded.height) == (384, 512) == decoded.pixels.size
    assert float(np.abs(np.asarray(decoded.pixels, np.float64) - upright).mean()) < 6.0


def test_too_small_images_are_rejected_with_a_reason():
    tiny = encode(Image.new("RGB", (MIN_IMAGE_SIDE - 1, 200), (90, 90, 90)), "PNG")
    with pytest.raises(RejectedInput, match="too small to judge"):
        decode_image(tiny, "tiny.png", LIMIT)
    decode_image(encode(Image.new("RGB", (MIN_IMAGE_SIDE, MIN_IMAGE_SIDE)), "PNG"), "ok.png", LIMIT)


def test_large_jpeg_is_draft_decoded_but_keeps_its_full_size():
    photo = Image.fromarray(data.astronaut()).resize((2048, 2048))
    jpeg = encode(photo, "JPEG", quality=90)
    full = decode_image(jpeg, "big.jpg", LIMIT)
    reduced = decode_image(jpeg, "big.jpg", LIMIT, reduce_to=(256, 256))
    assert full.pixels.size == (2048, 2048)
    assert (reduced.width, reduced.height) == (2048, 2048)  # boxes stay in the upload's pixels
    assert reduced.pixels.size == (512, 512)  # 1/4 scale: still >= 2 x 256 on each side
    small_png = decode_image(encode(photo, "PNG"), "big.png", LIMIT, reduce_to=(256, 256))
    assert small_png.pixels.size == (2048, 2048)  # PNG has no draft mode
    # Judged at the model's input both decodes look alike.
    a = np.asarray(full.pixels.resize((256, 256), Image.Resampling.BILINEAR), np.float64)
    b = np.asarray(reduced.pixels.resize((256, 256), Image.Resampling.BILINEAR), np.float64)
    assert float(np.abs(a - b).mean()) < 2.0
