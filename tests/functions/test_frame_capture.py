"""frame_capture end to end in-process: moto S3/DynamoDB, real H.264+AAC clips, both engines.

The headline: a real 20-second phone-style clip whose name has a space becomes 4 frames, and
detect_anomaly (run in-process on each frame, as the image bucket's notification would) records
4 verdict items that point back at the clip.
"""

import json
import uuid
from urllib.parse import quote_plus

import boto3
import pytest
from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from hypothesis import given
from hypothesis import strategies as st
from moto import mock_aws
from support.arbitrary import FUZZ, documents
from support.images import jpeg_bytes
from support.lambda_context import FakeLambdaContext
from support.onnx_models import brightness_metadata, mean_brightness_model
from support.template_environment import template_environment

from visionpipe.lambda_loader import load_handler_module
from visionpipe.synthetic_video import ClipSpec, write_clip
from visionpipe.template import REPO_ROOT, table_definition

EVENTS = REPO_ROOT / "events"
VIDEO_BUCKET = "visionpipe-videos-example"  # the buckets named in events/*.json
IMAGE_BUCKET = "visionpipe-images-example"
RESULTS_BUCKET = "results-bucket"
RESOURCES = {
    "ResultsTable": "results",
    "ResultsBucket": RESULTS_BUCKET,
    "ModelBucket": "model-bucket",
    "ModelPrefixParameter": "/visionpipe/anomaly/model-prefix",
    "MediaConvertRole": {
        "Ref": "visionpipe-MediaConvertRole-ABC",
        "Arn": "arn:aws:iam::123456789012:role/visionpipe-MediaConvertRole-ABC",
    },
}
FRAME_CAPTURE_ENV = template_environment("FrameCaptureFunction", RESOURCES, FrameCaptureEngine="opencv")
LOCAL_ONLY = {"OPENCV_READ_MODE": "download"}  # moto in-process serves no URLs FFmpeg could stream
DETECT_ANOMALY_ENV = template_environment(
    "DetectAnomalyFunction", RESOURCES, MaxImagePixels="1000000", MaxImageBytes="5000000"
)


@pytest.fixture(scope="module")
def phone_clip(tmp_path_factory) -> bytes:
    """20 s, H.264 High + AAC stereo 48 kHz, index written last: what a phone uploads."""
    path = write_clip(
        tmp_path_factory.mktemp("clips") / "clip.mp4", ClipSpec(seconds=20, width=320, height=240)
    )
    return path.read_bytes()


@pytest.fixture(scope="module")
def short_clip(tmp_path_factory) -> bytes:
    path = write_clip(
        tmp_path_factory.mktemp("clips") / "short.mp4", ClipSpec(seconds=1, width=160, height=120)
    )
    return path.read_bytes()


def s3_event(bucket: str, key: str, size: int, version_id: str, etag: str) -> dict:
    """The notification Lambda receives for one upload (the key URL-encoded, as S3 sends it)."""
    event = json.loads((EVENTS / "frame_capture_video_upload.json").read_text())
    record = event["Records"][0]
    record["s3"]["bucket"].update(name=bucket, arn=f"arn:aws:s3:::{bucket}")
    record["s3"]["object"].update(
        key=quote_plus(key),
        size=size,
        eTag=etag,
        versionId=version_id,
        sequencer=f"{abs(hash((key, version_id))):018X}",
    )
    return event


