"""report.html: one self-contained page (charts and thumbnails embedded as base64 PNG, inline CSS,
no script, no external resource), readable offline and attachable to an e-mail."""

from __future__ import annotations

import base64
import html
from datetime import datetime
from typing import Any

from visionpipe.report.thumbnails import Thumbnail

STYLE = """
:root { --ink:#1d2433; --muted:#667085; --line:#e4e7ec; --bg:#f7f8fa; --card:#fff; --accent:#4C72B0;
        --bad:#C44E52; --good:#55A868; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink);
       background: var(--bg); margin: 0; }
header { background: #1d2433; color: #fff; padding: 20px 32px 16px; }
header h1 { margin: 0 0 4px; font-size: 22px; } header p { margin: 2px 0; color: #c9d1e1; }
header code { color: #fff; }
nav { background: #fff; border-bottom: 1px solid var(--line); padding: 8px 32px; position: sticky; top: 0;
      z-index: 1; }
nav a { margin-right: 18px; color: var(--accent); text-decoration: none; font-weight: 600; }
main { padding: 16px 32px 48px; max-width: 1280px; }
section { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 16px 20px;
          margin: 18px 0; }
h2 { margin: 0 0 4px; font-size: 18px; } h3 { margin: 18px 0 6px; font-size: 15px; }
.lead { color: var(--muted); margin: 0 0 10px; }
.kpis { display: grid; grid-template-columns: repeat(auto-fill, minmax(175px, 1fr)); gap: 10px;
        margin: 8px 0; }
.kpi { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; }
.kpi .v { font-size: 22px; font-weight: 700; } .kpi .l { color: var(--muted); font-size: 12px; }
.kpi.bad .v { color: var(--bad); } .kpi.good .v { color: var(--good); }
.row-title { font-size: 12px; text-transform: uppercase; letter-spacing: .06em; color: var(--muted);
             margin: 14px 0 0; }
img.chart { max-width: 100%; display: block; margin: 8px 0; }
.two { display: grid; grid-template-columns: 1fr 1fr; gap: 14px; } @media (max-width: 1000px)
{ .two { display: block; } }
table { border-collapse: collapse; margin: 6px 0 10px; font-size: 13px; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 10px; text-align: right; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; } thead th { background: #f2f4f7; }
td.l, th.l { text-align: left; } td.wrap { white-space: normal; text-align: left; }
.gallery { display: flex; flex-wrap: wrap; gap: 10px; }
figure { margin: 0; width: 272px; border: 1px solid var(--line); border-radius: 6px; padding: 6px;
         background: #fff;
         font-size: 12px; }
figure img { display: block; max-width: 260px; max-height: 200px; margin: 0 auto; }
figure.anomaly { border-color: var(--bad); } figure .pair { display: flex; gap: 4px; }
figure .pair img { max-width: 128px; } figure code
{ font-size: 10px; word-break: break-all; color: var(--muted); }
.missing .ph { height: 120px; display: flex; align-items: center; justify-content: center;
               color: var(--muted);
               background: #f2f4f7; }
.empty { color: var(--muted); font-style: italic; } .scroll { overflow-x: auto; }
.muted { color: var(--muted); } .small { font-size: 12px; }
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _num(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return _e(value)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _img(data: bytes, alt: str) -> str:
    return (
        f'<img class="chart" alt="{_e(alt)}" src="data:image/png;base64,{base64.b64encode(data).decode()}">'
    )


def _kpi(value: str, label: str, css: str = "") -> str:
    return f'<div class="kpi {css}"><div class="v">{value}</div><div class="l">{_e(label)}</div></div>'


def _table(headers: list[str], rows: list[list[str]], left: int = 1, wrap: tuple[int, ...] = ()) -> str:
    if not rows:
        return '<p class="empty">nothing in this window</p>'
    head = "".join(f'<th class="{"l" if i < left else ""}">{_e(h)}</th>' for i, h in enumerate(headers))
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="{"wrap" if i in wrap else "l" if i < left else ""}">{c}</td>'
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _when(text: str) -> str:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment.strftime("%a %d %b %Y %H:%M UTC")


def _gallery(thumbs: list[Thumbnail]) -> str:
    if not thumbs:
        return '<p class="empty">nothing in this window</p>'
    cards = []
    for t in thumbs:
        if t.data_uri and t.heatmap_uri:
            picture = (
                f'<div class="pair"><img alt="image" src="{t.data_uri}">'
                f'<img alt="heatmap" src="{t.heatmap_uri}"></div>'
            )
        elif t.data_uri:
            picture = f'<img alt="image" src="{t.data_uri}">'
        else:
            picture = '<div class="ph">image not readable</div>'
        cards.append(
            f'<figure class="{t.css}">{picture}<figcaption>{"<br>".join(t.caption)}</figcaption></figure>'
        )
    return f'<div class="gallery">{"".join(cards)}</div>'


def _confidence_rows(groups: dict[str, dict[str, Any]]) -> list[list[str]]:
    return [
        [
            _e(name),
            _num(s["count"]),
            _num(s["mean"]),
            _num(s["median"]),
            _num(s["p05"]),
            _num(s["p95"]),
            _pct(s["share_at_or_above_threshold"]),
        ]
        for name, s in groups.items()
        if s["count"]
    ]


CONFIDENCE_HEADERS = ["", "detections", "mean", "median", "p05", "p95", "share ≥ threshold"]
DEVICE_HEADERS = [
    "device",
    "records",
    "detections",
    "top label",
    "first seen (UTC)",
    "last seen (UTC)",
    "mean conf.",
    "median",
    "share ≥ threshold",
]
SOURCE_HEADERS = [
    "source",
    "judged",
    "anomalies",
    "anomaly ratio",
    "failures",
    "detect p50 ms",
    "detect p95 ms",
]
ROUND_HEADERS = [
    "round",
    "started (UTC)",
    "outcome",
    "validation mAP",
    "current model's",
    "training job",
    "train / validation images",
    "component version",
    "error",
]


def render(
    figures: dict[str, Any],
    pictures: dict[str, bytes],
    thumbs: dict[str, list[Thumbnail]],
    refresh: int | None = None,
) -> str:
    d, v, r = figures["detections"], figures["verdicts"], figures["retraining"]["rounds"]
    window, source, filters, read = figures["window"], figures["source"], figures["filters"], figures["read"]
    threshold = filters["confidence_threshold"]
    conf = d["confidence"]["all"]
    latency = v["detect_latency_ms"]
    adopted = sum(1 for x in r if x["outcome"] == "adopted")
    chosen = [
        f"device {filters['device']}" if filters["device"] else "",
        f"label {filters['label']}" if filters["label"] else "",
    ]
    filter_text = ", ".join(c for c in chosen if c) or "all devices, all labels"

    header = f"""
