"""IAM is enforced locally: a template copy missing one needed statement per function (and per
state machine and device policy) makes exactly that flow fail with AccessDenied, where AWS would.

One stack on the copy (every removal at once: each flow stops at its own first denied call).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.support.images import jpeg_bytes
from tests.support.tweets import record
from visionpipe.local.stack import OfflineStack
from visionpipe.template import REPO_ROOT, TEMPLATE_PATH, load_template
from visionpipe_common.frame_capture.mediaconvert_job import job_record_key

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("own_stacks")]

# (resource, Sid of the statement removed) -> the action the flow is then refused
REMOVED = {
    ("DetectAnomalyFunction", "WriteVerdicts"): "dynamodb:PutItem",
    ("TweetDetectionFunction", "DeviceCooldown"): "dynamodb:",
    ("FrameCaptureFunction", "WriteFrames"): "s3:PutObject",
    ("CaptureOutcomesPolicy", "WriteFailures"): "dynamodb:PutItem",  # capture_job_state's only table right
    ("CurateRetrainingFunction", "ReadAnnotationsAndRawImages"): "s3:GetObject",
    ("BuildRetrainingDatasetFunction", "ClaimCandidates"): "dynamodb:",
    ("PublishModelComponentFunction", "CreateComponentVersion"): "greengrass:CreateComponentVersion",
}


def _statements(resource: dict) -> list[list]:
    props = resource["Properties"]
    if "PolicyDocument" in props:
        return [props["PolicyDocument"]["Statement"]]
    return [p["Statement"] for p in props.get("Policies", []) if isinstance(p, dict) and "Statement" in p]


def template_copy(folder: Path) -> Path:
    template = json.loads(json.dumps(load_template(TEMPLATE_PATH)))
    for (logical_id, sid), _ in REMOVED.items():
        lists = _statements(template["Resources"][logical_id])
        removed = [s for statements in lists for s in statements if s.get("Sid") == sid]
        assert len(removed) == 1, (logical_id, sid)
        for statements in lists:
            statements[:] = [s for s in statements if s.get("Sid") != sid]
    # a policy needs a statement: the finishing task's only one keeps the index, not the table
    (finish,) = _statements(template["Resources"]["FinishRetrainingRoundFunction"])[0]
    finish["Resource"] = finish["Resource"][1:]
    # the device policy's upload statement keeps images/ alone
    statements = template["Resources"]["EdgeDeviceUploadPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    (device,) = [s for s in statements if s.get("Sid") == "PutDetections"]
    device["Resource"] = device["Resource"][:1]
    assert device["Resource"][0]["Fn::Sub"].endswith("/images/*")
    # the state machine loses its first policy: lambda:InvokeFunction on the dataset task
    machine = template["Resources"]["RetrainStateMachine"]["Properties"]
    assert "LambdaInvokePolicy" in machine["Policies"][0]
    machine["Policies"] = machine["Policies"][1:]
    for name in ("functions", "layers", "statemachines", "device"):
        (folder / name).symlink_to(REPO_ROOT / name)
    path = folder / "template.json"
    path.write_text(json.dumps(template))
    return path


@pytest.fixture(scope="module")
def stack(tmp_path_factory, anomaly_model_dir):
    folder = tmp_path_factory.mktemp("iam-template")
    with OfflineStack(
        template_path=template_copy(folder), model_dir=anomaly_model_dir, retry_delay=0.05
    ) as running:
        yield running


def denied(stack, who: str, action: str):
    def find():
        return [d for d in stack.authorizer.denials if f"({who})" in d and f"perform: {action}" in d]

    return stack.wait_until(find, timeout=60)


def invoke(stack, function: str, event: dict) -> dict:
    name = stack.functions[function].name
    response = stack.client("lambda").invoke(FunctionName=name, Payload=json.dumps(event).encode())
    assert response.get("FunctionError") == "Unhandled"
    return json.loads(response["Payload"].read())


def test_detect_anomaly_without_its_table_right_is_refused(stack):
    bucket = stack.outputs()["ImageBucketName"]
    stack.client("s3").put_object(
        Bucket=bucket, Key=f"image_inputs/{uuid.uuid4().hex}.jpg", Body=jpeg_bytes()
    )
    assert denied(stack, "DetectAnomalyFunction", REMOVED["DetectAnomalyFunction", "WriteVerdicts"])


def test_tweets_without_the_cooldown_table_are_refused(stack):
    body = json.dumps(record(device="cam-iam", timestamp="20261121-083114")).encode()
    bucket = stack.outputs()["DetectionsBucketName"]
    stack.client("s3").put_object(Bucket=bucket, Key="json/record_cam-iam_20261121-083114.json", Body=body)
    assert denied(stack, "TweetDetectionFunction", "dynamodb:")


def test_frame_capture_without_writing_frames_is_refused(stack, tmp_path):
    from visionpipe.synthetic_video import ClipSpec, write_clip

    clip = write_clip(tmp_path / "clip.mp4", ClipSpec(seconds=6, width=160, height=120)).read_bytes()
    bucket = stack.outputs()["VideoBucketName"]
    stack.client("s3").put_object(Bucket=bucket, Key="video_inputs/iam clip.mp4", Body=clip)
    assert denied(stack, "FrameCaptureFunction", "s3:PutObject")


def test_capture_job_state_without_writing_failures_is_refused(stack):
    event = json.loads((REPO_ROOT / "events" / "capture_job_state_error.json").read_text())
    event["detail"]["userMetadata"]["visionpipe-stack"] = stack.pseudo.stack_name
    upload = event["detail"]["userMetadata"]["visionpipe-upload"]  # the record frame_capture writes first
    stack.client("s3").put_object(
        Bucket=stack.outputs()["ResultsBucketName"],
        Key=job_record_key(upload),
        Body=(REPO_ROOT / "events" / "records" / "capture_job_record.json").read_bytes(),
    )
    payload = invoke(stack, "CaptureJobStateFunction", event)
    assert "AccessDenied" in payload["errorMessage"]
    assert denied(stack, "CaptureJobStateFunction", "dynamodb:PutItem")


def test_curation_without_reading_annotations_is_refused(stack):
    bucket = stack.outputs()["DetectionsBucketName"]
    stack.client("s3").put_object(Bucket=bucket, Key="training_annotation/iam.json", Body=b"{}")
    assert denied(stack, "CurateRetrainingFunction", "s3:GetObject")


@pytest.mark.parametrize(
    ("function", "event_file", "action"),
    [
        ("BuildRetrainingDatasetFunction", "build_retraining_dataset.json", "dynamodb:"),
        ("FinishRetrainingRoundFunction", "finish_retraining_round.json", "dynamodb:"),
        (
            "PublishModelComponentFunction",
            "publish_model_component.json",
            "greengrass:CreateComponentVersion",
        ),
    ],
)
def test_retraining_tasks_without_their_statement_are_refused(stack, function, event_file, action):
    payload = invoke(stack, function, json.loads((REPO_ROOT / "events" / event_file).read_text()))
    assert "AccessDenied" in payload["errorMessage"] and action in payload["errorMessage"]


def test_the_state_machine_without_invoking_its_first_task_fails(stack):
    sfn = stack.client("stepfunctions")
    arn = stack.outputs()["RetrainStateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"round": 99}))["executionArn"]
    assert denied(stack, "RetrainStateMachine", "lambda:InvokeFunction")
    status = stack.wait_until(lambda: sfn.describe_execution(executionArn=execution)["status"] != "RUNNING")
    assert status


def test_the_edge_device_without_its_policy_cannot_upload(stack):
    s3 = stack.device_session().client("s3", endpoint_url=stack.endpoint_url)
    with pytest.raises(ClientError) as refused:
        s3.put_object(
            Bucket=stack.outputs()["DetectionsBucketName"], Key="json/record_cam_1.json", Body=b"{}"
        )
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    assert "s3:PutObject" in refused.value.response["Error"]["Message"]


def _function_session(stack, function: str):
    return stack.role_session(stack.functions[function].role_arn, "lambda.amazonaws.com", f"{function}-probe")


def test_a_missing_object_is_404_with_list_bucket_and_403_without(stack):
    """S3 answers a missing object 404 only to a caller with s3:ListBucket on the bucket."""
    detections, models = stack.outputs()["DetectionsBucketName"], stack.outputs()["ModelBucketName"]
    tweets = _function_session(stack, "TweetDetectionFunction").client("s3", endpoint_url=stack.endpoint_url)
    with pytest.raises(ClientError) as missing:
        tweets.get_object(Bucket=detections, Key="images/gone.jpg")
    assert missing.value.response["Error"]["Code"] == "NoSuchKey"  # -> tweet without the image
    detect = _function_session(stack, "DetectAnomalyFunction").client("s3", endpoint_url=stack.endpoint_url)
    with pytest.raises(ClientError) as hidden:
        detect.get_object(Bucket=models, Key="anomaly/gone/model.onnx")
    assert hidden.value.response["Error"]["Code"] == "AccessDenied"
