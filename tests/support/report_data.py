"""A factory floor's month of data for `visionpipe report`: detection records from several cameras
(built by the edge device's own record builder) and verdict items (the README's attributes), plus
an independent tally of what a report over any window must show.

Seeding: records go straight into moto's S3 backend in the server's process (100,000 PUTs through
HTTP would take minutes and are not what is measured); verdict items through BatchWriteItem. The
report then reads everything through the real APIs of moto's server.
"""

from __future__ import annotations

import io
import json
import random
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from visionpipe_edge.detections import Box, Detection
from visionpipe_edge.records import DetectionKeys, build_record, to_json_bytes

DEVICES = ("press-line-1", "press-line-2", "paint_booth-3", "dock-cam-4", "assembly-5")  # one with "_"
LABELS = ("person", "forklift", "pallet", "helmet")
LABEL_WEIGHTS = (5, 2, 3, 1)
DEVICE_WEIGHTS = (5, 4, 3, 2, 1)
FRAME = (1280, 720)
REASONS = (
    "object is 0 bytes: nothing to judge",
    "not an image: the bytes are text/plain",
    "image is 48000000 pixels, over the limit of 40000000",
    "image is 52000000 pixels, over the limit of 40000000",
    "truncated JPEG: image file is truncated (3 bytes not processed)",
)


@dataclass
class Tally:
    """What the generator wrote, counted here without any of the report's code."""

    detections: list[dict] = field(default_factory=list)  # one per object: time, device, label, confidence
    verdicts: list[dict] = field(default_factory=list)  # the items as written (plain Python values)
    malformed_keys: list[str] = field(default_factory=list)

    def in_window(self, since: datetime, until: datetime, device=None, label=None) -> list[dict]:
        return [
            d
            for d in self.detections
            if since <= d["time"] < until
            and (device is None or d["device"] == device)
            and (label is None or d["label"] == label)
        ]

    def expected_detections(self, since, until, threshold, device=None, label=None) -> dict[str, Any]:
        rows = self.in_window(since, until, device, label)
        per_day, per_hour, per_label, per_device = Counter(), [0] * 24, Counter(), Counter()
        records = set()
        confidences = defaultdict(list)
        for d in rows:
            per_day[d["time"].strftime("%Y-%m-%d")] += 1
            per_hour[d["time"].hour] += 1
            per_label[d["label"]] += 1
            per_device[d["device"]] += 1
            records.add(d["key"])
            confidences[("device", d["device"])].append(d["confidence"])
            confidences[("label", d["label"])].append(d["confidence"])
            confidences[("day", d["time"].strftime("%Y-%m-%d"))].append(d["confidence"])
            confidences[("all", "")].append(d["confidence"])
        confidence = {
            group: {
                "count": len(values),
                "mean": statistics.fmean(values),
                "median": statistics.median(values),
                "share": sum(v >= threshold for v in values) / len(values),
            }
            for group, values in confidences.items()
        }
        return {
            "detections": len(rows),
            "records": len(records),
            "per_day": per_day,
            "per_hour": per_hour,
            "per_label": per_label,
            "per_device": per_device,
            "confidence": confidence,
        }

    def expected_verdicts(self, since: str, until: str) -> dict[str, Any]:
        rows = [v for v in self.verdicts if since <= v["Date"] < until]
        ok = [v for v in rows if v["Status"] == "OK"]
        failed = [v for v in rows if v["Status"] == "FAILED"]
        anomalous = [v for v in ok if v["DetectAnomalyResult"] == "True"]
        per_source = Counter(("video frame" if "SourceVideoKey" in v else "upload") for v in ok)
        per_day = Counter(v["Date"][:10] for v in ok)
        anomalies_per_day = Counter(v["Date"][:10] for v in anomalous)
        latencies = sorted(float(v["DetectLatencyMs"]) for v in ok)
        return {
            "processed": len(ok),
            "anomalies": len(anomalous),
            "failures": len(failed),
            "per_source": per_source,
            "per_day": per_day,
            "anomalies_per_day": anomalies_per_day,
            "reasons": Counter(v["Reason"] for v in failed),
            "latency_p50": _rank_quantile(latencies, 0.50),
            "latency_p95": _rank_quantile(latencies, 0.95),
            "with_heatmap": sum(1 for v in ok if v.get("HeatmapKey")),
        }


def _rank_quantile(values: list[float], q: float) -> float | None:
    import math

    if not values:
        return None
    return values[max(1, math.ceil(q * len(values))) - 1]


def _moment(rng: random.Random, start: datetime, days: int) -> datetime:
    """Shift-shaped: most detections 06:00-22:00, a few at night."""
    day = rng.randrange(days)
    hour = rng.choice(range(6, 22)) if rng.random() < 0.9 else rng.choice((*range(0, 6), 22, 23))
    return start + timedelta(
        days=day, hours=hour, seconds=rng.randrange(3600), milliseconds=rng.randrange(1000)
    )


def generate_records(count: int, start: datetime, days: int, seed: int = 16):
    """Yield (key, body bytes, objects) for `count` records with unique keys (one per device-second)."""
    rng = random.Random(seed)
    used: set[tuple[str, str]] = set()
    made = 0
    while made < count:
        device = rng.choices(DEVICES, DEVICE_WEIGHTS)[0]
        moment = _moment(rng, start, days)
        stamp = moment.strftime("%Y%m%d-%H%M%S")
        if (device, stamp) in used:
            continue
        used.add((device, stamp))
        found = []
        for _ in range(rng.choice((1, 1, 1, 2, 2, 3))):
            label_index = LABELS.index(rng.choices(LABELS, LABEL_WEIGHTS)[0])
            x, y = rng.randrange(0, 1100), rng.randrange(0, 560)
            score = round(min(1.0, max(0.3, rng.betavariate(5 + label_index, 2))), 4)
            found.append(Detection(label_index, LABELS[label_index], score, Box(x, y, x + 120, y + 150)))
        record = build_record(device, moment, found, FRAME, "ssd-factory", "3")
        made += 1
        yield DetectionKeys.for_detection(device, stamp).record, to_json_bytes(record), record


