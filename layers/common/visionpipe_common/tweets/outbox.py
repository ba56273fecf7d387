"""outbox/ in the detections bucket: what the tweet flow sent, would have sent, or could not send.

    outbox/dry-run/<device>/<T>_<id>.json    a tweet that would have been posted (no secret configured)
    outbox/posted/<device>/<T>_<id>.json     a tweet that was posted (tweet id, media id)
    outbox/suppressed/<device>/<T>_<id>.json a record not tweeted: its device was cooling down
    outbox/duplicates/<device>/<T>_<id>.json a record delivered again after it was tweeted
    outbox/failures/<record file>_<id>.json  a record that could not be tweeted, with the reason

Every record therefore leaves exactly one entry that says what became of it.

<T> is the record's time token, <id> the first 12 hex digits of the record identity, so a retry of
one record overwrites its own entry instead of adding another. Nothing listens to outbox/: the only
S3 notification on this bucket for the tweet flow is json/record_*.json (tests prove it from the
template), so writing here can never trigger a tweet.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from visionpipe_common.events.s3_events import S3Object

OUTBOX_PREFIX = "outbox/"
DRY_RUN = "dry-run"
POSTED = "posted"
SUPPRESSED = "suppressed"
DUPLICATES = "duplicates"
FAILURES = "failures"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
MAX_NAME_CHARS = 200  # ASCII after _safe(): keys stay far below S3's 1,024-byte limit


def _safe(part: str) -> str:
    return _UNSAFE.sub("_", part).strip("._") or "unknown"


def tweet_key(mode: str, device_id: str, time_token: str, identity: str) -> str:
    device, time = _safe(device_id)[:MAX_NAME_CHARS], _safe(time_token)[:MAX_NAME_CHARS]
    return f"{OUTBOX_PREFIX}{mode}/{device}/{time}_{identity[:12]}.json"


def failure_key(record_key: str, identity: str) -> str:
    stem = record_key.rsplit("/", 1)[-1].removesuffix(".json")
    # The identity already makes the key unique: a long name is cut so the key fits S3's 1,024 bytes.
    return f"{OUTBOX_PREFIX}{FAILURES}/{_safe(stem)[:MAX_NAME_CHARS]}_{identity[:12]}.json"


def replay_event(obj: S3Object) -> dict[str, Any]:
    """A minimal S3 notification for the record, as the function would receive it."""
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "eventTime": obj.event_time or _now(),
                "eventName": obj.event_name or "ObjectCreated:Put",
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "bucket": {"name": obj.bucket, "arn": f"arn:aws:s3:::{obj.bucket}"},
                    "object": {
                        "key": obj.key,
                        "size": obj.size,
                        "eTag": obj.etag,
                        "versionId": obj.version_id,
                        "sequencer": obj.sequencer,
                    },
                },
            }
        ]
    }


class Outbox:
    def __init__(self, s3_client, bucket: str):
        self._s3 = s3_client
        self.bucket = bucket

    def save_tweet(
        self, mode: str, entry: dict[str, Any], device_id: str, time_token: str, identity: str
    ) -> str:
        key = tweet_key(mode, device_id, time_token, identity)
        self._put(key, {"mode": mode, "written_at": _now(), **entry})
        return key

    def save_failure(self, obj: S3Object, identity: str, reason: str, **details: Any) -> str:
        key = failure_key(obj.key or "unrecognised-event", identity)
        self._put(
            key,
            {
                "status": "FAILED",
                "reason": reason,
                "record": obj.uri if obj.bucket else obj.key,
                "record_identity": identity,
                "written_at": _now(),
                **details,
                "how_to_retry": (
                    "Fix the cause, then upload the record again under json/ (a new upload is a new record), "
                    "or for a configuration error replay the parked event: visionpipe replay --queue-url "
                    "<FailedEventsQueueUrl>. replay_event below is the notification the function received."
                ),
                "replay_event": replay_event(obj),
            },
        )
        return key

    def _put(self, key: str, document: dict[str, Any]) -> None:
        self._s3.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=json.dumps(document, indent=2, ensure_ascii=False, default=str).encode("utf-8"),
            ContentType="application/json",
        )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
