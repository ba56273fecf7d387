"""`.demo/report.html`: one page, a section per flow, pictures embedded as data: URIs (no URLs)."""

from __future__ import annotations

import base64
import html
import io
import json
from dataclasses import asdict, dataclass, fields, is_dataclass
from pathlib import Path
from typing import Any

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; max-width: 1200px; }
section { margin-bottom: 2.5em; } h2 { border-bottom: 1px solid #ccc; }
figure { display: inline-block; width: 180px; margin: 6px; padding: 6px; border: 3px solid #ccc;
         vertical-align: top; font-size: 12px; }
figure.anomaly { border-color: #d33; } figure.normal { border-color: #3a3; }
figure.failed, figure.missing { border-color: #888; background: #f4f4f4; }
figure.edge { width: auto; border-color: #47c; } figure.edge img { max-width: 480px; }
img { max-width: 160px; } .none { height: 90px; line-height: 90px; text-align: center; color: #888; }
table { border-collapse: collapse; } td, th { border: 1px solid #ddd; padding: 3px 8px; text-align: left; }
.ok { color: #3a3; font-weight: bold; } .problem { color: #d33; font-weight: bold; }
pre { background: #f6f6f6; padding: 8px; font-size: 12px; white-space: pre-wrap; }
"""


@dataclass
class Flow:
    """One flow's line in the summary: its name, what it showed, and what went wrong (if anything)."""

    name: str
    headline: str
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def thumbnail(data: bytes, size: tuple[int, int] = (160, 120)) -> str | None:
    from PIL import Image

    try:
        image = Image.open(io.BytesIO(data))
        image.thumbnail(size)
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, format="JPEG", quality=80)
    except Exception:  # bad inputs have no picture
        return None
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()


def _e(value: Any) -> str:
    return html.escape(str(value))


def _table(rows: list[tuple[Any, Any]]) -> str:
    return "<table>" + "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows) + "</table>"


def summary_section(flows: list[Flow], timings: dict[str, float]) -> str:
    lines = []
    for flow in flows:
        state = '<span class="ok">OK</span>' if flow.ok else '<span class="problem">FAILED</span>'
        problems = "".join(f"<br><small>{_e(p)}</small>" for p in flow.problems)
        lines.append(
            f"<tr><th>{_e(flow.name)}</th><td>{state}</td><td>{_e(flow.headline)}{problems}</td></tr>"
        )
    timing = "".join(
        f"<tr><td>{_e(step)}</td><td>{seconds:.1f} s</td></tr>" for step, seconds in timings.items()
    )
    return (
        f"<section><h2>Summary</h2><table>{''.join(lines)}</table>"
        f"<h3>Time per step</h3><table>{timing}</table></section>"
    )


def anomaly_section(
    rows: list[dict[str, Any]],
    ratio: float,
    s3,
    stack_name: str,
    table_name: str,
    results_bucket: str | None = None,
) -> str:
    cells = []
    for r in rows:
        data = r["body"]
        if r.get("heatmap_key") and results_bucket:  # the heatmap overlay the flow stored
            data = s3.get_object(Bucket=results_bucket, Key=r["heatmap_key"])["Body"].read()
        elif data is None and r["frame_ref"]:
            bucket, key = r["frame_ref"]
            data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        thumb = thumbnail(data) if data else None
        picture = f'<img src="{thumb}" alt="">' if thumb else '<div class="none">no image</div>'
        confidence = f"{r['confidence']:.3f}" if r["confidence"] is not None else ""
        cells.append(
            f'<figure class="{r["result"]}">{picture}<figcaption><b>{_e(r["image"])}</b><br>'
            f"{_e(r['result'])} {confidence}<br><small>{_e(r['label'])}: "
            f"{_e(r['detail'])}</small>"
            + (
                f"<br><small>AnomalyBox {_e(r['box'])}, {r['area_percent']:.1f} %</small>"
                if r.get("box") and r.get("area_percent") is not None
                else ""
            )
            + "</figcaption></figure>"
        )
    return (
        f"<section><h2>1. Anomaly verdicts: images and video</h2><p>{len(rows)} results; anomaly ratio "
        f"{ratio:.1%}. Local stack {_e(stack_name)}, results table {_e(table_name)}. Pictures of "
        "judged images are the heatmap overlays the flow stored (heatmaps/ in the results bucket): "
        "red where the model's anomaly map passes its threshold.</p>"
        f"{''.join(cells)}</section>"
    )


def edge_section(edge) -> str:
    if edge is None:
        return '<section><h2>2. Edge camera</h2><p class="problem">not run</p></section>'
    picture = ""
    if edge.annotated_jpeg:
        thumb = thumbnail(edge.annotated_jpeg, (480, 360))
        picture = (
            f'<figure class="edge"><img src="{thumb}" alt="annotated edge frame"><figcaption>'
            f"{_e(edge.first_record['image_key'])}: the annotated frame of the first record"
            "</figcaption></figure>"
        )
    counts = _table([(kind, n) for kind, n in edge.counts.items()])
    facts = _table(
        [
            ("device", edge.device_id),
            (
                "footage",
                f"{edge.video.name}: {edge.frames} frames, {edge.frames_with_detections} with a face",
            ),
            ("loop", f"{edge.fps:.1f} fps (paced to the video), {edge.uploads_queued} uploads queued"),
            ("written", f"{edge.objects_written} objects to {edge.bucket} ({edge.failed} failed)"),
        ]
    )
    record = json.dumps(edge.first_record, indent=1) if edge.first_record else ""
    return (
        "<section><h2>2. Edge camera (visionpipe device run, cascade detector)</h2>"
        f"{facts}<h3>Objects written, per prefix</h3>{counts}{picture}"
        f"<h3>First record</h3><pre>{_e(record)}</pre></section>"
    )


def tweets_section(tweets) -> str:
    if tweets is None:
        return '<section><h2>3. Tweets</h2><p class="problem">not run</p></section>'
    entries = "".join(
        f"<li><code>{_e(t['key'])}</code><br>{_e(t.get('text', ''))}</li>" for t in tweets.dry_run
    )
    statuses = ", ".join(f"{status} {n}" for status, n in sorted(tweets.statuses.items()))
    return (
        "<section><h2>3. Tweets (tweet_detection, dry run)</h2>"
        f"<p>{tweets.records} records; outcomes: {_e(statuses)}. {tweets.suppressed} suppressed by the "
        f"per-device cooldown ({_e(tweets.cooldown_seconds)} s).</p><ul>{entries}</ul></section>"
    )


def review_section(review, report_dir: Path) -> str:
    if review is None:
        return '<section><h2>4. Curation and review</h2><p class="problem">not run</p></section>'
    link = ""
    if review.sheet:
        href = review.sheet.name if review.sheet.parent == report_dir else review.sheet.as_uri()
        link = f'<p>Review sheet: <a href="{_e(href)}">{_e(review.sheet.name)}</a></p>'
    now = {c.candidate_id: c for c in review.now}
    rows = "".join(
        f"<tr><td>{_e(c.candidate_id)}</td><td>{_e(c.status)}</td>"
        f"<td>{_e(now.get(c.candidate_id, c).status)}</td><td>{c.boxes}</td>"
        f"<td>{_e(', '.join(c.classes))}</td><td>{_e(now.get(c.candidate_id, c).reason)}</td></tr>"
        for c in review.candidates
    )
    decision = review.decision
    started = (
        f"started round {decision.round}: {_e(decision.execution_arn)}"
        if decision and decision.started
        else _e(decision.reason if decision else "no decision")
    )
    return (
        "<section><h2>4. Curation and review</h2>"
        "<table><tr><th>candidate</th><th>curator</th><th>status now</th><th>boxes</th><th>classes</th>"
        "<th>reason</th></tr>"
        f"{rows}</table>{link}"
        f"<p>Approved {len(review.approved)} (threshold {review.threshold}): {started}</p>"
        "</section>"
    )


def retraining_section(round_result, base_report) -> str:
    if round_result is None:
        return '<section><h2>5. Retraining</h2><p class="problem">not run</p></section>'
    r = round_result
    facts = _table(
        [
            ("execution", f"{r.execution_arn}: {r.status}"),
            ("states", " > ".join(r.states)),
            ("base dataset", "; ".join(base_report.lines()) if base_report else ""),
            ("training job", f"{r.training_job}: {r.training_status}, {r.training_seconds} s"),
            ("images", f"{r.train_images} train / {r.validation_images} validation ({r.new_candidates} new)"),
            ("validation:mAP", "none" if r.validation_map is None else f"{r.validation_map:.3f}"),
            ("compared with", r.compared_with),
            ("outcome", r.outcome),
            ("model package", r.model_package_arn or "-"),
            ("component", f"{r.component_name} {r.component_version} {r.component_state}".strip() or "-"),
            ("notification", r.notification_subject),
        ]
    )
    return (
        "<section><h2>5. Retraining (Step Functions, local SageMaker and Greengrass engines)</h2>"
        f"{facts}<pre>{_e(r.notification)}</pre></section>"
    )


def rollout_section(before, after) -> str:
    """The camera before the round (the shipped model) and after the rollout (the adopted one)."""
    if after is None:
        return '<section><h2>6. Rollout</h2><p class="problem">not run</p></section>'

    def model(run) -> str:
        if run is None or not run.models:
            return "-"
        last = run.models[-1]
        return f"{last.get('name')} version {last.get('version')} (detector {last.get('detector')})"

    facts = _table(
        [
            ("before the round", f"{model(before)}: {len(before.record_keys) if before else 0} records"),
            ("after the rollout", f"{model(after)}: {len(after.record_keys)} records"),
            ("frames with detections", f"{after.frames_with_detections}/{after.frames}"),
        ]
    )
    return f"<section><h2>6. Rollout (local Greengrass deployment, camera following it)</h2>{facts}</section>"


def stack_report_section(stack_report, report_dir: Path) -> str:
    """The figures `visionpipe report` read back from the stack, and a link to its page."""
    title = "<h2>7. What the stack saw (visionpipe report)</h2>"
    if stack_report is None:
        return f'<section>{title}<p class="problem">not run</p></section>'
    page = stack_report.page
    href = page.relative_to(report_dir).as_posix() if page.is_relative_to(report_dir) else page.as_uri()
    d, v = stack_report.detections, stack_report.verdicts
    facts = _table(
        [
            (
                "window",
                f"{stack_report.figures['window']['since']} -> {stack_report.figures['window']['until']}",
            ),
            (
                "detections",
                f"{d['detections']} in {d['records']} records from {', '.join(d['devices']) or '-'}",
            ),
            ("images judged", f"{v['processed']} ({v['anomalies']} anomalous), {v['failures']} failed"),
            (
                "detect latency",
                f"p50 {v['detect_latency_ms']['p50']} ms, p95 {v['detect_latency_ms']['p95']} ms",
            ),
            ("retraining rounds", len(stack_report.figures["retraining"]["rounds"])),
        ]
    )
    problems = "".join(f'<p class="problem">{_e(p)}</p>' for p in stack_report.problems())
    return (
        f"<section>{title}<p>The stack's data read back by <code>visionpipe report</code>: "
        f'<a href="{_e(href)}">{_e(href)}</a> (charts, confidence, thumbnails, CSV extracts).</p>'
        f"{facts}{problems}</section>"
    )


def write_report(path: Path, sections: list[str]) -> Path:
    page = (
        '<!doctype html>\n<html><head><meta charset="utf-8"><title>visionpipe demo report</title>'
        f"<style>{STYLE}</style></head><body>\n<h1>visionpipe demo</h1>\n"
        + "\n".join(sections)
        + "\n</body></html>\n"
    )
    path.write_text(page)
    return path


def write_summary(path: Path, flows: list[Flow], timings: dict[str, float], results: dict[str, Any]) -> Path:
    """`.demo/summary.json`: the same outcome for scripts and CI (flows, figures, seconds per step)."""
    document = {
        "ok": all(flow.ok for flow in flows),
        "flows": [
            {"name": f.name, "ok": f.ok, "headline": f.headline, "problems": f.problems} for f in flows
        ],
        "seconds": {step: round(seconds, 2) for step, seconds in timings.items()},
        **{name: _figures(result) for name, result in results.items()},
    }
    path.write_text(json.dumps(document, indent=2, default=str))
    return path


SKIPPED = ("uploads", "rows", "annotated_jpeg")  # bodies and pictures: in the HTML report only
DERIVED = ("settled", "ratio", "statuses", "suppressed", "model_package")


def _figures(result: Any) -> Any:
    """A result's fields and derived figures, as plain data."""
    if result is None or isinstance(result, dict):
        return result
    figures = {f.name: _plain(getattr(result, f.name)) for f in fields(result) if f.name not in SKIPPED}
    figures.update({name: getattr(result, name) for name in DERIVED if hasattr(type(result), name)})
    return figures


def _plain(value: Any) -> Any:
    if is_dataclass(value):
        return asdict(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
