"""Background uploads: write order, throttle, the queue-full policy, failures counted."""

import json
import threading

import cv2
import numpy as np
import pytest
from visionpipe_edge.records import DetectionKeys
from visionpipe_edge.uploader import BackgroundUploader, UploadBatch, UploadThrottle


def batch(n: int) -> UploadBatch:
    image = np.full((48, 64, 3), n % 255, np.uint8)
    return UploadBatch(
        keys=DetectionKeys.for_detection("cam", f"20261121-0000{n:02d}"),
        record={"n": n},
        training_annotation={"file": f"raw_{n}.jpg"},
        annotated_frame=image,
        annotated_resized=image[:24, :32],
        raw_frame=image,
    )


class RecordingS3:
    def __init__(self, gate: threading.Event | None = None, fail_keys=()):
        self.gate = gate
        self.fail_keys = set(fail_keys)
        self.puts: list[dict] = []
        self.started = threading.Event()

    def put_object(self, **kwargs):
        self.started.set()
        if self.gate is not None:
            self.gate.wait(5)
        if kwargs["Key"] in self.fail_keys:
            raise ConnectionError("network down")
        self.puts.append(kwargs)


def test_throttle_allows_one_upload_per_interval():
    throttle = UploadThrottle(10)
    assert throttle.ready(100.0)
    throttle.mark(100.0)
    assert not throttle.ready(105.0)
    assert not throttle.ready(109.99)
    assert throttle.ready(110.0)


def test_writes_six_objects_images_first_record_last(s3_bucket):
    uploader = BackgroundUploader(s3_bucket, "visionpipe-detections-test")
    uploader.submit(batch(1))
    assert uploader.drain(10)
    uploader.close()
    keys = batch(1).keys
    listed = {o["Key"] for o in s3_bucket.list_objects_v2(Bucket="visionpipe-detections-test")["Contents"]}
    assert listed == {keys.image, keys.record, keys.latest, keys.resized, keys.raw, keys.training_annotation}
    raw = s3_bucket.get_object(Bucket="visionpipe-detections-test", Key=keys.raw)
    assert raw["ContentType"] == "image/jpeg"
    decoded = cv2.imdecode(np.frombuffer(raw["Body"].read(), np.uint8), cv2.IMREAD_COLOR)
    assert decoded.shape == (48, 64, 3)
    record = s3_bucket.get_object(Bucket="visionpipe-detections-test", Key=keys.record)
    assert json.loads(record["Body"].read()) == {"n": 1}
    assert uploader.stats.uploaded == 1 and uploader.stats.objects == 6


def test_order_of_puts():
    s3 = RecordingS3()
    uploader = BackgroundUploader(s3, "b")
    uploader.submit(batch(1))
    uploader.close()
    keys = [p["Key"] for p in s3.puts]
    assert keys[-2:] == [batch(1).keys.record, "latest/latest.json"]
    assert keys.index(batch(1).keys.image) < keys.index(batch(1).keys.record)


def test_full_queue_drops_the_oldest_and_counts_it(caplog):
    gate = threading.Event()
    s3 = RecordingS3(gate=gate)
    uploader = BackgroundUploader(s3, "b", max_queue=2)
    uploader.submit(batch(0))  # taken by the worker, which blocks on the network
    assert s3.started.wait(5)
    for n in (1, 2, 3, 4):  # queue holds two: 1 and 2 are dropped for 3 and 4
        uploader.submit(batch(n))
    assert uploader.stats.dropped == 2
    assert "dropped json/record_cam_20261121-000001.json" in caplog.text
    gate.set()
    uploader.close()
    uploaded_records = [p["Key"] for p in s3.puts if p["Key"].startswith("json/")]
    assert uploaded_records == [batch(n).keys.record for n in (0, 3, 4)]
    assert uploader.stats.submitted == 5 and uploader.stats.uploaded == 3


def test_submit_never_blocks_on_a_stalled_network():
    gate = threading.Event()
    uploader = BackgroundUploader(RecordingS3(gate=gate), "b", max_queue=1)
    finished = threading.Event()

    def submit_many():
        for n in range(50):
            uploader.submit(batch(n))
        finished.set()

    threading.Thread(target=submit_many).start()
    assert finished.wait(5)
    gate.set()
    uploader.close()
    assert uploader.stats.dropped >= 48


def test_failures_are_retried_then_counted_and_the_worker_keeps_going():
    s3 = RecordingS3(fail_keys={batch(1).keys.raw})
    uploader = BackgroundUploader(s3, "b", retries=2, sleep=lambda _: None)
    uploader.submit(batch(1))
    uploader.submit(batch(2))
    uploader.close()
    assert uploader.stats.failed == 1 and uploader.stats.uploaded == 1
    assert "ConnectionError" in uploader.stats.failures[0]
    assert batch(2).keys.record in [p["Key"] for p in s3.puts]


def test_closed_uploader_refuses_work():
    uploader = BackgroundUploader(RecordingS3(), "b")
    uploader.close()
    with pytest.raises(RuntimeError):
        uploader.submit(batch(1))
