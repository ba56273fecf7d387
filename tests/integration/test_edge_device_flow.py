"""The edge camera against the local stack: `visionpipe device run` on a video of real photographs
writes the six detection objects to the stack's detections bucket, and the tweet flow picks the
record up (dry run into outbox/)."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.device.photos import face_frames, no_face_frames, write_video
from visionpipe.cli import main

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("local_stack")]

KINDS = ("images/", "json/", "latest/", "frames_resized/", "raw_images/", "training_annotation/")


def keys(s3, bucket: str, prefix: str = "") -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])]


def test_device_run_writes_all_six_kinds_and_the_record_is_tweeted(local_stack, tmp_path, capsys):
    bucket = local_stack.outputs["DetectionsBucketName"]
    s3 = local_stack.client("s3")
    device = f"edge-{uuid.uuid4().hex[:6]}"
    video = write_video(tmp_path / "photos.avi", face_frames()[:1] + no_face_frames())
    port = local_stack.endpoint_url.rsplit(":", 1)[1]
    argv = ["device", "run", "--source", str(video), "--local-port", port, "--device-name", device]
    assert main([*argv, "--log-level", "WARNING"]) == 0
    out = capsys.readouterr().out  # in-process handlers log to stdout too: the summary is the last JSON block
    summary = json.loads(out[out.rindex('{\n  "bucket"') :])
    assert summary["bucket"] == bucket  # --local-port found the stack's detections bucket
    assert summary["frames_with_detections"] == 1 and summary["objects_written"] == 6
    written = [k for k in keys(s3, bucket) if device in k or k == "latest/latest.json"]
    for kind in KINDS:
        assert any(k.startswith(kind) for k in written), kind
    (record_key,) = [k for k in written if k.startswith("json/")]
    record = json.loads(s3.get_object(Bucket=bucket, Key=record_key)["Body"].read())
    assert record["device_id"] == device and record["objects"][0]["object"] == "face"
    assert record["image_key"] in written

    # The tweet function is triggered by json/record_*.json; without X credentials it writes a dry run.
    def dry_run_tweets():
        return [
            k
            for k in keys(s3, bucket, "outbox/")
            if device in s3.get_object(Bucket=bucket, Key=k)["Body"].read().decode()
        ]

    assert local_stack.wait_until(dry_run_tweets, timeout=30)
