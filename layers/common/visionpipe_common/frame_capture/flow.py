"""The video flow: one uploaded video in, frames (or a MediaConvert job) out, or a failure recorded.

Every upload ends as one of:
- frames in the image bucket (opencv engine) or a submitted job (mediaconvert engine), plus a
  capture document in the results bucket at captures/<video key>/<request id>.json;
- a failure item in the results table (Status FAILED, Reason, Image = the video's file name) and
  its document under failures/, exactly like a rejected image.
Transient errors (throttling, 5xx) escape, so Lambda retries and then parks the event in the
failed-events queue.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger

from visionpipe_common import aws
from visionpipe_common.anomaly.result_store import ResultStore
from visionpipe_common.anomaly.verdict_records import Provenance, failure_item, result_document, utc_now
from visionpipe_common.errors import RejectedInput
from visionpipe_common.events.handler import Metric
from visionpipe_common.events.s3_events import S3Object
from visionpipe_common.frame_capture.engines import build_engine
from visionpipe_common.frame_capture.settings import ENGINE_MEDIACONVERT, FrameCaptureSettings
from visionpipe_common.frame_capture.video_inputs import check_video_upload
from visionpipe_common.limits import derived_key

logger = Logger(child=True)

STATUS_CAPTURED = "CAPTURED"  # opencv: frames written
STATUS_SUBMITTED = "SUBMITTED"  # mediaconvert: job started, frames follow


def capture_document_key(obj: S3Object) -> str:
    return derived_key("captures", obj.key, f"{obj.upload_id}.json")


def save_capture_document(
    s3_client, results_bucket: str, obj: S3Object, status: str, summary: dict[str, Any]
) -> str:
    """Write (or overwrite, as the job progresses) the capture document of one uploaded video."""
    key = capture_document_key(obj)
    document = {
        "RequestID": obj.upload_id,
        "Date": utc_now(),
        "Status": status,
        "Video": {
            "Bucket": obj.bucket,
            "Key": obj.key,
            "VersionId": obj.version_id,
            "ETag": obj.etag,
            "Size": obj.size,
            "EventTime": obj.event_time,
        },
        **summary,
    }
    s3_client.put_object(
        Bucket=results_bucket,
        Key=key,
        Body=json.dumps(document, indent=2, default=str).encode(),
        ContentType="application/json",
    )
    return key


@dataclass(frozen=True)
class CaptureOutcome:
    request_id: str
    status: str
    recorded: bool
    engine: str
    frames: int | None = None
    job_id: str | None = None
    reason: str | None = None

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None}

    def metrics(self) -> list[Metric]:
        if not self.recorded:
            return []
        if self.status == STATUS_CAPTURED:
            counted = Metric("FramesCaptured", self.frames or 0)
        elif self.status == STATUS_SUBMITTED:
            counted = Metric("CaptureJobsSubmitted", 1)
        else:
            counted = Metric("VideosRejected", 1)
        return [Metric("VideosReceived", 1), counted]


class FrameCaptureFlow:
    def __init__(self, s3_client, store: ResultStore, results_bucket: str, engine):
        self._s3 = s3_client
        self._store = store
        self._results_bucket = results_bucket
        self._engine = engine

    @property
    def engine(self):
        return self._engine

    @property
    def s3(self):
        return self._s3

    def capture(self, obj: S3Object) -> CaptureOutcome:
        provenance = Provenance(obj=obj, backend=self._engine.name)
        try:
            container = check_video_upload(self._s3, obj)
            summary = self._engine.capture(obj)
        except RejectedInput as rejected:
            return self.reject(provenance, rejected.reason, getattr(rejected, "summary", None))
        summary.setdefault("container", container)
        status = STATUS_SUBMITTED if summary.get("job_id") else STATUS_CAPTURED
        save_capture_document(self._s3, self._results_bucket, obj, status, summary)
        logger.info(
            "video captured" if status == STATUS_CAPTURED else "video submitted to mediaconvert",
            extra={"s3_uri": obj.uri, "engine": self._engine.name, "frames": len(summary.get("frames", []))},
        )
        frames = summary.get("frames", [])
        return CaptureOutcome(
            request_id=obj.upload_id,
            status=status,
            # False: a duplicate delivery, every frame was there already (written once, see the engine)
            recorded=not frames or any(frame.get("written", True) for frame in frames),
            engine=self._engine.name,
            frames=len(summary["frames"]) if "frames" in summary else None,
            job_id=summary.get("job_id"),
        )

    @classmethod
    def from_settings(cls, settings: FrameCaptureSettings) -> FrameCaptureFlow:
        s3 = aws.client("s3")
        mediaconvert = (
            aws.client("mediaconvert", endpoint_url=settings.mediaconvert.endpoint_url)
            if settings.engine == ENGINE_MEDIACONVERT
            else None
        )
        store = ResultStore.open(settings.results_table, s3, settings.results_bucket)
        return cls(s3, store, settings.results_bucket, build_engine(settings, s3, mediaconvert))

    def reject_event(self, obj: S3Object, reason: str) -> CaptureOutcome:
        """A failure record for an event that names no video (see events.handler)."""
        return self.reject(Provenance(obj=obj, backend=self._engine.name), reason)

    def reject(self, provenance: Provenance, reason: str, summary: dict | None = None) -> CaptureOutcome:
        """Record a failure item (and its document) for a video that can never be captured as it is."""
        item = failure_item(provenance, reason)
        document = result_document(item)
        if summary:
            document["Capture"] = summary
        recorded = self._store.save(item, document)
        logger.warning("video rejected", extra={"s3_uri": provenance.obj.uri, "reason": reason})
        return CaptureOutcome(
            request_id=item["RequestID"],
            status=item["Status"],
            recorded=recorded,
            engine=provenance.backend,
            frames=len(summary.get("frames", [])) if summary else None,
            reason=reason,
        )
