"""The local SageMaker training engine: CreateTrainingJob in moto runs the job's script-mode entry
point from its sourcedir.tar.gz in a subprocess (or takes the outcome hook's result).

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

from visionpipe.detector_model.contract import METRIC_REGEX, TRAINING_CHANNELS
from visionpipe.detector_model.source import upload_source
from visionpipe.local.engines import training
from visionpipe.local.engines.training import TrainingOutcome, captured_metrics

CHANNELS = TRAINING_CHANNELS

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
        for c in CHANNELS
    ]


HYPERPARAMETERS = {"num_classes": "1", "image_shape": "512", "epochs": "60", "nms_threshold": "0.45"}
SCRIPT_MODE = {
    "sagemaker_program": "train_hog.py",
    "sagemaker_submit_directory": f"s3://{BUCKET}/training/source/sourcedir.tar.gz",
}
METRICS = [{"Name": "validation:mAP", "Regex": METRIC_REGEX}]


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


def test_create_training_job_runs_the_script_mode_entry_point(s3, frames):
    upload(s3, frames)
    upload(s3, ([], frames[1]), root="empty/")
    upload_source(s3, BUCKET)
    engine = training.TrainingEngine(lambda: s3, owns=lambda job: True, sync_seconds=120)
    with engine.installed():
        sagemaker = boto3.client("sagemaker")
        common = {
            "AlgorithmSpecification": {
                "TrainingImage": "1.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2",
                "TrainingInputMode": "File",
                "MetricDefinitions": METRICS,
            },
            "RoleArn": "arn:aws:iam::123456789012:role/r",
            "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/retraining/output/"},
            "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.p3.2xlarge", "VolumeSizeInGB": 50},
            "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
            "HyperParameters": {**HYPERPARAMETERS, **SCRIPT_MODE},
        }
        sagemaker.create_training_job(TrainingJobName="ok", InputDataConfig=channels(), **common)
        sagemaker.create_training_job(TrainingJobName="bad", InputDataConfig=channels("empty/"), **common)
        ok = sagemaker.describe_training_job(TrainingJobName="ok")
        bad = sagemaker.describe_training_job(TrainingJobName="bad")
    assert ok["TrainingJobStatus"] == "Completed" and "FailureReason" not in ok
    (value,) = [m["Value"] for m in ok["FinalMetricDataList"] if m["MetricName"] == "validation:mAP"]
    assert 0.6 < value <= 1.0
    uri = ok["ModelArtifacts"]["S3ModelArtifacts"]
    assert uri == f"s3://{BUCKET}/retraining/output/ok/output/model.tar.gz"
    files = artifact_files(s3, uri)
    assert json.loads(files["metrics.json"])["validation:mAP"] == pytest.approx(value, abs=1e-6)
    assert json.loads(files["model.json"])["training_job"] == "ok"  # TRAINING_JOB_NAME, as in the container
    assert f"validation:mAP={value:.6f}" in engine.logs["ok"]
    assert (bad["TrainingJobStatus"], bad["FailureReason"]) == (
        "Failed",
        "ClientError: channel train has no images",
    )
    assert not [m for m in bad["FinalMetricDataList"] if m["MetricName"] == "validation:mAP"]


def test_a_job_without_the_script_mode_pair_or_metric_definitions(s3, frames):
    upload(s3, frames)
    upload_source(s3, BUCKET)
    engine = training.TrainingEngine(lambda: s3, owns=lambda job: True, sync_seconds=120)
    request = {
        "AlgorithmSpecification": {
            "TrainingImage": "1.dkr.ecr.us-east-1.amazonaws.com/x:1",
            "TrainingInputMode": "File",
        },
        "RoleArn": "arn:aws:iam::123456789012:role/r",
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/out/"},
        "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 5},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        "InputDataConfig": channels(),
    }
    with engine.installed():
        sagemaker = boto3.client("sagemaker")
        sagemaker.create_training_job(
            TrainingJobName="no-program", HyperParameters=HYPERPARAMETERS, **request
        )
        sagemaker.create_training_job(
            TrainingJobName="no-metrics", HyperParameters={**HYPERPARAMETERS, **SCRIPT_MODE}, **request
        )
        no_program = sagemaker.describe_training_job(TrainingJobName="no-program")
        no_metrics = sagemaker.describe_training_job(TrainingJobName="no-metrics")
    assert no_program["TrainingJobStatus"] == "Failed" and "sagemaker_program" in no_program["FailureReason"]
    # SageMaker captures only what MetricDefinitions ask for: the printed mAP is in the log, not the metrics
    assert no_metrics["TrainingJobStatus"] == "Completed"
    assert "validation:mAP=" in engine.logs["no-metrics"]
    assert not [m for m in no_metrics["FinalMetricDataList"] if m["MetricName"] == "validation:mAP"]


def test_metric_definitions_capture_the_last_value():
    log = "epoch 1\nvalidation:mAP=0.25\nnoise validation:mAP=oops\nvalidation:mAP=0.5\n"
    assert captured_metrics(log, [{"Name": "validation:mAP", "Regex": METRIC_REGEX}]) == {
        "validation:mAP": 0.5
    }


def test_the_outcome_hook_decides_instead_of_training(s3):
    engine = training.TrainingEngine(lambda: s3, owns=lambda job: True)
    received = []

    def outcome(name, hyperparameters, channels, artifact):
        received.append((name, hyperparameters["num_classes"], artifact))
        if name == "kept":
            return TrainingOutcome("Completed", 0.64, artifact=artifact)
        return TrainingOutcome("Failed", failure_reason="AlgorithmError: CUDA out of memory")

    engine.outcome = outcome
    sagemaker = boto3.client("sagemaker")
    request = {
        "AlgorithmSpecification": {
            "TrainingImage": "1.dkr.ecr.us-east-1.amazonaws.com/od:1",
            "TrainingInputMode": "File",
        },
        "RoleArn": "arn:aws:iam::123456789012:role/r",
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/out/"},
        "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.p3.2xlarge", "VolumeSizeInGB": 50},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        "HyperParameters": HYPERPARAMETERS,
        "InputDataConfig": channels(),
    }
    with engine.installed():
        sagemaker.create_training_job(TrainingJobName="kept", **request)
        sagemaker.create_training_job(TrainingJobName="failed", **request)
    kept = sagemaker.describe_training_job(TrainingJobName="kept")
    failed = sagemaker.describe_training_job(TrainingJobName="failed")
    assert received == [
        ("kept", "1", f"s3://{BUCKET}/out/kept/output/model.tar.gz"),
        ("failed", "1", f"s3://{BUCKET}/out/failed/output/model.tar.gz"),
    ]
    assert kept["TrainingJobStatus"] == "Completed"
    assert [m["Value"] for m in kept["FinalMetricDataList"] if m["MetricName"] == "validation:mAP"] == [0.64]
    assert (failed["TrainingJobStatus"], failed["FailureReason"]) == (
        "Failed",
        "AlgorithmError: CUDA out of memory",
    )
    assert [j.training_job_name for j in engine.jobs] == ["kept", "failed"]
