"""Uploads run on a bounded background queue so inference never waits on the network.

The loop submits one `UploadBatch` per accepted detection (at most one per interval, see
`UploadThrottle`); a worker thread encodes the images and puts the six objects. When the queue is
full the OLDEST batch is dropped, counted and logged: the newest detection is the one worth sending.
Objects are written images first and the record JSON last, so anything triggered by the record
(the tweet function) finds its image already there.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from visionpipe_edge.annotate import encode_jpeg
from visionpipe_edge.records import DetectionKeys, to_json_bytes

LOG = logging.getLogger(__name__)


class UploadThrottle:
    """At most one upload per `interval` seconds (the first one goes at once)."""

    def __init__(self, interval: float):
        self.interval = interval
        self._last: float | None = None

    def ready(self, now: float) -> bool:
        return self._last is None or now - self._last >= self.interval

    def mark(self, now: float) -> None:
        self._last = now


@dataclass
class UploadBatch:
    """Everything one detection writes; images stay arrays until the worker encodes them."""

    keys: DetectionKeys
    record: dict
    training_annotation: dict
    annotated_frame: np.ndarray
    annotated_resized: np.ndarray
    raw_frame: np.ndarray
    jpeg_quality: int = 90
    bucket: str = ""  # empty: the uploader's bucket

    def objects(self) -> list[tuple[str, bytes, str]]:
        """(key, body, content type) in write order."""
        jpeg, json_type = "image/jpeg", "application/json"
        record = to_json_bytes(self.record)
        return [
            (self.keys.raw, encode_jpeg(self.raw_frame, self.jpeg_quality), jpeg),
            (self.keys.training_annotation, to_json_bytes(self.training_annotation), json_type),
            (self.keys.image, encode_jpeg(self.annotated_frame, self.jpeg_quality), jpeg),
            (self.keys.resized, encode_jpeg(self.annotated_resized, self.jpeg_quality), jpeg),
            (self.keys.record, record, json_type),
            (self.keys.latest, record, json_type),
        ]


@dataclass
class UploadStats:
    submitted: int = 0
    uploaded: int = 0
    objects: int = 0
    dropped: int = 0
    failed: int = 0
    failures: list[str] = field(default_factory=list)


class BackgroundUploader:
    """A worker thread draining a bounded queue of batches into an S3 bucket."""

    def __init__(
        self,
        s3_client: Any,
        bucket: str,
        max_queue: int = 8,
        retries: int = 3,
        backoff_seconds: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.s3 = s3_client
        self.bucket = bucket
        self.max_queue = max_queue
        self.retries = retries
        self.backoff_seconds = backoff_seconds
        self._sleep = sleep
        self.stats = UploadStats()
        self._queue: deque[UploadBatch] = deque()
        self._cond = threading.Condition()
        self._closing = False
        self._busy = False
        self._thread = threading.Thread(target=self._work, name="visionpipe-uploader", daemon=True)
        self._thread.start()

    def submit(self, batch: UploadBatch) -> None:
        """Queue a batch; never blocks. A full queue loses its oldest batch."""
        with self._cond:
            if self._closing:
                raise RuntimeError("uploader is closed")
            while len(self._queue) >= self.max_queue:
                dropped = self._queue.popleft()
                self.stats.dropped += 1
                LOG.warning(
                    "upload queue full (%d): dropped %s (%d dropped so far)",
                    self.max_queue,
                    dropped.keys.record,
                    self.stats.dropped,
                )
            self._queue.append(batch)
            self.stats.submitted += 1
            self._cond.notify()

    @property
    def pending(self) -> int:
        with self._cond:
            return len(self._queue) + (1 if self._busy else 0)

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closing:
                    self._cond.wait()
                if not self._queue:
                    return
                batch = self._queue.popleft()
                self._busy = True
            try:
                self._upload(batch)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _upload(self, batch: UploadBatch) -> None:
        try:
            for key, body, content_type in batch.objects():
                self._put(batch.bucket or self.bucket, key, body, content_type)
                self.stats.objects += 1
        except Exception as error:  # the loop keeps running; the failure is counted and logged
            self.stats.failed += 1
            reason = f"{batch.keys.record}: {type(error).__name__}: {error}"
            self.stats.failures.append(reason)
            del self.stats.failures[:-20]
            LOG.error("upload failed after %d attempts: %s", self.retries, reason)
            return
        self.stats.uploaded += 1
        LOG.info("uploaded %s (+5 objects) to s3://%s", batch.keys.record, batch.bucket or self.bucket)

    def _put(self, bucket: str, key: str, body: bytes, content_type: str) -> None:
        for attempt in range(1, self.retries + 1):
            try:
                self.s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)
                return
            except Exception:
                if attempt == self.retries:
                    raise
                self._sleep(self.backoff_seconds * 2 ** (attempt - 1))

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until the queue is empty; False if the timeout passed first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._queue or self._busy:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def close(self, timeout: float | None = 30.0) -> None:
        """Finish what is queued (up to `timeout`), then stop the worker."""
        self.drain(timeout)
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join(timeout=5)
