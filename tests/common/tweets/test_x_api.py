"""x_api against HTTP responses shaped like X's (responses): the real tweepy and OAuth 1.0a code paths."""

import json

import boto3
import pytest
import requests
import responses
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws
from support.images import jpeg_bytes
from support.tweets import (
    CREDENTIALS,
    CREDITS_DEPLETED,
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
    media_uploaded,
    multipart_fields,
    problem,
    tweet_created,
)

from visionpipe_common.tweets.x_api import (
    MAX_IMAGE_BYTES,
    MediaFile,
    RetryPolicy,
    XAuthorizationError,
    XClient,
    XConfigurationError,
    XCredentials,
    XDuplicateError,
    XPoster,
    XRejectedError,
    XTransientError,
    load_credentials,
)

TEXT = "Botchitecture report at 08:31 (UTC): Coffee Time! #botchitecture #office_cam_1"
NOW = 1_800_000_000.0


class Sleeps(list):
    def __call__(self, seconds):
        self.append(seconds)


@pytest.fixture
def sleeps():
    return Sleeps()


@pytest.fixture
def client(sleeps):
    retry = RetryPolicy(
        attempts=3, backoff_seconds=1.0, max_wait_seconds=8.0, sleep=sleeps, clock=lambda: NOW
    )
    return XClient(XCredentials.from_secret(CREDENTIALS, "test"), retry=retry, timeout=7.5)


@pytest.fixture(autouse=True)
def fresh_secret_cache():
    parameters.clear_caches()
    yield
    parameters.clear_caches()


@responses.activate
def test_create_tweet_sends_exactly_the_text_as_json_signed_with_oauth1(client):
    responses.post(TWEETS_URL, json=tweet_created(TEXT), status=201)

    posted = client.post(TEXT)

    assert posted.tweet_id == TWEET_ID and posted.text == TEXT
    (call,) = responses.calls
    assert call.request.method == "POST" and call.request.url == TWEETS_URL
    assert call.request.headers["Content-Type"] == "application/json"
    assert call.request.body == json.dumps({"text": TEXT}).encode()
    assert_oauth1_signed(call.request)
    assert call.request.req_kwargs["timeout"] == 7.5  # never hangs the Lambda


@responses.activate
def test_image_goes_through_v2_media_upload_then_into_the_tweet(client):
    image = jpeg_bytes(seed=3)
    responses.post(MEDIA_UPLOAD_URL, json=media_uploaded(size=len(image)), status=200)
    responses.post(TWEETS_URL, json=tweet_created(TEXT), status=201)

    media_id = client.upload_media(MediaFile(image, "image/jpeg", "image_office-cam-1_20261121-083114.jpg"))
    posted = client.post(TEXT, [media_id])

    upload, tweet = responses.calls
    assert upload.request.url == MEDIA_UPLOAD_URL
    fields = multipart_fields(upload.request)
    assert set(fields) == {"media", "media_category", "media_type"}
    headers, content = fields["media"]
    assert content == image and headers["Content-Type"] == "image/jpeg"
    assert 'filename="image_office-cam-1_20261121-083114.jpg"' in headers["Content-Disposition"]
    assert fields["media_category"][1] == b"tweet_image" and fields["media_type"][1] == b"image/jpeg"
    assert_oauth1_signed(upload.request)

    assert media_id == MEDIA_ID and posted.media_ids == (MEDIA_ID,)
    assert json.loads(tweet.request.body) == {"text": TEXT, "media": {"media_ids": [MEDIA_ID]}}
    assert_oauth1_signed(tweet.request)


@responses.activate
def test_throttling_is_retried_with_backoff_then_succeeds(client, sleeps):
    reset = {
        "x-rate-limit-limit": "100",
        "x-rate-limit-remaining": "0",
        "x-rate-limit-reset": str(int(NOW) + 2),
    }
    responses.post(TWEETS_URL, json=TOO_MANY, status=429, headers=reset)
    responses.post(TWEETS_URL, json=UNAVAILABLE, status=503)
    responses.post(TWEETS_URL, json=tweet_created(TEXT), status=201)

    assert client.post(TEXT).tweet_id == TWEET_ID
    assert len(responses.calls) == 3
    assert sleeps == [3.0, 2.0]  # 429: until the reset (+1 s); then 2 s of exponential backoff


@responses.activate
def test_persistent_5xx_gives_up_as_transient_after_the_attempts(client, sleeps):
    responses.post(TWEETS_URL, json=UNAVAILABLE, status=503)

    with pytest.raises(XTransientError) as error:
        client.post(TEXT)
    assert len(responses.calls) == 3 and sleeps == [1.0, 2.0]
    assert "HTTP 503" in str(error.value) and "3 attempt" in str(error.value)


@responses.activate
def test_rate_limit_resetting_far_ahead_is_left_to_lambdas_retry(client, sleeps):
    responses.post(TWEETS_URL, json=TOO_MANY, status=429, headers={"x-rate-limit-reset": str(int(NOW) + 900)})

    with pytest.raises(XTransientError):
        client.post(TEXT)
    assert len(responses.calls) == 1 and sleeps == []


@responses.activate
def test_network_errors_are_transient(client, sleeps):
    responses.post(TWEETS_URL, body=requests.ConnectionError("connection reset"))
    with pytest.raises(XTransientError) as error:
        client.post(TEXT)
    assert len(responses.calls) == 3 and "ConnectionError" in str(error.value)


