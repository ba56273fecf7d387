"""MediaConvert job state changes (EventBridge) -> the outcome of each video's capture job.

ERROR and CANCELED jobs become failure items (Status FAILED, Reason = MediaConvert's error) for
the source video, found like any rejected image; COMPLETE jobs update the video's capture
document (captures/<video key>/<request id>.json) with the number of frames and the job id.
The source video comes back from the job record the frame-capture function wrote before the job
(captures/_jobs/<upload id>.json, named by the job's UserMetadata).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger

from visionpipe_common import aws
from visionpipe_common.anomaly.result_store import ResultStore
from visionpipe_common.anomaly.verdict_records import Provenance, failure_item, result_document
from visionpipe_common.events.handler import Metric
from visionpipe_common.frame_capture.flow import save_capture_document
from visionpipe_common.frame_capture.mediaconvert_job import (
    META_STACK,
    META_UPLOAD,
    job_record_key,
    source_object,
)
from visionpipe_common.frame_capture.settings import JobStateSettings

logger = Logger(child=True)

FAILED_STATES = ("ERROR", "CANCELED")
_FRAME_NUMBER = re.compile(r"\.(\d{7})\.jpg$")


@dataclass(frozen=True)
class JobOutcome:
    job_id: str
    status: str
    recorded: bool
    request_id: str = ""
    frames: int | None = None
    reason: str | None = None

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v not in (None, "")}

    def metrics(self) -> list[Metric]:
        if not self.recorded:
            return []
        counted = [Metric("CaptureJobsFailed" if self.status in FAILED_STATES else "CaptureJobsCompleted", 1)]
        if self.frames:
            counted.append(Metric("FramesCaptured", self.frames))
        return counted


def frames_written(detail: dict[str, Any]) -> int | None:
    """FRAME_CAPTURE outputs report only the last frame's path: its number + 1 is the count."""
    for group in detail.get("outputGroupDetails", []) or []:
        for output in group.get("outputDetails", []) or []:
            for path in output.get("outputFilePaths", []) or []:
                match = _FRAME_NUMBER.search(path)
                if match:
                    return int(match[1]) + 1
    return None


def failure_reason(detail: dict[str, Any]) -> str:
    job_id = detail.get("jobId", "")
    if detail.get("status") == "CANCELED":
        return f"MediaConvert job {job_id} was canceled: no frames were captured"
    code = detail.get("errorCode", "")
    message = detail.get("errorMessage", "") or "no error message"
    return f"MediaConvert job {job_id} failed (error {code}): {message}"


class JobStateRecorder:
    def __init__(self, s3_client, store: ResultStore, results_bucket: str, stack_name: str):
        self._s3 = s3_client
        self._store = store
        self._results_bucket = results_bucket
        self._stack_name = stack_name

    @classmethod
    def from_settings(cls, settings: JobStateSettings) -> JobStateRecorder:
        s3 = aws.client("s3")
        store = ResultStore.open(settings.results_table, s3, settings.results_bucket)
        return cls(s3, store, settings.results_bucket, stack_name=settings.stack_name)

    def record(self, event: dict[str, Any]) -> JobOutcome:
        detail = event.get("detail", {}) or {}
        job_id = str(detail.get("jobId", ""))
        status = str(detail.get("status", ""))
        metadata = detail.get("userMetadata", {}) or {}
        if metadata.get(META_STACK) != self._stack_name or not metadata.get(META_UPLOAD):
            logger.warning("job state change for a job this stack did not start", extra={"job_id": job_id})
            return JobOutcome(job_id=job_id, status=status, recorded=False, reason="not a job of this stack")
        record = self._s3.get_object(Bucket=self._results_bucket, Key=job_record_key(metadata[META_UPLOAD]))
        obj = source_object(json.loads(record["Body"].read()))
        if status in FAILED_STATES:
            reason = failure_reason(detail)
            item = failure_item(Provenance(obj=obj, backend="mediaconvert"), reason)
            item["JobId"] = job_id
            recorded = self._store.save(item, result_document(item))
            logger.warning(
                "mediaconvert job failed", extra={"job_id": job_id, "s3_uri": obj.uri, "reason": reason}
            )
            return JobOutcome(job_id, status, recorded, request_id=item["RequestID"], reason=reason)
        frames = frames_written(detail)
        save_capture_document(
            self._s3,
            self._results_bucket,
            obj,
            status,
            {
                "engine": "mediaconvert",
                "job_id": job_id,
                "frames_written": frames,
                "warnings": detail.get("warnings", []),
                "output_group_details": detail.get("outputGroupDetails", []),
            },
        )
        logger.info(
            "mediaconvert job complete", extra={"job_id": job_id, "s3_uri": obj.uri, "frames": frames}
        )
        return JobOutcome(job_id, status, True, request_id=obj.upload_id, frames=frames)
