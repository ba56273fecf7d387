"""Posting to X (API v2) with OAuth 1.0a user-context keys from one Secrets Manager secret.

- Text: tweepy.Client.create_tweet -> POST https://api.twitter.com/2/tweets (tweepy's fixed host,
  the same API as api.x.com).
- Image: tweepy 4.17 has no v2 media upload, so POST https://api.x.com/2/media/upload is called
  directly (simple upload: multipart fields `media` and `media_category`), signed with the same keys
  through tweepy's own OAuth1UserHandler; the response's data.id goes into create_tweet(media_ids=...).
- Errors: 429 and 5xx (and network errors) are retried here with a short backoff, then raised as
  XTransientError so Lambda retries and finally parks the event in the failed-events queue.
  401/402/403 become XAuthorizationError whose message names the likely cause. X's refusal of a
  duplicate text becomes XDuplicateError (the tweet is already out). Other 4xx: XRejectedError.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests
import tweepy

X_API_HOST = "https://api.x.com"
MEDIA_UPLOAD_URL = f"{X_API_HOST}/2/media/upload"
MEDIA_CATEGORY = "tweet_image"
MAX_IMAGE_BYTES = 5 * 1024 * 1024  # X's limit for a simple image upload
CREDENTIAL_KEYS = ("consumer_key", "consumer_secret", "access_token", "access_token_secret")
TRANSIENT_NETWORK_ERRORS = (requests.ConnectionError, requests.Timeout)

AUTH_HINTS = {
    401: (
        "X rejected the OAuth 1.0a keys (401 Unauthorized). Likely causes: the access token and secret "
        "were regenerated in the developer console (the old pair stops working: put the new pair in the "
        "secret), the consumer key/secret were regenerated, or the four values in the secret come from "
        "different apps or were pasted with extra characters."
    ),
    402: (
        "X refused the request for payment (402 Payment Required): the developer account has no "
        "pay-per-use credits left or reached its spend cap. Add credits in the X developer console, "
        "then replay the parked events."
    ),
    403: (
        "X refused to post (403 Forbidden). Likely causes: the app's user authentication settings are not "
        "'Read and write' (after changing them, regenerate the access token and secret: a token keeps the "
        "permissions it was created with, then put the new pair in the secret); the app is not in a "
        "Project with an access level or pay-per-use credits that allow POST /2/tweets; or the account "
        "is locked or suspended."
    ),
}


class XError(Exception):
    """Base of every failure talking to X; the message is what the operator reads."""


class XTransientError(XError):
    """Throttling (429), an X server error (5xx) or the network: worth retrying later."""


class XConfigurationError(XError):
    """The secret is missing, unreadable or incomplete: fix the configuration, then replay."""


class XAuthorizationError(XConfigurationError):
    """X refused the keys or the app (401/402/403)."""


class XRejectedError(XError):
    """X refused this particular request (other 4xx): retrying the same request cannot help."""


class XDuplicateError(XError):
    """X refused the text as a duplicate of a recent post: the tweet is already out."""


@dataclass(frozen=True, repr=False)
class XCredentials:
    consumer_key: str
    consumer_secret: str
    access_token: str
    access_token_secret: str

    @classmethod
    def from_secret(cls, value: Any, secret_id: str) -> XCredentials:
        if not isinstance(value, dict):
            raise XConfigurationError(
                f"secret {secret_id} must be a JSON object with the keys {', '.join(CREDENTIAL_KEYS)}"
            )
        missing = [k for k in CREDENTIAL_KEYS if not isinstance(value.get(k), str) or not value[k].strip()]
        if missing:
            raise XConfigurationError(
                f"secret {secret_id} lacks non-empty string value(s) for: {', '.join(missing)}"
            )
        return cls(*(value[k].strip() for k in CREDENTIAL_KEYS))

    def __repr__(self) -> str:  # never print the keys
        return f"XCredentials(consumer_key={self.consumer_key[:4]}..., access_token=...)"


def load_credentials(secret_id: str, max_age: int = 300) -> XCredentials:
    """Read the four keys through Powertools Parameters (cached for max_age seconds per container)."""
    from aws_lambda_powertools.utilities import parameters

    try:
        value = parameters.get_secret(secret_id, transform="json", max_age=max_age)
    except parameters.exceptions.TransformParameterError as exc:
        raise XConfigurationError(
            f"secret {secret_id} is not JSON; store {{{', '.join(f'"{k}": "..."' for k in CREDENTIAL_KEYS)}}}"
        ) from exc
    except parameters.exceptions.GetParameterError as exc:
        raise XConfigurationError(
            f"cannot read secret {secret_id}: {exc} "
            "(does it exist in this region, and does XSecretArn name it?)"
        ) from exc
    return XCredentials.from_secret(value, secret_id)


class TimeoutSession(requests.Session):
    """A requests session whose calls time out (tweepy passes no timeout; Lambda must not hang)."""

    def __init__(self, timeout: float):
        super().__init__()
        self.timeout = timeout

    def request(self, method, url, **kwargs):
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, url, **kwargs)


@dataclass(frozen=True)
class MediaFile:
    data: bytes
    media_type: str  # image/jpeg, image/png
    name: str = "image"


@dataclass(frozen=True)
class Posted:
    tweet_id: str
    text: str
    media_ids: tuple[str, ...] = ()


@dataclass
class RetryPolicy:
    attempts: int = 3
    backoff_seconds: float = 1.0  # 1 s, 2 s, ...
    max_wait_seconds: float = 8.0  # a 429 resetting later than this is left to Lambda's retry
    sleep: Callable[[float], None] = field(default=lambda seconds: time.sleep(seconds))
    clock: Callable[[], float] = field(default=lambda: time.time())


class XClient:
    def __init__(self, credentials: XCredentials, retry: RetryPolicy | None = None, timeout: float = 10.0):
        self._credentials = credentials
        self._retry = retry or RetryPolicy()
        self._client = tweepy.Client(
            consumer_key=credentials.consumer_key,
            consumer_secret=credentials.consumer_secret,
            access_token=credentials.access_token,
            access_token_secret=credentials.access_token_secret,
        )
        self._client.session = TimeoutSession(timeout)

    def post(self, text: str, media_ids: list[str] | None = None) -> Posted:
        response = self._with_retries(
            "create tweet",
            lambda: self._client.create_tweet(text=text, media_ids=media_ids or None, user_auth=True),
        )
        data = response.data or {}
        return Posted(
            tweet_id=str(data.get("id", "")),
            text=str(data.get("text", text)),
            media_ids=tuple(media_ids or ()),
        )

    def upload_media(self, media: MediaFile) -> str:
        """POST /2/media/upload (simple upload, one request); returns the media id for create_tweet."""
        if len(media.data) > MAX_IMAGE_BYTES:
            raise XRejectedError(f"image is {len(media.data)} bytes, over X's {MAX_IMAGE_BYTES}-byte limit")

        def upload() -> str:
            auth = tweepy.OAuth1UserHandler(*_credential_values(self._credentials)).apply_auth()
            with self._client.session.post(
                MEDIA_UPLOAD_URL,
                files={"media": (media.name, media.data, media.media_type)},
                data={"media_category": MEDIA_CATEGORY, "media_type": media.media_type},
                headers={"User-Agent": self._client.user_agent},
                auth=auth,
            ) as response:
                _raise_for_status(response)
                body = response.json()
            data = body.get("data") or {}
            media_id = data.get("id") or data.get("media_id_string") or data.get("media_id")
            if not media_id:
                raise XRejectedError(f"media upload answered without data.id: {str(body)[:200]}")
            return str(media_id)

        return self._with_retries("upload media", upload)

    def _with_retries(self, what: str, call: Callable[[], Any]) -> Any:
        policy = self._retry
        for attempt in range(1, policy.attempts + 1):
            try:
                return call()
            except (tweepy.TooManyRequests, tweepy.TwitterServerError, *TRANSIENT_NETWORK_ERRORS) as exc:
                wait = self._wait_before_retry(exc, attempt)
                if attempt == policy.attempts or wait is None:
                    raise XTransientError(
                        f"{what}: {describe(exc)} (gave up after {attempt} attempt(s))"
                    ) from exc
                policy.sleep(wait)
            except tweepy.HTTPException as exc:
                raise classify(exc, what) from exc
        raise AssertionError("unreachable")

    def _wait_before_retry(self, exc: Exception, attempt: int) -> float | None:
        policy = self._retry
        wait = policy.backoff_seconds * 2 ** (attempt - 1)
        if isinstance(exc, tweepy.TooManyRequests):
            reset = getattr(exc, "reset_time", None)
            if reset is not None:
                wait = max(wait, reset - policy.clock() + 1)
        return wait if wait <= policy.max_wait_seconds else None


def classify(exc: tweepy.HTTPException, what: str = "request") -> XError:
    status = exc.response.status_code
    said = describe(exc)
    if status == 403 and any("duplicate" in m.lower() for m in _messages(exc)):
        return XDuplicateError(f"{what}: X refused a duplicate text, so it was posted before ({said})")
    if status in AUTH_HINTS:
        return XAuthorizationError(f"{AUTH_HINTS[status]} [{what}: {said}]")
    if status == 429 or status >= 500:
        return XTransientError(f"{what}: {said}")
    return XRejectedError(f"{what}: {said}")


def describe(exc: Exception) -> str:
    if isinstance(exc, tweepy.HTTPException):
        messages = "; ".join(_messages(exc))
        return f"HTTP {exc.response.status_code}" + (f": {messages}" if messages else "")
    return f"{type(exc).__name__}: {exc}"


def _messages(exc: tweepy.HTTPException) -> list[str]:
    messages = [str(m) for m in exc.api_messages]
    try:
        body = exc.response.json()
    except ValueError:
        return messages
    if isinstance(body, dict):
        for name in ("title", "reason", "detail"):
            value = body.get(name)
            if isinstance(value, str) and value not in messages:
                messages.append(value)
    return messages


def _credential_values(credentials: XCredentials) -> tuple[str, str, str, str]:
    return (
        credentials.consumer_key,
        credentials.consumer_secret,
        credentials.access_token,
        credentials.access_token_secret,
    )


def _raise_for_status(response: requests.Response) -> None:
    """The same exceptions tweepy.Client raises, so one error path serves both endpoints."""
    status = response.status_code
    errors = {400: tweepy.BadRequest, 401: tweepy.Unauthorized, 403: tweepy.Forbidden, 404: tweepy.NotFound}
    if status in errors:
        raise errors[status](response)
    if status == 429:
        reset = response.headers.get("x-rate-limit-reset")
        raise tweepy.TooManyRequests(response, reset_time=int(reset) if reset and reset.isdigit() else None)
    if status >= 500:
        raise tweepy.TwitterServerError(response)
    if not 200 <= status < 300:
        raise tweepy.HTTPException(response)


class XPoster:
    """Builds an XClient from the secret on each use (the secret itself is cached by Powertools)."""

    def __init__(
        self,
        secret_id: str,
        max_age: int = 300,
        retry: RetryPolicy | None = None,
        timeout: float = 10.0,
        credentials_loader: Callable[[str, int], XCredentials] = load_credentials,
    ):
        self.secret_id = secret_id
        self._max_age = max_age
        self._retry = retry
        self._timeout = timeout
        self._load = credentials_loader

    def client(self) -> XClient:
        return XClient(self._load(self.secret_id, self._max_age), retry=self._retry, timeout=self._timeout)
