"""Outbox keys are deterministic per record (retries overwrite) and failure entries are replayable."""

import json

import boto3
from moto import mock_aws

from visionpipe_common.events.s3_events import S3Object, objects_in
from visionpipe_common.tweets.outbox import Outbox, failure_key, replay_event, tweet_key


def test_keys_are_stable_per_record_and_safe():
    assert tweet_key("dry-run", "office-cam-1", "20261121-083114", "0123456789abcdef") == (
        "outbox/dry-run/office-cam-1/20261121-083114_0123456789ab.json"
    )
    assert tweet_key("posted", "../../etc", "t", "ab") == "outbox/posted/etc/t_ab.json"
    assert failure_key("json/record_office-cam-1_20261121-083114.json", "0123456789abcdef") == (
        "outbox/failures/record_office-cam-1_20261121-083114_0123456789ab.json"
    )


def test_replay_event_is_an_s3_notification_naming_the_same_object():
    obj = S3Object(bucket="b", key="json/record_a b.json", size=9, etag="e", sequencer="01")
    (again,) = objects_in(replay_event(obj))
    assert (again.bucket, again.key, again.size, again.etag, again.sequencer) == ("b", obj.key, 9, "e", "01")


def test_a_failure_entry_says_why_and_how_to_retry():
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="detections")
        obj = S3Object(bucket="detections", key="json/record_cam_1.json", size=3, etag="e")
        key = Outbox(s3, "detections").save_failure(obj, "feedfacecafe0000", "missing field 'device_id'")
        entry = json.loads(s3.get_object(Bucket="detections", Key=key)["Body"].read())
    assert (
        entry["reason"] == "missing field 'device_id'"
        and entry["record"] == "s3://detections/json/record_cam_1.json"
    )
    assert "visionpipe replay" in entry["how_to_retry"] and entry["replay_event"]["Records"]