def generate_verdicts(
    count: int, start: datetime, days: int, seed: int = 61, heatmaps: int = 0
) -> list[dict]:
    """Verdict and failure items with the results table's attributes (strings as the flow writes them)."""
    rng = random.Random(seed)
    items = []
    for i in range(count):
        moment = _moment(rng, start, days)
        date = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        video = rng.random() < 0.35
        name = f"part-{i:06d}.jpg" if not video else f"clip-{i // 20:04d}_frame.{i % 20:07d}.jpg"
        key = f"image_inputs/{name}" if not video else f"video_inputs/clip-{i // 20:04d}/{name}"
        item: dict[str, Any] = {
            "RequestID": f"req-{seed}-{i:07d}",
            "Date": date,
            "Image": name,
            "Bucket": "factory-images",
            "Key": key,
            "ResultKey": f"results/{key}/req-{i}.json",
        }
        if video:
            item.update(
                SourceVideoBucket="factory-videos", SourceVideoKey=f"clip-{i // 20:04d}.mp4", FrameTime=i % 20
            )
        if rng.random() < 0.04:
            item.update(Status="FAILED", Reason=rng.choice(REASONS))
        else:
            anomalous = rng.random() < (0.12 if video else 0.08)
            detect_ms = round(rng.lognormvariate(3.0, 0.35), 2)  # ~20 ms
            item.update(
                Status="OK",
                DetectAnomalyResult=str(anomalous),
                Confidence=f"{rng.uniform(0.5, 1.0):.6f}",
                Backend="onnx",
                ModelVersion="padim-r18-2",
                DetectLatencyMs=detect_ms,
                LatencyMs=round(detect_ms + rng.uniform(5, 40), 2),
                ContentType="image/jpeg",
                Width=640,
                Height=480,
            )
            if anomalous and heatmaps and rng.random() < 0.5:
                heatmaps -= 1
                item.update(
                    HeatmapKey=f"heatmaps/{key}/req-{i}.png",
                    AnomalyBox=[100, 80, 260, 200],
                    AnomalyAreaPercent=6.3,
                )
        items.append(item)
    return items


def to_dynamodb(item: dict) -> dict:
    """Numbers as DynamoDB numbers (the flow writes Decimals), strings and lists as they are."""
    from decimal import Decimal

    from boto3.dynamodb.types import TypeSerializer

    serializer = TypeSerializer()

    def plain(value):
        if isinstance(value, float):
            return Decimal(str(value))
        if isinstance(value, list):
            return [plain(v) for v in value]
        return value

    return {k: serializer.serialize(plain(v)) for k, v in item.items()}


def seed_stack(
    s3,
    dynamodb,
    bucket: str,
    table: str,
    records: int,
    verdicts: int,
    start: datetime,
    days: int,
    images: dict[str, bytes] | None = None,
    results_bucket: str | None = None,
    direct_put=None,
) -> Tally:
    """Write the month into the bucket and the table; returns the tally.

    direct_put(bucket, key, body): how record bodies are written (moto's backend for speed);
    default: PutObject through the API."""
    put = direct_put or (lambda b, k, body: s3.put_object(Bucket=b, Key=k, Body=body))
    tally = Tally()
    written = set()
    for key, body, record in generate_records(records, start, days):
        put(bucket, key, body)
        written.add(key)
        moment = datetime.fromisoformat(record["time_utc"].replace("Z", "+00:00"))
        for obj in record["objects"]:
            tally.detections.append(
                {
                    "key": key,
                    "time": moment,
                    "device": record["device_id"],
                    "label": obj["object"],
                    "confidence": obj["confidence"],
                }
            )
    # Not records: other prefixes, and two broken records the report must count as unreadable.
    put(bucket, "images/image_press-line-1_20200101-000000.jpg", b"\xff\xd8 not read")
    put(bucket, "latest/latest.json", b"{}")
    inside = start + timedelta(days=days // 2, hours=12)
    for n, body in enumerate((b"{not json", json.dumps({"device_id": "press-line-1"}).encode())):
        key = f"json/record_press-line-1_{(inside + timedelta(seconds=n)).strftime('%Y%m%d-%H%M%S')}.json"
        if key in written:
            continue
        put(bucket, key, body)
        tally.malformed_keys.append(key)
    items = generate_verdicts(verdicts, start, days, heatmaps=4 if results_bucket else 0)
    for i in range(0, len(items), 25):  # BatchWriteItem takes at most 25 requests
        batch = [{"PutRequest": {"Item": to_dynamodb(item)}} for item in items[i : i + 25]]
        response = dynamodb.batch_write_item(RequestItems={table: batch})
        while response.get("UnprocessedItems"):
            response = dynamodb.batch_write_item(RequestItems=response["UnprocessedItems"])
    tally.verdicts = items
    if images is not None and results_bucket:
        for item in items:
            if item.get("HeatmapKey"):
                s3.put_object(Bucket=results_bucket, Key=item["HeatmapKey"], Body=images["heatmap"])
    return tally


def photo_png(size=(320, 240)) -> bytes:
    """A real photograph (scikit-image's coffee) as PNG, for thumbnails."""
    from PIL import Image
    from skimage import data

    image = Image.fromarray(data.coffee()).resize(size)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def now_utc() -> datetime:
    return datetime.now(UTC)
