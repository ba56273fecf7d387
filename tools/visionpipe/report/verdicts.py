"""Verdict and failure items from the results table, for a time window.

Scan, not Query. A Query needs one partition key value: the table's key is RequestID (a hash of the
upload's identity) and its only index, ImageIndex, is keyed by the image name, so no key condition
selects a time range. The window is a FilterExpression on `Date` (ISO 8601 strings sort as time),
which DynamoDB applies after reading each page: a Scan reads, and is billed for, the whole table
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Scan.html#Scan.FilterExpression),
1 MB per page, so the report scans in parallel segments (Segment/TotalSegments) and projects only
the attributes it uses. For a table far larger than a week of verdicts, a GSI with a day partition
key (e.g. `Day` = 2026-11-21, sort key `Date`) would make the window one Query per day.
"""

from __future__ import annotations

import re
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from queue import Full, Queue
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from visionpipe.report.sources import Window
from visionpipe.report.stats import CappedCounter, QuantileSketch, TopK

ATTRIBUTES = (
    "RequestID",
    "Date",
    "DetectAnomalyResult",
    "Confidence",
    "Image",
    "Status",
    "Reason",
    "Bucket",
    "Key",
    "SourceVideoKey",
    "FrameTime",
    "DetectLatencyMs",
    "LatencyMs",
    "ModelVersion",
    "Backend",
    "HeatmapKey",
    "AnomalyBox",
    "AnomalyAreaPercent",
)
UPLOAD, VIDEO = "upload", "video frame"
_DONE = object()


@dataclass
class ScanStats:
    segments: int = 0
    scan_calls: int = 0
    scanned: int = 0
    matched: int = 0
    consumed_read_units: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def scan_window(
    dynamodb, table: str, window: Window, segments: int, stats: ScanStats, page_size: int | None = None
) -> Iterator[dict]:
    """Items whose Date is in [since, until), from `segments` parallel Scan segments, as they arrive
    (a bounded queue between the scanning threads and the caller keeps memory flat)."""
    deserializer = TypeDeserializer()
    names = {f"#a{i}": name for i, name in enumerate(ATTRIBUTES)}
    date_name = next(alias for alias, name in names.items() if name == "Date")
    request = {
        "TableName": table,
        "ProjectionExpression": ", ".join(names),
        "FilterExpression": f"{date_name} >= :since AND {date_name} < :until",
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": {":since": {"S": window.since_iso}, ":until": {"S": window.until_iso}},
        "ReturnConsumedCapacity": "TOTAL",
    }
    if page_size:  # items evaluated per call (Limit); by default a page ends at 1 MB read
        request["Limit"] = page_size
    stats.segments = segments
    queue: Queue = Queue(maxsize=8)
    stop = threading.Event()

    def hand_over(value: Any) -> None:
        while not stop.is_set():
            try:
                queue.put(value, timeout=0.2)
                return
            except Full:
                continue

    def scan_segment(segment: int) -> None:
        try:
            paginator = dynamodb.get_paginator("scan")
            for page in paginator.paginate(**request, Segment=segment, TotalSegments=segments):
                if stop.is_set():
                    return
                hand_over(page)
        except Exception as exc:  # handed to the consumer, which raises it
            hand_over(exc)
        finally:
            hand_over(_DONE)

    with ThreadPoolExecutor(max_workers=segments, thread_name_prefix="report-scan") as pool:
        for segment in range(segments):
            pool.submit(scan_segment, segment)
        try:
            yield from _drain(queue, segments, stats, deserializer)
        finally:
            stop.set()


def _drain(queue: Queue, segments: int, stats: ScanStats, deserializer: TypeDeserializer) -> Iterator[dict]:
    finished = 0
    while finished < segments:
        page = queue.get()
        if page is _DONE:
            finished += 1
            continue
        if isinstance(page, Exception):
            raise page
        stats.scan_calls += 1
        stats.scanned += page.get("ScannedCount", 0)
        stats.matched += page.get("Count", 0)
        stats.consumed_read_units += (page.get("ConsumedCapacity") or {}).get("CapacityUnits", 0.0)
        for raw in page.get("Items", []):
            yield {name: deserializer.deserialize(value) for name, value in raw.items()}


def source_of(item: dict) -> str:
    return VIDEO if item.get("SourceVideoKey") else UPLOAD


def reason_group(reason: str) -> str:
    """Reasons carry figures (`image is 48000000 pixels, over ...`): group them without the figures."""
    text = re.sub(r"\d+(?:\.\d+)?", "N", reason or "(no reason)")
    text = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", text)
    return text[:140]