<header>
  <h1>What the cameras and the inspection line saw</h1>
  <p><b>{_e(_when(window["since"]))}</b> → <b>{_e(_when(window["until"]))}</b> · {len(window["days"])}
day(s) · {_e(filter_text)}</p>
  <p class="small">Source: {_e(source["described_as"])} · bucket
<code>{_e(source["detections_bucket"] or "–")}</code> ·
  table <code>{_e(source["results_table"] or "–")}</code> ·
  generated {_e(_when(figures["generated_at"]))}</p>
</header>
<nav><a href="#cameras">Cameras</a><a href="#confidence">Confidence</a><a href="#highlights">Highlights</a>
<a href="#inspection">Inspection line</a><a href="#retraining">Retraining</a><a href="#about">About this
report</a></nav>"""

    kpis = f"""
<p class="row-title">Cameras</p><div class="kpis">
{_kpi(_num(d["detections"]), "detections (objects found)")}
{_kpi(_num(d["records"]), "detection records (frames uploaded)")}
{_kpi(_num(len(d["devices"])), "devices reporting")}
{_kpi(_num(len(d["labels"])), "labels seen")}
{_kpi(_num(conf["mean"]), "mean confidence")}
{_kpi(_pct(conf["share_at_or_above_threshold"]), f"at or above {threshold:g} (curation threshold)")}
</div>
<p class="row-title">Inspection line</p><div class="kpis">
{_kpi(_num(v["processed"]), "images judged")}
{_kpi(_num(v["anomalies"]), "anomalies", "bad" if v["anomalies"] else "")}
{_kpi(_pct(v["anomaly_ratio"]), "anomaly ratio")}
{_kpi(_num(v["failures"]), "failed uploads", "bad" if v["failures"] else "")}
{_kpi(f"{_num(latency['p50'], 1)} / {_num(latency['p95'], 1)}", "detect latency p50 / p95 (ms)")}
{_kpi(_num(len(r)), f"retraining rounds ({adopted} adopted)")}
</div>"""

    device_rows = []
    for name in d["devices"]:
        s = d["per_device"][name]
        top_label = max(s["per_label"].items(), key=lambda kv: kv[1])[0] if s["per_label"] else "–"
        device_rows.append(
            [
                _e(name),
                _num(s["records"]),
                _num(s["detections"]),
                _e(top_label),
                _e((s["first_seen"] or "")[:16].replace("T", " ")),
                _e((s["last_seen"] or "")[:16].replace("T", " ")),
                _num(s["confidence"]["mean"]),
                _num(s["confidence"]["median"]),
                _pct(s["confidence"]["share_at_or_above_threshold"]),
            ]
        )
    label_rows = [
        [_e(lab), _num(n), _pct(n / d["detections"] if d["detections"] else None)]
        for lab, n in d["per_label"].items()
    ]
    busiest = max(d["per_day"].items(), key=lambda kv: kv[1]) if d["detections"] else None
    peak_hour = max(range(24), key=lambda h: d["per_hour"][h]) if d["detections"] else None
    cameras_lead = (
        f"{d['detections']:,} detections in {d['records']:,} records from {len(d['devices'])} device(s). "
        f"Busiest day {busiest[0]} ({busiest[1]:,}); "
        f"busiest hour {peak_hour:02d}:00–{peak_hour:02d}:59 UTC."
        if busiest
        else "No detection record in this window."
    )
    cameras = f"""
