"""S3 record delivery: the template's S3 events reach their functions as real S3 sends them.

The SAM transform turns each function's `Events: {Type: S3}` into a LambdaConfiguration of the
bucket's NotificationConfiguration; the bucket is created with it (the S3 API form below), so
moto's own S3 notifications do the event and prefix/suffix matching and invoke the function, which
the Lambda bridge turns into an asynchronous invocation (S3 invokes Lambda asynchronously).

moto's record lacks fields real S3 sends (versionId on versioned buckets, sequencer,
responseElements, requestParameters, userIdentity, ownerIdentity) and encodes "/" in keys:
enrich() completes it from the object moto just stored.
See https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html
"""

from __future__ import annotations

import itertools
import secrets
import threading
import time
from typing import Any
from urllib.parse import quote_plus

from visionpipe.local.deployment import TemplateError

_sequence_lock = threading.Lock()
_sequence = itertools.count(time.time_ns() // 1000)


def next_sequencer() -> str:
    """Unique per PUT and increasing, like S3's sequencer (hex, fixed width)."""
    with _sequence_lock:
        return f"{next(_sequence):018X}"


def enrich(event: dict[str, Any], bucket: Any, key: Any) -> None:
    for record in event["Records"]:
        obj = record["s3"]["object"]
        obj["key"] = quote_plus(key.name, safe="/")
        obj["sequencer"] = next_sequencer()
        version_id = getattr(key, "version_id", None)
        if getattr(bucket, "is_versioned", False) and version_id not in (None, "null"):
            obj["versionId"] = version_id
        record["userIdentity"] = {"principalId": "AWS:AIDALOCALUSER000000"}
        record["requestParameters"] = {"sourceIPAddress": "127.0.0.1"}
        record["responseElements"] = {
            "x-amz-request-id": secrets.token_hex(8).upper(),
            "x-amz-id-2": secrets.token_urlsafe(48),
        }
        record["s3"]["bucket"]["ownerIdentity"] = {"principalId": "A3NL1KOZZKExample"}


def notification_configuration(configuration: dict[str, Any]) -> dict[str, Any]:
    """A bucket's NotificationConfiguration: CloudFormation form -> PutBucketNotificationConfiguration."""
    unsupported = set(configuration) - {"LambdaConfigurations"}
    if unsupported:
        raise TemplateError(
            f"bucket notifications {sorted(unsupported)}: local mode delivers to functions only"
        )
    return {
        "LambdaFunctionConfigurations": [
            {
                "LambdaFunctionArn": entry["Function"],
                "Events": [entry["Event"]],
                **(
                    {"Filter": {"Key": {"FilterRules": entry["Filter"]["S3Key"]["Rules"]}}}
                    if entry.get("Filter")
                    else {}
                ),
            }
            for entry in configuration.get("LambdaConfigurations", [])
        ]
    }
