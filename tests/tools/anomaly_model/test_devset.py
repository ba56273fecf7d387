"""The development set: real photographs only (never brick, gravel or grass), defects drawn, layout."""

import inspect

import numpy as np
from PIL import Image

from visionpipe.anomaly_model import devset


def test_textures_are_the_allowed_real_photographs():
    source = inspect.getsource(devset)
    for held_out in ("brick", "gravel", "grass"):
        assert f'"{held_out}"' not in source and f"data.{held_out}" not in source
    assert set(devset.TEXTURES) == {"moon", "ihc", "hubble", "retina", "cell", "coins", "camera"}


def test_build_writes_train_and_labelled_test_folders(tmp_path):
    root = devset.build(tmp_path, "coins", train=4, test_normal=3, per_kind=2, seed=1)
    assert len(list((root / "train").glob("normal_*.jpg"))) == 4
    assert len(list((root / "test" / "normal").glob("*.jpg"))) == 3
    kinds = sorted(p.stem.rsplit("_", 1)[0] for p in (root / "test" / "anomalous").glob("*.jpg"))
    assert kinds == sorted(list(devset.DEFECT_KINDS) * 2)
    with Image.open(root / "train" / "normal_000.jpg") as image:
        assert image.size == (256, 256) and image.format == "JPEG"


def test_painted_defects_change_the_crop_where_their_box_says():
    rng = np.random.default_rng(4)
    source = devset.TEXTURES["moon"].load()
    for kind in devset.DEFECT_KINDS:
        image = devset.crop(rng, source, devset.TEXTURES["moon"])
        before = image.copy()
        x0, y0, x1, y1 = devset.paint(rng, image, kind)
        changed = np.abs(image - before).max(axis=2) > 1.0
        assert changed.any() and x1 > x0 and y1 > y0
        outside = changed.copy()
        outside[max(0, y0 - 8) : y1 + 8, max(0, x0 - 8) : x1 + 8] = False
        assert outside.sum() < 0.02 * changed.sum() + 5, kind
