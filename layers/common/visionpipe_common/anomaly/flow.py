"""The image anomaly flow: one uploaded object in, one verdict or failure recorded.

Handlers stay thin: they parse the event and call AnomalyFlow.judge() for each object.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import ClientError

from visionpipe_common import aws
from visionpipe_common.anomaly import heatmap
from visionpipe_common.anomaly.frames import frame_source
from visionpipe_common.anomaly.images import DecodedImage, decode_image
from visionpipe_common.anomaly.result_store import ResultStore
from visionpipe_common.anomaly.settings import AnomalyFlowSettings
from visionpipe_common.anomaly.verdict_records import (
    STATUS_OK,
    Provenance,
    failure_item,
    heatmap_key,
    result_document,
    verdict_item,
)
from visionpipe_common.detectors import build_detector
from visionpipe_common.detectors.base import Detector, Verdict
from visionpipe_common.errors import RejectedInput
from visionpipe_common.events.handler import Metric
from visionpipe_common.events.s3_events import S3Object

logger = Logger(child=True)

MISSING_OBJECT_CODES = frozenset({"NoSuchKey", "NoSuchVersion", "404"})


@dataclass(frozen=True)
class Outcome:
    request_id: str
    status: str
    recorded: bool  # False: a duplicate of an upload already recorded
    is_anomalous: bool | None = None
    confidence: float | None = None
    reason: str | None = None
    detect_ms: float | None = None

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None}

    def metrics(self) -> list[Metric]:
        if not self.recorded:  # a duplicate delivery counts nothing
            return []
        if self.status != STATUS_OK:
            return [Metric("Rejected", 1)]
        return [
            Metric("ImagesProcessed", 1),
            Metric("Anomalies", int(bool(self.is_anomalous))),
            Metric("DetectLatency", self.detect_ms or 0.0, MetricUnit.Milliseconds),
        ]


class AnomalyFlow:
    def __init__(self, settings: AnomalyFlowSettings, s3_client, store: ResultStore, detector: Detector):
        self._settings = settings
        self._s3 = s3_client
        self._store = store
        self._detector = detector

    def judge(self, obj: S3Object) -> Outcome:
        started = time.perf_counter()
        provenance = Provenance(obj=obj, backend=self._detector.backend)
        try:
            data, metadata = self._read(obj)
            frame = frame_source(
                obj.key, metadata, self._settings.video_bucket, self._settings.frame_interval_seconds
            )
            provenance = Provenance(obj=obj, backend=self._detector.backend, frame=frame)
            input_size = getattr(self._detector, "input_size", None)  # onnx only: the others take bytes
            image = decode_image(
                data, obj.file_name, self._settings.max_image_pixels, input_size() if input_size else None
            )
            detect_started = time.perf_counter()
            verdict = self._detector.detect(image)
            detect_ms = (time.perf_counter() - detect_started) * 1000.0
        except RejectedInput as rejected:
            return self.reject(provenance, rejected.reason)
        where = self._where(obj, image, verdict)
        latency_ms = (time.perf_counter() - started) * 1000.0
        image_info = {"ContentType": image.content_type, "Width": image.width, "Height": image.height}
        item = verdict_item(provenance, verdict, latency_ms, detect_ms, image_info, where)
        recorded = self._store.save(item, result_document(item, verdict))
        self._log_verdict(obj, verdict, recorded)
        return Outcome(
            request_id=item["RequestID"],
            status=item["Status"],
            recorded=recorded,
            is_anomalous=verdict.is_anomalous,
            confidence=verdict.confidence,
            detect_ms=detect_ms,
        )

    def _where(self, obj: S3Object, image: DecodedImage, verdict: Verdict) -> dict:
        """Heatmap PNG (written before the item that names it) and the above-threshold box and area.

        Score-only models return no map: no heatmap, no attributes. A duplicate delivery rewrites
        the same key with the same picture.
        """
        if verdict.anomaly_map is None or verdict.threshold is None:
            return {}
        found = heatmap.region(verdict.anomaly_map, verdict.threshold, image.width, image.height)
        key = heatmap_key(obj)
        self._s3.put_object(
            Bucket=self._settings.results_bucket,
            Key=key,
            Body=heatmap.overlay_png(image.pixels, verdict.anomaly_map, verdict.threshold),
            ContentType="image/png",
        )
        where: dict = {"HeatmapKey": key, "AnomalyAreaPercent": Decimal(str(found.area_percent))}
        if found.box is not None:
            where["AnomalyBox"] = list(found.box)
        return where

    @property
    def detector(self) -> Detector:
        return self._detector

    @classmethod
    def from_settings(cls, settings: AnomalyFlowSettings) -> AnomalyFlow:
        s3 = aws.client("s3")
        store = ResultStore.open(settings.results_table, s3, settings.results_bucket)
        return cls(settings, s3, store, build_detector(settings.detector, s3))

    def reject_event(self, obj: S3Object, reason: str) -> Outcome:
        """A failure record for an event that names no image (see events.handler)."""
        return self.reject(Provenance(obj=obj, backend=self._detector.backend), reason)

    def reject(self, provenance: Provenance, reason: str) -> Outcome:
        """Record a failure item (and document) for an input that can never be processed."""
        item = failure_item(provenance, reason)
        recorded = self._store.save(item, result_document(item))
        logger.warning("input rejected", extra={"s3_uri": provenance.obj.uri, "reason": reason})
        return Outcome(request_id=item["RequestID"], status=item["Status"], recorded=recorded, reason=reason)

    def _read(self, obj: S3Object) -> tuple[bytes, dict[str, str]]:
        if obj.size == 0:
            raise RejectedInput("empty object (0 bytes)")
        if obj.size > self._settings.max_image_bytes:
            raise RejectedInput(
                f"object is {obj.size} bytes, over the limit of {self._settings.max_image_bytes}"
            )
        request = {"Bucket": obj.bucket, "Key": obj.key}
        if obj.version_id:
            request["VersionId"] = obj.version_id
        try:
            response = self._s3.get_object(**request)
        except ClientError as exc:
            if exc.response["Error"]["Code"] in MISSING_OBJECT_CODES:
                raise RejectedInput(f"object no longer exists: {obj.uri}") from exc
            raise
        return response["Body"].read(), response.get("Metadata", {})

    @staticmethod
    def _log_verdict(obj: S3Object, verdict: Verdict, recorded: bool) -> None:
        logger.info(
            "verdict" if recorded else "duplicate delivery: verdict already recorded",
            extra={
                "s3_uri": obj.uri,
                "is_anomalous": verdict.is_anomalous,
                "confidence": round(verdict.confidence, 4),
                "model_version": verdict.model_version,
            },
        )