<section id="cameras"><h2>Cameras: what was detected, when and where</h2>
<p class="lead">{_e(cameras_lead)}</p>
{_img(pictures["detections_per_day"], "detections per day")}
{_img(pictures["detections_per_hour"], "detections per hour")}
<h3>Per device</h3>
{_table(DEVICE_HEADERS, device_rows)}
{_img(pictures["devices"], "per device small multiples")}
<h3>Per label</h3>
{_table(["label", "detections", "share"], label_rows)}
{_img(pictures["labels_per_day"], "labels per day")}
</section>"""

    device_confidence = {n: d["per_device"][n]["confidence"] for n in d["devices"]}
    confidence = f"""
<section id="confidence"><h2>Confidence</h2>
<p class="lead">How sure the detector was. The threshold {threshold:g} is the bar for curating detections into
training data (<code>--threshold</code>); boxes span p25–p75, whiskers p05–p95, ◆ is the mean.
Medians and
quantiles are exact at the records' 4-decimal resolution.</p>
{_img(pictures["confidence_by_device"], "confidence by device")}
{_img(pictures["confidence_by_label"], "confidence by label")}
{_img(pictures["confidence_per_day"], "confidence per day")}
{_img(pictures["confidence_distribution"], "confidence distribution")}
<h3>Confidence report</h3>
<div class="two"><div>
{_table(CONFIDENCE_HEADERS, _confidence_rows({"all devices": conf}))}
{_table(["device", *CONFIDENCE_HEADERS[1:]], _confidence_rows(device_confidence))}
{_table(["label", *CONFIDENCE_HEADERS[1:]], _confidence_rows(d["confidence"]["per_label"]))}
</div><div>
{_table(["day (UTC)", *CONFIDENCE_HEADERS[1:]], _confidence_rows(d["confidence"]["per_day"]))}
</div></div>
</section>"""

    highlights = f"""
<section id="highlights"><h2>Highlights</h2>
<p class="lead">Frames as the cameras saw them, with every box the record holds (the highlighted object in
bold).</p>
<h3>Most recent detections</h3>{_gallery(thumbs.get("recent_detections", []))}
<h3>Most confident detections</h3>{_gallery(thumbs.get("confident_detections", []))}
</section>"""

    source_rows = [
        [
            _e(name),
            _num(b["processed"]),
            _num(b["anomalies"]),
            _pct(b["anomaly_ratio"]),
            _num(b["failures"]),
            _num(v["detect_latency_ms_per_source"].get(name, {}).get("p50"), 1),
            _num(v["detect_latency_ms_per_source"].get(name, {}).get("p95"), 1),
        ]
        for name, b in v["per_source"].items()
    ]
    day_rows = [
        [_e(day), _num(b["processed"]), _num(b["anomalies"]), _pct(b["anomaly_ratio"]), _num(b["failures"])]
        for day, b in v["per_day"].items()
        if b["processed"] or b["failures"]
    ]
    reason_rows = [
        [_e(reason), _num(n), f'<span class="muted small">{_e(v["failure_examples"].get(reason, ""))}</span>']
        for reason, n in v["failures_by_reason"].items()
    ]
    source_charts = "".join(
        _img(data, name) for name, data in pictures.items() if name.startswith("verdicts_per_day_")
    )
    heatmap_note = (
        f"{v['with_heatmap']:,} verdict(s) carry a heatmap (shown beside the image)."
        if v["with_heatmap"]
        else "No verdict in this window carries a heatmap (HeatmapKey); "
        "boxes are drawn where items have AnomalyBox."
    )
    inspection = f"""
