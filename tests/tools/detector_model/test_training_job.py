"""The `hog` training job under the SageMaker training-toolkit contract: channels as folders,
hyperparameters.json, SM_MODEL_DIR, `validation:mAP=` on stdout, output/failure on errors.

Data: camera frames (real photographs, real LFW faces) labelled by the edge device's cascade
(face_data.py), different people in train and validation.
"""

from __future__ import annotations

import json

import pytest
from support.face_data import camera_frames

from visionpipe.detector_model import training_job as training
from visionpipe.detector_model.contract import TRAINING_CHANNELS, TrainingEnvironment
from visionpipe.detector_model.mean_average_precision import ScoredBox, mean_average_precision

HYPERPARAMETERS = {"num_classes": "1", "image_shape": "512", "epochs": "60", "nms_threshold": "0.45"}


@pytest.fixture(scope="module")
def frames():
    return camera_frames(12, range(70), seed=1), camera_frames(6, range(70, 100), seed=2, prefix="raw_val")


def job(root, frames, wrong_validation=False, hyperparameters=HYPERPARAMETERS) -> TrainingEnvironment:
    """The folders SageMaker prepares in the container (/opt/ml/...), under root."""
    train, validation = frames
    data = root / "input" / "data"
    for channel in TRAINING_CHANNELS:
        (data / channel).mkdir(parents=True, exist_ok=True)
    for side, items in (("train", train), ("validation", validation)):
        for frame in items:
            annotation = json.loads(frame.annotation_json)
            if side == "validation" and wrong_validation:  # boxes moved to the top-left corner
                for box in annotation["annotations"]:
                    box["left"], box["top"] = 0, 0
            (data / side / frame.name).write_bytes(frame.jpeg)
            (data / f"{side}_annotation" / frame.name.replace(".jpg", ".json")).write_text(
                json.dumps(annotation)
            )
    config = root / "input" / "config"
    config.mkdir(parents=True, exist_ok=True)
    # as the SageMaker Python SDK writes them: JSON-encoded strings
    (config / "hyperparameters.json").write_text(
        json.dumps({k: json.dumps(v) for k, v in hyperparameters.items()})
    )
    return TrainingEnvironment.from_environment(
        {
            "SM_INPUT_CONFIG_DIR": str(config),
            "SM_INPUT_DATA_DIR": str(data),
            "SM_MODEL_DIR": str(root / "model"),
            "SM_OUTPUT_DIR": str(root / "output"),
            "TRAINING_JOB_NAME": "job-1",
        }
    )


def test_trains_evaluates_prints_the_metric_and_writes_the_model_dir(tmp_path, frames, capsys):
    env = job(tmp_path, frames)
    assert env.hyperparameters["image_shape"] == "512"  # decoded from the SDK's JSON strings
    assert training.main(env) == 0
    (line,) = [x for x in capsys.readouterr().out.splitlines() if x.startswith("validation:mAP=")]
    value = float(line.split("=")[1])
    assert 0.6 < value <= 1.0  # faces of people the detector never saw
    files = {p.name: p.read_text() for p in env.model_dir.iterdir()}
    assert set(files) == {"model.json", "hog_svm.json", "hyperparams.json", "metrics.json"}
    model = json.loads(files["model.json"])
    assert model["format"] == "visionpipe-model/1"
    assert (model["detector"], model["file"], model["classes"], model["input"]) == (
        "hog",
        "hog_svm.json",
        ["face"],
        {"width": 512, "height": 384},
    )
    assert model["training_job"] == "job-1" and model["validation_mAP"] == pytest.approx(value, abs=1e-6)
    assert model["preprocessing"]["color"] == "grey" and model["output_decoding"]["nms_threshold"] == 0.45
    metrics = json.loads(files["metrics.json"])
    assert metrics["validation:mAP"] == pytest.approx(value, abs=1e-6)
    assert metrics["validation_boxes"]["face"] == sum(len(f.boxes) for f in frames[1])
    hyper = json.loads(files["hyperparams.json"])
    assert "epochs" in hyper["ignored"] and "nms_threshold" in hyper["used"]


def test_wrong_validation_labels_give_a_much_lower_map(tmp_path, frames):
    good, wrong = job(tmp_path / "good", frames), job(tmp_path / "wrong", frames, wrong_validation=True)
    assert training.main(good) == training.main(wrong) == 0
    good_map = json.loads((good.model_dir / "metrics.json").read_text())["validation:mAP"]
    wrong_map = json.loads((wrong.model_dir / "metrics.json").read_text())["validation:mAP"]
    assert wrong_map < 0.2 < 0.6 < good_map


def test_an_empty_channel_fails_with_a_client_error(tmp_path, frames):
    env = job(tmp_path, ([], frames[1]))
    assert training.main(env) == 2
    assert (env.output_dir / "failure").read_text() == "ClientError: channel train has no images"
    assert not (env.model_dir / "model.json").exists()


def test_an_annotation_naming_a_missing_image_fails(tmp_path, frames):
    env = job(tmp_path, frames)
    (env.channels["train_annotation"] / "ghost.json").write_text(json.dumps({"file": "ghost.jpg"}))
    assert training.main(env) == 2
    assert "names ghost.jpg, not in train" in (env.output_dir / "failure").read_text()


def test_voc_average_precision_by_hand():
    truth = {"a": [(0, (0, 0, 10, 10))], "b": [(0, (0, 0, 10, 10)), (1, (20, 20, 30, 30))]}
    detections = [
        ScoredBox("a", 0, 0.9, (0, 0, 10, 10)),  # TP
        ScoredBox("a", 0, 0.8, (1, 0, 11, 10)),  # duplicate of a matched box: FP
        ScoredBox("b", 0, 0.7, (1, 1, 10, 10)),  # TP (IoU 0.81)
        ScoredBox("b", 1, 0.6, (26, 26, 36, 36)),  # IoU 16/184: FP, class 1 never found
    ]
    result = mean_average_precision(detections, truth, 0.5)
    # class 0: precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1 -> AP = 0.5 * 1 + 0.5 * 2/3
    assert result.per_class == {0: pytest.approx(0.5 + 1 / 3), 1: 0.0}
    assert result.mean_ap == pytest.approx((0.5 + 1 / 3) / 2)
