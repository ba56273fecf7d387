"""The inference loop on real frames (videos of photographs) with the cascade detector."""

import json
from datetime import UTC, datetime, timedelta

import cv2
import numpy as np
import pytest
from visionpipe_edge.config import EdgeSettings, IpcConfigWatcher
from visionpipe_edge.detections import Box, Detection
from visionpipe_edge.loop import DetectionLoop
from visionpipe_edge.mjpeg import FrameBuffer
from visionpipe_edge.publishers import IpcPublisher
from visionpipe_edge.uploader import BackgroundUploader

from tests.device.conftest import BUCKET
from tests.device.photos import face_frames, no_face_frames, write_video

KINDS = ("images/", "json/", "latest/", "frames_resized/", "raw_images/", "training_annotation/")


class Clock:
    """Wall time for records and monotonic time for the throttle, advanced per frame by the test."""

    def __init__(self, step: float):
        self.t = 0.0
        self.step = step

    def monotonic(self) -> float:
        self.t += self.step
        return self.t

    def now(self) -> datetime:
        return datetime(2026, 11, 21, 8, 0, 0, tzinfo=UTC) + timedelta(seconds=self.t)


def settings(video, model_dir, **changes) -> EdgeSettings:
    base = dict(source=str(video), model_dir=str(model_dir), device_name="office-cam-1", bucket=BUCKET)
    return EdgeSettings(**{**base, **changes})


def objects(s3):
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []))


def read_json(s3, key):
    return json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())


def test_real_photographs_produce_all_six_objects(face_video, model_dir, s3_bucket):
    clock = Clock(step=20.0)  # 20 s per frame: every face frame is past the 10 s interval
    uploader = BackgroundUploader(s3_bucket, BUCKET)
    loop = DetectionLoop(
        lambda: settings(face_video, model_dir), uploader, clock=clock.now, monotonic=clock.monotonic
    )
    stats = loop.run()
    uploader.close()
    assert stats.frames == 5
    assert stats.frames_with_detections == 3  # the astronaut three times; coffee and cat: none
    keys = objects(s3_bucket)
    for kind in KINDS:
        assert any(k.startswith(kind) for k in keys), kind
    records = [k for k in keys if k.startswith("json/record_office-cam-1_")]
    assert len(records) == 3
    for record_key in records:
        record = read_json(s3_bucket, record_key)
        stamp = record["timestamp"]
        assert record_key == f"json/record_office-cam-1_{stamp}.json"
        assert record["image_key"] == f"images/image_office-cam-1_{stamp}.jpg"
        assert record["device_id"] == "office-cam-1"
        assert record["frame"] == {"width": 1280, "height": 960}
        assert record["model"] == {"name": "frontalface-haar", "version": "1", "detector": "cascade"}
        assert [o["object"] for o in record["objects"]] == ["face"]
        box = record["objects"][0]["box"]
        assert 0 <= box["xmin"] < box["xmax"] <= 1280 and 0 <= box["ymin"] < box["ymax"] <= 960
        assert box["xmax"] - box["xmin"] > 120  # a face of the full-frame photo, not of the 320x240 input
        annotation = read_json(s3_bucket, f"training_annotation/raw_office-cam-1_{stamp}.json")
        assert annotation["file"] == f"raw_office-cam-1_{stamp}.jpg"
        assert annotation["image_size"] == [{"width": 1280, "height": 960, "depth": 3}]
        assert annotation["categories"] == [{"class_id": 0, "name": "face"}]
        (entry,) = annotation["annotations"]
        assert entry == {
            "class_id": 0,
            "left": box["xmin"],
            "top": box["ymin"],
            "width": box["xmax"] - box["xmin"],
            "height": box["ymax"] - box["ymin"],
        }
        for key, shape in (
            (f"images/image_office-cam-1_{stamp}.jpg", (960, 1280, 3)),
            (f"raw_images/raw_office-cam-1_{stamp}.jpg", (960, 1280, 3)),
            (f"frames_resized/resized_office-cam-1_{stamp}.jpg", (240, 320, 3)),
        ):
            body = s3_bucket.get_object(Bucket=BUCKET, Key=key)["Body"].read()
            assert cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR).shape == shape
    assert read_json(s3_bucket, "latest/latest.json") == read_json(s3_bucket, records[-1])


def test_raw_image_is_unannotated_and_the_image_is(face_video, model_dir, s3_bucket):
    clock = Clock(step=20.0)
    uploader = BackgroundUploader(s3_bucket, BUCKET)
    DetectionLoop(
        lambda: settings(face_video, model_dir), uploader, clock=clock.now, monotonic=clock.monotonic
    ).run(max_frames=1)
    uploader.close()
    (record_key,) = [k for k in objects(s3_bucket) if k.startswith("json/")]
    stamp = read_json(s3_bucket, record_key)["timestamp"]

    def decode(key):
        return cv2.imdecode(
            np.frombuffer(s3_bucket.get_object(Bucket=BUCKET, Key=key)["Body"].read(), np.uint8), 1
        )

    raw = decode(f"raw_images/raw_office-cam-1_{stamp}.jpg")
    annotated = decode(f"images/image_office-cam-1_{stamp}.jpg")
    original = face_frames()[0]
    assert np.abs(raw.astype(int) - original).mean() < 3  # only JPEG noise
    assert np.abs(annotated.astype(int) - original).mean() > np.abs(raw.astype(int) - original).mean() + 0.2


