"""An in-process retraining stack on moto: tables, buckets, topic, the three task functions and the
retrain state machine run by moto's ASL interpreter.

Only what moto cannot do is replaced, and only from the outside:
- Lambda: moto would run handlers in docker; here LambdaFunction.invoke calls the real handler
  modules in-process (same spirit as tools/visionpipe/local/lambda_bridge.py).
- SageMaker training: moto's jobs always complete at once with no validation:mAP; a
  `training` scenario sets what the finished job reports (status, failure reason, mAP).
- Greengrass v2 (not in moto): the publish function's client is a botocore Stubber, which
  validates the request against the real API model.
The definition itself is loaded from statemachines/retrain.asl.json with the template's
DefinitionSubstitutions; the only resource swapped is the .sync training task (moto cannot run
.sync), replaced by the same API through aws-sdk with identical parameters.
"""

from __future__ import annotations

import io
import json
import re
import threading
import time
import traceback
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import boto3
from botocore.stub import ANY, Stubber
from moto.awslambda import models as lambda_models
from moto.sagemaker import models as sagemaker_models

from support.lambda_context import FakeLambdaContext
from visionpipe.lambda_loader import load_handler_module
from visionpipe.template import REPO_ROOT, load_template, table_definition

ACCOUNT, REGION = "123456789012", "us-east-1"
DETECTIONS_BUCKET = "visionpipe-detections-test"
MODEL_BUCKET = "visionpipe-models-test"
TABLE = "candidates"
STACK = "visionpipe-test"
COMPONENT = "com.visionpipe.DetectorModel"
TRAINING_IMAGE = "811284229777.dkr.ecr.us-east-1.amazonaws.com/object-detection:1"
FUNCTIONS = {
    "BuildDatasetFunctionArn": "build_retraining_dataset",
    "FinishRoundFunctionArn": "finish_retraining_round",
    "PublishModelComponentFunctionArn": "publish_model_component",
}
SDK_TRAINING = "arn:aws:states:::aws-sdk:sagemaker:createTrainingJob"


@dataclass
class TrainingScenario:
    status: str = "Completed"
    validation_map: float | None = 0.71
    failure_reason: str = ""
    jobs: list = field(default_factory=list)


def atomic_dynamodb_requests(monkeypatch) -> None:
    """Make each moto DynamoDB request atomic, as every real DynamoDB request is.

    moto's backend is not thread-safe (transact_write_items deep-copies the table while other
    threads write to it). Requests stay separate, so races between requests (GetItem, then a
    conditional UpdateItem) happen exactly as against DynamoDB.
    """
    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()
    for name in (
        "get_item",
        "put_item",
        "update_item",
        "transact_write_items",
        "query",
        "scan",
        "delete_item",
    ):
        original = getattr(DynamoDBBackend, name)

        def locked(self, *args, _original=original, **kwargs):
            with lock:
                return _original(self, *args, **kwargs)

        monkeypatch.setattr(DynamoDBBackend, name, locked)


def function_arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


def definition_for_moto(substitutions: dict[str, str]) -> str:
    text = (REPO_ROOT / "statemachines" / "retrain.asl.json").read_text()
    return re.sub(r"\$\{(\w+)\}", lambda m: substitutions[m.group(1)], text)


def template_substitution_names() -> set[str]:
    machine = load_template()["Resources"]["RetrainStateMachine"]["Properties"]
    return set(machine["DefinitionSubstitutions"])


