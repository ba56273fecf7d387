"""Uploads end to end through the local stack: each one a verdict or a failure item."""

from __future__ import annotations

import io
import json
import uuid

import pytest
from boto3.dynamodb.conditions import Attr, Key
from PIL import Image

from tests.support.images import encode, jpeg_bytes, png_bytes, textured_rgb
from visionpipe.cli import main
from visionpipe.template import table_definition

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("local_stack")]


def unique(name: str) -> str:
    stem, dot, suffix = name.rpartition(".")
    return f"{stem} {uuid.uuid4().hex[:8]}{dot}{suffix}"


def items_for(local_stack, file_name: str) -> list[dict]:
    table = local_stack.resource("dynamodb").Table(local_stack.outputs["ResultsTableName"])
    return table.query(IndexName="ImageIndex", KeyConditionExpression=Key("Image").eq(file_name))["Items"]


def one_item(local_stack, file_name: str, timeout: float = 20.0) -> dict:
    items = local_stack.wait_until(lambda: items_for(local_stack, file_name), timeout=timeout)
    local_stack.wait_idle()
    items = items_for(local_stack, file_name)
    assert len(items) == 1, items
    return items[0]


def upload(local_stack, key: str, body: bytes) -> None:
    local_stack.client("s3").put_object(Bucket=local_stack.outputs["ImageBucketName"], Key=key, Body=body)


def test_outputs_name_live_resources(local_stack):
    outputs = local_stack.outputs
    s3 = local_stack.client("s3")
    for name in ("ImageBucketName", "VideoBucketName", "ResultsBucketName", "ModelBucketName"):
        s3.head_bucket(Bucket=outputs[name])
    assert local_stack.client("dynamodb").describe_table(TableName=outputs["ResultsTableName"])
    assert outputs["FailedEventsQueueUrl"].startswith(local_stack.endpoint_url)
    function = local_stack.client("lambda").get_function(FunctionName=outputs["DetectAnomalyFunctionName"])
    variables = function["Configuration"]["Environment"]["Variables"]
    assert variables["RESULTS_TABLE"] == outputs["ResultsTableName"]
    assert variables["LOG_LEVEL"] == "INFO"  # from Globals, merged
    prefix = local_stack.client("ssm").get_parameter(Name=outputs["ModelPrefixParameterName"])["Parameter"]
    model = s3.head_object(Bucket=outputs["ModelBucketName"], Key=prefix["Value"] + "model.onnx")
    assert model["ContentLength"] > 0


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("red flower.jpg", jpeg_bytes(seed=1)),
        ("part+1.png", png_bytes(seed=2)),
        ("Prüfteil Nr. 7.jpeg", jpeg_bytes(seed=3)),
    ],
)
def test_each_upload_gets_one_verdict(local_stack, name, body):
    file_name = unique(name)
    upload(local_stack, f"image_inputs/{file_name}", body)
    item = one_item(local_stack, file_name)
    assert item["Status"] == "OK"
    assert item["DetectAnomalyResult"] in ("True", "False")
    assert 0.0 <= float(item["Confidence"]) <= 1.0
    assert item["Key"] == f"image_inputs/{file_name}"
    assert item["VersionId"] and item["Sequencer"]  # what real S3 sends, moto's record lacks
    document = local_stack.client("s3").get_object(
        Bucket=local_stack.outputs["ResultsBucketName"], Key=item["ResultKey"]
    )
    assert json.loads(document["Body"].read())["RequestID"] == item["RequestID"]


def test_uploads_outside_the_template_prefixes_are_not_routed(local_stack):
    file_name = unique("elsewhere.jpg")
    upload(local_stack, f"other/{file_name}", jpeg_bytes())
    local_stack.wait_idle()
    assert items_for(local_stack, file_name) == []


