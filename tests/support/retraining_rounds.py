"""The retraining flow on an OfflineStack: the template's functions, tables, topic and the real
retrain state machine in moto's ASL interpreter, with a training-outcome hook.

Camera uploads to the detections bucket reach CurateRetrainingFunction through the template's S3
event; reaching RetrainThreshold starts an execution. The local SageMaker engine's `outcome` hook
decides each training job (status, validation:mAP, failure reason) instead of training, and writes
the job's model.tar.gz (so Greengrass's artifact check sees it, as on AWS); the local Greengrass
engine records the component versions the publish function creates.
"""

from __future__ import annotations

import io
import json
import tarfile
import uuid
from dataclasses import dataclass, field

from visionpipe.local.engines.training import TrainingOutcome, parse_s3_uri
from visionpipe.local.stack import OfflineStack
from visionpipe_common.retraining.candidates import CandidateStore


@dataclass
class TrainingScenario:
    """What the next training job reports."""

    status: str = "Completed"
    validation_map: float | None = 0.71
    failure_reason: str = ""
    jobs: list = field(default_factory=list)  # (name, hyperparameters, channels) per job


class RetrainingRounds:
    def __init__(self, threshold: int = 3, classes: str = "thumbs-up,peace"):
        self.training = TrainingScenario()
        overrides = {
            "RetrainThreshold": str(threshold),
            "RetrainAutoApprove": "true",
            "DetectorClasses": classes,
        }
        self.stack = OfflineStack(parameter_overrides=overrides, provision_model=False, retry_delay=0.05)

    def __enter__(self) -> RetrainingRounds:
        self.stack.start()
        self.stack.training.outcome = self._outcome
        self.outputs = self.stack.outputs()
        self.s3, self.sfn = self.stack.client("s3"), self.stack.client("stepfunctions")
        self.sagemaker = self.stack.client("sagemaker")
        self.table = self.stack.session.resource("dynamodb", endpoint_url=self.stack.endpoint_url).Table(
            self.outputs["CandidatesTableName"]
        )
        self.state_machine_arn = self.outputs["RetrainStateMachineArn"]
        self.detections_bucket, self.model_bucket = (
            self.outputs["DetectionsBucketName"],
            self.outputs["ModelBucketName"],
        )
        self.model_package_group = self.outputs["RetrainModelPackageGroupArn"].rsplit("/", 1)[1]
        sqs = self.stack.client("sqs")
        self.sqs, self.inbox = sqs, sqs.create_queue(QueueName=f"inbox-{uuid.uuid4().hex[:6]}")["QueueUrl"]
        inbox_arn = sqs.get_queue_attributes(QueueUrl=self.inbox, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        topic = self.outputs["RetrainNotificationsTopicArn"]
        self.stack.client("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=inbox_arn)
        return self

    def __exit__(self, *exc_info) -> None:
        self.stack.stop()

    def _outcome(self, name: str, hyperparameters: dict, channels: list, artifact: str) -> TrainingOutcome:
        scenario = self.training
        scenario.jobs.append((name, dict(hyperparameters), channels))
        if scenario.status != "Completed":
            return TrainingOutcome(scenario.status, failure_reason=scenario.failure_reason)
        bucket, key = parse_s3_uri(artifact)
        self.s3.put_object(Bucket=bucket, Key=key, Body=_archive({"validation_mAP": scenario.validation_map}))
        return TrainingOutcome("Completed", scenario.validation_map, artifact=artifact)

    # ------------------------------------------------------------------ the camera and the results
    def upload_detection(self, name: str, image: bytes, annotation: bytes) -> None:
        """The camera's two uploads, raw image first; the annotation's S3 event reaches the curator."""
        self.s3.put_object(Bucket=self.detections_bucket, Key=f"raw_images/{name}.jpg", Body=image)
        self.s3.put_object(
            Bucket=self.detections_bucket, Key=f"training_annotation/{name}.json", Body=annotation
        )

    def candidates(self, status: str) -> list:
        return CandidateStore(self.table).with_status(status)

    def executions(self) -> list[dict]:
        return self.sfn.list_executions(stateMachineArn=self.state_machine_arn)["executions"]

    def wait_for_execution(self, timeout: float = 60.0) -> dict:
        """The one execution the curator started, once finished."""
        (execution,) = self.stack.wait_until(self.executions, timeout=timeout)

        def finished():
            description = self.sfn.describe_execution(executionArn=execution["executionArn"])
            return description if description["status"] != "RUNNING" else None

        return self.stack.wait_until(finished, timeout=timeout, interval=0.05)

    def states_entered(self, execution_arn: str) -> list[str]:
        events = self.sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
        return [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]

    def notifications(self) -> list[dict]:
        messages = self.sqs.receive_message(QueueUrl=self.inbox, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(m["Body"]) for m in messages]

    def recipes(self) -> list[dict]:
        return [c.recipe for c in self.stack.greengrass.components.values()]


def _archive(model: dict) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        data = json.dumps(model).encode()
        info = tarfile.TarInfo("model.json")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()
