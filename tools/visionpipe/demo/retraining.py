"""Retraining in the demo: a small base dataset (real faces, labelled by the device's own detector)
uploaded with the dataset tools before the round, then the round the review started, followed to
its end in moto's ASL interpreter with the local SageMaker and Greengrass engines."""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from visionpipe.dataset.upload import UploadReport, upload_channels
from visionpipe.demo.edge import face_footage
from visionpipe.detector_model.source import SOURCE_KEY, upload_source

BASE_PREFIX = "datasets/base/"
FACE_SIZES = (50, 150)  # face sizes in the 640x480 base frames
BASE_TRAIN, BASE_VALIDATION = 14, 8


def upload_base_dataset(stack, outputs: dict, folder: Path) -> UploadReport:
    """People 0-59 of the LFW subset in train, 60-79 in validation (the camera shows someone else):
    written as the four channels `visionpipe dataset split` makes, uploaded as `dataset upload` does."""
    footage = face_footage()
    if folder.exists():
        shutil.rmtree(folder)
    footage.write_channels(
        folder,
        footage.camera_frames(BASE_TRAIN, range(60), seed=11, prefix="raw_base-train", sizes=FACE_SIZES),
        footage.camera_frames(
            BASE_VALIDATION, range(60, 80), seed=12, prefix="raw_base-val", sizes=FACE_SIZES
        ),
    )
    variables = stack.functions["BuildRetrainingDatasetFunction"].variables
    s3 = stack.client("s3")
    # `visionpipe training upload-source`: the script-mode code every round's job runs
    upload_source(s3, outputs["ModelBucketName"], variables.get("TRAINING_SOURCE_KEY", SOURCE_KEY))
    return upload_channels(
        s3, folder, outputs["ModelBucketName"], variables.get("BASE_DATASET_PREFIX", BASE_PREFIX)
    )


def subscribe_inbox(stack, outputs: dict) -> str:
    """An SQS queue subscribed to the round's SNS topic, to show the notification."""
    sqs = stack.client("sqs")
    url = sqs.create_queue(QueueName="visionpipe-demo-retrain-inbox")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    stack.client("sns").subscribe(
        TopicArn=outputs["RetrainNotificationsTopicArn"], Protocol="sqs", Endpoint=arn
    )
    return url


@dataclass
class RoundResult:
    execution_arn: str
    status: str = "RUNNING"
    states: list[str] = field(default_factory=list)
    outcome: str = ""  # adopted | kept | failed
    validation_map: float | None = None
    compared_with: str = ""
    training_job: str = ""
    training_status: str = ""
    training_seconds: float | None = None
    train_images: int | None = None
    validation_images: int | None = None
    new_candidates: int | None = None
    model_package_arn: str = ""
    component_name: str = ""
    component_version: str = ""
    component_state: str = ""
    notification_subject: str = ""
    notification: str = ""
    error: str = ""

    @property
    def model_package(self) -> str:
        """<group>/<version> from the model package ARN."""
        return self.model_package_arn.split(":model-package/", 1)[-1]

    def problems(self) -> list[str]:
        problems = []
        if self.status != "SUCCEEDED":
            problems.append(f"the round ended {self.status}{': ' + self.error if self.error else ''}")
        if self.outcome not in ("adopted", "kept"):
            problems.append(f"the round neither adopted nor kept a model (states: {' > '.join(self.states)})")
        if self.training_status != "Completed" or self.validation_map is None:
            problems.append(
                f"training job {self.training_job or '?'}: {self.training_status or 'none'}, no mAP"
            )
        if self.outcome == "adopted":
            if not self.model_package_arn:
                problems.append("adopted but no model package registered")
            if self.component_state != "DEPLOYABLE":
                problems.append(f"component version {self.component_version or '?'}: {self.component_state}")
        if not self.notification_subject:
            problems.append("no SNS notification received")
        return problems


def wait_for_round(stack, execution_arn: str, inbox_url: str, timeout: float) -> RoundResult:
    sfn = stack.client("stepfunctions")
    result = RoundResult(execution_arn)
    deadline = time.monotonic() + timeout
    while True:
        described = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    result.status = described["status"]
    events = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
    result.states = [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]
    result.outcome = (
        "adopted" if "Adopted" in result.states else "kept" if "Kept" in result.states else "failed"
    )
    output = json.loads(described.get("output") or "{}")
    build = (output.get("build") or {}).get("result") or {}
    result.training_job = build.get("training_job_name", "")
    result.train_images = build.get("train_images")
    result.validation_images = build.get("validation_images")
    result.new_candidates = build.get("new_candidates")
    result.compared_with = str((output.get("current_model") or {}).get("label", ""))
    result.model_package_arn = (output.get("model_package") or {}).get("arn", "")
    result.error = json.dumps(output["error"])[:300] if output.get("error") else described.get("error", "")
    read_training_job(stack, result)
    read_component(stack, output, result)
    read_notification(stack, inbox_url, result, min(deadline, time.monotonic() + 10))
    return result


def read_training_job(stack, result: RoundResult) -> None:
    sagemaker = stack.client("sagemaker")
    if not result.training_job:  # a round that failed before BuildDataset's result: the latest job
        jobs = sagemaker.list_training_jobs(SortBy="CreationTime", SortOrder="Descending")[
            "TrainingJobSummaries"
        ]
        result.training_job = jobs[0]["TrainingJobName"] if jobs else ""
    if not result.training_job:
        return
    job = sagemaker.describe_training_job(TrainingJobName=result.training_job)
    result.training_status = job["TrainingJobStatus"]
    result.training_seconds = job.get("TrainingTimeInSeconds")
    maps = [m["Value"] for m in job.get("FinalMetricDataList", []) if m["MetricName"] == "validation:mAP"]
    result.validation_map = maps[0] if maps else None


def read_component(stack, output: dict, result: RoundResult) -> None:
    component = (output.get("component") or {}).get("result") or {}
    if not component.get("arn"):
        return
    described = stack.client("greengrassv2").describe_component(arn=component["arn"])
    result.component_name = described["componentName"]
    result.component_version = described["componentVersion"]
    result.component_state = described["status"]["componentState"]


def read_notification(stack, inbox_url: str, result: RoundResult, deadline: float) -> None:
    sqs = stack.client("sqs")
    while True:
        messages = sqs.receive_message(QueueUrl=inbox_url, MaxNumberOfMessages=1, WaitTimeSeconds=1).get(
            "Messages"
        )
        if messages:
            body = json.loads(messages[0]["Body"])
            result.notification_subject, result.notification = (
                body.get("Subject", ""),
                body.get("Message", ""),
            )
            sqs.delete_message(QueueUrl=inbox_url, ReceiptHandle=messages[0]["ReceiptHandle"])
            return
        if time.monotonic() > deadline:
            return