def truncated_jpeg() -> bytes:
    data = encode(textured_rgb(200, 150), "JPEG", quality=90)
    return data[: len(data) // 2]


def huge_png() -> bytes:
    image = Image.new("1", (8000, 6000))  # 48 Mpixels > MaxImagePixels' 40 M, a few KB encoded
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def gif_bytes() -> bytes:
    return encode(textured_rgb(32, 32), "GIF")


@pytest.mark.parametrize(
    ("name", "body", "reason"),
    [
        ("empty.jpg", b"", "empty object"),
        ("notes.jpg", b"these are not the pixels you are looking for", "not a JPEG or PNG"),
        ("cut off.jpg", truncated_jpeg(), "truncated"),
        ("huge.png", huge_png(), "over the limit"),
        ("anim.gif", gif_bytes(), "unsupported file type"),
    ],
)
def test_bad_inputs_become_failure_items(local_stack, name, body, reason):
    file_name = unique(name)
    upload(local_stack, f"image_inputs/{file_name}", body)
    item = one_item(local_stack, file_name)
    assert item["Status"] == "FAILED"
    assert reason in item["Reason"]


def test_s3_test_event_becomes_a_failure_item(local_stack):
    bucket = f"probe-{uuid.uuid4().hex[:8]}"
    event = {
        "Service": "Amazon S3",
        "Event": "s3:TestEvent",
        "Time": "2026-11-21T08:00:00.000Z",
        "Bucket": bucket,
    }
    response = local_stack.client("lambda").invoke(
        FunctionName=local_stack.outputs["DetectAnomalyFunctionName"],
        InvocationType="Event",
        Payload=json.dumps(event).encode(),
    )
    assert response["StatusCode"] == 202
    table = local_stack.resource("dynamodb").Table(local_stack.outputs["ResultsTableName"])

    def failure():
        return table.scan(FilterExpression=Attr("Bucket").eq(bucket))["Items"]

    (item,) = local_stack.wait_until(failure, timeout=20)
    assert item["Status"] == "FAILED"
    assert "s3:TestEvent" in item["Reason"]


def test_sync_invoke_returns_the_handler_result(local_stack):
    bucket = f"probe-{uuid.uuid4().hex[:8]}"
    event = {
        "Service": "Amazon S3",
        "Event": "s3:TestEvent",
        "Time": "2026-11-21T08:00:00.000Z",
        "Bucket": bucket,
    }
    response = local_stack.client("lambda").invoke(
        FunctionName=local_stack.outputs["DetectAnomalyFunctionName"], Payload=json.dumps(event).encode()
    )
    assert "FunctionError" not in response
    (outcome,) = json.loads(response["Payload"].read())["outcomes"]
    assert outcome["status"] == "FAILED"


def test_local_outputs_command_prints_the_outputs(local_stack, capsys):
    # Handlers of the shared stack log to this process's stdout: let earlier tests' events finish first.
    local_stack.wait_idle()
    capsys.readouterr()
    code = main(
        [
            "local",
            "outputs",
            "--port",
            str(local_stack.stack.port),
            "--state-dir",
            str(local_stack.state_file.parent),
        ]
    )
    assert code == 0
    # the outputs plus the endpoint, so commands given this file talk to the local stack
    assert json.loads(capsys.readouterr().out) == {
        **local_stack.outputs,
        "EndpointUrl": local_stack.endpoint_url,
    }


def test_transient_failure_lands_in_failed_events_queue_and_replay_recovers(local_stack, monkeypatch, capsys):
    outputs = local_stack.outputs
    dynamodb = local_stack.client("dynamodb")
    table_name = outputs["ResultsTableName"]
    sqs = local_stack.client("sqs")
    queue_url = outputs["FailedEventsQueueUrl"]
    file_name = unique("retry me.jpg")
    # The results table is unavailable: every attempt fails with a transient error.
    dynamodb.delete_table(TableName=table_name)
    try:
        upload(local_stack, f"image_inputs/{file_name}", jpeg_bytes(seed=9))

        def parked():
            messages = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1, VisibilityTimeout=0).get(
                "Messages", []
            )
            return [json.loads(m["Body"]) for m in messages]

        (record,) = local_stack.wait_until(parked, timeout=30)
    finally:
        dynamodb.create_table(TableName=table_name, **table_definition("ResultsTable"))
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3  # MaximumRetryAttempts 2 + 1
    assert record["requestContext"]["functionArn"].endswith(":$LATEST")
    assert record["responsePayload"]["errorType"]
    key = record["requestPayload"]["Records"][0]["s3"]["object"]["key"]
    assert key.startswith("image_inputs/retry+me+")

    monkeypatch.setenv("AWS_ENDPOINT_URL", local_stack.endpoint_url)
    assert main(["replay", "--queue-url", queue_url]) == 0
    assert "1 event(s) replayed, 0 failed again (left parked), 0 remain" in capsys.readouterr().out
    item = one_item(local_stack, file_name)
    assert item["Status"] == "OK"
    assert (
        int(
            sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"])[
                "Attributes"
            ]["ApproximateNumberOfMessages"]
        )
        == 0
    )


