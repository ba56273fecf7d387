"""S3 notification events: one S3Object per record, keys decoded, test events recognised."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.data_classes import S3Event

from visionpipe_common.errors import RejectedInput

TEST_EVENT = "s3:TestEvent"


@dataclass(frozen=True)
class S3Object:
    """One uploaded object as an S3 notification describes it (key already URL-decoded)."""

    bucket: str
    key: str
    size: int
    etag: str = ""
    version_id: str = ""
    sequencer: str = ""
    event_name: str = ""
    event_time: str = ""

    @property
    def file_name(self) -> str:
        return self.key.rsplit("/", 1)[-1]

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @property
    def upload_id(self) -> str:
        """Stable across duplicate deliveries of one event, different for every new upload.

        versionId and sequencer both change with each PUT of the same key; the eTag is a fallback
        for emitters that send neither.
        """
        identity = f"{self.uri}?versionId={self.version_id}&sequencer={self.sequencer}&etag={self.etag}"
        return str(uuid.uuid5(uuid.NAMESPACE_URL, identity))


def is_test_event(event: dict[str, Any]) -> bool:
    """S3 sends {"Event": "s3:TestEvent", ...} (no Records) when a notification is configured."""
    return event.get("Event") == TEST_EVENT


def objects_in(event: dict[str, Any]) -> list[S3Object]:
    """Every object named by an S3 notification event, in order."""
    if "Records" not in event or not isinstance(event["Records"], list):
        raise RejectedInput("not an S3 notification event (no Records)")
    objects = []
    for record in S3Event(event).records:
        s3 = record.s3
        objects.append(
            S3Object(
                bucket=s3.bucket.name,
                key=unquote_plus(s3.get_object.key),
                size=int(s3.get_object.size or 0),
                etag=s3.get_object.etag or "",
                version_id=s3.get_object.version_id or "",
                sequencer=s3.get_object.sequencer or "",
                event_name=record.event_name,
                event_time=record.event_time,
            )
        )
    return objects


def unreadable_event_object(event: dict[str, Any]) -> S3Object:
    """A stand-in S3Object for an event that names no object (a test event, or not S3 at all).

    Its identity comes from the event itself, so redelivering the same event records it once.
    """
    if is_test_event(event):
        return S3Object(
            bucket=str(event.get("Bucket", "")), key=TEST_EVENT, size=0, etag=str(event.get("RequestId", ""))
        )
    digest = (
        uuid.uuid5(uuid.NAMESPACE_OID, repr(sorted(event.items()))).hex if isinstance(event, dict) else ""
    )
    return S3Object(bucket="", key="(unrecognised event)", size=0, etag=digest)
