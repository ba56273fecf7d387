"""What CurateRetrainingFunction's handler works against, under mock_aws, for handler tests:
the template's candidates table and detections bucket, and the retrain state machine registered
with its real definition (moto does not execute it here; tests/statemachines run it end to end
on the OfflineStack). The handler's environment comes from template.yaml (template_environment).
"""

from __future__ import annotations

import json
from pathlib import Path

import boto3

from support.template_environment import template_environment
from visionpipe.lambda_loader import load_handler_module
from visionpipe.local import moto_internals
from visionpipe.template import REPO_ROOT, table_definition

DETECTIONS_BUCKET = "visionpipe-detections-example"  # template_environment's stack-id bucket name
TABLE = "candidates"
TRUST = {
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ]
}


def atomic_dynamodb_requests(monkeypatch) -> None:
    """Each moto DynamoDB request atomic, as every real DynamoDB request is (moto_internals)."""
    for owner, name, value in moto_internals.atomic_dynamodb_patches():
        monkeypatch.setattr(owner, name, value)


class CurationStack:
    def __init__(self, monkeypatch, threshold: int = 3, auto_approve: bool = True):
        self.monkeypatch = monkeypatch
        self.s3 = boto3.client("s3")
        self.s3.create_bucket(Bucket=DETECTIONS_BUCKET)
        ddb = boto3.resource("dynamodb")
        ddb.create_table(TableName=TABLE, **table_definition("CandidatesTable"))
        self.table = ddb.Table(TABLE)
        role = boto3.client("iam").create_role(RoleName="retrain", AssumeRolePolicyDocument=json.dumps(TRUST))
        self.sfn = boto3.client("stepfunctions")
        definition = (REPO_ROOT / "statemachines" / "retrain.asl.json").read_text()
        self.state_machine_arn = self.sfn.create_state_machine(
            name="retrain", definition=definition, roleArn=role["Role"]["Arn"]
        )["stateMachineArn"]
        self.environment = template_environment(
            "CurateRetrainingFunction",
            {"CandidatesTable": TABLE, "RetrainStateMachine": self.state_machine_arn},
            RetrainThreshold=str(threshold),
            RetrainAutoApprove="true" if auto_approve else "false",
            DetectorClasses="thumbs-up,peace",
        )
        self.curator_module = None

    def curator(self):
        if self.curator_module is None:
            for name, value in self.environment.items():
                self.monkeypatch.setenv(name, value)
            self.curator_module = load_handler_module("curate_retraining")
        return self.curator_module

    def upload_detection(self, name: str, image: bytes, annotation: bytes) -> dict:
        """The camera's two uploads (raw image first) and the S3 event for the annotation."""
        self.s3.put_object(Bucket=DETECTIONS_BUCKET, Key=f"raw_images/{name}.jpg", Body=image)
        key = f"training_annotation/{name}.json"
        response = self.s3.put_object(Bucket=DETECTIONS_BUCKET, Key=key, Body=annotation)
        return s3_event(DETECTIONS_BUCKET, key, len(annotation), response["ETag"].strip('"'))

    def executions(self) -> list[dict]:
        return self.sfn.list_executions(stateMachineArn=self.state_machine_arn)["executions"]


def s3_event(bucket: str, key: str, size: int, etag: str) -> dict:
    template = json.loads((Path(REPO_ROOT) / "events" / "curate_retraining_annotation.json").read_text())
    record = template["Records"][0]
    record["s3"]["bucket"]["name"] = bucket
    record["s3"]["bucket"]["arn"] = f"arn:aws:s3:::{bucket}"
    record["s3"]["object"].update(key=key, size=size, eTag=etag, sequencer=f"{abs(hash(key + etag)):016X}")
    return template