def test_replay_replays_each_parked_message_once_and_says_what_remains(local_stack, monkeypatch, capsys):
    """Poison messages (they fail on every try) are tried once per run, counted, and left or moved."""
    outputs, sqs = local_stack.outputs, local_stack.client("sqs")
    queue_url = outputs["FailedEventsQueueUrl"]
    dead_letter = sqs.create_queue(QueueName=f"replay-dead-letter-{uuid.uuid4().hex[:6]}")["QueueUrl"]
    function_arn = local_stack.client("lambda").get_function(
        FunctionName=outputs["DetectAnomalyFunctionName"]
    )["Configuration"]["FunctionArn"]
    bucket = outputs["ImageBucketName"]
    image = jpeg_bytes(seed=5)
    for _ in range(11):
        key = f"image_inputs/{unique('poison.jpg')}"
        upload(local_stack, key, image)
        # Judged fine once the results table is back; until then every try fails (ResourceNotFound).
        record = {
            "s3": {"bucket": {"name": bucket}, "object": {"key": key.replace(" ", "+"), "size": len(image)}}
        }
        body = {
            "requestContext": {"functionArn": f"{function_arn}:$LATEST"},
            "requestPayload": {"Records": [record]},
        }
        sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(body))
    local_stack.wait_idle()
    monkeypatch.setenv("AWS_ENDPOINT_URL", local_stack.endpoint_url)
    dynamodb, table_name = local_stack.client("dynamodb"), outputs["ResultsTableName"]
    backup = {i["RequestID"]["S"]: i for i in dynamodb.scan(TableName=table_name)["Items"]}
    dynamodb.delete_table(TableName=table_name)
    try:
        assert main(["replay", "--queue-url", queue_url, "--max", "60"]) == 1
        out = capsys.readouterr().out
        assert out.count("replaying to") == 11 and out.count("failed again:") == 11
        assert "0 event(s) replayed, 11 failed again (left parked), 11 remain in the queue" in out
        assert main(["replay", "--queue-url", queue_url, "--max", "3", "--dead-letter", dead_letter]) == 1
        assert "3 failed again (moved to the dead-letter queue), 8 remain" in capsys.readouterr().out
    finally:
        dynamodb.create_table(TableName=table_name, **table_definition("ResultsTable"))
        for item in backup.values():
            dynamodb.put_item(TableName=table_name, Item=item)
    assert main(["replay", "--queue-url", queue_url, "--max", "60"]) == 0
    assert "8 event(s) replayed, 0 failed again (left parked), 0 remain" in capsys.readouterr().out
    moved = sqs.receive_message(QueueUrl=dead_letter, MaxNumberOfMessages=10)["Messages"]
    assert len(moved) == 3
