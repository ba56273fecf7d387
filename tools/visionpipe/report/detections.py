"""Detection records (`json/record_<device>_<YYYYmmdd-HHMMSS>.json`, written by the edge device):
list them page by page, skip by the time in the key before any GetObject, get the rest with a few
threads (a bounded number in flight), and aggregate each record as it arrives."""

from __future__ import annotations

import json
import re
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from visionpipe.report.sources import Window
from visionpipe.report.stats import CappedCounter, ConfidenceHistogram, TopK

RECORD_PREFIX = "json/record_"
KEY_PATTERN = re.compile(r"record_(?P<device>.+)_(?P<stamp>\d{8}-\d{6})\.json$")
KEY_TIME = "%Y%m%d-%H%M%S"
MAX_RECORD_BYTES = 1024 * 1024  # a record is ~1 KB; anything this large is not one
LIST_PAGE_SIZE = 1000  # ListObjectsV2 returns at most 1,000 keys per call (MaxKeys)


@dataclass
class ReadStats:
    """What the read cost: calls made and objects skipped (shown on the page and in --json)."""

    list_calls: int = 0
    listed: int = 0
    outside_window_by_key: int = 0
    other_device_by_key: int = 0
    get_calls: int = 0
    bytes_read: int = 0
    unreadable: int = 0
    unreadable_examples: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Record:
    key: str
    device: str
    time: datetime
    image_key: str
    objects: tuple[dict[str, Any], ...]
    frame: dict[str, Any]
    model: str


def key_prefix(prefix: str | None, device: str | None) -> str:
    """The narrowest listing prefix: the device's own keys when one device is asked for."""
    base = prefix or RECORD_PREFIX
    if device and base == RECORD_PREFIX:
        return f"{RECORD_PREFIX}{device}_"
    return base


def key_facts(key: str) -> tuple[str, datetime] | None:
    """(device, time to the second) from a record key, or None when the key has another shape."""
    match = KEY_PATTERN.search(key)
    if not match:
        return None
    try:
        moment = datetime.strptime(match.group("stamp"), KEY_TIME).replace(tzinfo=UTC)
    except ValueError:
        return None
    return match.group("device"), moment


def list_keys(
    s3, bucket: str, prefix: str, window: Window, device: str | None, stats: ReadStats
) -> Iterator[str]:
    """Keys under the prefix whose key time can fall in the window (ListObjectsV2, 1,000 per page;
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html)."""
    since_second = window.since.replace(microsecond=0)
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=prefix, PaginationConfig={"PageSize": LIST_PAGE_SIZE}
    ):
        stats.list_calls += 1
        for entry in page.get("Contents", []):
            stats.listed += 1
            key = entry["Key"]
            if not key.endswith(".json"):
                continue
            facts = key_facts(key)
            if facts is not None:
                key_device, key_time = facts
                # The key's time is the record's, truncated to the second.
                if key_time < since_second or key_time >= window.until:
                    stats.outside_window_by_key += 1
                    continue
                if device and key_device != device:
                    stats.other_device_by_key += 1
                    continue
            yield key


def fetch(
    s3, bucket: str, keys: Iterable[str], workers: int, stats: ReadStats
) -> Iterator[tuple[str, bytes | None, str]]:
    """(key, body or None, error) for every key; at most 4 x workers GetObject calls in flight, so
    memory stays bounded however many keys the listing yields."""
    lock = threading.Lock()

    def get(key: str) -> tuple[str, bytes | None, str]:
        response = s3.get_object(Bucket=bucket, Key=key)
        if response.get("ContentLength", 0) > MAX_RECORD_BYTES:
            response["Body"].close()
            return key, None, f"{response['ContentLength']} bytes: too large for a record"
        body = response["Body"].read()
        with lock:
            stats.bytes_read += len(body)
        return key, body, ""

    in_flight: set[Future] = set()
    key_iter = iter(keys)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="report-get") as pool:
        exhausted = False
        while True:
            while not exhausted and len(in_flight) < workers * 4:
                key = next(key_iter, None)
                if key is None:
                    exhausted = True
                    break
                stats.get_calls += 1
                in_flight.add(pool.submit(get, key))
            if not in_flight:
                return
            done, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in done:
                yield future.result()


