"""One report run: read every source with paging, aggregate while streaming, write the outputs.

Outputs in the folder: report.html (self-contained), report.json (the figures), charts/*.png and
CSV extracts (one row per detection and per verdict, streamed to disk as read; aggregated tables).
Files are written under temporary names and renamed at the end, so a page being refreshed by
--watch is never seen half-written.
"""

from __future__ import annotations

import csv
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from visionpipe.report import charts, page
from visionpipe.report.detections import (
    DetectionStats,
    ReadStats,
    Record,
    fetch,
    key_prefix,
    list_keys,
    parse_record,
)
from visionpipe.report.rounds import read_rounds
from visionpipe.report.sources import StackSources, Window, iso
from visionpipe.report.thumbnails import anomaly_thumbnail, detection_thumbnail
from visionpipe.report.verdicts import ScanStats, VerdictStats, scan_window, source_of

DETECTION_COLUMNS = (
    "time_utc",
    "device",
    "label",
    "confidence",
    "xmin",
    "ymin",
    "xmax",
    "ymax",
    "record_key",
    "image_key",
)
VERDICT_COLUMNS = (
    "date",
    "status",
    "anomalous",
    "confidence",
    "source",
    "image",
    "reason",
    "detect_latency_ms",
    "latency_ms",
    "model_version",
    "heatmap_key",
    "bucket",
    "key",
    "request_id",
)


@dataclass
class ReportOptions:
    window: Window
    device: str | None = None
    label: str | None = None
    prefix: str | None = None
    threshold: float = 0.8
    top: int = 6
    workers: int = 16
    segments: int = 4
    scan_page_size: int | None = None
    thumbnails: bool = True
    refresh: int | None = None  # seconds: the page reloads itself (--watch)
    page: bool = True  # False: figures only (report.json and the CSVs), no charts, thumbnails or HTML


@dataclass
class ReportResult:
    figures: dict[str, Any]
    out_dir: Path
    files: list[Path] = field(default_factory=list)

    @property
    def page(self) -> Path:
        return self.out_dir / "report.html"


class _Writer:
    """A CSV written under a temporary name, renamed into place by commit()."""

    def __init__(self, path: Path, columns: tuple[str, ...]):
        self.path = path
        self.partial = path.with_name(path.name + ".partial")
        self.file = self.partial.open("w", newline="")
        self.csv = csv.writer(self.file)
        self.csv.writerow(columns)
        self.rows = 0

    def row(self, values) -> None:
        self.csv.writerow(values)
        self.rows += 1

    def commit(self) -> Path:
        self.file.close()
        os.replace(self.partial, self.path)
        return self.path

    def discard(self) -> None:
        self.file.close()
        self.partial.unlink(missing_ok=True)


def _write(path: Path, data: bytes | str) -> Path:
    partial = path.with_name(path.name + ".partial")
    if isinstance(data, str):
        partial.write_text(data)
    else:
        partial.write_bytes(data)
    os.replace(partial, path)
    return path


def read_detections(
    sources: StackSources, options: ReportOptions, writer: _Writer | None
) -> tuple[DetectionStats, ReadStats]:
    stats = DetectionStats(options.window, options.threshold, options.label, options.top)
    read = ReadStats()
    if not sources.detections_bucket:
        return stats, read
    s3 = sources.client("s3", options.workers)
    prefix = key_prefix(options.prefix, options.device)
    keys = list_keys(s3, sources.detections_bucket, prefix, options.window, options.device, read)

    def on_object(record: Record, obj: dict) -> None:
        box = obj.get("box") if isinstance(obj.get("box"), dict) else {}
        writer.row(
            (
                iso(record.time),
                record.device,
                obj["object"],
                obj["confidence"],
                box.get("xmin", ""),
                box.get("ymin", ""),
                box.get("xmax", ""),
                box.get("ymax", ""),
                record.key,
                record.image_key,
            )
        )

    for key, body, error in fetch(s3, sources.detections_bucket, keys, options.workers, read):
        try:
            if body is None:
                raise ValueError(error)
            record = parse_record(key, body)
        except ValueError as exc:
            read.unreadable += 1
            if len(read.unreadable_examples) < 5:
                read.unreadable_examples.append(f"{key}: {exc}")
            continue
        if options.device and record.device != options.device:
            continue
        stats.add(record, on_object if writer else None)
    return stats, read


def read_verdicts(
    sources: StackSources, options: ReportOptions, writer: _Writer | None
) -> tuple[VerdictStats, ScanStats]:
    stats = VerdictStats(options.window, options.top)
    scan = ScanStats()
    if not sources.results_table:
        return stats, scan
    dynamodb = sources.client("dynamodb", options.segments)

    def on_item(item: dict) -> None:
        writer.row(
            (
                item.get("Date", ""),
                item.get("Status", ""),
                item.get("DetectAnomalyResult", ""),
                item.get("Confidence", ""),
                source_of(item),
                item.get("Image", ""),
                item.get("Reason", ""),
                item.get("DetectLatencyMs", ""),
                item.get("LatencyMs", ""),
                item.get("ModelVersion", ""),
                item.get("HeatmapKey", ""),
                item.get("Bucket", ""),
                item.get("Key", ""),
                item.get("RequestID", ""),
            )
        )

    for item in scan_window(
        dynamodb, sources.results_table, options.window, options.segments, scan, options.scan_page_size
    ):
        stats.add(item, on_item if writer else None)
    return stats, scan


