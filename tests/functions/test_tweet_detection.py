"""tweet_detection end to end in-process: moto S3/DynamoDB/Secrets Manager, X API v2 via `responses`.

Dry run (no secret): one outbox entry per tweet. Live (secret): the real tweepy + OAuth 1.0a path,
every request checked. Cooldown, duplicate deliveries, malformed records and X's refusals.
"""

import copy
import json
import re
import threading
import time
import uuid
from urllib.parse import quote_plus

import boto3
import pytest
import responses
from aws_lambda_powertools.utilities import parameters
from hypothesis import given
from hypothesis import strategies as st
from moto import mock_aws
from support.arbitrary import FUZZ, documents
from support.images import jpeg_bytes
from support.lambda_context import FakeLambdaContext
from support.template_environment import template_environment
from support.tweets import (
    CREDENTIALS,
    DUPLICATE,
    FORBIDDEN,
    MEDIA_ID,
    MEDIA_UPLOAD_URL,
    TOO_MANY,
    TWEET_ID,
    TWEETS_URL,
    UNAUTHORIZED,
    UNAVAILABLE,
    assert_oauth1_signed,
    make_moto_dynamodb_writes_atomic,
    media_uploaded,
    multipart_fields,
    record,
    record_bytes,
    record_key,
    tweet_created,
)

from visionpipe.lambda_loader import load_handler_module
from visionpipe.template import REPO_ROOT, load_template, table_definition
from visionpipe_common.tweets.message import DEFAULT_MESSAGES
from visionpipe_common.tweets.x_api import XAuthorizationError, XTransientError

EVENTS = REPO_ROOT / "events"
BUCKET = "visionpipe-detections-example"  # the bucket named in events/tweet_detection.json
ENVIRONMENT = template_environment("TweetDetectionFunction", {"TweetCooldownTable": "tweet-cooldown"})
ORIGINAL_FORM = re.compile(
    r"^Botchitecture report at 08:31 \(UTC\): (?P<message>.+) #botchitecture #office_cam_1$"
)


def test_environment_here_is_the_one_the_template_gives():
    assert ENVIRONMENT["DETECTIONS_BUCKET"] == BUCKET
    parameters_ = load_template()["Parameters"]
    assert parameters_["TweetTemplate"]["Default"] == ENVIRONMENT["TWEET_TEMPLATE"]
    assert parameters_["TweetMessages"]["Default"] == ENVIRONMENT["TWEET_MESSAGES"]
    assert parameters_["TweetHashtags"]["Default"] == ENVIRONMENT["TWEET_HASHTAGS"]
    assert parameters_["TweetCooldownSeconds"]["Default"] == 60
    assert parameters_["XSecretArn"]["Default"] == ""  # dry run unless a secret is configured


class Stack:
    def __init__(self, module, s3, ddb, secret_arn=""):
        self.module, self.s3, self.ddb, self.secret_arn = module, s3, ddb, secret_arn
        self._sequence = 0

    def upload(self, key: str, body: bytes) -> dict:
        """Put an object and return the S3 notification Lambda would receive for it."""
        response = self.s3.put_object(Bucket=BUCKET, Key=key, Body=body)
        self._sequence += 1
        event = json.loads((EVENTS / "tweet_detection.json").read_text())
        obj = event["Records"][0]["s3"]["object"]
        obj.update(key=quote_plus(key), size=len(body), eTag=response["ETag"].strip('"'))
        obj["sequencer"] = f"{self._sequence:018X}"
        return event

    def drop_record(self, **kwargs) -> dict:
        device = kwargs.get("device", "office-cam-1")
        timestamp = kwargs.get("timestamp", "20261121-083114")
        return self.upload(record_key(device, timestamp), record_bytes(**kwargs))

    def invoke(self, event: dict) -> dict:
        return self.module.lambda_handler(event, FakeLambdaContext())

    def keys(self, prefix: str = "outbox/") -> list[str]:
        """Outbox entries under prefix; by default tweets and failures (not suppressed/duplicates)."""
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
        keys = sorted(o["Key"] for page in pages for o in page.get("Contents", []))
        if prefix == "outbox/":
            keys = [k for k in keys if not k.startswith(("outbox/suppressed/", "outbox/duplicates/"))]
        return keys

    def document(self, key: str) -> dict:
        return json.loads(self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())

    def cooldown_item(self, device: str = "office-cam-1") -> dict | None:
        return self.ddb.get_item(TableName="tweet-cooldown", Key={"DeviceId": {"S": device}}).get("Item")