class Stack:
    def __init__(self, s3, table, monkeypatch):
        self.s3, self.table, self._monkeypatch = s3, table, monkeypatch
        self._modules = {}

    def load(self, function: str, environment: dict):
        for name, value in environment.items():
            self._monkeypatch.setenv(name, value)
        self._modules[function] = load_handler_module(function)
        return self._modules[function]

    def upload(self, bucket: str, key: str, body: bytes) -> dict:
        response = self.s3.put_object(Bucket=bucket, Key=key, Body=body)
        return s3_event(bucket, key, len(body), response["VersionId"], response["ETag"].strip('"'))

    def capture(self, event: dict) -> dict:
        return self._modules["frame_capture"].lambda_handler(event, FakeLambdaContext())

    def judge_frames(self) -> list[dict]:
        """Deliver every frame in the image bucket to detect_anomaly, as its S3 trigger would."""
        outcomes = []
        for version in self.s3.list_object_versions(Bucket=IMAGE_BUCKET, Prefix="video_inputs/").get(
            "Versions", []
        ):
            event = s3_event(
                IMAGE_BUCKET,
                version["Key"],
                version["Size"],
                version["VersionId"],
                version["ETag"].strip('"'),
            )
            outcomes += self._modules["detect_anomaly"].lambda_handler(event, FakeLambdaContext())["outcomes"]
        return outcomes

    def items_for(self, name: str) -> list[dict]:
        query = self.table.query(IndexName="ImageIndex", KeyConditionExpression=Key("Image").eq(name))
        return query["Items"]

    def frame_keys(self) -> list[str]:
        return sorted(o["Key"] for o in self.s3.list_objects_v2(Bucket=IMAGE_BUCKET).get("Contents", []))


@pytest.fixture
def stack(monkeypatch):
    with mock_aws():
        s3 = boto3.client("s3")
        for bucket in (VIDEO_BUCKET, IMAGE_BUCKET, RESULTS_BUCKET, "model-bucket"):
            s3.create_bucket(Bucket=bucket)
        for bucket in (VIDEO_BUCKET, IMAGE_BUCKET):
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        dynamodb = boto3.resource("dynamodb")
        table = dynamodb.create_table(TableName="results", **table_definition("ResultsTable"))
        stack = Stack(s3, table, monkeypatch)
        stack.load("frame_capture", {**FRAME_CAPTURE_ENV, **LOCAL_ONLY})
        yield stack


@pytest.fixture
def with_detector(stack):
    stack.s3.put_object(Bucket="model-bucket", Key="anomaly/current/model.onnx", Body=mean_brightness_model())
    stack.s3.put_object(
        Bucket="model-bucket", Key="anomaly/current/metadata.json", Body=brightness_metadata("m-1")
    )
    boto3.client("ssm").put_parameter(
        Name=DETECT_ANOMALY_ENV["MODEL_PREFIX_PARAMETER"], Value="anomaly/current/", Type="String"
    )
    stack.load("detect_anomaly", DETECT_ANOMALY_ENV)
    return stack


def test_twenty_second_phone_clip_becomes_four_frames_and_four_verdicts_linked_to_it(
    with_detector, phone_clip
):
    stack = with_detector
    key = "video_inputs/line 3/phone clip 01.mp4"
    event = stack.upload(VIDEO_BUCKET, key, phone_clip)
    assert "phone+clip+01.mp4" in event["Records"][0]["s3"]["object"]["key"]  # URL-encoded, as S3 sends it

    (outcome,) = stack.capture(event)["outcomes"]

    assert (outcome["status"], outcome["frames"], outcome["engine"]) == ("CAPTURED", 4, "opencv")
    assert stack.frame_keys() == [f"{key}/phone clip 01_frame.{i:07d}.jpg" for i in range(4)]

    verdicts = stack.judge_frames()
    assert len(verdicts) == 4 and {v["status"] for v in verdicts} == {"OK"}
    for index in range(4):
        (item,) = stack.items_for(f"phone clip 01_frame.{index:07d}.jpg")
        assert item["Status"] == "OK" and item["DetectAnomalyResult"] in ("True", "False")
        assert (item["SourceVideoBucket"], item["SourceVideoKey"]) == (VIDEO_BUCKET, key)
        assert float(item["FrameTime"]) == index * 5
        assert (item["Width"], item["Height"]) == (500, 500)

    document = json.loads(
        stack.s3.get_object(Bucket=RESULTS_BUCKET, Key=f"captures/{key}/{outcome['request_id']}.json")[
            "Body"
        ].read()
    )
    assert document["Status"] == "CAPTURED" and len(document["frames"]) == 4
    assert document["Video"]["Key"] == key


def test_duplicate_delivery_captures_once(stack, short_clip):
    event = stack.upload(VIDEO_BUCKET, "video_inputs/short.mp4", short_clip)
    (first,) = stack.capture(event)["outcomes"]
    (again,) = stack.capture(event)["outcomes"]
    assert first["recorded"] and not again["recorded"]  # the duplicate found its frames: counts nothing
    assert {**again, "recorded": True} == first
    versions = stack.s3.list_object_versions(Bucket=IMAGE_BUCKET)["Versions"]
    assert len(versions) == 1  # one frame, written once


