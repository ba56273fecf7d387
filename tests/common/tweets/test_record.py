"""parse_detection_record: the edge record format (AGREEMENTS.md), and a reason for every bad record."""

import json
from datetime import UTC, datetime

import pytest
from support.tweets import record, record_bytes

from visionpipe_common.errors import RejectedInput
from visionpipe_common.tweets.record import MAX_RECORD_BYTES, is_record_key, parse_detection_record


def test_the_agreed_record_parses_into_what_the_tweet_needs():
    parsed = parse_detection_record(record_bytes())

    assert parsed.device_id == "office-cam-1"
    assert parsed.detected_at == datetime(2026, 11, 21, 8, 31, 14, 123000, tzinfo=UTC)
    assert parsed.time_token == "20261121-083114"
    assert [(o.name, o.confidence) for o in parsed.objects] == [("thumbs-up", 0.93)]
    assert parsed.image_key == "images/image_office-cam-1_20261121-083114.jpg"
    assert (parsed.model_name, parsed.model_version) == ("ssd-thumbs-up", "3")


def test_most_confident_detection_is_the_best():
    objects = [{"object": "cup", "confidence": 0.6}, {"object": "thumbs-up", "confidence": 0.91}]
    assert parse_detection_record(json.dumps(record(objects=objects)).encode()).best.name == "thumbs-up"


def test_timestamp_is_the_fallback_when_time_utc_is_absent():
    document = record()
    del document["time_utc"]
    parsed = parse_detection_record(json.dumps(document).encode())
    assert parsed.detected_at == datetime(2026, 11, 21, 8, 31, 14, tzinfo=UTC)


def test_time_with_an_offset_is_converted_to_utc():
    parsed = parse_detection_record(json.dumps(record(time_utc="2026-11-21T09:31:14+01:00")).encode())
    assert parsed.detected_at.hour == 8 and parsed.detected_at.tzinfo == UTC


def test_optional_fields_may_be_absent():
    document = {
        "device_id": "cam",
        "time_utc": "2026-11-21T08:31:14Z",
        "objects": [{"object": "x", "confidence": 1}],
    }
    parsed = parse_detection_record(json.dumps(document).encode())
    assert parsed.image_key == "" and parsed.model_name == "" and parsed.objects[0].confidence == 1.0


def _without(field):
    document = record()
    del document[field]
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "record is not valid JSON"),
        (b"", "record is not valid JSON"),
        (b"\xff\xfe\x00", "record is not UTF-8 text"),
        (b'["a list"]', "record must be a JSON object, got list"),
        (b'{"device_id": "cam", "confidence": NaN}', "record is not valid JSON"),
        (_without("device_id"), "missing field 'device_id'"),
        (_without("objects"), "missing field 'objects'"),
        (json.dumps(record(device_id=7)).encode(), "field 'device_id' must be a string, got int"),
        (json.dumps(record(device_id="  ")).encode(), "field 'device_id' is empty"),
        (json.dumps(record(objects=[])).encode(), "field 'objects' is empty"),
        (json.dumps(record(objects={"object": "x"})).encode(), "field 'objects' must be a list, got dict"),
        (json.dumps(record(objects=["thumbs-up"])).encode(), "objects[0] must be an object, got str"),
        (json.dumps(record(objects=[{"confidence": 0.9}])).encode(), "missing field 'objects[0].object'"),
        (json.dumps(record(objects=[{"object": "x"}])).encode(), "missing field 'objects[0].confidence'"),
        (
            json.dumps(record(objects=[{"object": "x", "confidence": "0.9"}])).encode(),
            "field 'objects[0].confidence' must be a number, got str",
        ),
        (
            json.dumps(record(objects=[{"object": "x", "confidence": True}])).encode(),
            "field 'objects[0].confidence' must be a number, got bool",
        ),
        (
            json.dumps(record(objects=[{"object": "x", "confidence": 93}])).encode(),
            "field 'objects[0].confidence' must be between 0 and 1, got 93",
        ),
        (json.dumps(record(time_utc="yesterday")).encode(), "field 'time_utc' is not an ISO 8601 time"),
        (
            json.dumps(record(time_utc=1732177874)).encode(),
            "field 'time_utc' must be an ISO 8601 string, got int",
        ),
        (
            json.dumps({**record(time_utc=None), "timestamp": "2026-11-21"}).encode(),
            "field 'timestamp' is not of the form YYYYMMDD-HHMMSS",
        ),
        (json.dumps({**record(time_utc=None), "timestamp": None}).encode(), "missing field 'time_utc'"),
        (
            json.dumps(record(image_key=["images/a.jpg"])).encode(),
            "field 'image_key' must be a string, got list",
        ),
        (json.dumps(record(model="ssd")).encode(), "field 'model' must be an object, got str"),
        (b" " * (MAX_RECORD_BYTES + 1), "over the limit"),
        # Inputs that once escaped as OverflowError / RecursionError (retried, then parked):
        (json.dumps(record(time_utc="9999-12-31T23:59:59-14:00")).encode(), "'time_utc' is not an ISO 8601"),
        (json.dumps(record(time_utc="0001-01-01T00:00:00+14:00")).encode(), "'time_utc' is not an ISO 8601"),
        (b"[" * 100_000 + b"]" * 100_000, "record is not valid JSON"),
        (b'{"device_id": "a", "objects": [{"object": "x", "confidence": 1e999}]}', "out of range"),
        (b'{"device_id": "a", "objects": [{"object": "x", "confidence": NaN}]}', "NaN is not allowed"),
    ],
)
def test_bad_records_are_rejected_with_a_reason(body, reason):
    with pytest.raises(RejectedInput) as rejected:
        parse_detection_record(body)
    assert reason in rejected.value.reason


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("json/record_office-cam-1_20261121-083114.json", True),
        ("json/other.json", False),
        ("json/record_x.txt", False),
        ("outbox/dry-run/x/record_y.json", False),
        ("latest/latest.json", False),
    ],
)
def test_record_keys(key, expected):
    assert is_record_key(key) is expected