@pytest.fixture
def make_stack(monkeypatch):
    parameters.clear_caches()
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        ddb = boto3.client("dynamodb")
        ddb.create_table(TableName="tweet-cooldown", **table_definition("TweetCooldownTable"))

        def make(secret: bool = False, **overrides) -> Stack:
            arn = ""
            if secret:
                arn = boto3.client("secretsmanager").create_secret(
                    Name="visionpipe/x-api-keys", SecretString=json.dumps(CREDENTIALS)
                )["ARN"]
            for name, value in {**ENVIRONMENT, "X_SECRET_ARN": arn, **overrides}.items():
                monkeypatch.setenv(name, value)
            return Stack(load_handler_module("tweet_detection"), s3, ddb, arn)

        yield make
    parameters.clear_caches()


@pytest.fixture
def stack(make_stack):
    return make_stack()


@pytest.fixture
def no_network():
    """Fails any HTTP request leaving the process (a dry run must not talk to X)."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock
    assert len(mock.calls) == 0


@pytest.fixture
def x_api():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


# ---------------------------------------------------------------- dry run


def test_dry_run_writes_exactly_one_outbox_entry_with_the_original_form(stack, no_network):
    (outcome,) = stack.invoke(stack.drop_record())["outcomes"]

    assert outcome["status"] == "DRY_RUN"
    match = ORIGINAL_FORM.match(outcome["text"])
    assert match and match["message"] in DEFAULT_MESSAGES
    (key,) = stack.keys()
    assert key == outcome["outbox_key"] and key.startswith("outbox/dry-run/office-cam-1/20261121-083114_")
    entry = stack.document(key)
    assert entry["mode"] == "dry-run" and entry["text"] == outcome["text"]
    assert entry["record"] == f"s3://{BUCKET}/json/record_office-cam-1_20261121-083114.json"
    assert entry["objects"] == [{"object": "thumbs-up", "confidence": 0.93}]
    assert entry["detected_at"] == "2026-11-21T08:31:14.123000Z"
    assert stack.cooldown_item()["State"]["S"] == "POSTED"


def test_dry_run_text_is_exact_with_a_single_configured_message(make_stack, no_network):
    stack = make_stack(TWEET_MESSAGES="Coffee Time!")
    stack.invoke(stack.drop_record(device="Seattle01", timestamp="20261121-170502"))
    (key,) = stack.keys()
    assert (
        stack.document(key)["text"]
        == "Botchitecture report at 17:05 (UTC): Coffee Time! #botchitecture #Seattle01"
    )


def test_custom_template_and_hashtags_reach_the_tweet(make_stack, no_network):
    stack = make_stack(
        TWEET_TEMPLATE="{device} saw {detected} at {time} UTC {hashtags}", TWEET_HASHTAGS="cams"
    )
    (outcome,) = stack.invoke(stack.drop_record())["outcomes"]
    assert outcome["text"] == "office-cam-1 saw thumbs-up 93% at 08:31 UTC #cams"


# ---------------------------------------------------------------- cooldown and duplicates


def test_a_second_record_within_the_cooldown_makes_no_tweet(stack, no_network):
    stack.invoke(stack.drop_record(timestamp="20261121-083114"))
    (second,) = stack.invoke(stack.drop_record(timestamp="20261121-083116"))["outcomes"]

    assert second["status"] == "SUPPRESSED" and "cooling down" in second["reason"]
    assert len(stack.keys()) == 1
    assert stack.keys("outbox/suppressed/") == [second["outbox_key"]]  # its outcome, findable


def test_other_devices_are_not_held_back(stack, no_network):
    stack.invoke(stack.drop_record(device="office-cam-1"))
    (other,) = stack.invoke(stack.drop_record(device="office-cam-2"))["outcomes"]
    assert other["status"] == "DRY_RUN" and len(stack.keys("outbox/dry-run/")) == 2


def test_after_the_cooldown_the_next_record_tweets(make_stack, no_network):
    stack = make_stack(COOLDOWN_SECONDS="1")
    stack.invoke(stack.drop_record(timestamp="20261121-083114"))
    time.sleep(1.1)
    (later,) = stack.invoke(stack.drop_record(timestamp="20261121-083116"))["outcomes"]
    assert later["status"] == "DRY_RUN" and len(stack.keys()) == 2


def test_concurrent_records_for_one_device_make_exactly_one_tweet(stack, no_network, monkeypatch):
    make_moto_dynamodb_writes_atomic(monkeypatch)
    events = [stack.drop_record(timestamp=f"20261121-0831{n:02d}") for n in range(8)]
    barrier = threading.Barrier(len(events))
    outcomes, errors = [], []

    def deliver(event):
        barrier.wait()
        try:
            outcomes.extend(stack.invoke(event)["outcomes"])
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=deliver, args=(event,)) for event in events]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(o["status"] for o in outcomes) == ["DRY_RUN"] + ["SUPPRESSED"] * 7
    assert len(stack.keys("outbox/dry-run/")) == 1


def test_a_duplicate_delivery_tweets_nothing_and_says_so_in_the_outbox(stack, no_network):
    event = stack.drop_record()
    (first,) = stack.invoke(event)["outcomes"]
    (again,) = stack.invoke(copy.deepcopy(event))["outcomes"]

    assert first["status"] == "DRY_RUN" and again["status"] == "DUPLICATE"
    assert len(stack.keys()) == 1
    assert stack.keys("outbox/duplicates/") == [again["outbox_key"]]
    assert stack.document(again["outbox_key"])["record"] == first["record"]


def test_a_late_duplicate_is_still_not_tweeted(stack, no_network):
    event = stack.drop_record()
    stack.invoke(event)

    (again,) = stack.invoke(event)["outcomes"]
    assert again["status"] == "DUPLICATE" and len(stack.keys()) == 1


def test_the_device_uploading_the_same_record_again_is_the_same_record(stack, no_network):
    first = stack.drop_record()
    reupload = stack.drop_record()  # same key and content, new sequencer
    assert (
        first["Records"][0]["s3"]["object"]["sequencer"]
        != reupload["Records"][0]["s3"]["object"]["sequencer"]
    )
    stack.invoke(first)
    assert stack.invoke(reupload) == stack.invoke(first)
    assert len(stack.keys()) == 1


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"device_id": "office-cam-1", "objects": [', "record is not valid JSON"),
        (
            json.dumps({k: v for k, v in record().items() if k != "device_id"}).encode(),
            "missing field 'device_id'",
        ),
        (
            json.dumps({k: v for k, v in record().items() if k != "objects"}).encode(),
            "missing field 'objects'",
        ),
        (
            json.dumps(record(objects=[{"object": "thumbs-up", "confidence": "high"}])).encode(),
            "field 'objects[0].confidence' must be a number, got str",
        ),
        (json.dumps(record(device_id=["cam"])).encode(), "field 'device_id' must be a string, got list"),
    ],
)
def test_a_malformed_record_is_a_failure_entry_with_a_reason_and_nothing_is_posted(
    make_stack, x_api, body, reason
):
    stack = make_stack(secret=True)
    key = record_key()
    (outcome,) = stack.invoke(stack.upload(key, body))["outcomes"]

    assert outcome["status"] == "FAILED" and reason in outcome["reason"]
    (failure_key,) = stack.keys()
    assert failure_key.startswith("outbox/failures/record_office-cam-1_20261121-083114_")
    failure = stack.document(failure_key)
    assert failure["status"] == "FAILED" and reason in failure["reason"]
    assert failure["record"] == f"s3://{BUCKET}/{key}"
    assert failure["replay_event"]["Records"][0]["s3"]["object"]["key"] == key
    assert len(x_api.calls) == 0 and stack.cooldown_item() is None


def test_a_record_deleted_before_it_is_read_is_a_failure_entry(stack, no_network):
    event = stack.drop_record()
    stack.s3.delete_object(Bucket=BUCKET, Key=record_key())
    (outcome,) = stack.invoke(event)["outcomes"]
    assert outcome["status"] == "FAILED" and "no longer exists" in outcome["reason"]
    assert stack.keys("outbox/failures/") == [outcome["outbox_key"]]


def test_one_bad_record_does_not_stop_the_others_in_the_event(stack, no_network):
    good = stack.drop_record(device="office-cam-1")
    bad = stack.upload(record_key("office-cam-2"), b"not json")
    event = {"Records": good["Records"] + bad["Records"]}
    outcomes = stack.invoke(event)["outcomes"]
    assert [o["status"] for o in outcomes] == ["DRY_RUN", "FAILED"]


def test_s3_test_event_tweets_nothing(stack, no_network):
    assert stack.invoke({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": BUCKET}) == {
        "outcomes": []
    }
    assert stack.keys() == []


def test_an_event_that_is_not_s3_is_a_failure_entry_in_the_detections_bucket(stack, no_network):
    (outcome,) = stack.invoke({"hello": "world"})["outcomes"]
    assert outcome["status"] == "FAILED" and "not an S3 notification" in outcome["reason"]
    assert stack.keys("outbox/failures/") == [outcome["outbox_key"]]


# ---------------------------------------------------------------- live: X API v2


def test_with_a_secret_one_correctly_signed_v2_request_is_sent(make_stack, x_api):
    stack = make_stack(secret=True, TWEET_MESSAGES="Coffee Time!")
    text = "Botchitecture report at 08:31 (UTC): Coffee Time! #botchitecture #office_cam_1"
    x_api.post(TWEETS_URL, json=tweet_created(text), status=201)

    (outcome,) = stack.invoke(stack.drop_record())["outcomes"]

    (call,) = x_api.calls
    assert call.request.url == TWEETS_URL and call.request.body == json.dumps({"text": text}).encode()
    assert_oauth1_signed(call.request)
    assert outcome["status"] == "POSTED" and outcome["tweet_id"] == TWEET_ID
    (key,) = stack.keys()
    assert key.startswith("outbox/posted/office-cam-1/") and stack.document(key)["tweet_id"] == TWEET_ID
    item = stack.cooldown_item()
    assert item["State"]["S"] == "POSTED" and item["TweetId"]["S"] == TWEET_ID


def test_the_annotated_image_is_uploaded_and_attached(make_stack, x_api):
    stack = make_stack(secret=True, ATTACH_IMAGE="true")
    image = jpeg_bytes(seed=7)
    stack.s3.put_object(Bucket=BUCKET, Key="images/image_office-cam-1_20261121-083114.jpg", Body=image)
    x_api.post(MEDIA_UPLOAD_URL, json=media_uploaded(size=len(image)), status=200)
    x_api.post(TWEETS_URL, json=tweet_created("text"), status=201)

    (outcome,) = stack.invoke(stack.drop_record())["outcomes"]

    upload, tweet = x_api.calls
    fields = multipart_fields(upload.request)
    assert fields["media"][1] == image and fields["media_category"][1] == b"tweet_image"
    assert_oauth1_signed(upload.request)
    assert json.loads(tweet.request.body) == {"text": outcome["text"], "media": {"media_ids": [MEDIA_ID]}}
    assert_oauth1_signed(tweet.request)
    assert outcome["media_ids"] == [MEDIA_ID]


def test_a_missing_image_still_tweets_the_text(make_stack, x_api):
    stack = make_stack(secret=True, ATTACH_IMAGE="true")
    x_api.post(TWEETS_URL, json=tweet_created("text"), status=201)

    (outcome,) = stack.invoke(stack.drop_record())["outcomes"]

    (call,) = x_api.calls
    assert json.loads(call.request.body) == {"text": outcome["text"]}
    (key,) = stack.keys()
    assert "not found" in stack.document(key)["notes"][0]


def test_throttling_raises_for_lambdas_retry_and_releases_the_cooldown(make_stack, x_api):
    stack = make_stack(secret=True)
    reset_later = {"x-rate-limit-remaining": "0", "x-rate-limit-reset": str(int(time.time()) + 900)}
    x_api.post(TWEETS_URL, json=TOO_MANY, status=429, headers=reset_later)
    event = stack.drop_record()

    with pytest.raises(XTransientError, match="HTTP 429"):
        stack.invoke(event)
    assert stack.cooldown_item() is None  # released: the retry may post
    assert stack.keys() == []

    # Lambda's retry of the same event, once X accepts again: exactly one tweet.
    x_api.replace(responses.POST, TWEETS_URL, json=tweet_created("text"), status=201)
    (outcome,) = stack.invoke(event)["outcomes"]
    assert outcome["status"] == "POSTED" and len(x_api.calls) == 2


def test_server_errors_are_retried_in_process_before_failing(make_stack, x_api, monkeypatch):
    stack = make_stack(secret=True)
    slept = []
    monkeypatch.setattr("visionpipe_common.tweets.x_api.time.sleep", slept.append)
    x_api.post(TWEETS_URL, json=UNAVAILABLE, status=503)

    with pytest.raises(XTransientError, match="HTTP 503"):
        stack.invoke(stack.drop_record())
    assert len(x_api.calls) == 3 and slept == [1.0, 2.0]
    assert stack.cooldown_item() is None


@pytest.mark.parametrize(
    ("status", "body", "cause"),
    [
        (401, UNAUTHORIZED, "access token and secret were regenerated"),
        (403, FORBIDDEN, "'Read and write'"),
    ],
)
def test_refused_keys_fail_with_the_likely_cause_and_a_failure_entry(make_stack, x_api, status, body, cause):
    stack = make_stack(secret=True)
    x_api.post(TWEETS_URL, json=body, status=status)

    with pytest.raises(XAuthorizationError) as error:
        stack.invoke(stack.drop_record())

    assert cause in str(error.value) and len(x_api.calls) == 1
    (failure_key,) = stack.keys()
    failure = stack.document(failure_key)
    assert failure_key.startswith("outbox/failures/") and cause in failure["reason"]
    assert failure["text"].startswith("Botchitecture report at 08:31")
    assert stack.cooldown_item() is None


def test_x_refusing_a_duplicate_text_counts_as_already_posted(make_stack, x_api):
    stack = make_stack(secret=True)
    x_api.post(TWEETS_URL, json=DUPLICATE, status=403)
    (outcome,) = stack.invoke(stack.drop_record())["outcomes"]
    assert outcome["status"] == "DUPLICATE" and stack.keys() == []
    assert stack.cooldown_item()["State"]["S"] == "POSTED"


def test_a_secret_without_the_four_keys_fails_naming_them(make_stack, x_api):
    stack = make_stack(secret=True)
    boto3.client("secretsmanager").put_secret_value(
        SecretId=stack.secret_arn, SecretString=json.dumps({"consumer_key": "ck"})
    )
    parameters.clear_caches()
    with pytest.raises(Exception, match="consumer_secret, access_token, access_token_secret"):
        stack.invoke(stack.drop_record())
    assert len(x_api.calls) == 0 and stack.cooldown_item() is None


# ---------------------------------------------------------------- wiring in template.yaml


def _s3_events_on_detections_bucket():
    for name, resource in load_template()["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        for event in resource["Properties"].get("Events", {}).values():
            props = event.get("Properties", {})
            if event["Type"] == "S3" and props.get("Bucket") == {"Ref": "DetectionsBucket"}:
                rules = {
                    r["Name"]: r["Value"] for r in props.get("Filter", {}).get("S3Key", {}).get("Rules", [])
                }
                yield name, rules


def _matches(rules, key):
    return key.startswith(rules.get("prefix", "")) and key.endswith(rules.get("suffix", ""))


def test_records_and_only_records_trigger_the_function():
    rules = [r for name, r in _s3_events_on_detections_bucket() if name == "TweetDetectionFunction"]
    assert rules == [{"prefix": "json/record_", "suffix": ".json"}]


@pytest.mark.parametrize(
    "key",
    [
        "outbox/dry-run/office-cam-1/20261121-083114_0123456789ab.json",
        "outbox/posted/office-cam-1/20261121-083114_0123456789ab.json",
        "outbox/failures/record_office-cam-1_20261121-083114_0123456789ab.json",
    ],
)
def test_nothing_listens_to_the_outbox(key):
    assert [name for name, rules in _s3_events_on_detections_bucket() if _matches(rules, key)] == []


def test_permissions_are_least_privilege():
    resources = load_template()["Resources"]
    statements = resources["TweetDetectionFunction"]["Properties"]["Policies"][0]["Statement"]
    by_sid = {s["Sid"]: s for s in statements}
    assert by_sid["ReadRecordsAndImages"]["Action"] == ["s3:GetObject"]
    read = json.dumps(by_sid["ReadRecordsAndImages"]["Resource"])
    assert "/json/*" in read and "/images/*" in read and "/outbox" not in read
    assert by_sid["WriteOutbox"]["Action"] == ["s3:PutObject"] and "/outbox/*" in json.dumps(
        by_sid["WriteOutbox"]
    )
    assert all("*" not in action for s in statements for action in s["Action"])
    secret_policy = resources["TweetDetectionSecretPolicy"]
    assert secret_policy["Condition"] == "HasXSecret"
    (statement,) = secret_policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Action"] == ["secretsmanager:GetSecretValue"] and statement["Resource"] == {
        "Ref": "XSecretArn"
    }


def test_failed_events_go_to_the_failed_events_queue():
    config = load_template()["Resources"]["TweetDetectionFunction"]["Properties"]["EventInvokeConfig"]
    assert config["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": ["FailedEventsQueue", "Arn"]
    }


# ---------------------------------------------------------------- arbitrary input


@FUZZ
@given(
    body=documents(
        {
            "device_id": st.text(max_size=30),
            "time_utc": st.text(max_size=40),
            "timestamp": st.text(max_size=20),
            "objects": st.lists(
                st.fixed_dictionaries({"object": st.text(max_size=10), "confidence": st.floats()}), max_size=3
            ),
        }
    )
)
def test_any_record_ends_as_one_outbox_entry_and_never_fails_the_invocation(stack, no_network, body):
    event = stack.upload(f"json/record_fuzz-{uuid.uuid4().hex[:8]}_20261121-083114.json", body)
    (outcome,) = stack.invoke(event)["outcomes"]  # raising here would retry, then park the event
    assert outcome["status"] in ("DRY_RUN", "SUPPRESSED", "DUPLICATE", "FAILED")
    stack.document(outcome["outbox_key"])  # its entry exists
