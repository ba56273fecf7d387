"""TweetFlow with moto S3/DynamoDB and X via `responses`: the image attachment's edge cases."""

import json

import boto3
import pytest
import responses
from moto import mock_aws
from support.images import jpeg_bytes, png_bytes
from support.tweets import (
    CREDENTIALS,
    MEDIA_ID,
    MEDIA_UPLOAD_URL,
    TWEETS_URL,
    media_uploaded,
    multipart_fields,
    problem,
    record,
    record_key,
    tweet_created,
)

from visionpipe.template import table_definition
from visionpipe_common.events.s3_events import S3Object
from visionpipe_common.tweets.cooldown import DeviceCooldown
from visionpipe_common.tweets.flow import TweetFlow, record_identity
from visionpipe_common.tweets.message import TweetComposer
from visionpipe_common.tweets.x_api import MAX_IMAGE_BYTES, RetryPolicy, XClient, XCredentials

BUCKET = "detections"


class FixedPoster:
    """XPoster without Secrets Manager: the same XClient, credentials given directly."""

    def client(self):
        return XClient(XCredentials.from_secret(CREDENTIALS, "test"), retry=RetryPolicy(sleep=lambda s: None))


@pytest.fixture
def aws():
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        ddb = boto3.client("dynamodb")
        ddb.create_table(TableName="cooldown", **table_definition("TweetCooldownTable"))
        with responses.RequestsMock(assert_all_requests_are_fired=False) as x_api:
            yield s3, ddb, x_api


def flow(s3, ddb, poster=None, attach=True):
    return TweetFlow(s3, DeviceCooldown(ddb, "cooldown", 60), TweetComposer(), poster, attach_image=attach)


def put_record(s3, **overrides) -> S3Object:
    body = json.dumps(record(**overrides)).encode()
    etag = s3.put_object(Bucket=BUCKET, Key=record_key(), Body=body)["ETag"].strip('"')
    return S3Object(bucket=BUCKET, key=record_key(), size=len(body), etag=etag)


def test_identity_is_the_record_and_its_content_not_the_delivery():
    a = S3Object(bucket="b", key="json/record_x.json", size=1, etag="e1", sequencer="01")
    assert record_identity(a) == record_identity(
        S3Object(bucket="b", key="json/record_x.json", size=1, etag="e1")
    )
    assert record_identity(a) != record_identity(
        S3Object(bucket="b", key="json/record_x.json", size=1, etag="e2")
    )


def test_png_images_are_uploaded_as_png(aws):
    s3, ddb, x_api = aws
    image = png_bytes(seed=1)
    s3.put_object(Bucket=BUCKET, Key="images/a.png", Body=image)
    x_api.post(MEDIA_UPLOAD_URL, json=media_uploaded(), status=200)
    x_api.post(TWEETS_URL, json=tweet_created("t"), status=201)

    outcome = flow(s3, ddb, FixedPoster()).handle(put_record(s3, image_key="images/a.png"))

    fields = multipart_fields(x_api.calls[0].request)
    assert fields["media"][0]["Content-Type"] == "image/png" and fields["media"][1] == image
    assert outcome.media_ids == (MEDIA_ID,)


@pytest.mark.parametrize(
    ("image_key", "note"),
    [
        ("", "record has no image_key"),
        ("raw_images/raw_a.jpg", "is not a .jpg/.png under images/"),
        ("images/../json/record_a.json", "is not a .jpg/.png under images/"),
        ("images/a.gif", "is not a .jpg/.png under images/"),
    ],
)
def test_images_outside_images_or_of_other_types_are_not_attached(aws, image_key, note):
    s3, ddb, x_api = aws
    x_api.post(TWEETS_URL, json=tweet_created("t"), status=201)
    outcome = flow(s3, ddb, FixedPoster()).handle(put_record(s3, image_key=image_key))
    (call,) = x_api.calls
    assert "media" not in json.loads(call.request.body)
    entry = json.loads(s3.get_object(Bucket=BUCKET, Key=outcome.outbox_key)["Body"].read())
    assert note in entry["notes"][0]


def test_an_image_over_xs_limit_is_not_downloaded_nor_attached(aws):
    s3, ddb, x_api = aws
    s3.put_object(Bucket=BUCKET, Key="images/big.jpg", Body=b"\xff" * (MAX_IMAGE_BYTES + 1))
    x_api.post(TWEETS_URL, json=tweet_created("t"), status=201)
    outcome = flow(s3, ddb, FixedPoster()).handle(put_record(s3, image_key="images/big.jpg"))
    assert len(x_api.calls) == 1 and outcome.status == "POSTED"


def test_an_image_x_refuses_does_not_cost_the_tweet(aws):
    s3, ddb, x_api = aws
    s3.put_object(Bucket=BUCKET, Key="images/a.jpg", Body=jpeg_bytes())
    x_api.post(MEDIA_UPLOAD_URL, json=problem(400, "Invalid Request", "media type unrecognized."), status=400)
    x_api.post(TWEETS_URL, json=tweet_created("t"), status=201)

    outcome = flow(s3, ddb, FixedPoster()).handle(put_record(s3, image_key="images/a.jpg"))

    assert outcome.status == "POSTED" and outcome.media_ids == ()
    entry = json.loads(s3.get_object(Bucket=BUCKET, Key=outcome.outbox_key)["Body"].read())
    assert "image not attached" in entry["notes"][0] and "media type unrecognized" in entry["notes"][0]


def test_dry_run_with_attach_image_records_the_image_it_would_send(aws):
    s3, ddb, x_api = aws
    image = jpeg_bytes(seed=2)
    s3.put_object(Bucket=BUCKET, Key="images/a.jpg", Body=image)
    outcome = flow(s3, ddb, None).handle(put_record(s3, image_key="images/a.jpg"))
    entry = json.loads(s3.get_object(Bucket=BUCKET, Key=outcome.outbox_key)["Body"].read())
    assert entry["image_key"] == "images/a.jpg" and entry["image_bytes"] == len(image)
    assert len(x_api.calls) == 0


def test_x_refusing_the_tweet_itself_is_a_failure_entry_without_retry(aws):
    s3, ddb, x_api = aws
    x_api.post(TWEETS_URL, json=problem(400, "Invalid Request", "text is too long"), status=400)
    outcome = flow(s3, ddb, FixedPoster(), attach=False).handle(put_record(s3))
    assert outcome.status == "FAILED" and "text is too long" in outcome.reason
    assert outcome.outbox_key.startswith("outbox/failures/")
    assert ddb.scan(TableName="cooldown")["Items"] == []  # released: nothing was posted


def test_a_key_that_is_not_a_record_is_a_failure_entry(aws):
    s3, ddb, _ = aws
    s3.put_object(Bucket=BUCKET, Key="json/notes.json", Body=b"{}")
    outcome = flow(s3, ddb).handle(S3Object(bucket=BUCKET, key="json/notes.json", size=2, etag="x"))
    assert outcome.status == "FAILED" and "json/record_*.json" in outcome.reason
