"""The device's `hog` detector runs what local retraining publishes (model.json + hog_svm.json)."""

from __future__ import annotations

import json

import cv2
import pytest
from support.face_data import camera_frames
from visionpipe_edge.config import EdgeSettings, model_defaults
from visionpipe_edge.detectors import HogDetector, build_detector
from visionpipe_edge.detectors.hog_detector import HogModelError, HogSvmModel

from visionpipe.detector_model.hog_training import TrainingSettings, input_size_for, to_input, train_detector


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    frames = camera_frames(10, range(70), seed=5)
    size = input_size_for([(640, 480)], 320)
    samples = [to_input(f.image, [(0, b) for b in f.boxes], size) for f in frames]
    report = train_detector(samples, {0: "face"}, TrainingSettings(image_shape=320))
    folder = tmp_path_factory.mktemp("hog-model")
    (folder / "hog_svm.json").write_text(report.model.to_json())
    (folder / "model.json").write_text(
        json.dumps(
            {
                "name": "hog-test",
                "version": "job-1",
                "detector": "hog",
                "file": "hog_svm.json",
                "classes": ["face"],
                "input": {"width": size[0], "height": size[1]},
            }
        )
    )
    return folder


def test_model_json_selects_the_hog_detector_and_it_finds_an_unseen_face(model_dir):
    settings = EdgeSettings(**model_defaults(model_dir))
    assert settings.detector == "hog" and settings.input_size == (320, 240)
    detector = build_detector(settings)
    assert isinstance(detector, HogDetector)
    (frame,) = camera_frames(1, range(70, 100), seed=6)
    found = detector.detect(cv2.resize(frame.image, settings.input_size), 0.5)
    assert found and found[0].label == "face" and found[0].class_id == 0 and 0.5 <= found[0].score <= 1
    truth = frame.boxes[0]
    box = found[0].box  # input pixels; the frame is twice the input size
    assert abs(box.xmin * 2 - truth[0]) < 0.3 * (truth[2] - truth[0])
    assert detector.detect(cv2.resize(frame.image, settings.input_size), 1.0) == []


def test_scores_are_monotonic_in_the_margin_and_invertible(model_dir):
    model = HogSvmModel.load(model_dir / "hog_svm.json")
    cls = model.classes[0]
    margins = cls.score([-2.0, 0.0, 2.0])
    assert list(margins) == sorted(margins)
    assert cls.score([cls.margin_for(0.7)])[0] == pytest.approx(0.7)


def test_a_broken_model_file_is_a_clear_error(model_dir, tmp_path):
    doc = json.loads((model_dir / "hog_svm.json").read_text())
    doc["classes"][0]["weights"] = doc["classes"][0]["weights"][:-5]
    (tmp_path / "bad.json").write_text(json.dumps(doc))
    with pytest.raises(HogModelError, match="weights"):
        HogDetector(tmp_path / "bad.json")
    (tmp_path / "other.json").write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(HogModelError, match="format"):
        HogDetector(tmp_path / "other.json")