@responses.activate
def test_media_upload_is_retried_on_its_own(client, sleeps):
    responses.post(MEDIA_UPLOAD_URL, json=UNAVAILABLE, status=503)
    responses.post(MEDIA_UPLOAD_URL, json=media_uploaded(), status=200)
    assert client.upload_media(MediaFile(b"\xff\xd8jpeg", "image/jpeg")) == MEDIA_ID
    assert len(responses.calls) == 2 and sleeps == [1.0]


@pytest.mark.parametrize(
    ("status", "body", "error_type", "cause"),
    [
        (401, UNAUTHORIZED, XAuthorizationError, "access token and secret were regenerated"),
        (403, FORBIDDEN, XAuthorizationError, "'Read and write'"),
        (403, FORBIDDEN, XAuthorizationError, "access level or pay-per-use credits"),
        (402, CREDITS_DEPLETED, XAuthorizationError, "no pay-per-use credits left"),
        (403, DUPLICATE, XDuplicateError, "duplicate"),
        (
            400,
            problem(400, "Invalid Request", "One or more parameters to your request was invalid."),
            XRejectedError,
            "HTTP 400",
        ),
    ],
)
@responses.activate
def test_refusals_name_the_likely_cause_and_are_not_retried(client, sleeps, status, body, error_type, cause):
    responses.post(TWEETS_URL, json=body, status=status)

    with pytest.raises(error_type) as error:
        client.post(TEXT)
    assert cause in str(error.value)
    assert body["detail"] in str(error.value)  # what X said is kept too
    assert len(responses.calls) == 1 and sleeps == []


@responses.activate
def test_media_upload_refusals_use_the_same_messages(client):
    responses.post(MEDIA_UPLOAD_URL, json=UNAUTHORIZED, status=401)
    with pytest.raises(XAuthorizationError, match="regenerated"):
        client.upload_media(MediaFile(b"\xff\xd8jpeg", "image/jpeg"))


@responses.activate
def test_oversized_image_is_refused_before_any_request(client):
    with pytest.raises(XRejectedError, match="over X's"):
        client.upload_media(MediaFile(b"0" * (MAX_IMAGE_BYTES + 1), "image/jpeg"))
    assert len(responses.calls) == 0


def test_credentials_never_show_in_repr():
    credentials = XCredentials.from_secret(CREDENTIALS, "test")
    assert all(value not in repr(credentials) for value in CREDENTIALS.values())


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({**CREDENTIALS, "access_token_secret": ""}, "access_token_secret"),
        ({"consumer_key": "a"}, "consumer_secret, access_token, access_token_secret"),
        (["not", "an", "object"], "must be a JSON object"),
    ],
)
def test_incomplete_secrets_are_configuration_errors_naming_the_keys(value, message):
    with pytest.raises(XConfigurationError) as error:
        XCredentials.from_secret(value, "arn:secret")
    assert message in str(error.value)
    assert all(secret not in str(error.value) for secret in CREDENTIALS.values())


def test_keys_come_from_one_secrets_manager_secret_through_powertools_with_caching():
    with mock_aws():
        secrets = boto3.client("secretsmanager")
        arn = secrets.create_secret(Name="visionpipe/x-api", SecretString=json.dumps(CREDENTIALS))["ARN"]

        first = load_credentials(arn, max_age=300)
        secrets.put_secret_value(
            SecretId=arn, SecretString=json.dumps({**CREDENTIALS, "access_token": "rotated"})
        )
        cached = load_credentials(arn, max_age=300)
        parameters.clear_caches()  # what the cache's expiry (max_age) or a new container does
        fresh = load_credentials(arn, max_age=300)

    assert first.access_token == CREDENTIALS["access_token"] == cached.access_token
    assert fresh.access_token == "rotated"


def test_unreadable_secrets_are_configuration_errors():
    with mock_aws():
        secrets = boto3.client("secretsmanager")
        arn = secrets.create_secret(Name="visionpipe/plain", SecretString="just-a-token")["ARN"]
        with pytest.raises(XConfigurationError, match="is not JSON"):
            load_credentials(arn)
        with pytest.raises(XConfigurationError, match="cannot read secret"):
            load_credentials("arn:aws:secretsmanager:us-east-1:123456789012:secret:missing-AbCdEf")


def test_poster_builds_a_signed_client_from_the_secret():
    with mock_aws():
        arn = boto3.client("secretsmanager").create_secret(Name="x", SecretString=json.dumps(CREDENTIALS))[
            "ARN"
        ]
        with responses.RequestsMock() as x_api:
            x_api.post(TWEETS_URL, json=tweet_created(TEXT), status=201)
            XPoster(arn).client().post(TEXT)
            assert_oauth1_signed(x_api.calls[0].request)


@responses.activate
def test_the_signature_check_catches_a_request_signed_with_other_keys(sleeps):
    """Guards the checker itself: a request signed with a different consumer secret must not verify."""
    responses.post(TWEETS_URL, json=tweet_created(TEXT), status=201)
    other = XCredentials.from_secret({**CREDENTIALS, "consumer_secret": "someone-else"}, "test")
    XClient(other, retry=RetryPolicy(sleep=sleeps)).post(TEXT)
    with pytest.raises(AssertionError, match="does not verify"):
        assert_oauth1_signed(responses.calls[0].request)