def _number(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


@dataclass
class Verdict:
    """What the page keeps of one verdict (top-k thumbnails)."""

    request_id: str
    date: str
    image: str
    bucket: str
    key: str
    source: str
    anomalous: bool
    confidence: float
    heatmap_key: str = ""
    anomaly_box: Any = None
    anomaly_area_percent: float | None = None


@dataclass
class VerdictStats:
    window: Window
    top: int = 8
    processed: int = 0
    anomalies: int = 0
    failures: int = 0
    outside_window: int = 0
    per_day: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    per_source: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    per_source_day: dict[tuple[str, str], Counter] = field(default_factory=lambda: defaultdict(Counter))
    reasons: CappedCounter = field(default_factory=lambda: CappedCounter(40))
    reason_examples: dict[str, str] = field(default_factory=dict)
    detect_latency: QuantileSketch = field(default_factory=QuantileSketch)
    latency: QuantileSketch = field(default_factory=QuantileSketch)
    detect_latency_by_source: dict[str, QuantileSketch] = field(
        default_factory=lambda: defaultdict(QuantileSketch)
    )
    detect_latency_by_day: dict[str, QuantileSketch] = field(
        default_factory=lambda: defaultdict(QuantileSketch)
    )
    models: CappedCounter = field(default_factory=lambda: CappedCounter(50))
    with_heatmap: int = 0

    def __post_init__(self) -> None:
        self.recent_anomalies = TopK(self.top, key=lambda v: (v.date, v.request_id))
        self.confident_anomalies = TopK(self.top, key=lambda v: (v.confidence, v.date))

    def add(self, item: dict, on_item: Callable[[dict], None] | None = None) -> bool:
        date = str(item.get("Date", ""))
        try:
            moment = datetime.fromisoformat(date.replace("Z", "+00:00"))
        except ValueError:
            self.outside_window += 1
            return False
        if not self.window.contains(moment):  # the filter already did this; dates without a zone do not
            self.outside_window += 1
            return False
        day, source = date[:10], source_of(item)
        if item.get("Status") == "FAILED":
            self.failures += 1
            outcome = "failed"
            group = reason_group(str(item.get("Reason", "")))
            self.reasons.add(group)
            self.reason_examples.setdefault(group, str(item.get("Reason", ""))[:300])
        else:
            self.processed += 1
            anomalous = str(item.get("DetectAnomalyResult")) == "True"
            self.anomalies += anomalous
            outcome = "anomalous" if anomalous else "normal"
            for sketch, name in ((self.detect_latency, "DetectLatencyMs"), (self.latency, "LatencyMs")):
                value = _number(item.get(name))
                if value is not None:
                    sketch.add(value)
            detect_ms = _number(item.get("DetectLatencyMs"))
            if detect_ms is not None:
                self.detect_latency_by_source[source].add(detect_ms)
                self.detect_latency_by_day[day].add(detect_ms)
            self.models.add(f"{item.get('Backend', '?')} {item.get('ModelVersion', '')}".strip())
            self.with_heatmap += bool(item.get("HeatmapKey"))
            if anomalous:
                verdict = Verdict(
                    request_id=str(item.get("RequestID", "")),
                    date=date,
                    image=str(item.get("Image", "")),
                    bucket=str(item.get("Bucket", "")),
                    key=str(item.get("Key", "")),
                    source=source,
                    anomalous=True,
                    confidence=_number(item.get("Confidence")) or 0.0,
                    heatmap_key=str(item.get("HeatmapKey") or ""),
                    anomaly_box=_plain(item.get("AnomalyBox")),
                    anomaly_area_percent=_number(item.get("AnomalyAreaPercent")),
                )
                self.recent_anomalies.add(verdict)
                self.confident_anomalies.add(verdict)
        self.per_day[day][outcome] += 1
        self.per_source[source][outcome] += 1
        self.per_source_day[(source, day)][outcome] += 1
        if on_item is not None:
            on_item(item)
        return True

    @staticmethod
    def _ratio(counts: Counter) -> float | None:
        judged = counts["normal"] + counts["anomalous"]
        return round(counts["anomalous"] / judged, 4) if judged else None

    def figures(self) -> dict[str, Any]:
        days = self.window.days()

        def block(counts: Counter) -> dict[str, Any]:
            return {
                "processed": counts["normal"] + counts["anomalous"],
                "anomalies": counts["anomalous"],
                "failures": counts["failed"],
                "anomaly_ratio": self._ratio(counts),
            }

        return {
            "processed": self.processed,
            "anomalies": self.anomalies,
            "failures": self.failures,
            "anomaly_ratio": round(self.anomalies / self.processed, 4) if self.processed else None,
            "per_day": {day: block(self.per_day.get(day, Counter())) for day in days},
            "per_source": {source: block(counts) for source, counts in sorted(self.per_source.items())},
            "per_source_per_day": {
                source: {day: block(self.per_source_day.get((source, day), Counter())) for day in days}
                for source in sorted(self.per_source)
            },
            "failures_by_reason": dict(self.reasons.counts.most_common()),
            "failure_examples": dict(self.reason_examples),
            "detect_latency_ms": self.detect_latency.summary(),
            "latency_ms": self.latency.summary(),
            "detect_latency_ms_per_source": {
                s: k.summary() for s, k in sorted(self.detect_latency_by_source.items())
            },
            "detect_latency_ms_per_day": {
                day: self.detect_latency_by_day[day].summary()
                for day in days
                if day in self.detect_latency_by_day
            },
            "models": dict(self.models.counts.most_common()),
            "with_heatmap": self.with_heatmap,
        }


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value
