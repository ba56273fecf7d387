"""Detection records end to end through the local stack (dry run: no secret configured locally)."""

from __future__ import annotations

import json
import re
import uuid

import pytest

from tests.support.tweets import record
from visionpipe_common.tweets.message import DEFAULT_MESSAGES, hashtag

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("local_stack")]


def drop_record(local_stack, device: str, timestamp: str) -> str:
    key = f"json/record_{device}_{timestamp}.json"
    body = json.dumps(record(device=device, timestamp=timestamp)).encode()
    local_stack.client("s3").put_object(
        Bucket=local_stack.outputs["DetectionsBucketName"], Key=key, Body=body
    )
    return key


def outbox(local_stack, prefix: str) -> list[str]:
    response = local_stack.client("s3").list_objects_v2(
        Bucket=local_stack.outputs["DetectionsBucketName"], Prefix=prefix
    )
    return sorted(o["Key"] for o in response.get("Contents", []))


def test_a_record_makes_one_outbox_tweet_and_a_second_within_the_cooldown_none(local_stack):
    device = f"cam-{uuid.uuid4().hex[:8]}"
    bucket = local_stack.outputs["DetectionsBucketName"]

    drop_record(local_stack, device, "20261121-083114")
    (key,) = local_stack.wait_until(lambda: outbox(local_stack, f"outbox/dry-run/{device}/"), timeout=20)
    local_stack.wait_idle()

    entry = json.loads(local_stack.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    tags = re.escape(f"#botchitecture {hashtag(device)}")
    expected = re.compile(rf"^Botchitecture report at 08:31 \(UTC\): (?P<message>.+) {tags}$")
    match = expected.match(entry["text"])
    assert match and match["message"] in DEFAULT_MESSAGES, entry["text"]
    assert entry["mode"] == "dry-run" and entry["record"].endswith(
        f"json/record_{device}_20261121-083114.json"
    )

    drop_record(local_stack, device, "20261121-083120")  # 6 s later: within the 60 s cooldown
    local_stack.wait_idle()
    assert outbox(local_stack, f"outbox/dry-run/{device}/") == [key]
    assert outbox(local_stack, f"outbox/failures/record_{device}_") == []


def test_a_malformed_record_leaves_a_failure_entry_and_no_tweet(local_stack):
    device = f"cam-{uuid.uuid4().hex[:8]}"
    key = f"json/record_{device}_20261121-083114.json"
    local_stack.client("s3").put_object(
        Bucket=local_stack.outputs["DetectionsBucketName"], Key=key, Body=b"{oops"
    )

    (failure,) = local_stack.wait_until(
        lambda: outbox(local_stack, f"outbox/failures/record_{device}_"), timeout=20
    )
    local_stack.wait_idle()
    document = json.loads(
        local_stack.client("s3")
        .get_object(Bucket=local_stack.outputs["DetectionsBucketName"], Key=failure)["Body"]
        .read()
    )
    assert "not valid JSON" in document["reason"]
    assert outbox(local_stack, f"outbox/dry-run/{device}/") == []