<section id="inspection"><h2>Inspection line: anomaly verdicts</h2>
<p class="lead">{v["processed"]:,} images judged, {v["anomalies"]:,} anomalous ({_pct(v["anomaly_ratio"])}),
{v["failures"]:,} uploads failed. Uploads are images put under <code>image_inputs/</code>; video frames
come from videos captured into <code>video_inputs/</code>.</p>
{_img(pictures["verdicts_per_day"], "verdicts per day")}
<h3>Per source</h3>
{_table(SOURCE_HEADERS, source_rows)}
{source_charts}
<h3>Per day</h3>
{_table(["day (UTC)", "judged", "anomalies", "anomaly ratio", "failures"], day_rows)}
<h3>Failures by reason</h3>
{_img(pictures["failures_by_reason"], "failures by reason")}
{_table(["reason (figures as N)", "failures", "example"], reason_rows, wrap=(0, 2))}
<h3>Detector latency</h3>
<p>DetectLatencyMs p50 <b>{_num(latency["p50"], 1)} ms</b>, p95 <b>{_num(latency["p95"], 1)} ms</b>, p99
{_num(latency["p99"], 1)} ms over {latency["count"]:,} verdicts; whole record (LatencyMs: read, decode,
detect)
p50 {_num(v["latency_ms"]["p50"], 1)} ms, p95 {_num(v["latency_ms"]["p95"], 1)} ms (quantiles within
0.5%).</p>
{_img(pictures["detect_latency_per_day"], "detect latency per day")}
<h3>Most recent anomalies</h3><p class="muted
small">{_e(heatmap_note)}</p>{_gallery(thumbs.get("recent_anomalies", []))}
<h3>Most confident anomalies</h3>{_gallery(thumbs.get("confident_anomalies", []))}
</section>"""

    round_rows = [
        [
            _e(x["round"] if x["round"] is not None else x["name"]),
            _e(x["started"][:16].replace("T", " ")),
            _e(x["outcome"]),
            _num(x["validation_map"]),
            _e(x["compared_with"] or "–"),
            _e(x["training_job"] or "–"),
            f"{_num(x['train_images'])} / {_num(x['validation_images'])}",
            _e(x["component_version"] or "–"),
            f'<span class="muted small">{_e(x["error"])}</span>',
        ]
        for x in r
    ]
    retraining = f"""
<section id="retraining"><h2>Retraining</h2>
<p class="lead">Rounds of the retraining state machine started in this window; a round adopts the new model
only when its validation mAP beats the current one.</p>
{_img(pictures["retraining_rounds"], "retraining rounds")}
<div class="scroll">{_table(ROUND_HEADERS, round_rows, wrap=(5, 8))}</div>
</section>"""

    rd, rv = read["detections"], read["verdicts"]
    seconds = ", ".join(f"{k[:-2]} {s:.1f} s" for k, s in read["seconds"].items())
    csv_links = " · ".join(
        f'<a href="{_e(name)}">{_e(name)}</a>' for name in figures.get("files", []) if name.endswith(".csv")
    )
    about = f"""
<section id="about"><h2>About this report</h2>
<table><tbody>
<tr><td>detection records</td><td class="wrap">{rd["list_calls"]:,} ListObjectsV2 page(s), {rd["listed"]:,}
keys listed under
<code>{_e(filters["prefix"])}</code>; {rd["outside_window_by_key"]:,} skipped by the time in their key,
{rd["other_device_by_key"]:,} by device;
{rd["get_calls"]:,} GetObject ({rd["bytes_read"]:,} bytes); {rd["unreadable"]:,} unreadable</td></tr>
<tr><td>verdict items</td><td class="wrap">Scan in {rv["segments"]} parallel segment(s), {rv["scan_calls"]:,}
page(s): {rv["scanned"]:,} items read,
{rv["matched"]:,} in the window (filter on Date; the table has no time-keyed index)</td></tr>
<tr><td>retraining</td><td class="wrap">{read["retraining"]["list_executions_calls"]} ListExecutions page(s),
{read["retraining"]["rounds"]} round(s) described</td></tr>
<tr><td>time</td><td class="wrap">{_e(seconds)}</td></tr>
<tr><td>extracts</td><td class="wrap">{csv_links} · <a href="report.json">report.json</a> · charts in
<code>charts/</code></td></tr>
</tbody></table>
{"".join(f'<p class="muted small">unreadable: {_e(x)}</p>' for x in rd["unreadable_examples"])}
<p class="muted small">Regenerate: <code>visionpipe report --since {_e(window["since"])} --until
{_e(window["until"])}</code>
(add <code>--json</code> for the figures, <code>--watch 30</code> to refresh).</p>
</section>"""

    meta_refresh = f'<meta http-equiv="refresh" content="{int(refresh)}">' if refresh else ""
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"{meta_refresh}<title>visionpipe report {_e(window['since'][:10])} → "
        f"{_e(window['until'][:10])}</title>"
        f"<style>{STYLE}</style></head><body>{header}<main>{kpis}{cameras}{confidence}{highlights}"
        f"{inspection}{retraining}{about}</main></body></html>\n"
    )
