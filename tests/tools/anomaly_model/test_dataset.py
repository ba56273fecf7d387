"""Folders, decoding and splits."""

import numpy as np
import pytest
from PIL import Image

from visionpipe.anomaly_model.dataset import (
    kind_of,
    list_images,
    resolve_folders,
    split_anomalous,
    split_normal,
)


def _touch_images(folder, names):
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        Image.new("RGB", (4, 4)).save(folder / name)


def test_list_images_recursive_sorted_and_filtered(tmp_path):
    _touch_images(tmp_path / "a", ["2.png", "1.jpg"])
    _touch_images(tmp_path / "a" / "sub", ["3.JPEG"])
    (tmp_path / "a" / "notes.txt").write_text("x")
    assert [p.relative_to(tmp_path / "a").as_posix() for p in list_images(tmp_path / "a")] == [
        "1.jpg",
        "2.png",
        "sub/3.JPEG",
    ]
    with pytest.raises(FileNotFoundError):
        list_images(tmp_path / "missing")


def test_resolve_sample_data_layout(tmp_path):
    _touch_images(tmp_path / "normal", ["n.jpg"])
    _touch_images(tmp_path / "anomalous", ["scratch_000.jpg"])
    assert resolve_folders(tmp_path, None) == (tmp_path / "normal", tmp_path / "anomalous")
    assert resolve_folders(tmp_path / "normal", None) == (tmp_path / "normal", None)
    assert resolve_folders(tmp_path, tmp_path / "other") == (tmp_path / "normal", tmp_path / "other")


def test_kind_of():
    from pathlib import Path

    assert kind_of(Path("anomalous/scratch_004.jpg")) == "scratch"
    assert kind_of(Path("defects/dent/img7.png")) == "dent"


def test_normal_split_is_disjoint_complete_and_reproducible():
    paths = [f"n{i:02d}.jpg" for i in range(40)]
    first = split_normal(paths, np.random.default_rng(1), test=0.2, calibration=0.15)
    again = split_normal(paths, np.random.default_rng(1), test=0.2, calibration=0.15)
    assert first == again
    assert (len(first.train), len(first.calibration), len(first.test)) == (26, 6, 8)
    assert sorted(first.train + first.calibration + first.test) == paths
    with pytest.raises(ValueError):
        split_normal(paths[:5], np.random.default_rng(1), 0.2, 0.15)


def test_anomalous_split_stratified_by_kind():
    from pathlib import Path

    paths = [Path(f"{k}_{i:03d}.jpg") for k in ("crack", "dent", "scratch") for i in range(5)]
    split = split_anomalous(paths, np.random.default_rng(0))
    assert sorted(split.calibration + split.test) == sorted(paths)
    for kind in ("crack", "dent", "scratch"):
        cal = sum(kind_of(p) == kind for p in split.calibration)
        test = sum(kind_of(p) == kind for p in split.test)
        assert (cal, test) in ((2, 3), (3, 2))
    assert abs(len(split.calibration) - len(split.test)) <= 1
