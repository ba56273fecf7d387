"""detect_anomaly end to end in-process: moto S3/DynamoDB/SSM, a real ONNX model, real images."""

import copy
import io
import json
import uuid
from urllib.parse import quote_plus

import boto3
import numpy as np
import pytest
from boto3.dynamodb.conditions import Key
from hypothesis import given
from hypothesis import strategies as st
from moto import mock_aws
from support.arbitrary import FUZZ, documents
from support.images import encode, jpeg_bytes, png_bytes, textured_rgb
from support.lambda_context import FakeLambdaContext
from support.onnx_models import brightness_metadata, mean_brightness_model
from support.template_environment import template_environment

from visionpipe.lambda_loader import load_handler_module
from visionpipe.template import REPO_ROOT, table_definition

EVENTS = REPO_ROOT / "events"
IMAGE_BUCKET = "visionpipe-images-example"  # the bucket named in events/*.json
VIDEO_BUCKET = "visionpipe-videos-example"
ENVIRONMENT = template_environment(
    "DetectAnomalyFunction",
    {
        "ResultsTable": "results",
        "ResultsBucket": "results-bucket",
        "ModelBucket": "model-bucket",
        "ModelPrefixParameter": "/visionpipe/anomaly/model-prefix",
    },
    MaxImagePixels="1000000",
    MaxImageBytes="5000000",
)


class Stack:
    def __init__(self, module, s3, table):
        self.module, self.s3, self.table = module, s3, table

    def upload(self, key: str, body: bytes, **extra) -> dict:
        """Put an object and return the S3 notification event Lambda would receive for it."""
        response = self.s3.put_object(Bucket=IMAGE_BUCKET, Key=key, Body=body, **extra)
        event = json.loads((EVENTS / "detect_anomaly_image_upload.json").read_text())
        obj = event["Records"][0]["s3"]["object"]
        obj.update(
            key=quote_plus(key),
            size=len(body),
            eTag=response["ETag"].strip('"'),
            versionId=response["VersionId"],
            sequencer=f"{abs(hash(response['VersionId'])):018X}",
        )
        return event

    def invoke(self, event: dict) -> dict:
        return self.module.lambda_handler(event, FakeLambdaContext())

    def items_for(self, image_name: str) -> list[dict]:
        return self.table.query(IndexName="ImageIndex", KeyConditionExpression=Key("Image").eq(image_name))[
            "Items"
        ]

    def all_items(self) -> list[dict]:
        return self.table.scan()["Items"]


@pytest.fixture
def stack(monkeypatch):
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        s3 = boto3.client("s3")
        for bucket in (IMAGE_BUCKET, VIDEO_BUCKET, "results-bucket", "model-bucket"):
            s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=IMAGE_BUCKET, VersioningConfiguration={"Status": "Enabled"})
        s3.put_object(Bucket="model-bucket", Key="anomaly/current/model.onnx", Body=mean_brightness_model())
        s3.put_object(
            Bucket="model-bucket", Key="anomaly/current/metadata.json", Body=brightness_metadata("bright-1")
        )
        boto3.client("ssm").put_parameter(
            Name=ENVIRONMENT["MODEL_PREFIX_PARAMETER"], Value="anomaly/current/", Type="String"
        )
        dynamodb = boto3.resource("dynamodb")
        table = dynamodb.create_table(TableName="results", **table_definition("ResultsTable"))
        yield Stack(load_handler_module("detect_anomaly"), s3, table)


@pytest.mark.parametrize(
    ("name", "body", "content_type"),
    [
        ("red flower +1 café.jpg", jpeg_bytes(brightness=60), "image/jpeg"),
        ("Überprüfung 2 + 2 ñandú.PNG", png_bytes(brightness=60), "image/png"),
    ],
)
def test_real_image_gets_exactly_one_item_with_the_original_attributes(stack, name, body, content_type):
    stack.invoke(stack.upload(f"image_inputs/{name}", body))

    (item,) = stack.items_for(name)
    assert item["DetectAnomalyResult"] == "False"
    assert 0.5 <= float(item["Confidence"]) <= 1.0
    assert item["RequestID"] and item["Date"].endswith("Z")
    assert item["Status"] == "OK" and item["ContentType"] == content_type
    assert item["Key"] == f"image_inputs/{name}" and item["Bucket"] == IMAGE_BUCKET
    assert (
        item["VersionId"]
        and item["ETag"]
        and item["Backend"] == "onnx"
        and item["ModelVersion"] == "bright-1"
    )
    assert item["LatencyMs"] >= item["DetectLatencyMs"] > 0
    document = json.loads(stack.s3.get_object(Bucket="results-bucket", Key=item["ResultKey"])["Body"].read())
    assert document["RequestID"] == item["RequestID"] and document["DetectAnomalyResult"] == "False"