def aggregate(sources: StackSources, options: ReportOptions, out_dir: Path | None = None) -> dict[str, Any]:
    """Read and aggregate; returns the figures and the live aggregates (for charts and thumbnails)."""
    timings: dict[str, float] = {}
    writers = {}
    if out_dir is not None:
        writers = {
            "detections": _Writer(out_dir / "detections.csv", DETECTION_COLUMNS),
            "verdicts": _Writer(out_dir / "verdicts.csv", VERDICT_COLUMNS),
        }
    try:
        started = time.perf_counter()
        detections, read = read_detections(sources, options, writers.get("detections"))
        timings["detections_s"] = round(time.perf_counter() - started, 3)
        started = time.perf_counter()
        verdicts, scan = read_verdicts(sources, options, writers.get("verdicts"))
        timings["verdicts_s"] = round(time.perf_counter() - started, 3)
        started = time.perf_counter()
        rounds, round_calls = (
            read_rounds(sources.client("stepfunctions"), sources.state_machine_arn, options.window)
            if sources.state_machine_arn
            else ([], 0)
        )
        timings["retraining_s"] = round(time.perf_counter() - started, 3)
    except BaseException:
        for writer in writers.values():
            writer.discard()
        raise
    files = [writer.commit() for writer in writers.values()]
    figures = {
        "generated_at": iso(datetime.now(UTC)),
        "window": {
            "since": options.window.since_iso,
            "until": options.window.until_iso,
            "days": options.window.days(),
        },
        "source": {
            "described_as": sources.described_as,
            "endpoint_url": sources.endpoint_url,
            "detections_bucket": sources.detections_bucket,
            "results_table": sources.results_table,
            "state_machine_arn": sources.state_machine_arn,
        },
        "filters": {
            "device": options.device,
            "label": options.label,
            "prefix": key_prefix(options.prefix, options.device),
            "confidence_threshold": options.threshold,
        },
        "detections": detections.figures(),
        "verdicts": verdicts.figures(),
        "retraining": {"rounds": [r.as_dict() for r in rounds]},
        "read": {
            "detections": read.as_dict(),
            "verdicts": scan.as_dict(),
            "retraining": {"list_executions_calls": round_calls, "rounds": len(rounds)},
            "seconds": timings,
        },
    }
    if out_dir is not None:
        figures["read"]["csv_rows"] = {name: w.rows for name, w in writers.items()}
    return {
        "figures": figures,
        "detections": detections,
        "verdicts": verdicts,
        "rounds": rounds,
        "files": files,
    }


def make_charts(figures: dict[str, Any], detections: DetectionStats) -> dict[str, bytes]:
    d, v = figures["detections"], figures["verdicts"]
    days, devices = d["days"], d["devices"]
    per_device_day = {device: detections.day_series(device) for device in devices}
    per_device_hour = {device: detections.hour_series(device) for device in devices}
    threshold = d["confidence"]["threshold"]
    out = {
        "detections_per_day": charts.detections_per_day(
            days, per_device_day, "Detections per day, by device"
        ),
        "detections_per_hour": charts.detections_per_hour(
            per_device_hour, "Detections per hour of day, by device"
        ),
        "devices": charts.device_small_multiples(days, devices, per_device_day, per_device_hour),
        "labels_per_day": charts.labels_per_day(
            days, {lab: detections.day_series(label=lab) for lab in d["labels"]}
        ),
        "confidence_by_device": charts.confidence_boxes(
            {dev: d["per_device"][dev]["confidence"] for dev in devices}, threshold, "Confidence by device"
        ),
        "confidence_by_label": charts.confidence_boxes(
            d["confidence"]["per_label"], threshold, "Confidence by label"
        ),
        "confidence_per_day": charts.confidence_per_day(days, d["confidence"]["per_day"], threshold),
        "confidence_distribution": charts.confidence_distribution(
            {dev: detections.by_device[dev].counts(20) for dev in devices}, threshold
        ),
        "verdicts_per_day": charts.verdicts_per_day(
            days, v["per_day"], "Images judged per day and anomaly ratio"
        ),
        "failures_by_reason": charts.failures_by_reason(v["failures_by_reason"]),
        "detect_latency_per_day": charts.latency_per_day(days, v["detect_latency_ms_per_day"]),
        "retraining_rounds": charts.retraining_rounds(figures["retraining"]["rounds"]),
    }
    for source, per_day in v["per_source_per_day"].items():
        out[f"verdicts_per_day_{source.replace(' ', '_')}"] = charts.verdicts_per_day(
            days, per_day, f"{source.capitalize()}s judged per day and anomaly ratio"
        )
    return out


