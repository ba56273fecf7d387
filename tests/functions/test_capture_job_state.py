"""capture_job_state: MediaConvert job state change events -> failure items / capture documents."""

import copy
import json

import boto3
import pytest
from boto3.dynamodb.conditions import Key
from moto import mock_aws
from support.lambda_context import FakeLambdaContext
from support.template_environment import template_environment

from visionpipe.lambda_loader import load_handler_module
from visionpipe.template import REPO_ROOT, load_template, table_definition
from visionpipe_common.anomaly.verdict_records import result_key
from visionpipe_common.frame_capture.mediaconvert_job import job_record_key, source_object

EVENTS = REPO_ROOT / "events"
ENVIRONMENT = template_environment(
    "CaptureJobStateFunction", {"ResultsTable": "results", "ResultsBucket": "results-bucket"}
)


def sample(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


def sample_record() -> dict:
    return json.loads((EVENTS / "records" / "capture_job_record.json").read_text())


def test_rule_matches_only_final_states_of_this_stacks_jobs():
    events = load_template()["Resources"]["CaptureJobStateFunction"]["Properties"]["Events"]
    (rule,) = events.values()
    pattern = rule["Properties"]["Pattern"]
    assert pattern["source"] == ["aws.mediaconvert"]
    assert pattern["detail-type"] == ["MediaConvert Job State Change"]
    assert sorted(pattern["detail"]["status"]) == ["CANCELED", "COMPLETE", "ERROR"]
    assert pattern["detail"]["userMetadata"] == {"visionpipe-stack": [{"Ref": "AWS::StackName"}]}


@pytest.fixture
def handler(monkeypatch):
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        boto3.client("s3").create_bucket(Bucket="results-bucket")
        # what frame_capture wrote before starting the job the sample events are about
        upload = sample("capture_job_state_error.json")["detail"]["userMetadata"]["visionpipe-upload"]
        boto3.client("s3").put_object(
            Bucket="results-bucket",
            Key=job_record_key(upload),
            Body=(EVENTS / "records" / "capture_job_record.json").read_bytes(),
        )
        table = boto3.resource("dynamodb").create_table(
            TableName="results", **table_definition("ResultsTable")
        )
        module = load_handler_module("capture_job_state")
        module.table_for_tests = table
        yield module


def items(module, name):
    query = (
        boto3.resource("dynamodb")
        .Table("results")
        .query(IndexName="ImageIndex", KeyConditionExpression=Key("Image").eq(name))
    )
    return query["Items"]


def test_error_job_becomes_a_failure_item_of_the_source_video(handler):
    event = sample("capture_job_state_error.json")
    outcome = handler.lambda_handler(event, FakeLambdaContext())

    video = source_object(sample_record())
    (item,) = items(handler, "phone clip 01.mp4")
    assert item["Status"] == "FAILED"
    assert item["Reason"] == (
        "MediaConvert job 1763713860123-ab12cd failed (error 1030): "
        "Video codec [unknown] is not a supported input video codec"
    )
    assert (item["Key"], item["Bucket"], item["Backend"]) == (video.key, video.bucket, "mediaconvert")
    assert item["RequestID"] == video.upload_id == outcome["request_id"]  # the upload's own record
    assert item["JobId"] == "1763713860123-ab12cd"
    document = json.loads(
        boto3.client("s3")
        .get_object(Bucket="results-bucket", Key=result_key(video, video.upload_id, "FAILED"))["Body"]
        .read()
    )
    assert document["Reason"] == item["Reason"]


def test_redelivered_error_event_records_once(handler):
    event = sample("capture_job_state_error.json")
    handler.lambda_handler(event, FakeLambdaContext())
    outcome = handler.lambda_handler(event, FakeLambdaContext())
    assert outcome["recorded"] is False
    assert len(items(handler, "phone clip 01.mp4")) == 1


def test_canceled_job_is_a_failure_too(handler):
    event = sample("capture_job_state_error.json")
    event["detail"] = {k: v for k, v in event["detail"].items() if k not in ("errorCode", "errorMessage")}
    event["detail"]["status"] = "CANCELED"
    handler.lambda_handler(event, FakeLambdaContext())
    (item,) = items(handler, "phone clip 01.mp4")
    assert "was canceled" in item["Reason"]


def test_complete_job_updates_the_capture_document_with_the_frame_count(handler):
    event = sample("capture_job_state_complete.json")
    outcome = handler.lambda_handler(event, FakeLambdaContext())
    assert (outcome["status"], outcome["frames"]) == ("COMPLETE", 4)
    video = source_object(sample_record())
    document = json.loads(
        boto3.client("s3")
        .get_object(Bucket="results-bucket", Key=f"captures/{video.key}/{video.upload_id}.json")["Body"]
        .read()
    )
    assert (document["Status"], document["frames_written"], document["job_id"]) == (
        "COMPLETE",
        4,
        "1763713860123-ab12cd",
    )
    assert items(handler, "phone clip 01.mp4") == []  # verdicts come from the frames, not from here


@pytest.mark.parametrize("change", ["other stack", "no source"])
def test_jobs_this_stack_did_not_start_are_ignored(handler, change):
    event = copy.deepcopy(sample("capture_job_state_error.json"))
    if change == "other stack":
        event["detail"]["userMetadata"]["visionpipe-stack"] = "someone-else"
    else:
        event["detail"]["userMetadata"] = {}
    outcome = handler.lambda_handler(event, FakeLambdaContext())
    assert outcome["recorded"] is False
    assert boto3.resource("dynamodb").Table("results").scan()["Items"] == []
