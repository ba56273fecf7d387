"""The sample-data generator: deterministic, real codecs, every defect kind, a decodable video."""

import hashlib
import json

import cv2
import numpy as np
import pytest
from PIL import Image

from visionpipe.cli import main
from visionpipe.sample_data import KINDS, generate, render_image
from visionpipe.sample_data.video import VideoSpec
from visionpipe.synthetic_video import stream_codecs


def _digests(folder):
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.suffix in (".jpg", ".png")
    }


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    out = tmp_path_factory.mktemp("sample")
    spec = VideoSpec(seconds=4.0, fps=10, defects=(("scratch", 2.0),))
    return out, generate(out, normal=8, anomalous=8, seed=3, video_spec=spec)


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    generate(tmp_path / "a", normal=4, anomalous=4, seed=1, video=False)
    generate(tmp_path / "b", normal=4, anomalous=4, seed=1, video=False, workers=1)
    generate(tmp_path / "c", normal=4, anomalous=4, seed=2, video=False)
    a, b, c = (_digests(tmp_path / name) for name in "abc")
    assert a == b
    assert len(a) == 8
    assert set(a) == set(c)
    assert all(a[name] != c[name] for name in a)
    manifest_a = json.loads((tmp_path / "a" / "manifest.json").read_text())
    manifest_b = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert manifest_a == manifest_b


def test_files_decode_with_real_codecs_and_match_manifest(sample):
    out, manifest = sample
    assert json.loads((out / "manifest.json").read_text()) == manifest
    images = {name: item for name, item in manifest["files"].items() if item["label"] != "video"}
    assert len(images) == 16
    suffixes = set()
    for name, item in images.items():
        path = out / name
        suffixes.add(path.suffix)
        with Image.open(path) as image:
            assert image.format == {".jpg": "JPEG", ".png": "PNG"}[path.suffix]
            assert image.size == (320, 240)
            assert image.mode == "RGB"
        assert cv2.imread(str(path)).shape == (240, 320, 3)
        assert name.startswith(f"{item['label']}/")
    assert suffixes == {".jpg", ".png"}
    assert all(name.endswith(".jpg") for name, item in images.items() if item["label"] == "anomalous")


def test_every_kind_present_named_and_boxed(sample):
    out, manifest = sample
    anomalous = {n: i for n, i in manifest["files"].items() if i["label"] == "anomalous"}
    assert (
        {item["kind"] for item in anomalous.values()} == set(KINDS) == {"scratch", "dent", "stain", "crack"}
    )
    for name, item in anomalous.items():
        assert name == f"anomalous/{item['kind']}_{name.rsplit('_', 1)[1]}"
        x0, y0, x1, y1 = item["box"]
        assert 0 <= x0 < x1 <= 320 and 0 <= y0 < y1 <= 240


def test_defects_are_local_outliers_against_the_surface():
    """Inside a defect's box the image departs from a smoothed copy of itself more than elsewhere."""
    for index, kind in enumerate(KINDS * 2):
        image, details = render_image(9, "anomalous", index, kind)
        grey = image.astype(np.float32).mean(axis=2)
        residual = np.abs(grey - cv2.blur(grey, (31, 31)))
        x0, y0, x1, y1 = details["box"]
        mask = np.zeros_like(grey, bool)
        mask[y0:y1, x0:x1] = True
        assert image.shape == (240, 320, 3) and image.dtype == np.uint8
        assert (details["label"], details["kind"]) == ("anomalous", kind)
        assert residual[mask].max() > np.percentile(residual[~mask], 99), (kind, details)


def test_video_decodes_with_expected_frames_and_duration(sample):
    out, manifest = sample
    item = manifest["files"]["video/inspection_pan.mp4"]
    assert item["frame_count"] == 40 and item["fps"] == 10 and item["duration_s"] == pytest.approx(4.0)
    capture = cv2.VideoCapture(str(out / "video" / "inspection_pan.mp4"))
    assert capture.isOpened()
    assert capture.get(cv2.CAP_PROP_FPS) == pytest.approx(10.0)
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    assert len(frames) == 40
    assert frames[0].shape == (240, 320, 3)
    # The part moves: consecutive frames differ, and the scratch shows up while it is in view.
    assert np.abs(frames[0].astype(int) - frames[5].astype(int)).mean() > 3
    (defect,) = item["defects"]
    assert defect["kind"] == "scratch" and 0 <= defect["visible_from_s"] < 2.0 < defect["visible_to_s"] <= 4.0
    assert item["codec"] == "h264"


def test_video_is_h264_with_aac(sample):
    out, manifest = sample
    item = manifest["files"]["video/inspection_pan.mp4"]
    assert stream_codecs(out / "video" / "inspection_pan.mp4") == {"Video": "h264", "Audio": "aac"}
    assert (item["codec"], item["audio"]) == ("h264", "aac")


def test_cli_writes_the_agreed_layout(tmp_path, capsys):
    assert (
        main(["sample-data", str(tmp_path / "out"), "--normal", "3", "--anomalous", "4", "--no-video"]) == 0
    )
    printed = capsys.readouterr().out
    assert "3 normal and 4 anomalous images" in printed
    assert sorted(p.name for p in (tmp_path / "out" / "anomalous").iterdir()) == [
        "crack_000.jpg",
        "dent_000.jpg",
        "scratch_000.jpg",
        "stain_000.jpg",
    ]
    assert len(list((tmp_path / "out" / "normal").iterdir())) == 3
    assert not (tmp_path / "out" / "video").exists()
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["counts"] == {"normal": 3, "anomalous": 4, "video": 0}