def parse_record(key: str, body: bytes) -> Record:
    """A lenient reading of the record format (visionpipe_edge.records); ValueError says what is wrong."""
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise ValueError("not a JSON object")
    facts = key_facts(key)
    device = document.get("device_id") or (facts[0] if facts else None)
    if not isinstance(device, str) or not device:
        raise ValueError("no device_id")
    moment = _record_time(document, facts)
    objects = document.get("objects")
    if not isinstance(objects, list):
        raise ValueError("no objects list")
    clean = []
    for entry in objects:
        if not isinstance(entry, dict) or not isinstance(entry.get("object"), str):
            raise ValueError("an object without a label")
        confidence = entry.get("confidence")
        if not isinstance(confidence, int | float) or not 0 <= confidence <= 1:
            raise ValueError(f"confidence {confidence!r} is not a number in [0, 1]")
        clean.append(entry)
    model = document.get("model") if isinstance(document.get("model"), dict) else {}
    return Record(
        key=key,
        device=device,
        time=moment,
        image_key=str(document.get("image_key") or ""),
        objects=tuple(clean),
        frame=document.get("frame") if isinstance(document.get("frame"), dict) else {},
        model=f"{model.get('name', '?')} {model.get('version', '')}".strip(),
    )


def _record_time(document: dict, facts: tuple[str, datetime] | None) -> datetime:
    text = document.get("time_utc")
    if isinstance(text, str):
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        except ValueError:
            pass
    stamp = document.get("timestamp")
    if isinstance(stamp, str):
        try:
            return datetime.strptime(stamp, KEY_TIME).replace(tzinfo=UTC)
        except ValueError:
            pass
    if facts:
        return facts[1]
    raise ValueError("no time_utc or timestamp")


