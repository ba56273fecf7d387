"""Detection records as the edge camera writes them, X API v2 responses, and an OAuth 1.0a checker."""

from __future__ import annotations

import json
from types import SimpleNamespace
from urllib.parse import parse_qsl, unquote, urlsplit

from oauthlib.oauth1.rfc5849 import signature

CREDENTIALS = {
    "consumer_key": "ck-visionpipe-test",
    "consumer_secret": "cs-visionpipe-test",
    "access_token": "1234567890-at-visionpipe-test",
    "access_token_secret": "ats-visionpipe-test",
}
TWEETS_URL = "https://api.twitter.com/2/tweets"  # tweepy 4.17's host for create_tweet
MEDIA_UPLOAD_URL = "https://api.x.com/2/media/upload"
TWEET_ID = "1861234567890123456"
MEDIA_ID = "1880028106020515840"


def record(device: str = "office-cam-1", timestamp: str = "20261121-083114", **overrides) -> dict:
    """The AGREEMENTS.md record for one detection."""
    date, clock = timestamp.split("-")
    document = {
        "device_id": device,
        "timestamp": timestamp,
        "time_utc": f"{date[:4]}-{date[4:6]}-{date[6:]}T{clock[:2]}:{clock[2:4]}:{clock[4:]}.123Z",
        "image_key": f"images/image_{device}_{timestamp}.jpg",
        "objects": [
            {
                "index": 0,
                "object": "thumbs-up",
                "confidence": 0.93,
                "box": {"xmin": 10, "ymin": 20, "xmax": 110, "ymax": 100},
            }
        ],
        "frame": {"width": 1280, "height": 720},
        "model": {"name": "ssd-thumbs-up", "version": "3"},
    }
    document.update(overrides)
    return document


def record_key(device: str = "office-cam-1", timestamp: str = "20261121-083114") -> str:
    return f"json/record_{device}_{timestamp}.json"


def record_bytes(**kwargs) -> bytes:
    return json.dumps(record(**kwargs)).encode()


# ---- X API v2 responses (shapes from docs.x.com)


def tweet_created(text: str, tweet_id: str = TWEET_ID) -> dict:
    return {"data": {"id": tweet_id, "text": text, "edit_history_tweet_ids": [tweet_id]}}


def media_uploaded(media_id: str = MEDIA_ID, size: int = 1000) -> dict:
    return {
        "data": {
            "id": media_id,
            "media_key": f"3_{media_id}",
            "size": size,
            "expires_after_secs": 86400,
            "image": {"image_type": "image/jpeg", "w": 64, "h": 48},
        }
    }


def problem(status: int, title: str, detail: str, type_: str = "about:blank") -> dict:
    return {"title": title, "detail": detail, "type": type_, "status": status}


UNAUTHORIZED = problem(401, "Unauthorized", "Unauthorized")
FORBIDDEN = problem(
    403,
    "Forbidden",
    "Your client app is not configured with the appropriate oauth1 app permissions for this endpoint.",
    "https://api.twitter.com/2/problems/oauth1-permissions",
)
DUPLICATE = problem(403, "Forbidden", "You are not allowed to create a Tweet with duplicate content.")
CREDITS_DEPLETED = problem(
    402, "CreditsDepleted", "Your enrolled account does not have any credits to fulfill this request."
)
TOO_MANY = problem(429, "Too Many Requests", "Too Many Requests")
UNAVAILABLE = problem(503, "Service Unavailable", "Service Unavailable")


# ---- OAuth 1.0a


def oauth_params(request) -> dict[str, str]:
    header = request.headers["Authorization"]
    header = header.decode() if isinstance(header, bytes) else header
    assert header.startswith("OAuth "), header
    return {k: unquote(v.strip('"')) for k, v in (p.strip().split("=", 1) for p in header[6:].split(","))}


def assert_oauth1_signed(request, credentials: dict = CREDENTIALS) -> dict[str, str]:
    """Recompute the HMAC-SHA1 signature of a sent request independently and compare (RFC 5849)."""
    params = oauth_params(request)
    assert params["oauth_consumer_key"] == credentials["consumer_key"]
    assert params["oauth_token"] == credentials["access_token"]
    assert params["oauth_signature_method"] == "HMAC-SHA1"
    assert params["oauth_version"] == "1.0"
    assert params["oauth_nonce"] and params["oauth_timestamp"].isdigit()
    url = urlsplit(request.url)
    signed = [(k, v) for k, v in params.items() if k != "oauth_signature"] + parse_qsl(url.query)
    content_type = request.headers.get("Content-Type", "")
    if content_type.startswith("application/x-www-form-urlencoded") and request.body:
        body = request.body.decode() if isinstance(request.body, bytes) else request.body
        signed += parse_qsl(body)
    base = signature.signature_base_string(
        request.method,
        signature.base_string_uri(f"{url.scheme}://{url.netloc}{url.path}"),
        signature.normalize_parameters(signed),
    )
    secrets = SimpleNamespace(
        client_secret=credentials["consumer_secret"], resource_owner_secret=credentials["access_token_secret"]
    )
    expected = signature.sign_hmac_sha1_with_client(base, secrets)
    assert params["oauth_signature"] == expected, "OAuth 1.0a signature does not verify"
    return params


def multipart_fields(request) -> dict[str, tuple[dict[str, str], bytes]]:
    """Parse a multipart/form-data body: {name: (part headers, content)}."""
    content_type = request.headers["Content-Type"]
    assert content_type.startswith("multipart/form-data; boundary="), content_type
    boundary = content_type.split("boundary=", 1)[1].encode()
    fields = {}
    for part in request.body.split(b"--" + boundary):
        if not part.strip() or part.strip() == b"--":
            continue
        head, _, content = part.lstrip(b"\r\n").partition(b"\r\n\r\n")
        headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n") if ": " in line)
        disposition = headers["Content-Disposition"]
        name = disposition.split('name="', 1)[1].split('"', 1)[0]
        fields[name] = (headers, content.removesuffix(b"\r\n"))
    return fields


# ---- DynamoDB's per-item atomicity for moto


def make_moto_dynamodb_writes_atomic(monkeypatch) -> None:
    """DynamoDB applies each conditional write atomically (condition check + write, per item); moto's
    in-memory backend does not: moto_internals' lock around each request restores the guarantee."""
    from visionpipe.local import moto_internals

    for owner, name, value in moto_internals.atomic_dynamodb_patches():
        monkeypatch.setattr(owner, name, value)