def make_thumbnails(sources: StackSources, options: ReportOptions, state: dict[str, Any]) -> dict[str, list]:
    """The galleries' pictures, fetched a few at a time (GetObject, then drawn and resized)."""
    if not options.thumbnails:
        return {}
    s3 = sources.client("s3", 8)
    detections: DetectionStats = state["detections"]
    verdicts: VerdictStats = state["verdicts"]
    bucket = sources.detections_bucket or ""
    jobs = {
        "recent_detections": [(detection_thumbnail, (s3, bucket, r)) for r in detections.recent.items()],
        "confident_detections": [
            (detection_thumbnail, (s3, bucket, r, obj)) for r, obj in detections.confident.items()
        ],
        "recent_anomalies": [
            (anomaly_thumbnail, (s3, v, sources.results_bucket)) for v in verdicts.recent_anomalies.items()
        ],
        "confident_anomalies": [
            (anomaly_thumbnail, (s3, v, sources.results_bucket)) for v in verdicts.confident_anomalies.items()
        ],
    }
    with ThreadPoolExecutor(max_workers=8, thread_name_prefix="report-thumb") as pool:
        futures = {name: [pool.submit(f, *a) for f, a in items] for name, items in jobs.items()}
        return {name: [f.result() for f in items] for name, items in futures.items()}


def aggregate_tables(out_dir: Path, figures: dict[str, Any], detections: DetectionStats) -> list[Path]:
    """Small aggregated CSVs (per day/hour/device/label, confidence, verdicts per day, rounds)."""
    d, v = figures["detections"], figures["verdicts"]
    files = []

    def table(name: str, columns: tuple[str, ...], rows) -> None:
        writer = _Writer(out_dir / name, columns)
        for row in rows:
            writer.row(row)
        files.append(writer.commit())

    table(
        "detections_per_day.csv",
        ("day", "device", "label", "detections"),
        sorted((day, dev, lab, n) for (day, dev, lab), n in detections.per_day.items()),
    )
    table(
        "detections_per_hour.csv",
        ("hour_utc", "device", "label", "detections"),
        sorted((hour, dev, lab, n) for (hour, dev, lab), n in detections.per_hour.items()),
    )
    summary_columns = (
        "count",
        "mean",
        "median",
        "p05",
        "p25",
        "p75",
        "p95",
        "min",
        "max",
        "share_at_or_above_threshold",
    )
    groups = [("all", "all", d["confidence"]["all"])]
    groups += [("device", dev, d["per_device"][dev]["confidence"]) for dev in d["devices"]]
    groups += [("label", lab, s) for lab, s in d["confidence"]["per_label"].items()]
    groups += [("day", day, s) for day, s in d["confidence"]["per_day"].items()]
    table(
        "confidence.csv",
        ("group", "name", *summary_columns),
        ((kind, name, *(s[c] for c in summary_columns)) for kind, name, s in groups),
    )
    table(
        "verdicts_per_day.csv",
        ("day", "source", "processed", "anomalies", "failures", "anomaly_ratio"),
        [
            (day, source, b["processed"], b["anomalies"], b["failures"], b["anomaly_ratio"])
            for source, per_day in v["per_source_per_day"].items()
            for day, b in per_day.items()
        ],
    )
    table(
        "retraining_rounds.csv",
        (
            "round",
            "started",
            "outcome",
            "validation_map",
            "compared_with",
            "training_job",
            "component_version",
        ),
        [
            (
                r["round"],
                r["started"],
                r["outcome"],
                r["validation_map"],
                r["compared_with"],
                r["training_job"],
                r["component_version"],
            )
            for r in figures["retraining"]["rounds"]
        ],
    )
    return files


def run_report(sources: StackSources, options: ReportOptions, out_dir: Path) -> ReportResult:
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    state = aggregate(sources, options, out_dir)
    figures = state["figures"]
    files = list(state["files"])
    files += aggregate_tables(out_dir, figures, state["detections"])
    if options.page:
        (out_dir / "charts").mkdir(exist_ok=True)
        step = time.perf_counter()
        pictures = make_charts(figures, state["detections"])
        figures["read"]["seconds"]["charts_s"] = round(time.perf_counter() - step, 3)
        for name, data in pictures.items():
            files.append(_write(out_dir / "charts" / f"{name}.png", data))
        step = time.perf_counter()
        thumbs = make_thumbnails(sources, options, state)
        figures["read"]["seconds"]["thumbnails_s"] = round(time.perf_counter() - step, 3)
    figures["read"]["seconds"]["total_s"] = round(time.perf_counter() - started, 3)
    names = [str(p.relative_to(out_dir)) for p in files] + ["report.json"]
    figures["files"] = sorted(names + (["report.html"] if options.page else []))
    files.append(_write(out_dir / "report.json", json.dumps(figures, indent=2, default=str)))
    if options.page:
        files.append(_write(out_dir / "report.html", page.render(figures, pictures, thumbs, options.refresh)))
    return ReportResult(figures, out_dir, files)