class RetrainingStack:
    def __init__(self, monkeypatch, threshold: int = 3, auto_approve: bool = True):
        self.monkeypatch = monkeypatch
        self.training = TrainingScenario()
        self.recipes: list[dict] = []
        self._install_fakes()
        self.s3 = boto3.client("s3")
        for bucket in (DETECTIONS_BUCKET, MODEL_BUCKET):
            self.s3.create_bucket(Bucket=bucket)
        ddb = boto3.resource("dynamodb")
        ddb.create_table(TableName=TABLE, **table_definition("CandidatesTable"))
        self.table = ddb.Table(TABLE)
        self.sns = boto3.client("sns")
        self.topic_arn = self.sns.create_topic(Name="retrain-notifications")["TopicArn"]
        self.sqs = boto3.client("sqs")
        self.inbox = self.sqs.create_queue(QueueName="inbox")["QueueUrl"]
        inbox_arn = self.sqs.get_queue_attributes(QueueUrl=self.inbox, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self.sns.subscribe(TopicArn=self.topic_arn, Protocol="sqs", Endpoint=inbox_arn)
        self.sagemaker = boto3.client("sagemaker")
        self.model_package_group = f"{STACK}-detector"
        self.sagemaker.create_model_package_group(ModelPackageGroupName=self.model_package_group)
        role = boto3.client("iam").create_role(
            RoleName="retrain", AssumeRolePolicyDocument=json.dumps({"Statement": []})
        )["Role"]["Arn"]

        self.sfn = boto3.client("stepfunctions")
        self.state_machine_arn = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:retrain"
        for key, value in {
            "CANDIDATES_TABLE": TABLE,
            "MODEL_BUCKET": MODEL_BUCKET,
            "BASE_DATASET_PREFIX": "datasets/base/",
            "ROUNDS_PREFIX": "datasets/rounds/",
            "TRAINING_OUTPUT_PREFIX": "retraining/output/",
            "CLASS_NAMES": "thumbs-up,peace",
            "VALIDATION_FRACTION": "0.25",
            "RETRAIN_THRESHOLD": str(threshold),
            "AUTO_APPROVE": "true" if auto_approve else "false",
            "RETRAIN_STATE_MACHINE_ARN": self.state_machine_arn,
            "MODEL_COMPONENT_NAME": COMPONENT,
            "POWERTOOLS_SERVICE_NAME": "retraining",
        }.items():
            monkeypatch.setenv(key, value)
        self.handlers = {}
        lambda_client = boto3.client("lambda")
        for directory in FUNCTIONS.values():
            module = load_handler_module(directory)
            self.handlers[directory] = module.lambda_handler
            lambda_client.create_function(
                FunctionName=directory,
                Runtime="python3.13",
                Role=role,
                Handler="app.lambda_handler",
                Code={"ZipFile": _empty_zip()},
            )
            if directory == "publish_model_component":
                module.greengrass = self._stubbed_greengrass()
        substitutions = {
            **{key: function_arn(name) for key, name in FUNCTIONS.items()},
            "CreateTrainingJobResource": SDK_TRAINING,
            "TrainingImage": TRAINING_IMAGE,
            "TrainingInstanceType": "ml.p3.2xlarge",
            "SageMakerRoleArn": role,
            "CandidatesTableName": TABLE,
            "ModelPackageGroupName": self.model_package_group,
            "NotificationTopicArn": self.topic_arn,
        }
        self.substitutions = substitutions
        self.sfn.create_state_machine(
            name="retrain", definition=definition_for_moto(substitutions), roleArn=role
        )
        self.curator_module = None

    # ------------------------------------------------------------------ fakes
    def _install_fakes(self) -> None:
        scenario = self
        original_init = sagemaker_models.FakeTrainingJob.__init__

        def training_job_init(job, *args, **kwargs):
            original_init(job, *args, **kwargs)
            outcome = scenario.training
            job.training_job_status = job.secondary_status = outcome.status
            if outcome.status == "Failed":
                job.failure_reason = outcome.failure_reason
            elif outcome.validation_map is not None:
                job.final_metric_data_list.append(
                    {
                        "MetricName": "validation:mAP",
                        "Value": outcome.validation_map,
                        "Timestamp": job.creation_time,
                    }
                )
            outcome.jobs.append(job)

        def invoke(function, body, request_headers, response_headers):
            handler = scenario.handlers.get(function.function_name)
            event = json.loads(body) if body else {}
            try:
                return json.dumps(
                    handler(event, FakeLambdaContext(function_name=function.function_name))
                ).encode()
            except Exception as exc:
                response_headers["x-amz-function-error"] = "Unhandled"
                return json.dumps(
                    {
                        "errorMessage": str(exc),
                        "errorType": type(exc).__name__,
                        "stackTrace": traceback.format_tb(exc.__traceback__),
                    }
                ).encode()

        self.monkeypatch.setattr(sagemaker_models.FakeTrainingJob, "__init__", training_job_init)
        self.monkeypatch.setattr(lambda_models.LambdaFunction, "invoke", invoke)

    def _stubbed_greengrass(self):
        client = boto3.client("greengrassv2")
        stubber = Stubber(client)
        stubber.activate()
        recipes = self.recipes

        class Recording:
            """CreateComponentVersion through the Stubber (request checked against the real API model)."""

            def create_component_version(self, **kwargs):
                recipe = json.loads(kwargs["inlineRecipe"])
                recipes.append(recipe)
                name, version = recipe["ComponentName"], recipe["ComponentVersion"]
                stubber.add_response(
                    "create_component_version",
                    {
                        "arn": f"arn:aws:greengrass:{REGION}:{ACCOUNT}:components:{name}:versions:{version}",
                        "componentName": name,
                        "componentVersion": version,
                        "creationTimestamp": "2026-11-21T08:00:00Z",
                        "status": {"componentState": "REQUESTED", "message": "NONE", "errors": {}},
                    },
                    {"inlineRecipe": ANY},
                )
                return client.create_component_version(**kwargs)

        return Recording()

    # ------------------------------------------------------------------ helpers
    def curator(self):
        if self.curator_module is None:
            self.monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "curate_retraining")
            self.curator_module = load_handler_module("curate_retraining")
        return self.curator_module

    def upload_detection(self, name: str, image: bytes, annotation: bytes) -> dict:
        """The camera's two uploads (raw image first) and the S3 event for the annotation."""
        self.s3.put_object(Bucket=DETECTIONS_BUCKET, Key=f"raw_images/{name}.jpg", Body=image)
        key = f"training_annotation/{name}.json"
        response = self.s3.put_object(Bucket=DETECTIONS_BUCKET, Key=key, Body=annotation)
        return s3_event(DETECTIONS_BUCKET, key, len(annotation), response["ETag"].strip('"'))

    def wait_for_execution(self, execution_arn: str, timeout: float = 60.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            description = self.sfn.describe_execution(executionArn=execution_arn)
            if description["status"] != "RUNNING":
                return description
            time.sleep(0.05)
        raise AssertionError(f"{execution_arn} still running after {timeout}s")

    def states_entered(self, execution_arn: str) -> list[str]:
        events = self.sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
        return [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]

    def notifications(self) -> list[dict]:
        messages = self.sqs.receive_message(QueueUrl=self.inbox, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(m["Body"]) for m in messages]

    def executions(self) -> list[dict]:
        return self.sfn.list_executions(stateMachineArn=self.state_machine_arn)["executions"]


def s3_event(bucket: str, key: str, size: int, etag: str) -> dict:
    template = json.loads((Path(REPO_ROOT) / "events" / "curate_retraining_annotation.json").read_text())
    record = template["Records"][0]
    record["s3"]["bucket"]["name"] = bucket
    record["s3"]["bucket"]["arn"] = f"arn:aws:s3:::{bucket}"
    record["s3"]["object"].update(key=key, size=size, eTag=etag, sequencer=f"{abs(hash(key + etag)):016X}")
    return template


def _empty_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def lambda_handler(event, context):\n    return event\n")
    return buffer.getvalue()
