"""Heatmap overlay, anomaly box and area from a patch-grid anomaly map."""

import io

import numpy as np
from PIL import Image

from visionpipe_common.anomaly import heatmap


def test_region_scales_the_hot_cells_to_the_image():
    grid = np.zeros((8, 8), np.float32)
    grid[2:4, 5:7] = 10.0  # a 2 x 2 hot block
    found = heatmap.region(grid, threshold=3.0, width=800, height=400)
    # Smoothing spreads the block by one cell where the 3x3 mean still reaches 3.0 (>= 4 of 9 hot).
    x0, y0, x1, y1 = found.box
    assert 400 <= x0 <= 500 and 700 <= x1 <= 800 and 50 <= y0 <= 100 and 200 <= y1 <= 250
    assert 0 < found.area_percent < 20


def test_region_is_empty_below_the_threshold():
    found = heatmap.region(np.ones((1, 1, 4, 4)), threshold=2.0, width=64, height=64)
    assert found.box is None and found.area_percent == 0.0


def test_overlay_png_is_the_image_tinted_where_hot():
    image = Image.new("RGB", (300, 200), (128, 128, 128))
    grid = np.zeros((4, 6), np.float32)
    grid[0, 0] = grid[0, 1] = grid[1, 0] = grid[1, 1] = 5.0
    png = heatmap.overlay_png(image, grid, threshold=1.0)
    with Image.open(io.BytesIO(png)) as decoded:
        assert decoded.format == "PNG" and decoded.size == (300, 200)
        pixels = np.asarray(decoded.convert("RGB"), np.int32)
    hot, cold = pixels[20, 20], pixels[180, 280]
    assert hot[0] > hot[2] + 40  # reddish over the hot corner
    assert list(cold) == [128, 128, 128]  # untouched far from it


def test_overlay_keeps_large_images_small():
    png = heatmap.overlay_png(Image.new("RGB", (4000, 1000)), np.zeros((4, 4)), 1.0, max_side=512)
    with Image.open(io.BytesIO(png)) as decoded:
        assert decoded.size == (512, 128)


def test_overlay_blends_only_where_tinted_and_equals_blending_every_pixel():
    """The overlay blends within the box around alpha > 0 only; that is exactly the full blend."""
    photo = Image.open(io.BytesIO(_jpeg_of_coffee())).convert("RGB")
    grid = np.zeros((32, 32), np.float32)
    grid[20:24, 3:9] = 30.0  # one hot patch; everything else far below the threshold
    threshold = 10.0
    got = np.asarray(heatmap.overlay(photo, grid, threshold))
    # Every pixel blended, as the formula reads: alpha 0 gives the pixel back.
    smoothed = heatmap.smooth(grid) / threshold
    relative = np.asarray(
        Image.fromarray(smoothed.astype(np.float32), mode="F").resize(photo.size, Image.Resampling.BILINEAR)
    )
    alpha = (np.clip((relative - 0.6) / 0.4, 0.0, 1.0) * 0.6)[..., None]
    colours = heatmap.colourize((relative - 0.5) / 0.75).astype(np.float32)
    expected = (np.asarray(photo, np.float32) * (1 - alpha) + colours * alpha).astype(np.uint8)
    assert np.array_equal(got, expected)
    assert (got != np.asarray(photo)).any(axis=2).mean() < 0.2  # most of the photo left as it is


def _jpeg_of_coffee() -> bytes:
    from skimage import data

    buffer = io.BytesIO()
    Image.fromarray(data.coffee()).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()
