"""End to end: generate parts, train, export, and judge images through the onnx backend's model class."""

import hashlib
import json

import numpy as np
import onnx
import pytest
from PIL import Image

from visionpipe.anomaly_model import TrainConfig, train
from visionpipe.anomaly_model.training import choose_threshold
from visionpipe.cli import main
from visionpipe.sample_data import render_image
from visionpipe_common.detectors.onnx_model import ModelMetadata, OnnxModel


def _served(model_dir):
    meta = ModelMetadata.from_json((model_dir / "metadata.json").read_text())
    return OnnxModel((model_dir / "model.onnx").read_bytes(), meta)


def test_small_training_run_reaches_high_auroc(trained):
    _, report = trained
    assert report.counts == {
        "train_normal": 39,
        "calibration_normal": 9,
        "calibration_anomalous": 12,
        "test_normal": 12,
        "test_anomalous": 12,
    }
    assert report.test["auroc"] >= 0.97
    assert report.test["f1"] >= 0.8
    assert set(report.test["recall_by_kind"]) == {"scratch", "dent", "stain", "crack"}
    assert report.test["true_positives"] + report.test["false_negatives"] == 12
    assert report.inference_ms > 0


def test_export_follows_the_onnx_backend_contract(trained):
    model_dir, report = trained
    meta = ModelMetadata.from_json((model_dir / "metadata.json").read_text())
    assert meta.model_version == report.model_version
    assert meta.input_name == "image" and meta.output_name == "score"
    assert (meta.input_width, meta.input_height, meta.layout, meta.color_order) == (224, 168, "NCHW", "RGB")
    assert meta.output_kind == "score" and meta.confidence == "logistic"
    assert meta.threshold == pytest.approx(report.threshold) and meta.score_spread > 0
    assert meta.extra["model_type"] == "padim-pca"
    assert meta.extra["test"]["auroc"] == pytest.approx(report.test["auroc"])
    model = onnx.load(model_dir / "model.onnx")
    onnx.checker.check_model(model)
    # The version names the exact bytes: its suffix is the model file's hash.
    digest = hashlib.sha256((model_dir / "model.onnx").read_bytes()).hexdigest()[:8]
    assert report.model_version.endswith(digest)


def test_served_model_judges_fresh_images(trained):
    model_dir, _ = trained
    model = _served(model_dir)
    # Images the training never saw (another seed): clear defects are anomalous, clean parts normal.
    normal_verdicts = [model.judge(Image.fromarray(render_image(99, "normal", i)[0])) for i in range(6)]
    assert sum(v.is_anomalous for v in normal_verdicts) <= 1
    for index, kind in enumerate(("scratch", "dent", "stain", "crack")):
        image, details = render_image(99, "anomalous", 1000 + index, kind)
        verdict = model.judge(Image.fromarray(image))
        if not details["subtle"]:
            assert verdict.is_anomalous, details
    clean = min(normal_verdicts, key=lambda v: v.score)
    assert not clean.is_anomalous and 0.5 < clean.confidence <= 1.0


def test_served_model_reads_real_jpeg_and_png_files(trained, small_set):
    model_dir, report = trained
    data, manifest = small_set
    model = _served(model_dir)
    crack = next(n for n, i in manifest["files"].items() if i["kind"] == "crack" and not i["subtle"])
    png = next(n for n in manifest["files"] if n.endswith(".png"))
    with Image.open(data / crack) as image:
        assert model.judge(image).is_anomalous
    with Image.open(data / png) as image:
        assert model.score(image) < report.test["anomalous_score_median"]


def test_training_without_anomalous_images_uses_the_normal_bound(small_set, tmp_path):
    data, _ = small_set
    report = train(data / "normal", tmp_path / "m", seed=1, config=TrainConfig(patches_per_image=100))
    assert report.test["auroc"] is None
    assert report.counts["test_anomalous"] == 0
    assert "no anomalous images" in report.threshold_rule
    assert report.test["false_positive_rate"] <= 0.2
    meta = json.loads((tmp_path / "m" / "metadata.json").read_text())
    assert meta["threshold"] == pytest.approx(report.threshold)


def test_choose_threshold_prefers_the_normal_bound_inside_the_best_gap():
    config = TrainConfig(normal_sigmas=4.0)
    normal = np.array([5.0, 5.5, 6.0, 6.5, 7.0])  # mean 6, std 0.79 -> bound 9.16
    threshold, _ = choose_threshold(normal, np.array([20.0, 30.0]), config)
    assert threshold == pytest.approx(6.0 + 4.0 * normal.std(ddof=1))
    # Subtle anomalies just above the normals pull the threshold down into the gap.
    threshold, _ = choose_threshold(normal, np.array([7.5, 30.0]), config)
    assert 7.0 < threshold < 7.5
    threshold, rule = choose_threshold(normal, np.array([]), config)
    assert threshold == pytest.approx(6.0 + 4.0 * normal.std(ddof=1)) and "no anomalous" in rule


def test_cli_trains_from_a_sample_data_folder_and_prints_quality(small_set, tmp_path, capsys):
    data, _ = small_set
    args = ["train-anomaly", str(data), "--out", str(tmp_path / "model"), "--seed", "3", "--quiet"]
    assert main([*args, "--method", "padim-pca"]) == 0
    printed = capsys.readouterr().out
    for fragment in ("AUROC", "precision", "recall", "F1", "threshold", "model_version", "ms per image"):
        assert fragment in printed
    auroc = float(printed.split("AUROC ")[1].split()[0])
    assert auroc >= 0.97
    assert (tmp_path / "model" / "model.onnx").stat().st_size > 0


def test_cli_reports_a_missing_folder(tmp_path, capsys):
    assert main(["train-anomaly", str(tmp_path / "nope"), "--out", str(tmp_path / "m")]) == 2
    assert "no such folder" in capsys.readouterr().err