class FixedDetector:
    """Finds one object in every frame: isolates the throttle from the detector."""

    def detect(self, resized, threshold):
        return [Detection(0, "face", 0.9, Box(10, 10, 50, 50))]


class FrameList:
    name = "frames"

    def __init__(self, frames):
        self.frames = list(frames)

    def read(self):
        return self.frames.pop(0) if self.frames else None

    def close(self):
        pass


def test_at_most_one_upload_per_interval(model_dir, tmp_path):
    clock = Clock(step=3.0)  # a frame every 3 s, interval 10 s: frames at 3, 15, 27 (every 4th) upload
    frames = [np.zeros((240, 320, 3), np.uint8)] * 12
    submitted = []
    uploader = type("U", (), {"submit": lambda self, b: submitted.append(b.keys.record)})()
    loop = DetectionLoop(
        lambda: EdgeSettings(source="unused", device_name="cam", upload_interval=10),
        uploader,
        clock=clock.now,
        monotonic=clock.monotonic,
        source_factory=lambda s: FrameList(frames),
        detector_factory=lambda s: FixedDetector(),
    )
    stats = loop.run()
    assert stats.frames == 12 and stats.frames_with_detections == 12
    assert stats.uploads_queued == len(submitted) == 3


def test_records_are_published_over_ipc_and_config_updates_apply_live(face_video, model_dir, fake_ipc):
    client = fake_ipc(
        {
            "frameSource": str(face_video),
            "deviceName": "",
            "deviceNames": {"thing-7": "lobby-cam"},
            "detectionThreshold": 0.5,
            "uploadIntervalSeconds": 0,
            "labels": [],
            "modelDir": str(model_dir),
        }
    )
    watcher = IpcConfigWatcher(client, thing_name="thing-7")
    watcher.subscribe()
    publisher = IpcPublisher(client)
    loop = DetectionLoop(lambda: watcher.settings, publisher=publisher)
    loop.run(max_frames=1)
    assert len(client.published) == 1
    message = client.published[0]
    assert message["topic"] == "visionpipe/thing-7/detections"
    record = json.loads(message["payload"])
    assert record["device_id"] == "lobby-cam" and record["objects"][0]["object"] == "face"
    # A deployment raises the threshold above any cascade score and renames the device: next frame.
    client.update(detectionThreshold=1.0, deviceName="renamed")
    assert watcher.settings.threshold == 1.0
    stats = loop.run(max_frames=3)
    assert stats.reloads == 1
    assert len(client.published) == 1  # nothing passes a 1.0 threshold
    client.update(detectionThreshold=0.5, labels=["person-face"])
    loop.run(max_frames=4)
    assert len(client.published) == 2
    assert json.loads(client.published[1]["payload"])["objects"][0]["object"] == "person-face"
    assert json.loads(client.published[1]["payload"])["device_id"] == "renamed"


def test_annotated_frames_reach_the_stream_buffer(tmp_path, model_dir):
    video = write_video(tmp_path / "one.avi", [face_frames()[0]])
    buffer = FrameBuffer()
    DetectionLoop(lambda: settings(video, model_dir, bucket=""), frame_buffer=buffer).run()
    sequence, jpeg = buffer.jpeg(timeout=1)
    assert sequence == 1
    frame = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert frame.shape == (960, 1280, 3)


def test_frames_without_objects_write_nothing(tmp_path, model_dir, s3_bucket):
    video = write_video(tmp_path / "empty.avi", no_face_frames())
    uploader = BackgroundUploader(s3_bucket, BUCKET)
    stats = DetectionLoop(lambda: settings(video, model_dir), uploader).run()
    uploader.close()
    assert stats.frames == 2 and stats.uploads_queued == 0
    assert objects(s3_bucket) == []


def test_stop_ends_the_loop(model_dir):
    frames = [np.zeros((240, 320, 3), np.uint8)] * 100
    loop = DetectionLoop(
        lambda: EdgeSettings(source="x"),
        source_factory=lambda s: FrameList(frames),
        detector_factory=lambda s: FixedDetector(),
    )
    loop.stop()
    assert loop.run().frames == 0


@pytest.mark.parametrize("bad", [{"detectionThreshold": 2}, {"detector": "yolo"}])
def test_an_invalid_update_keeps_the_last_good_settings(fake_ipc, bad):
    client = fake_ipc({"detectionThreshold": 0.6})
    watcher = IpcConfigWatcher(client)
    watcher.subscribe()
    client.update(**bad)
    assert watcher.settings.threshold == 0.6 and watcher.settings.detector == "cascade"