class DetectionStats:
    """Everything the page shows about detections, built one record at a time.

    A detection is one object in a record (as in the original notebook); a record is one uploaded
    frame. Sizes: counters per (day, hour, device, label) and histograms per device, label and day,
    bounded by the window and the number of devices and labels, never by the number of records."""

    def __init__(self, window: Window, threshold: float, label: str | None = None, top: int = 8) -> None:
        self.window = window
        self.threshold = threshold
        self.label = label
        self.records = 0
        self.detections = 0
        self.outside_window = 0
        self.per_day: Counter[tuple[str, str, str]] = Counter()  # (day, device, label)
        self.per_hour: Counter[tuple[int, str, str]] = Counter()  # (hour of day, device, label)
        self.records_per_day: Counter[tuple[str, str]] = Counter()  # (day, device)
        self.confidence = ConfidenceHistogram()
        self.by_device: dict[str, ConfidenceHistogram] = defaultdict(ConfidenceHistogram)
        self.by_label: dict[str, ConfidenceHistogram] = defaultdict(ConfidenceHistogram)
        self.by_day: dict[str, ConfidenceHistogram] = defaultdict(ConfidenceHistogram)
        self.device_day_sum: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0.0, 0])
        self.first_seen: dict[str, datetime] = {}
        self.last_seen: dict[str, datetime] = {}
        self.models = CappedCounter(50)
        self.recent = TopK(top, key=lambda r: (r.time, r.key))
        self.confident = TopK(top, key=lambda item: (item[1]["confidence"], item[0].time))

    def add(self, record: Record, on_object: Callable[[Record, dict], None] | None = None) -> bool:
        """Count the record if it is in the window (and has the label asked for); True if counted."""
        if not self.window.contains(record.time):
            self.outside_window += 1
            return False
        objects = [o for o in record.objects if self.label is None or o["object"] == self.label]
        if self.label is not None and not objects:
            return False
        day = record.time.strftime("%Y-%m-%d")
        device = record.device
        self.records += 1
        self.records_per_day[(day, device)] += 1
        self.first_seen[device] = min(self.first_seen.get(device, record.time), record.time)
        self.last_seen[device] = max(self.last_seen.get(device, record.time), record.time)
        self.models.add(record.model)
        self.recent.add(record)
        totals = self.device_day_sum[(device, day)]
        for obj in objects:
            label, confidence = obj["object"], float(obj["confidence"])
            self.detections += 1
            self.per_day[(day, device, label)] += 1
            self.per_hour[(record.time.hour, device, label)] += 1
            for histogram in (
                self.confidence,
                self.by_device[device],
                self.by_label[label],
                self.by_day[day],
            ):
                histogram.add(confidence)
            totals[0] += 1
            totals[1] += confidence
            totals[2] += confidence >= self.threshold
            self.confident.add((record, obj))
            if on_object is not None:
                on_object(record, obj)
        return True

    # ------------------------------------------------------------------------------- figures
    @property
    def devices(self) -> list[str]:
        totals: Counter[str] = Counter({device: 0 for _, device in self.records_per_day})
        for (_, device, _), n in self.per_day.items():
            totals[device] += n
        return [d for d, _ in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))]

    @property
    def labels(self) -> list[str]:
        totals = Counter()
        for (_, _, label), n in self.per_day.items():
            totals[label] += n
        return [label for label, _ in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))]

    def day_series(self, device: str | None = None, label: str | None = None) -> list[int]:
        days = self.window.days()
        index = {day: i for i, day in enumerate(days)}
        out = [0] * len(days)
        for (day, d, lab), n in self.per_day.items():
            if (device is None or d == device) and (label is None or lab == label) and day in index:
                out[index[day]] += n
        return out

    def hour_series(self, device: str | None = None, label: str | None = None) -> list[int]:
        out = [0] * 24
        for (hour, d, lab), n in self.per_hour.items():
            if (device is None or d == device) and (label is None or lab == label):
                out[hour] += n
        return out

    def figures(self) -> dict[str, Any]:
        days = self.window.days()
        devices, labels = self.devices, self.labels
        per_device = {}
        for device in devices:
            per_device[device] = {
                "records": sum(n for (_, d), n in self.records_per_day.items() if d == device),
                "detections": sum(self.day_series(device)),
                "per_day": dict(zip(days, self.day_series(device), strict=True)),
                "per_hour": self.hour_series(device),
                "per_label": {lab: sum(self.day_series(device, lab)) for lab in labels},
                "first_seen": _iso(self.first_seen.get(device)),
                "last_seen": _iso(self.last_seen.get(device)),
                "confidence": self.by_device[device].summary(self.threshold),
                "mean_confidence_per_day": {
                    day: round(
                        self.device_day_sum[(device, day)][1] / self.device_day_sum[(device, day)][0], 4
                    )
                    for day in days
                    if self.device_day_sum.get((device, day), (0,))[0]
                },
            }
        return {
            "records": self.records,
            "detections": self.detections,
            "devices": devices,
            "labels": labels,
            "days": days,
            "per_day": dict(zip(days, self.day_series(), strict=True)),
            "per_hour": self.hour_series(),
            "per_label": {lab: sum(self.day_series(label=lab)) for lab in labels},
            "per_label_per_day": {
                lab: dict(zip(days, self.day_series(label=lab), strict=True)) for lab in labels
            },
            "per_device": per_device,
            "records_per_day": {
                day: sum(n for (d, _), n in self.records_per_day.items() if d == day) for day in days
            },
            "confidence": {
                "threshold": self.threshold,
                "all": self.confidence.summary(self.threshold),
                "per_label": {lab: self.by_label[lab].summary(self.threshold) for lab in labels},
                "per_day": {
                    day: self.by_day[day].summary(self.threshold) for day in days if day in self.by_day
                },
            },
            "models": dict(self.models.counts.most_common()),
            "outside_window_by_body": self.outside_window,
        }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")
