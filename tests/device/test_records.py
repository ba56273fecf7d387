"""Keys and JSON formats of the six objects (AGREEMENTS: read by tweet_detection and retraining)."""

import re
from datetime import UTC, datetime

from visionpipe_edge.detections import Box, Detection
from visionpipe_edge.records import DetectionKeys, build_record, build_training_annotation, time_tokens

MOMENT = datetime(2026, 11, 21, 8, 31, 14, 123456, tzinfo=UTC)
DETECTIONS = [
    Detection(0, "thumbs-up", 0.93, Box(10, 20, 110, 100)),
    Detection(1, "thumbs-down", 0.61, Box(300, 40, 420, 200)),
]


def test_keys():
    keys = DetectionKeys.for_detection("office-cam-1", "20261121-083114")
    assert keys.image == "images/image_office-cam-1_20261121-083114.jpg"
    assert keys.record == "json/record_office-cam-1_20261121-083114.json"
    assert keys.latest == "latest/latest.json"
    assert keys.resized == "frames_resized/resized_office-cam-1_20261121-083114.jpg"
    assert keys.raw == "raw_images/raw_office-cam-1_20261121-083114.jpg"
    assert keys.training_annotation == "training_annotation/raw_office-cam-1_20261121-083114.json"


def test_time_tokens_are_utc():
    local = MOMENT.astimezone(__import__("datetime").timezone(__import__("datetime").timedelta(hours=-8)))
    assert time_tokens(local) == ("20261121-083114", "2026-11-21T08:31:14.123Z")


def test_record_matches_the_agreed_schema():
    record = build_record("office-cam-1", MOMENT, DETECTIONS, (1280, 720), "ssd-thumbs-up", 3)
    assert record == {
        "device_id": "office-cam-1",
        "timestamp": "20261121-083114",
        "time_utc": "2026-11-21T08:31:14.123Z",
        "image_key": "images/image_office-cam-1_20261121-083114.jpg",
        "objects": [
            {
                "index": 0,
                "object": "thumbs-up",
                "confidence": 0.93,
                "box": {"xmin": 10, "ymin": 20, "xmax": 110, "ymax": 100},
            },
            {
                "index": 1,
                "object": "thumbs-down",
                "confidence": 0.61,
                "box": {"xmin": 300, "ymin": 40, "xmax": 420, "ymax": 200},
            },
        ],
        "frame": {"width": 1280, "height": 720},
        "model": {"name": "ssd-thumbs-up", "version": "3"},
    }
    assert "http" not in str(record)  # no public URL anywhere


def test_training_annotation_boxes_equal_the_detections():
    annotation = build_training_annotation(
        "raw_office-cam-1_20261121-083114.jpg", DETECTIONS, (1280, 720), ("thumbs-up", "thumbs-down")
    )
    assert annotation["file"] == "raw_office-cam-1_20261121-083114.jpg"
    assert annotation["image_size"] == [{"width": 1280, "height": 720, "depth": 3}]
    assert annotation["categories"] == [
        {"class_id": 0, "name": "thumbs-up"},
        {"class_id": 1, "name": "thumbs-down"},
    ]
    for entry, detection in zip(annotation["annotations"], DETECTIONS, strict=True):
        assert entry["class_id"] == detection.class_id
        assert (entry["left"], entry["top"]) == (detection.box.xmin, detection.box.ymin)
        assert (entry["left"] + entry["width"], entry["top"] + entry["height"]) == (
            detection.box.xmax,
            detection.box.ymax,
        )


def test_record_key_names_match_the_timestamp():
    record = build_record("cam", MOMENT, DETECTIONS[:1], (640, 480), "m", "1")
    assert re.fullmatch(r"images/image_cam_\d{8}-\d{6}\.jpg", record["image_key"])
    assert record["timestamp"] in record["image_key"]