@pytest.mark.parametrize(
    ("key", "body", "reason"),
    [
        ("video_inputs/notes.txt", b"not a video", "unsupported video type '.txt'"),
        ("video_inputs/no extension", b"\x00\x00\x00\x20ftypisom", "unsupported video type '(none)'"),
        ("video_inputs/empty clip.mp4", b"", "empty object (0 bytes)"),
        ("video_inputs/photo.MP4", jpeg_bytes(), "content is not a video (image/jpeg)"),
        ("video_inputs/garbage.mkv", b"\x1a\x45\xdf\xa3" + b"\x00" * 500, "cannot be opened as a video"),
    ],
)
def test_bad_upload_becomes_a_failure_item_found_by_the_video_name(stack, key, body, reason):
    (outcome,) = stack.capture(stack.upload(VIDEO_BUCKET, key, body))["outcomes"]
    assert outcome["status"] == "FAILED" and reason in outcome["reason"]
    name = key.rsplit("/", 1)[-1]
    (item,) = stack.items_for(name)
    assert item["Status"] == "FAILED" and reason in item["Reason"]
    assert (item["Bucket"], item["Key"], item["Backend"]) == (VIDEO_BUCKET, key, "opencv")
    document = json.loads(stack.s3.get_object(Bucket=RESULTS_BUCKET, Key=item["ResultKey"])["Body"].read())
    assert document["Reason"] == item["Reason"]
    assert stack.frame_keys() == []


