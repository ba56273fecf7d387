"""Box scaling from the model input to the full frame (the DeepLens sample shifted every box)."""

from visionpipe_edge.detections import Box, Detection, clip_box, scale_box, scale_detections


def deeplens_sample_scaling(value, scale, input_size):
    """What the original lambda computed: int(scale * v) + int(v - input / 2)."""
    return int(scale * value) + int(value - input_size / 2)


def test_scales_each_axis_by_its_own_ratio():
    box = Box(xmin=100, ymin=50, xmax=200, ymax=150)
    assert scale_box(box, (512, 512), (1280, 720)) == Box(250, 70, 500, 211)


def test_the_seed_formula_was_wrong_and_ours_maps_corners_to_corners():
    # A box covering the whole model input must cover the whole frame.
    full = Box(0, 0, 512, 512)
    assert scale_box(full, (512, 512), (1280, 720)) == Box(0, 0, 1280, 720)
    seed_xmin = deeplens_sample_scaling(0, 1280 / 512, 512)
    assert seed_xmin == -256  # off the frame: the bug this replaces


def test_identity_when_sizes_match():
    box = Box(3, 4, 30, 40)
    assert scale_box(box, (320, 240), (320, 240)) == box


def test_clip_orders_corners_and_clamps():
    assert clip_box(120, -5, 10, 50, 100, 100) == Box(10, 0, 100, 50)


def test_scale_detections_keeps_label_score_and_class():
    d = Detection(class_id=2, label="x", score=0.7, box=Box(10, 10, 20, 20))
    (scaled,) = scale_detections([d], (100, 100), (200, 400))
    assert (scaled.class_id, scaled.label, scaled.score) == (2, "x", 0.7)
    assert scaled.box == Box(20, 40, 40, 80)
    assert (scaled.box.width, scaled.box.height) == (20, 40)
