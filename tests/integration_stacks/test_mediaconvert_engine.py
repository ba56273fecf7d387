"""The MediaConvert path end to end on a stack deployed with FrameCaptureEngine=mediaconvert, and
the opencv path on the same clip: `IMG (1)'s clip.mp4` (20 s) -> 4 frames -> 4 verdicts."""

from __future__ import annotations

import json

import pytest
from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from visionpipe.local.deployment import parse_parameter_overrides
from visionpipe.local.stack import OfflineStack
from visionpipe.synthetic_video import ClipSpec, write_clip

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("own_stacks")]

CLIP = "IMG (1)'s clip.mp4"


@pytest.fixture(scope="module")
def stack(anomaly_model_dir):
    overrides = parse_parameter_overrides("FrameCaptureEngine=mediaconvert")  # `local up`'s syntax
    with OfflineStack(
        parameter_overrides=overrides, model_dir=anomaly_model_dir, retry_delay=0.05
    ) as running:
        yield running


def verdicts(stack, name: str) -> list[dict]:
    table = stack.session.resource("dynamodb", endpoint_url=stack.endpoint_url).Table(
        stack.outputs()["ResultsTableName"]
    )
    return table.query(IndexName="ImageIndex", KeyConditionExpression=Key("Image").eq(name))["Items"]


def upload_clip(stack, tmp_path, folder: str) -> str:
    clip = write_clip(tmp_path / "clip.mp4", ClipSpec(seconds=20, width=320, height=240)).read_bytes()
    key = f"video_inputs/{folder}/{CLIP}"
    stack.client("s3").put_object(Bucket=stack.outputs()["VideoBucketName"], Key=key, Body=clip)
    return key


def test_mediaconvert_turns_the_clip_into_four_frames_and_four_verdicts(stack, tmp_path):
    key = upload_clip(stack, tmp_path, "mediaconvert")
    names = [f"IMG (1)'s clip_frame.{i:07d}.jpg" for i in range(4)]
    stack.wait_until(lambda: all(verdicts(stack, n) for n in names), timeout=150)
    stack.wait_idle()
    frames = stack.client("s3").list_objects_v2(Bucket=stack.outputs()["ImageBucketName"], Prefix=f"{key}/")
    assert sorted(f["Key"] for f in frames["Contents"]) == [f"{key}/{n}" for n in names]
    assert all(verdicts(stack, n)[0]["Status"] == "OK" for n in names)
    (job,) = stack.mediaconvert.jobs.values()
    assert job.status == "COMPLETE"
    assert set(job.request["userMetadata"]) == {"visionpipe-stack", "visionpipe-upload"}
    # the job-state function recorded the completed job in the capture document
    results = stack.client("s3")
    documents = results.list_objects_v2(
        Bucket=stack.outputs()["ResultsBucketName"], Prefix=f"captures/{key}/"
    )
    (document,) = documents["Contents"]
    body = json.loads(
        results.get_object(Bucket=stack.outputs()["ResultsBucketName"], Key=document["Key"])["Body"].read()
    )
    assert (body["Status"], body["frames_written"], body["job_id"]) == ("COMPLETE", 4, job.id)
    assert stack.authorizer.denials == []


def test_eleven_metadata_entries_are_refused_with_mediaconvert_error_shape(stack):
    function = stack.functions["FrameCaptureFunction"]
    client = stack.role_session(function.role_arn, "lambda.amazonaws.com", "probe").client(
        "mediaconvert", endpoint_url=stack.endpoint_url
    )
    role = stack.outputs()["MediaConvertRoleArn"]
    settings = {"Inputs": [{"FileInput": "s3://b/k.mp4"}], "OutputGroups": []}
    metadata = {f"tag{i}": "value" for i in range(11)}
    with pytest.raises(ClientError) as refused:
        client.create_job(Role=role, Settings=settings, UserMetadata=metadata)
    error = refused.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Code"] == "BadRequestException"
    assert "11 userMetadata entries, over MediaConvert's 10" in error["Error"]["Message"]
    assert isinstance(refused.value, client.exceptions.BadRequestException)


def test_an_sns_message_over_256_kib_is_refused_locally_as_by_sns(stack):
    sns, topic = stack.client("sns"), stack.outputs()["RetrainNotificationsTopicArn"]
    sns.publish(TopicArn=topic, Message="a" * (256 * 1024))
    with pytest.raises(ClientError) as refused:
        sns.publish(TopicArn=topic, Message="a" * (256 * 1024 + 1))
    assert refused.value.response["Error"]["Code"] == "InvalidParameter"
