"""The anomaly part of the demo: images, bad inputs and a video uploaded, every upload accounted
for (a verdict, a failure item, or a capture document with one verdict per frame), a table."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Upload:
    bucket: str
    key: str
    body: bytes
    label: str  # normal | anomalous | bad input | video
    item: dict[str, Any] | None = None
    frames: list[dict[str, Any]] = field(default_factory=list)
    capture: dict[str, Any] | None = None

    @property
    def file_name(self) -> str:
        return self.key.rsplit("/", 1)[-1]


@dataclass
class AnomalyOutcome:
    uploads: list[Upload]
    uploaded_at: float  # time.perf_counter() when the uploads were done
    accounted: bool = False
    seconds: float = 0.0  # from the uploads until every one was accounted for
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def verdicts(self) -> list[dict[str, Any]]:
        return [r for r in self.rows if r["result"] in ("anomaly", "normal")]

    @property
    def anomalies(self) -> int:
        return sum(1 for r in self.verdicts if r["result"] == "anomaly")

    @property
    def ratio(self) -> float:
        return self.anomalies / len(self.verdicts) if self.verdicts else 0.0

    @property
    def settled(self) -> int:
        return sum(1 for u in self.uploads if u.item or u.capture)

    def problems(self) -> list[str]:
        if self.accounted:
            return []
        return [f"only {self.settled} of {len(self.uploads)} uploads were accounted for within the timeout"]


def frame_capture_exists(stack) -> bool:
    """True when a function takes S3 events from the video bucket (its notification configuration)."""
    video_bucket = stack.outputs().get("VideoBucketName")
    if not video_bucket:
        return False
    configuration = stack.client("s3").get_bucket_notification_configuration(Bucket=video_bucket)
    return bool(configuration.get("LambdaFunctionConfigurations"))


def plan_uploads(
    data_dir: Path, outputs: dict, normal: int, anomalous: int, with_video: bool
) -> list[Upload]:
    manifest = json.loads((data_dir / "manifest.json").read_text())["files"]
    image_bucket = outputs["ImageBucketName"]
    by_label: dict[str, list[str]] = {"normal": [], "anomalous": []}
    for name, item in sorted(manifest.items()):
        if item["label"] in by_label:
            by_label[item["label"]].append(name)
    uploads = []
    for label, wanted in (("normal", normal), ("anomalous", anomalous)):
        names = by_label[label]
        step = max(1, len(names) // max(wanted, 1))
        for name in names[::step][:wanted]:
            path = data_dir / name
            uploads.append(Upload(image_bucket, f"image_inputs/demo/{path.name}", path.read_bytes(), label))
    uploads.append(
        Upload(
            image_bucket, "image_inputs/demo/shift notes.jpg", b"not an image, just a .jpg name", "bad input"
        )
    )
    uploads.append(Upload(image_bucket, "image_inputs/demo/empty.png", b"", "bad input"))
    videos = sorted((data_dir / "video").glob("*.mp4")) if (data_dir / "video").exists() else []
    if videos and with_video and outputs.get("VideoBucketName"):
        uploads.append(
            Upload(
                outputs["VideoBucketName"],
                f"video_inputs/inspection run {videos[0].name}",
                videos[0].read_bytes(),
                "video",
            )
        )
    return uploads


def wait_for_results(stack, outputs: dict, uploads: list[Upload], timeout: float) -> bool:
    """Poll the results table (and the capture documents for videos) until every upload is settled."""
    from boto3.dynamodb.conditions import Key

    table = stack.session.resource("dynamodb", endpoint_url=stack.endpoint_url).Table(
        outputs["ResultsTableName"]
    )
    s3 = stack.client("s3")
    deadline = time.monotonic() + timeout

    def items_named(name: str) -> list[dict]:
        response = table.query(IndexName="ImageIndex", KeyConditionExpression=Key("Image").eq(name))
        return response["Items"]

    while time.monotonic() < deadline:
        settled = True
        for upload in uploads:
            matches = [i for i in items_named(upload.file_name) if i.get("Key") == upload.key]
            upload.item = matches[0] if matches else None
            if upload.label == "video":
                listing = s3.list_objects_v2(
                    Bucket=outputs["ResultsBucketName"], Prefix=f"captures/{upload.key}/"
                )
                if listing.get("Contents"):
                    doc_key = listing["Contents"][0]["Key"]
                    upload.capture = json.loads(
                        s3.get_object(Bucket=outputs["ResultsBucketName"], Key=doc_key)["Body"].read()
                    )
                    frames = upload.capture.get("frames") or []
                    upload.frames = [
                        i for i in table.scan()["Items"] if i.get("SourceVideoKey") == upload.key
                    ]
                    settled &= len(upload.frames) >= len(frames)
                else:
                    settled &= upload.item is not None  # a failure item for the video
            else:
                settled &= upload.item is not None
        if settled and stack.wait_idle(timeout=5, settle=0.3):
            return True
        time.sleep(0.5)
    return False


def result_rows(uploads: list[Upload]) -> list[dict[str, Any]]:
    rows = []
    for upload in uploads:
        if upload.label == "video":
            if upload.item:  # the video itself was rejected
                rows.append(_row(upload.file_name, upload.label, upload.item, None))
            for frame in sorted(upload.frames, key=lambda f: float(f.get("FrameTime", 0))):
                rows.append(
                    _row(
                        f"{upload.file_name} @ {float(frame['FrameTime']):.1f}s",
                        "frame",
                        frame,
                        None,
                        frame_ref=(frame["Bucket"], frame["Key"]),
                    )
                )
            continue
        rows.append(_row(upload.file_name, upload.label, upload.item, upload.body))
    return rows


def _row(name: str, label: str, item: dict | None, body: bytes | None, frame_ref=None) -> dict[str, Any]:
    if item is None:
        result, confidence, detail = "missing", None, "no result recorded"
    elif item.get("Status") == "OK":
        result = "anomaly" if item.get("DetectAnomalyResult") == "True" else "normal"
        confidence, detail = float(item["Confidence"]), f"{float(item.get('LatencyMs', 0)):.0f} ms"
    else:
        result, confidence, detail = "failed", None, item.get("Reason", "")
    return {
        "image": name,
        "label": label,
        "result": result,
        "confidence": confidence,
        "detail": detail,
        "body": body,
        "frame_ref": frame_ref,
        # Where (models with a map): the overlay in the results bucket, the box in upload pixels.
        "heatmap_key": (item or {}).get("HeatmapKey"),
        "box": [int(v) for v in (item or {}).get("AnomalyBox", [])] or None,
        "area_percent": float(item["AnomalyAreaPercent"]) if item and "AnomalyAreaPercent" in item else None,
    }


def render_table(rows: list[dict[str, Any]]) -> str:
    width = max(len("image"), *(len(r["image"]) for r in rows)) if rows else 5
    lines = [f"{'image':<{width}}  {'uploaded as':<11}  {'result':<8}  {'confidence':>10}  detail"]
    lines.append("-" * len(lines[0]) + "-" * 20)
    for r in rows:
        confidence = f"{r['confidence']:.3f}" if r["confidence"] is not None else "-"
        lines.append(
            f"{r['image']:<{width}}  {r['label']:<11}  {r['result']:<8}  {confidence:>10}  {r['detail']}"
        )
    return "\n".join(lines)


def quality_line(rows: list[dict[str, Any]]) -> str:
    judged = [
        r for r in rows if r["label"] in ("normal", "anomalous") and r["result"] in ("normal", "anomaly")
    ]
    correct = sum(1 for r in judged if (r["label"] == "anomalous") == (r["result"] == "anomaly"))
    failed = sum(1 for r in rows if r["result"] == "failed")
    return f"labelled uploads judged correctly: {correct}/{len(judged)}; failure items (bad inputs): {failed}"
