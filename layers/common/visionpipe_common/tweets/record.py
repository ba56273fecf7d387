"""The edge detection record (json/record_<device>_<time>.json) as the tweet flow reads it.

Format fixed in AGREEMENTS.md, written by the edge camera:
{"device_id": "office-cam-1", "timestamp": "20261121-083114", "time_utc": "2026-11-21T08:31:14.123Z",
 "image_key": "images/image_office-cam-1_20261121-083114.jpg",
 "objects": [{"index": 0, "object": "thumbs-up", "confidence": 0.93, "box": {...}}],
 "frame": {"width": 1280, "height": 720}, "model": {"name": "ssd-thumbs-up", "version": "3"}}

parse_detection_record() turns the bytes into a DetectionRecord or raises RejectedInput with a reason
a person can act on (which field, what was wrong). Nothing is tweeted for a rejected record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from visionpipe_common.errors import RejectedInput
from visionpipe_common.inputs import finite_number, parse_json_document

RECORD_PREFIX = "json/record_"
RECORD_SUFFIX = ".json"
IMAGE_PREFIX = "images/"
MAX_RECORD_BYTES = 256 * 1024  # a record is a few hundred bytes; anything this large is not one
TIMESTAMP_FORMAT = "%Y%m%d-%H%M%S"  # the time token T in the record's keys


@dataclass(frozen=True)
class DetectedObject:
    name: str
    confidence: float  # 0..1


@dataclass(frozen=True)
class DetectionRecord:
    device_id: str
    detected_at: datetime  # UTC
    objects: tuple[DetectedObject, ...]
    timestamp: str = ""  # the record's own time token, kept for outbox keys
    image_key: str = ""
    model_name: str = ""
    model_version: str = ""

    @property
    def best(self) -> DetectedObject:
        """The most confident detection (what the tweet talks about)."""
        return max(self.objects, key=lambda o: o.confidence)

    @property
    def time_token(self) -> str:
        return self.timestamp or self.detected_at.strftime(TIMESTAMP_FORMAT)


def is_record_key(key: str) -> bool:
    return key.startswith(RECORD_PREFIX) and key.endswith(RECORD_SUFFIX)


def parse_detection_record(body: bytes) -> DetectionRecord:
    data = parse_json_document(body, "record", MAX_RECORD_BYTES)
    if not isinstance(data, dict):
        raise RejectedInput(f"record must be a JSON object, got {type(data).__name__}")

    device_id = _required_text(data, "device_id")
    timestamp = data.get("timestamp", "")
    if timestamp is not None and not isinstance(timestamp, str):
        raise RejectedInput(
            f"field 'timestamp' must be a string like 20261121-083114, got {_kind(timestamp)}"
        )
    detected_at = _detected_at(data.get("time_utc"), timestamp or "")
    objects = _objects(data.get("objects", _MISSING))
    image_key = data.get("image_key") or ""
    if not isinstance(image_key, str):
        raise RejectedInput(f"field 'image_key' must be a string, got {_kind(image_key)}")
    model = data.get("model") or {}
    if not isinstance(model, dict):
        raise RejectedInput(f"field 'model' must be an object, got {_kind(model)}")
    return DetectionRecord(
        device_id=device_id,
        detected_at=detected_at,
        objects=objects,
        timestamp=timestamp or "",
        image_key=image_key,
        model_name=str(model.get("name") or ""),
        model_version=str(model.get("version") or ""),
    )


_MISSING = object()


def _kind(value) -> str:
    return "null" if value is None else type(value).__name__


def _required_text(data: dict, field: str) -> str:
    if field not in data:
        raise RejectedInput(f"missing field '{field}'")
    value = data[field]
    if not isinstance(value, str):
        raise RejectedInput(f"field '{field}' must be a string, got {_kind(value)}")
    if not value.strip():
        raise RejectedInput(f"field '{field}' is empty")
    return value.strip()


def _detected_at(time_utc, timestamp: str) -> datetime:
    """The detection time in UTC: time_utc (ISO 8601) first, else the timestamp token."""
    if time_utc not in (None, ""):
        if not isinstance(time_utc, str):
            raise RejectedInput(f"field 'time_utc' must be an ISO 8601 string, got {_kind(time_utc)}")
        try:
            parsed = datetime.fromisoformat(time_utc.replace("Z", "+00:00"))
            # A time without an offset is taken as UTC (the device writes UTC).
            return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        except (ValueError, OverflowError) as exc:  # 9999-12-31T23:59:59-14:00 overflows in UTC
            raise RejectedInput(f"field 'time_utc' is not an ISO 8601 time in range: {time_utc!r}") from exc
    if timestamp:
        try:
            return datetime.strptime(timestamp, TIMESTAMP_FORMAT).replace(tzinfo=UTC)
        except ValueError as exc:
            raise RejectedInput(
                f"field 'timestamp' is not of the form YYYYMMDD-HHMMSS: {timestamp!r}"
            ) from exc
    raise RejectedInput("missing field 'time_utc' (and no 'timestamp' to fall back on)")


def _objects(value) -> tuple[DetectedObject, ...]:
    if value is _MISSING:
        raise RejectedInput("missing field 'objects'")
    if not isinstance(value, list):
        raise RejectedInput(f"field 'objects' must be a list, got {_kind(value)}")
    if not value:
        raise RejectedInput("field 'objects' is empty: the record names nothing that was detected")
    objects = []
    for position, item in enumerate(value):
        where = f"objects[{position}]"
        if not isinstance(item, dict):
            raise RejectedInput(f"{where} must be an object, got {_kind(item)}")
        name = item.get("object", _MISSING)
        if name is _MISSING:
            raise RejectedInput(f"missing field '{where}.object'")
        if not isinstance(name, str) or not name.strip():
            raise RejectedInput(f"field '{where}.object' must be a non-empty string, got {name!r}")
        confidence = item.get("confidence", _MISSING)
        if confidence is _MISSING:
            raise RejectedInput(f"missing field '{where}.confidence'")
        if not finite_number(confidence):
            raise RejectedInput(f"field '{where}.confidence' must be a number, got {_kind(confidence)}")
        if not 0.0 <= confidence <= 1.0:
            raise RejectedInput(f"field '{where}.confidence' must be between 0 and 1, got {confidence}")
        objects.append(DetectedObject(name=name.strip(), confidence=float(confidence)))
    return tuple(objects)
