"""The video flow end to end through the local stack: upload a clip, get frames and verdicts.

Local mode runs the opencv engine (samconfig.toml [local] FrameCaptureEngine="opencv"); the frames
reach detect_anomaly through the image bucket's own notification, as on AWS.
"""

from __future__ import annotations

import json
import uuid

import pytest
from boto3.dynamodb.conditions import Key

from visionpipe.synthetic_video import ClipSpec, write_clip

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("local_stack")]


def items_for(local_stack, file_name: str) -> list[dict]:
    table = local_stack.resource("dynamodb").Table(local_stack.outputs["ResultsTableName"])
    return table.query(IndexName="ImageIndex", KeyConditionExpression=Key("Image").eq(file_name))["Items"]


def test_twenty_second_phone_clip_yields_four_frames_and_four_verdicts_linked_to_it(local_stack, tmp_path):
    clip = write_clip(tmp_path / "clip.mp4", ClipSpec(seconds=20, width=320, height=240)).read_bytes()
    stem = f"phone clip {uuid.uuid4().hex[:8]}"
    key = f"video_inputs/line 3/{stem}.mp4"

    local_stack.client("s3").put_object(Bucket=local_stack.outputs["VideoBucketName"], Key=key, Body=clip)

    frame_names = [f"{stem}_frame.{i:07d}.jpg" for i in range(4)]
    local_stack.wait_until(lambda: all(items_for(local_stack, name) for name in frame_names), timeout=150)
    local_stack.wait_idle()
    frames = local_stack.client("s3").list_objects_v2(
        Bucket=local_stack.outputs["ImageBucketName"], Prefix=f"{key}/"
    )["Contents"]
    assert sorted(f["Key"] for f in frames) == [f"{key}/{name}" for name in frame_names]
    for index, name in enumerate(frame_names):
        (item,) = items_for(local_stack, name)
        assert item["Status"] == "OK"
        assert (item["SourceVideoBucket"], item["SourceVideoKey"]) == (
            local_stack.outputs["VideoBucketName"],
            key,
        )
        assert float(item["FrameTime"]) == index * 5
    assert items_for(local_stack, f"{stem}.mp4") == []  # no failure recorded for the clip
    results = local_stack.client("s3")
    (document,) = results.list_objects_v2(
        Bucket=local_stack.outputs["ResultsBucketName"], Prefix=f"captures/{key}/"
    )["Contents"]
    capture = json.loads(
        results.get_object(Bucket=local_stack.outputs["ResultsBucketName"], Key=document["Key"])[
            "Body"
        ].read()
    )
    assert capture["Status"] == "CAPTURED" and capture["engine"] == "opencv"
    assert capture["read_via"] == "url"  # streamed from the local S3 through a presigned URL, no /tmp copy


def test_a_non_video_upload_is_a_failure_item_named_after_it(local_stack):
    name = f"notes {uuid.uuid4().hex[:8]}.txt"
    local_stack.client("s3").put_object(
        Bucket=local_stack.outputs["VideoBucketName"], Key=f"video_inputs/{name}", Body=b"not a video"
    )
    (item,) = local_stack.wait_until(lambda: items_for(local_stack, name), timeout=30)
    assert item["Status"] == "FAILED" and "unsupported video type '.txt'" in item["Reason"]


def test_a_clip_named_with_parentheses_and_an_apostrophe_makes_four_frames_and_verdicts(
    local_stack, tmp_path
):
    """The opencv engine on the clip tests/integration/test_mediaconvert_engine.py gives MediaConvert."""
    clip = write_clip(tmp_path / "clip.mp4", ClipSpec(seconds=20, width=320, height=240)).read_bytes()
    key = "video_inputs/opencv/IMG (1)'s clip.mp4"
    local_stack.client("s3").put_object(Bucket=local_stack.outputs["VideoBucketName"], Key=key, Body=clip)
    names = [f"IMG (1)'s clip_frame.{i:07d}.jpg" for i in range(4)]
    local_stack.wait_until(lambda: all(items_for(local_stack, name) for name in names), timeout=150)
    frames = local_stack.client("s3").list_objects_v2(
        Bucket=local_stack.outputs["ImageBucketName"], Prefix=f"{key}/"
    )["Contents"]
    assert sorted(f["Key"] for f in frames) == [f"{key}/{name}" for name in names]
    assert all(items_for(local_stack, name)[0]["Status"] == "OK" for name in names)
