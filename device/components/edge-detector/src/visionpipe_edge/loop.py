"""The inference loop: frame -> model-size frame -> detector -> threshold -> scale -> annotate ->
stream, and at most once per interval: queue the six objects for upload and publish the record.

Settings are read every frame from a provider (IPC watcher or fixed CLI settings), so a
configuration update applies live: thresholds, labels, interval, names and topic at once; a new
frame source or model reopens the source or reloads the detector.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import cv2
import numpy as np

from visionpipe_edge.annotate import annotate
from visionpipe_edge.config import EdgeSettings
from visionpipe_edge.detections import Detection, scale_detections
from visionpipe_edge.detectors import build_detector
from visionpipe_edge.frame_sources import FrameSource, open_source
from visionpipe_edge.records import DetectionKeys, build_record, build_training_annotation
from visionpipe_edge.uploader import UploadBatch, UploadThrottle

LOG = logging.getLogger(__name__)

SOURCE_FIELDS = ("source", "loop_source", "realtime")
DETECTOR_FIELDS = (
    "detector",
    "model_dir",
    "model_file",
    "model_config_file",
    "output_format",
    "labels",
    "class_id_offset",
    "input_width",
    "input_height",
    "dnn_scale",
    "dnn_mean",
    "dnn_swap_rb",
    "nms_threshold",
    "cascade_scale_factor",
    "cascade_min_neighbours",
    "cascade_min_size",
)


@dataclass
class LoopStats:
    frames: int = 0
    frames_with_detections: int = 0
    detections: int = 0
    uploads_queued: int = 0
    published: int = 0
    seconds: float = 0.0
    reloads: int = 0
    last_record: dict | None = None
    records: list[str] = field(default_factory=list)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


class DetectionLoop:
    def __init__(
        self,
        settings: Callable[[], EdgeSettings],
        uploader: Any | None = None,
        publisher: Any | None = None,
        frame_buffer: Any | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
        source_factory: Callable[[EdgeSettings], FrameSource] | None = None,
        detector_factory: Callable[[EdgeSettings], Any] = build_detector,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self._settings = settings
        self.uploader = uploader
        self.publisher = publisher
        self.frame_buffer = frame_buffer
        self.clock = clock
        self._source_factory = source_factory or (
            lambda s: open_source(s.source, loop=s.loop_source, realtime=s.realtime)
        )
        self._detector_factory = detector_factory
        self._monotonic = monotonic
        self.stats = LoopStats()
        self.stop_event = threading.Event()
        self._current: EdgeSettings | None = None
        self._source: FrameSource | None = None
        self._detector: Any = None
        self._throttle = UploadThrottle(0.0)

    # ------------------------------------------------------------------ settings
    def _apply(self, settings: EdgeSettings) -> None:
        previous = self._current
        if previous is None or any(getattr(previous, f) != getattr(settings, f) for f in SOURCE_FIELDS):
            if self._source is not None:  # a new frame source: reopen
                self._source.close()
            self._source = self._source_factory(settings)
            LOG.info("frame source: %s", getattr(self._source, "name", settings.source))
        if previous is None or any(getattr(previous, f) != getattr(settings, f) for f in DETECTOR_FIELDS):
            self._detector = self._detector_factory(settings)
            LOG.info("detector: %s (%s)", settings.detector, settings.model_file)
        if previous is not None:
            self.stats.reloads += 1
            LOG.info(
                "settings applied: threshold=%s interval=%ss", settings.threshold, settings.upload_interval
            )
        self._throttle.interval = settings.upload_interval
        self._current = settings

    # ------------------------------------------------------------------ one frame
    def process(self, frame: np.ndarray, settings: EdgeSettings) -> list[Detection]:
        """Detect, annotate and (when due) upload/publish one frame; returns full-frame detections."""
        frame_size = (frame.shape[1], frame.shape[0])
        resized = cv2.resize(frame, settings.input_size, interpolation=cv2.INTER_AREA)
        found = self._detector.detect(resized, settings.threshold)
        on_frame = scale_detections(found, settings.input_size, frame_size)
        annotated = annotate(frame, on_frame) if on_frame else frame
        if self.frame_buffer is not None:
            self.frame_buffer.set_frame(annotated)
        self.stats.frames += 1
        if not on_frame:
            return on_frame
        self.stats.frames_with_detections += 1
        self.stats.detections += len(on_frame)
        now = self._monotonic()
        if self._throttle.ready(now):
            self._throttle.mark(now)
            self._emit(settings, frame, resized, found, on_frame, annotated)
        return on_frame

    def _emit(
        self,
        settings: EdgeSettings,
        frame: np.ndarray,
        resized: np.ndarray,
        found: list[Detection],
        on_frame: list[Detection],
        annotated: np.ndarray,
    ) -> None:
        moment = self.clock()
        frame_size = (frame.shape[1], frame.shape[0])
        record = build_record(
            settings.device_id,
            moment,
            on_frame,
            frame_size,
            settings.model_name,
            settings.model_version,
            settings.detector,
        )
        keys = DetectionKeys.for_detection(settings.device_id, record["timestamp"])
        annotation = build_training_annotation(
            keys.raw.rsplit("/", 1)[-1], on_frame, frame_size, settings.labels
        )
        if self.uploader is not None:
            self.uploader.submit(
                UploadBatch(
                    keys=keys,
                    record=record,
                    training_annotation=annotation,
                    annotated_frame=annotated,
                    annotated_resized=annotate(resized, found),
                    raw_frame=frame,
                    jpeg_quality=settings.jpeg_quality,
                    bucket=settings.bucket,  # a live bucket change applies to the next batch
                )
            )
            self.stats.uploads_queued += 1
        if self.publisher is not None and settings.publish:
            self.publisher.publish(settings.resolved_topic, record)
            self.stats.published += 1
        self.stats.last_record = record
        self.stats.records.append(keys.record)
        del self.stats.records[:-100]

    # ------------------------------------------------------------------ the loop
    def run(self, max_frames: int | None = None, duration: float | None = None) -> LoopStats:
        """Until the source ends, max_frames frames, duration seconds, or stop()."""
        started = time.monotonic()
        try:
            while not self.stop_event.is_set():
                if max_frames is not None and self.stats.frames >= max_frames:
                    break
                if duration is not None and time.monotonic() - started >= duration:
                    break
                settings = self._settings()
                if settings is not self._current:
                    self._apply(settings)
                if self._source is None:  # closed by a previous run(): reopen
                    self._source = self._source_factory(settings)
                frame = self._source.read()
                if frame is None:
                    LOG.info("frame source ended after %d frames", self.stats.frames)
                    break
                self.process(frame, settings)
        finally:
            self.stats.seconds = time.monotonic() - started
            if self._source is not None:
                self._source.close()
                self._source = None
        return self.stats

    def stop(self) -> None:
        self.stop_event.set()
