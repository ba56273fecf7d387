"""The results table item and result document for a verdict or a failure.

Items keep the original attributes (RequestID, Date, DetectAnomalyResult, Confidence, Image, as
strings like the original wrote them) and add Status plus provenance. RequestID is derived from
the upload's identity, so a duplicate delivery maps to the same item.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from visionpipe_common.anomaly.frames import FrameSource
from visionpipe_common.detectors.base import Verdict
from visionpipe_common.events.s3_events import S3Object
from visionpipe_common.limits import derived_key

STATUS_OK = "OK"
STATUS_FAILED = "FAILED"


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Provenance:
    obj: S3Object
    backend: str
    frame: FrameSource | None = None


def _provenance_attributes(p: Provenance) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "Bucket": p.obj.bucket,
        "Key": p.obj.key,
        "ETag": p.obj.etag,
        "VersionId": p.obj.version_id,
        "Sequencer": p.obj.sequencer,
        "EventTime": p.obj.event_time,
        "Backend": p.backend,
    }
    if p.frame is not None:
        attributes.update(
            SourceVideoBucket=p.frame.video_bucket,
            SourceVideoKey=p.frame.video_key,
            FrameTime=Decimal(str(round(p.frame.frame_time, 3))),
        )
    return {k: v for k, v in attributes.items() if v != ""}


def result_key(obj: S3Object, request_id: str, status: str) -> str:
    folder = "results" if status == STATUS_OK else "failures"
    return derived_key(folder, obj.key, f"{request_id}.json")


def heatmap_key(obj: S3Object) -> str:
    """`heatmaps/<key>/<RequestID>.png` in the results bucket."""
    return derived_key("heatmaps", obj.key, f"{obj.upload_id}.png")


def verdict_item(
    p: Provenance,
    verdict: Verdict,
    latency_ms: float,
    detect_ms: float,
    image_info: dict,
    where: dict | None = None,
) -> dict:
    """where: AnomalyBox / AnomalyAreaPercent / HeatmapKey for models that return a map (else absent)."""
    request_id = p.obj.upload_id
    item = {
        "RequestID": request_id,
        "Date": utc_now(),
        "DetectAnomalyResult": str(verdict.is_anomalous),
        "Confidence": f"{verdict.confidence:.6f}",
        "Image": p.obj.file_name,
        "Status": STATUS_OK,
        "ModelVersion": verdict.model_version,
        "LatencyMs": Decimal(str(round(latency_ms, 2))),
        "DetectLatencyMs": Decimal(str(round(detect_ms, 2))),
        "ResultKey": result_key(p.obj, request_id, STATUS_OK),
        **{k: v for k, v in image_info.items()},
        **_provenance_attributes(p),
    }
    if verdict.score is not None:
        item["Score"] = Decimal(str(round(verdict.score, 6)))
    item.update(where or {})
    return item


def failure_item(p: Provenance, reason: str) -> dict:
    request_id = p.obj.upload_id
    return {
        "RequestID": request_id,
        "Date": utc_now(),
        "Image": p.obj.file_name or p.obj.key or "(none)",
        "Status": STATUS_FAILED,
        "Reason": reason,
        "ResultKey": result_key(p.obj, request_id, STATUS_FAILED),
        **_provenance_attributes(p),
    }


def result_document(item: dict, verdict: Verdict | None = None) -> dict:
    """The JSON written to the results bucket: the item plus the detector's raw details."""
    document = {k: (float(v) if isinstance(v, Decimal) else v) for k, v in item.items()}
    if verdict is not None and verdict.details:
        document["DetectorDetails"] = verdict.details
    return document