def test_anomalous_image_is_flagged(stack):
    stack.invoke(stack.upload("image_inputs/glare.jpg", jpeg_bytes(brightness=230)))
    (item,) = stack.items_for("glare.jpg")
    assert item["DetectAnomalyResult"] == "True" and float(item["Confidence"]) > 0.9


def test_every_record_of_a_multi_record_event_is_judged(stack):
    first = stack.upload("image_inputs/one.jpg", jpeg_bytes(seed=1))
    second = stack.upload("image_inputs/two.png", png_bytes(seed=2))
    first["Records"] += second["Records"]
    result = stack.invoke(first)
    assert len(result["outcomes"]) == 2
    assert {i["Image"] for i in stack.all_items()} == {"one.jpg", "two.png"}


def test_duplicate_delivery_writes_one_item(stack):
    event = stack.upload("image_inputs/dup.jpg", jpeg_bytes())
    stack.invoke(event)
    stack.invoke(copy.deepcopy(event))
    assert len(stack.items_for("dup.jpg")) == 1


def test_a_duplicate_finds_the_item_and_restores_a_lost_result_document(stack):
    event = stack.upload("image_inputs/late-dup.jpg", jpeg_bytes())
    (first,) = stack.invoke(event)["outcomes"]
    (item,) = stack.items_for("late-dup.jpg")
    # As if the function had stopped between its two writes: the item is there, its document is not.
    stack.s3.delete_object(Bucket="results-bucket", Key=item["ResultKey"])
    (again,) = stack.invoke(copy.deepcopy(event))["outcomes"]
    assert first["recorded"] and not again["recorded"] and again["request_id"] == first["request_id"]
    assert stack.items_for("late-dup.jpg") == [item]
    document = json.loads(stack.s3.get_object(Bucket="results-bucket", Key=item["ResultKey"])["Body"].read())
    assert document["Date"] == item["Date"] and document["Confidence"] == item["Confidence"]  # the stored one


def test_a_lost_reply_after_the_item_committed_is_not_a_duplicate_nor_an_error(stack):
    """The put commits, its reply is lost, the SDK sends it again: the retry finds its own item."""
    client = stack.module.flow._store._dynamodb

    def lose_the_first_reply(attempts, **kwargs):
        return 0 if attempts == 1 else None  # retry at once, as botocore does after a 5xx or reset

    client.meta.events.register_first("needs-retry.dynamodb.PutItem", lose_the_first_reply)
    try:
        event = stack.upload("image_inputs/lost-reply.jpg", jpeg_bytes())
        (outcome,) = stack.invoke(event)["outcomes"]
    finally:
        client.meta.events.unregister("needs-retry.dynamodb.PutItem", lose_the_first_reply)
    (item,) = stack.items_for("lost-reply.jpg")
    assert outcome["status"] == "OK" and outcome["recorded"] and item["Status"] == "OK"
    document = json.loads(stack.s3.get_object(Bucket="results-bucket", Key=item["ResultKey"])["Body"].read())
    assert document["RequestID"] == item["RequestID"] and document["Date"] == item["Date"]


def test_a_result_key_that_would_pass_s3s_key_limit_is_filed_under_a_digest(stack):
    name = "é" * 480 + ".jpg"  # 964 bytes: the upload fits, results/<key>/<id>.json would not
    (outcome,) = stack.invoke(stack.upload(f"image_inputs/{name}", jpeg_bytes()))["outcomes"]
    (item,) = stack.items_for(name)
    assert item["Status"] == "OK" and item["ResultKey"].startswith("results/_long-keys/")
    assert len(item["ResultKey"].encode()) <= 1024 and item["Key"] == f"image_inputs/{name}"
    stack.s3.head_object(Bucket="results-bucket", Key=item["ResultKey"])


def test_reupload_of_the_same_name_gets_its_own_verdict(stack):
    stack.invoke(stack.upload("image_inputs/same.jpg", jpeg_bytes(seed=1)))
    stack.invoke(stack.upload("image_inputs/same.jpg", jpeg_bytes(seed=2)))
    items = stack.items_for("same.jpg")
    assert len(items) == 2 and items[0]["VersionId"] != items[1]["VersionId"]


