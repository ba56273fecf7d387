"""Reading tweet_detection's outcomes from the outbox/ entries it leaves for every record (moto S3)."""

import json

import boto3
from moto import mock_aws

from visionpipe.demo.tweets import TweetResult, outbox_outcomes


def test_each_outbox_folder_names_its_records_outcome():
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="detections")
        entries = {
            "outbox/dry-run/cam/20261121-083114_aaaaaaaaaaaa.json": "s3://detections/json/record_cam_1.json",
            "outbox/suppressed/cam/20261121-083115_bbbbbbbbbbbb.json": "s3://detections/json/record_cam_2.json",
            "outbox/duplicates/cam/20261121-083114_aaaaaaaaaaaa.json": "s3://detections/json/record_cam_1.json",
            "outbox/failures/record_cam_3_cccccccccccc.json": "s3://detections/json/record_cam_3.json",
        }
        for key, record in entries.items():
            s3.put_object(Bucket="detections", Key=key, Body=json.dumps({"record": record}).encode())
        s3.put_object(Bucket="detections", Key="outbox/notes.txt", Body=b"not an entry")
        found = sorted(outbox_outcomes(s3, "detections"), key=lambda o: o["outbox_key"])
    assert [(o["status"], o["record"].rsplit("/", 1)[-1]) for o in found] == [
        ("DRY_RUN", "record_cam_1.json"),
        ("DUPLICATE", "record_cam_1.json"),
        ("FAILED", "record_cam_3.json"),
        ("SUPPRESSED", "record_cam_2.json"),
    ]
    result = TweetResult(records=1, outcomes={"r": found[3]}, dry_run=[])
    assert result.suppressed == 1 and result.problems() == ["no dry-run tweet in outbox/dry-run/"]