def test_truncated_upload_keeps_its_frames_and_records_why(stack, phone_clip, tmp_path):
    faststart = write_clip(tmp_path / "f.mp4", ClipSpec(seconds=20, faststart=True)).read_bytes()
    key = "video_inputs/cut.mp4"
    (outcome,) = stack.capture(stack.upload(VIDEO_BUCKET, key, faststart[: len(faststart) // 2]))["outcomes"]
    assert outcome["status"] == "FAILED" and outcome["frames"] == 2
    (item,) = stack.items_for("cut.mp4")
    assert item["Reason"].startswith("truncated or damaged: 2 of 4 frames captured")
    assert len(stack.frame_keys()) == 2


def test_video_deleted_before_capture_is_a_failure(stack, short_clip):
    event = stack.upload(VIDEO_BUCKET, "video_inputs/gone.mp4", short_clip)
    stack.s3.delete_object(
        Bucket=VIDEO_BUCKET,
        Key="video_inputs/gone.mp4",
        VersionId=event["Records"][0]["s3"]["object"]["versionId"],
    )
    (outcome,) = stack.capture(event)["outcomes"]
    assert outcome["status"] == "FAILED" and "no longer exists" in outcome["reason"]


def test_s3_test_event_is_recorded_as_a_failure(stack):
    event = {
        "Service": "Amazon S3",
        "Event": "s3:TestEvent",
        "Time": "2026-11-21T08:30:00Z",
        "Bucket": VIDEO_BUCKET,
        "RequestId": "5582815E1AEA5ADF",
        "HostId": "8cLeGAmw",
    }
    (outcome,) = stack.capture(event)["outcomes"]
    assert outcome["status"] == "FAILED" and "s3:TestEvent" in outcome["reason"]


def test_transient_error_fails_the_invocation_after_the_other_records(stack, short_clip, monkeypatch):
    good = stack.upload(VIDEO_BUCKET, "video_inputs/good.mp4", short_clip)
    bad = stack.upload(VIDEO_BUCKET, "video_inputs/throttled.mp4", short_clip)
    event = {"Records": bad["Records"] + good["Records"]}
    module = stack._modules["frame_capture"]
    real_put = module.flow.s3.put_object

    def put_object(**kwargs):
        if "throttled" in kwargs["Key"]:
            raise ClientError(
                {
                    "Error": {"Code": "SlowDown", "Message": "slow down"},
                    "ResponseMetadata": {"HTTPStatusCode": 503},
                },
                "PutObject",
            )
        return real_put(**kwargs)

    monkeypatch.setattr(module.flow.s3, "put_object", put_object)
    with pytest.raises(ClientError, match="SlowDown"):
        stack.capture(event)
    assert stack.frame_keys() == ["video_inputs/good.mp4/good_frame.0000000.jpg"]
    monkeypatch.setattr(module.flow.s3, "put_object", real_put)
    outcomes = stack.capture(event)["outcomes"]  # Lambda's retry: the good one is not captured twice
    assert [o["status"] for o in outcomes] == ["CAPTURED", "CAPTURED"]
    assert len(stack.s3.list_object_versions(Bucket=IMAGE_BUCKET)["Versions"]) == 2


def test_mediaconvert_engine_submits_a_valid_job_and_records_it(stack, short_clip, monkeypatch):
    module = stack.load("frame_capture", {**FRAME_CAPTURE_ENV, "FRAME_CAPTURE_ENGINE": "mediaconvert"})
    assert module.flow.engine.client.meta.endpoint_url == FRAME_CAPTURE_ENV["MEDIACONVERT_ENDPOINT"]
    key = "video_inputs/line 3/phone clip 01.MOV"
    event = stack.upload(VIDEO_BUCKET, key, short_clip)
    with Stubber(module.flow.engine.client) as stubber:  # validates the request against the real model
        stubber.add_response(
            "create_job",
            {"Job": {"Id": "1763713860123-ab12cd", "Role": "r", "Settings": {}, "Status": "SUBMITTED"}},
        )
        (outcome,) = stack.capture(event)["outcomes"]
        stubber.assert_no_pending_responses()
    assert (outcome["status"], outcome["job_id"], outcome["engine"]) == (
        "SUBMITTED",
        "1763713860123-ab12cd",
        "mediaconvert",
    )
    assert stack.frame_keys() == []  # MediaConvert writes them later
    document = json.loads(
        stack.s3.get_object(Bucket=RESULTS_BUCKET, Key=f"captures/{key}/{outcome['request_id']}.json")[
            "Body"
        ].read()
    )
    assert document["job_id"] == "1763713860123-ab12cd" and document["Status"] == "SUBMITTED"


def test_mediaconvert_engine_rejects_a_non_video_without_starting_a_job(stack):
    module = stack.load("frame_capture", {**FRAME_CAPTURE_ENV, "FRAME_CAPTURE_ENGINE": "mediaconvert"})
    with Stubber(module.flow.engine.client):  # no response queued: any CreateJob would fail the test
        (outcome,) = stack.capture(stack.upload(VIDEO_BUCKET, "video_inputs/a.mp4", b"plain text"))[
            "outcomes"
        ]
    assert outcome["status"] == "FAILED" and outcome["engine"] == "mediaconvert"


def test_sample_event_drives_the_handler(stack, short_clip):
    event = json.loads((EVENTS / "frame_capture_video_upload.json").read_text())
    obj = event["Records"][0]["s3"]["object"]
    response = stack.s3.put_object(
        Bucket=VIDEO_BUCKET, Key="video_inputs/line 3/phone clip 01.mp4", Body=short_clip
    )
    obj.update(versionId=response["VersionId"], size=len(short_clip))
    (outcome,) = stack.capture(event)["outcomes"]
    assert outcome["status"] == "CAPTURED"
    assert stack.frame_keys() == ["video_inputs/line 3/phone clip 01.mp4/phone clip 01_frame.0000000.jpg"]


@FUZZ
@given(body=documents({}) | st.binary(min_size=8, max_size=64).map(lambda b: b"\x00\x00\x00\x20ftypisom" + b))
def test_any_video_upload_ends_as_one_outcome_and_never_fails_the_invocation(stack, body):
    name = f"fuzz-{uuid.uuid4().hex[:8]}.mp4"
    (outcome,) = stack.capture(stack.upload(VIDEO_BUCKET, f"video_inputs/{name}", body))["outcomes"]
    assert outcome["status"] in ("CAPTURED", "FAILED")
    if outcome["status"] == "FAILED":
        (item,) = stack.items_for(name)
        assert item["Reason"] == outcome["reason"]