def test_captured_frame_points_at_its_source_video(stack):
    key = "video_inputs/line 3.mp4/line 3_frame.0000002.jpg"
    stack.invoke(stack.upload(key, jpeg_bytes()))
    (item,) = stack.items_for("line 3_frame.0000002.jpg")
    assert item["SourceVideoBucket"] == VIDEO_BUCKET
    assert item["SourceVideoKey"] == "video_inputs/line 3.mp4"
    assert float(item["FrameTime"]) == 10.0


def test_frame_metadata_from_the_opencv_engine_is_used(stack):
    key = "video_inputs/clip.mov/clip_frame.0000001.jpg"
    metadata = {"source-bucket": VIDEO_BUCKET, "source-key": "video_inputs/clip.mov", "frame-time": "4.96"}
    stack.invoke(stack.upload(key, jpeg_bytes(), Metadata=metadata))
    (item,) = stack.items_for("clip_frame.0000001.jpg")
    assert (item["SourceVideoKey"], float(item["FrameTime"])) == ("video_inputs/clip.mov", 4.96)


BAD_INPUTS = [
    ("empty.jpg", b"", "empty object"),
    ("text.jpg", b"just some text, no pixels here", "not a JPEG or PNG"),
    ("truncated.jpg", jpeg_bytes(64, 64)[:400], "corrupt or truncated"),
    ("huge.png", encode(textured_rgb(1200, 900), "PNG"), "over the limit of 1000000"),
    ("animation.gif", encode(textured_rgb(), "GIF"), "unsupported file type 'gif'"),
]


@pytest.mark.parametrize(("name", "body", "reason"), BAD_INPUTS)
def test_bad_input_becomes_a_failure_item_with_a_reason(stack, name, body, reason):
    result = stack.invoke(stack.upload(f"image_inputs/{name}", body))

    (item,) = stack.items_for(name)
    assert item["Status"] == "FAILED" and reason in item["Reason"]
    assert "DetectAnomalyResult" not in item
    assert result["outcomes"][0]["status"] == "FAILED"
    document = json.loads(stack.s3.get_object(Bucket="results-bucket", Key=item["ResultKey"])["Body"].read())
    assert document["Reason"] == item["Reason"] and item["ResultKey"].startswith("failures/")


def test_oversized_object_is_rejected_without_downloading(stack):
    event = stack.upload("image_inputs/big.jpg", jpeg_bytes())
    event["Records"][0]["s3"]["object"]["size"] = 6_000_000
    stack.invoke(event)
    (item,) = stack.items_for("big.jpg")
    assert "over the limit of 5000000" in item["Reason"]


def test_object_deleted_before_processing_is_a_failure(stack):
    event = stack.upload("image_inputs/gone.jpg", jpeg_bytes())
    stack.s3.delete_object(
        Bucket=IMAGE_BUCKET,
        Key="image_inputs/gone.jpg",
        VersionId=event["Records"][0]["s3"]["object"]["versionId"],
    )
    stack.invoke(event)
    (item,) = stack.items_for("gone.jpg")
    assert item["Status"] == "FAILED" and "no longer exists" in item["Reason"]


def test_s3_test_event_is_recorded_as_a_failure(stack):
    stack.invoke(json.loads((EVENTS / "detect_anomaly_s3_test_event.json").read_text()))
    stack.invoke(json.loads((EVENTS / "detect_anomaly_s3_test_event.json").read_text()))
    (item,) = stack.items_for("s3:TestEvent")
    assert item["Status"] == "FAILED" and "s3:TestEvent" in item["Reason"]


def test_event_that_is_not_from_s3_is_recorded_as_a_failure(stack):
    stack.invoke({"source": "somewhere-else", "detail": {}})
    (item,) = stack.items_for("(unrecognised event)")
    assert "not an S3 notification event" in item["Reason"]


