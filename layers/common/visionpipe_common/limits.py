"""Documented service limits, checked where we build requests (a stand-in may be kinder than AWS).

Each limit cites its source. Inputs that cannot fit become RejectedInput (a failure record), never
a request the service refuses on every retry.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any

from visionpipe_common.errors import RejectedInput

# https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html ("up to 1,024 bytes long")
S3_KEY_MAX_BYTES = 1024
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html#limits-items
# ("The maximum item size in DynamoDB is 400 KB, which includes both attribute name binary length
# (UTF-8 length) and attribute value lengths")
DYNAMODB_ITEM_MAX_BYTES = 400 * 1024
LONG_KEYS_FOLDER = "_long-keys"


def s3_key_bytes(key: str) -> int:
    return len(key.encode("utf-8"))


def derived_key(prefix: str, key: str, leaf: str) -> str:
    """`<prefix>/<key>/<leaf>`, or, when that would pass S3's key limit, the key's digest in its place.

    Result, failure and heatmap documents are filed under the upload's own key; an upload key close
    to the limit leaves no room for the rest, so those go to <prefix>/_long-keys/<sha256>/<leaf>
    (the item keeps the full key).
    """
    candidate = f"{prefix}/{key}/{leaf}"
    if s3_key_bytes(candidate) <= S3_KEY_MAX_BYTES:
        return candidate
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
    return f"{prefix}/{LONG_KEYS_FOLDER}/{digest}/{leaf}"


def dynamodb_item_bytes(item: dict[str, Any]) -> int:
    """Size of an item as DynamoDB counts it (names + values, UTF-8), for the types our items use.

    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html
    Numbers: up to 21 bytes (about 1 byte per two significant digits + 1); we count the upper bound.
    """
    return sum(len(name.encode("utf-8")) + _value_bytes(value) for name, value in item.items())


def _value_bytes(value: Any) -> int:
    if isinstance(value, str):
        return len(value.encode("utf-8"))
    if isinstance(value, bytes | bytearray):
        return len(value)
    if isinstance(value, bool) or value is None:
        return 1
    if isinstance(value, int | float | Decimal):
        return 21
    if isinstance(value, dict):
        return 3 + sum(len(k.encode("utf-8")) + 1 + _value_bytes(v) for k, v in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return 3 + sum(1 + _value_bytes(v) for v in value)
    return len(str(value).encode("utf-8"))


def ensure_item_fits(item: dict[str, Any], what: str) -> None:
    size = dynamodb_item_bytes(item)
    if size > DYNAMODB_ITEM_MAX_BYTES:
        raise RejectedInput(
            f"{what} would be a {size}-byte DynamoDB item, over the {DYNAMODB_ITEM_MAX_BYTES}-byte limit"
        )
