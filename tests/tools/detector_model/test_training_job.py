"""The detector-model training job: a real detector from four SageMaker channels in S3.

Data: camera frames (real photographs, real LFW faces) labelled by the edge device's cascade
(face_data.py), different people in train and validation.
"""

from __future__ import annotations

import io
import json
import tarfile

import boto3
import pytest
from moto import mock_aws
from support.face_data import camera_frames

from visionpipe.detector_model import training_job as training
from visionpipe.detector_model.mean_average_precision import ScoredBox, mean_average_precision

BUCKET = "models"
ROOT = "datasets/rounds/round-00001/"


@pytest.fixture(scope="module")
def frames():
    return camera_frames(12, range(70), seed=1), camera_frames(6, range(70, 100), seed=2, prefix="raw_val")


def upload(s3, frames, root=ROOT, wrong_validation=False):
    train, validation = frames
    for side, items in (("train", train), ("validation", validation)):
        for frame in items:
            annotation = json.loads(frame.annotation_json)
            if side == "validation" and wrong_validation:  # boxes moved to the top-left corner
                for box in annotation["annotations"]:
                    box["left"], box["top"] = 0, 0
            s3.put_object(Bucket=BUCKET, Key=f"{root}{side}/{frame.name}", Body=frame.jpeg)
            key = f"{root}{side}_annotation/{frame.name.replace('.jpg', '.json')}"
            s3.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(annotation).encode())


def channels(root=ROOT):
    return [
        {
            "ChannelName": c,
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/{root}{c}/"}},
        }
        for c in training.CHANNELS
    ]


HYPERPARAMETERS = {"num_classes": "1", "image_shape": "512", "epochs": "60", "nms_threshold": "0.45"}


@pytest.fixture
def s3():
    with mock_aws():
        client = boto3.client("s3")
        client.create_bucket(Bucket=BUCKET)
        yield client


def artifact_files(s3, uri: str) -> dict[str, bytes]:
    body = s3.get_object(Bucket=BUCKET, Key=uri.split("/", 3)[3])["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as archive:
        return {m.name: archive.extractfile(m).read() for m in archive.getmembers()}


def test_trains_evaluates_and_writes_the_artifact(s3, frames):
    upload(s3, frames)
    uri = f"s3://{BUCKET}/retraining/output/job-1/output/model.tar.gz"
    outcome = training.train_job(s3, "job-1", HYPERPARAMETERS, channels(), uri)
    assert outcome.status == "Completed", outcome.failure_reason
    assert 0.6 < outcome.validation_map <= 1.0  # faces of people the detector never saw
    files = artifact_files(s3, uri)
    assert set(files) == {"model.json", "hog_svm.json", "hyperparams.json", "metrics.json"}
    model = json.loads(files["model.json"])
    assert (
        model["detector"] == "hog"
        and model["classes"] == ["face"]
        and model["input"] == {"width": 512, "height": 384}
    )
    metrics = json.loads(files["metrics.json"])
    assert metrics["validation:mAP"] == outcome.validation_map
    assert metrics["validation_boxes"]["face"] == sum(len(f.boxes) for f in frames[1])
    hyper = json.loads(files["hyperparams.json"])
    assert "epochs" in hyper["ignored"] and "nms_threshold" in hyper["used"]


def test_wrong_validation_labels_give_a_much_lower_map(s3, frames):
    upload(s3, frames)
    good = training.train_job(s3, "good", HYPERPARAMETERS, channels(), f"s3://{BUCKET}/out/good/model.tar.gz")
    upload(s3, frames, root="wrong/", wrong_validation=True)
    wrong = training.train_job(
        s3, "wrong", HYPERPARAMETERS, channels("wrong/"), f"s3://{BUCKET}/out/w/model.tar.gz"
    )
    assert wrong.status == "Completed"
    assert wrong.validation_map < 0.2 < 0.6 < good.validation_map


def test_an_empty_channel_fails_with_a_reason(s3, frames):
    upload(s3, ([], frames[1]))
    outcome = training.train_job(
        s3, "empty", HYPERPARAMETERS, channels(), f"s3://{BUCKET}/out/e/model.tar.gz"
    )
    assert outcome.status == "Failed"
    assert outcome.failure_reason == f"ClientError: channel train (s3://{BUCKET}/{ROOT}train/) has no images"
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix="out/")


def test_an_annotation_naming_a_missing_image_fails(s3, frames):
    upload(s3, frames)
    s3.put_object(
        Bucket=BUCKET,
        Key=f"{ROOT}train_annotation/ghost.json",
        Body=json.dumps({"file": "ghost.jpg"}).encode(),
    )
    outcome = training.train_job(s3, "ghost", HYPERPARAMETERS, channels(), f"s3://{BUCKET}/o/model.tar.gz")
    assert (
        outcome.status == "Failed"
        and "names ghost.jpg, which is not in channel train" in outcome.failure_reason
    )


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