def test_transient_error_fails_the_invocation_after_the_other_records(stack, monkeypatch):
    good = stack.upload("image_inputs/ok.jpg", jpeg_bytes(seed=3))
    flaky = stack.upload("image_inputs/flaky.jpg", jpeg_bytes(seed=4))
    event = {"Records": flaky["Records"] + good["Records"]}
    from botocore.exceptions import ClientError

    real_detect = stack.module.flow.detector.detect

    def throttled_for_flaky(image):
        if (
            image.data
            == stack.s3.get_object(Bucket=IMAGE_BUCKET, Key="image_inputs/flaky.jpg")["Body"].read()
        ):
            raise ClientError(
                {"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "InvokeEndpoint"
            )
        return real_detect(image)

    monkeypatch.setattr(stack.module.flow.detector, "detect", throttled_for_flaky)
    with pytest.raises(ClientError, match="ThrottlingException"):
        stack.invoke(event)
    assert [i["Image"] for i in stack.all_items()] == ["ok.jpg"]

    # Lambda's retry, once the throttling is over: the flaky image is judged, ok.jpg is not judged twice.
    monkeypatch.setattr(stack.module.flow.detector, "detect", real_detect)
    stack.invoke(event)
    assert sorted(i["Image"] for i in stack.all_items()) == ["flaky.jpg", "ok.jpg"]


def test_sample_events_drive_the_handler(stack):
    """The files in events/ (used with `sam local invoke -e`) are valid input for the handler."""
    frame_key = "video_inputs/line 3.mp4/line 3_frame.0000002.jpg"
    stack.s3.put_object(Bucket=IMAGE_BUCKET, Key=frame_key, Body=jpeg_bytes())
    event = json.loads((EVENTS / "detect_anomaly_captured_frame.json").read_text())
    event["Records"][0]["s3"]["object"].pop("versionId")  # the sample's version id is not in this moto bucket
    result = stack.invoke(event)
    assert result["outcomes"][0]["status"] == "OK"
    (item,) = stack.items_for("line 3_frame.0000002.jpg")
    assert item["SourceVideoKey"] == "video_inputs/line 3.mp4"


@FUZZ
@given(
    body=documents({}) | st.sampled_from([b"\xff\xd8\xff\xe0", b"\x89PNG\r\n\x1a\n" + b"\x00" * 30]),
    metadata=st.dictionaries(
        st.sampled_from(["frame-time", "source-key", "source-bucket"]),
        st.text(alphabet="abcnif0123456789.-/"),
    ),
)
def test_any_upload_ends_as_one_item_and_never_fails_the_invocation(stack, body, metadata):
    name = f"fuzz-{uuid.uuid4().hex[:8]}.jpg"
    event = stack.upload(f"image_inputs/{name}", body, Metadata=metadata)
    (outcome,) = stack.invoke(event)["outcomes"]  # raising here would retry, then park the event
    (item,) = stack.items_for(name)
    assert item["Status"] == outcome["status"] and "SourceVideoKey" not in item  # metadata is not trusted
    stack.s3.head_object(Bucket="results-bucket", Key=item["ResultKey"])


def test_a_model_with_a_map_gives_heatmap_box_and_area(stack):
    from PIL import Image
    from support.onnx_models import brightness_map_metadata, brightness_map_model

    # The model at the current prefix (the fixture's SSM parameter) now also returns a map.
    stack.s3.put_object(Bucket="model-bucket", Key="anomaly/current/model.onnx", Body=brightness_map_model())
    stack.s3.put_object(
        Bucket="model-bucket",
        Key="anomaly/current/metadata.json",
        Body=brightness_map_metadata(threshold=0.35),
    )
    # A dark 400 x 300 part with a bright patch at x 250..330, y 40..120.
    pixels = np.array(textured_rgb(400, 300, seed=3, brightness=40))
    pixels[40:120, 250:330] = 250
    stack.invoke(stack.upload("image_inputs/bright-spot.png", encode(Image.fromarray(pixels), "PNG")))
    (item,) = stack.items_for("bright-spot.png")
    assert item["DetectAnomalyResult"] == "True" and item["ModelVersion"] == "map-1"
    x0, y0, x1, y1 = (int(v) for v in item["AnomalyBox"])
    assert 200 <= x0 <= 260 and 320 <= x1 <= 400 and 0 <= y0 <= 50 and 110 <= y1 <= 170
    assert 0 < float(item["AnomalyAreaPercent"]) < 25
    assert item["HeatmapKey"] == f"heatmaps/image_inputs/bright-spot.png/{item['RequestID']}.png"
    body = stack.s3.get_object(Bucket="results-bucket", Key=item["HeatmapKey"])
    assert body["ContentType"] == "image/png"
    with Image.open(io.BytesIO(body["Body"].read())) as heat:
        assert heat.format == "PNG" and heat.size == (400, 300)
        red, green, blue = (int(c) for c in heat.convert("RGB").getpixel((290, 80)))
        assert red > 150 and red > blue + 60  # the hot patch is tinted


def test_a_score_only_model_leaves_the_where_attributes_absent(stack):
    stack.invoke(stack.upload("image_inputs/plain.jpg", jpeg_bytes(brightness=230)))
    (item,) = stack.items_for("plain.jpg")
    assert item["DetectAnomalyResult"] == "True"
    assert not {"AnomalyBox", "AnomalyAreaPercent", "HeatmapKey"} & set(item)
    listed = stack.s3.list_objects_v2(Bucket="results-bucket", Prefix="heatmaps/")
    assert listed.get("KeyCount", 0) == 0
