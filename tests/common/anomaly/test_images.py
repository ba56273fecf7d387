import pytest
from support.images import encode, jpeg_bytes, png_bytes, textured_rgb

from visionpipe_common.anomaly.images import decode_image, sniff_content_type
from visionpipe_common.errors import RejectedInput

LIMIT = 10_000_000


def test_jpeg_and_png_decode_to_rgb():
    jpeg = decode_image(jpeg_bytes(48, 36), "a.jpg", LIMIT)
    png = decode_image(png_bytes(48, 36), "b.PNG", LIMIT)
    assert (jpeg.content_type, jpeg.width, jpeg.height, jpeg.pixels.mode) == ("image/jpeg", 48, 36, "RGB")
    assert (png.content_type, png.width, png.height) == ("image/png", 48, 36)


def test_type_comes_from_bytes_not_name():
    decoded = decode_image(png_bytes(), "actually-a-png.JPEG", LIMIT)
    assert decoded.content_type == "image/png"


@pytest.mark.parametrize(
    ("data", "name", "reason"),
    [
        (b"", "empty.jpg", "empty object"),
        (b"this is plain text, not an image", "notes.jpg", "not a JPEG or PNG"),
        (jpeg_bytes()[:300], "cut.jpg", "corrupt or truncated"),
        (png_bytes()[:120], "cut.png", "corrupt or truncated"),
        (encode(textured_rgb(), "GIF"), "anim.gif", "unsupported file type 'gif'"),
        (encode(textured_rgb(), "GIF"), "disguised.jpg", "image/gif"),
        (jpeg_bytes(), "no_extension", "unsupported file type"),
    ],
)
def test_bad_inputs_are_rejected_with_a_reason(data, name, reason):
    with pytest.raises(RejectedInput, match=reason):
        decode_image(data, name, LIMIT)


def test_pixel_limit_is_checked_before_decoding():
    big = encode(textured_rgb(400, 300), "PNG")
    with pytest.raises(RejectedInput, match="120000 pixels, over the limit of 100000"):
        decode_image(big, "big.png", 100_000)


def test_decompression_bomb_header_is_refused():
    # A 20000x20000 PNG compresses to a few hundred KB of zeros but would decode to 1.2 GB.
    from PIL import Image

    bomb = encode(Image.new("L", (20_000, 20_000)), "PNG", optimize=False)
    with pytest.raises(RejectedInput, match="pixels, over the limit|decompression bomb"):
        decode_image(bomb, "bomb.png", 40_000_000)


def test_sniffing_knows_common_formats():
    assert sniff_content_type(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert sniff_content_type(b"%PDF-1.7") == "application/pdf"
    assert sniff_content_type(b"\x00\x01") == "application/octet-stream"
