"""`visionpipe demo` (what `make demo` runs): the whole story locally, in one command.

Sample data -> a trained anomaly model (metrics printed) -> the local stack in-process -> a video,
a batch of normal and anomalous images and a few bad inputs uploaded -> every upload accounted
for (a verdict or a failure item) -> a table of verdicts, the anomaly ratio and .demo/report.html.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import html
import io
import json
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from visionpipe.template import REPO_ROOT

DEMO_DIR = REPO_ROOT / ".demo"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run every flow locally: data, model, local stack, uploads, verdicts, HTML report",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument("--dir", default=str(DEMO_DIR), help="working folder (default .demo/)")
    parser.add_argument("--normal", type=int, default=16, help="normal images to upload (default 16)")
    parser.add_argument("--anomalous", type=int, default=8, help="anomalous images to upload (default 8)")
    parser.add_argument("--no-video", action="store_true", help="skip the video upload")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for the flows")
    parser.set_defaults(func=run)


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


def run(args: argparse.Namespace) -> int:
    from visionpipe.local import model as local_model

    started = time.perf_counter()
    work = Path(args.dir)
    data_dir, model_dir = work / "data", work / "model"
    say = Printer(sys.stdout)

    say.heading("1. sample data")
    if (data_dir / "manifest.json").exists():
        say(f"using {data_dir} (delete it to regenerate)")
    else:
        local_model.generate_sample_data(data_dir)

    say.heading("2. anomaly model")
    report_file = model_dir / "training-report.txt"
    if local_model.has_model(model_dir) and report_file.exists():
        say(f"using the model trained earlier in {model_dir}:")
        say(report_file.read_text().rstrip())
    else:
        buffer = io.StringIO()
        with contextlib.redirect_stdout(Tee(sys.stdout, buffer)):
            local_model.train_model(data_dir, model_dir)
        report_file.write_text(buffer.getvalue())

    say.heading("3. local stack")
    log_file = work / "local.log"
    with log_file.open("w") as log_stream, contextlib.redirect_stdout(log_stream):
        handler = logging.StreamHandler(log_stream)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        loggers = [logging.getLogger(name) for name in ("visionpipe", "moto")]
        for logger in loggers:
            logger.addHandler(handler)
            logger.setLevel(logging.INFO)
            logger.propagate = False
        try:
            code = _run_flows(args, say, data_dir, model_dir, work, log_file, started)
        finally:
            for logger in loggers:
                logger.removeHandler(handler)
                logger.propagate = True
    return code


def _run_flows(args, say, data_dir: Path, model_dir: Path, work: Path, log_file: Path, started: float) -> int:
    from visionpipe.local.stack import LocalStack

    stack_started = time.perf_counter()
    with LocalStack(port=0, model_dir=model_dir) as stack:
        outputs = stack.outputs()
        say(
            f"moto server at {stack.endpoint_url}; {len(stack.functions)} functions loaded in-process "
            f"({time.perf_counter() - stack_started:.1f} s); handler logs in {log_file}"
        )
        s3 = stack.client("s3")

        say.heading("4. uploads")
        uploads = plan_uploads(args, data_dir, outputs, has_frame_capture=_frame_capture_exists(stack))
        upload_started = time.perf_counter()
        for upload in uploads:
            s3.put_object(Bucket=upload.bucket, Key=upload.key, Body=upload.body)
        counts = {
            label: sum(1 for u in uploads if u.label == label)
            for label in dict.fromkeys(u.label for u in uploads)
        }
        say("uploaded " + ", ".join(f"{n} {label}" for label, n in counts.items()))

        say.heading("5. waiting for the flows")
        accounted = wait_for_results(stack, outputs, uploads, args.timeout)
        elapsed = time.perf_counter() - upload_started
        say(
            f"{sum(1 for u in uploads if u.item or u.capture)} of {len(uploads)} uploads accounted for "
            f"in {elapsed:.1f} s"
        )

        say.heading("6. verdicts")
        rows = result_rows(uploads)
        say(render_table(rows))
        verdicts = [r for r in rows if r["result"] in ("anomaly", "normal")]
        anomalies = sum(1 for r in verdicts if r["result"] == "anomaly")
        ratio = anomalies / len(verdicts) if verdicts else 0.0
        say(f"anomaly ratio: {anomalies}/{len(verdicts)} = {ratio:.1%}")
        say(quality_line(rows))
        report = write_report(work / "report.html", rows, ratio, stack, outputs)
        say(f"report: {report}")
    say(f"done in {time.perf_counter() - started:.1f} s")
    if not accounted:
        say("NOT every upload was accounted for within the timeout: see " + str(log_file))
        return 1
    return 0


def _frame_capture_exists(stack) -> bool:
    """True when a template function takes S3 events from the video bucket."""
    video_bucket = stack.outputs().get("VideoBucketName")
    for function in stack.functions.values():
        for event in function.events.values():
            if event.get("Type") == "S3" and event.get("Properties", {}).get("Bucket") == video_bucket:
                return True
    return False


def plan_uploads(args, data_dir: Path, outputs: dict, has_frame_capture: bool) -> list[Upload]:
    manifest = json.loads((data_dir / "manifest.json").read_text())["files"]
    image_bucket = outputs["ImageBucketName"]
    by_label: dict[str, list[str]] = {"normal": [], "anomalous": []}
    for name, item in sorted(manifest.items()):
        if item["label"] in by_label:
            by_label[item["label"]].append(name)
    uploads = []
    for label, wanted in (("normal", args.normal), ("anomalous", args.anomalous)):
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
    if videos and has_frame_capture and not args.no_video and outputs.get("VideoBucketName"):
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


def _thumbnail(data: bytes) -> str | None:
    from PIL import Image

    try:
        image = Image.open(io.BytesIO(data))
        image.thumbnail((160, 120))
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, format="JPEG", quality=80)
    except Exception:  # bad inputs have no picture
        return None
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()


def write_report(path: Path, rows: list[dict[str, Any]], ratio: float, stack, outputs: dict) -> Path:
    s3 = stack.client("s3")
    cells = []
    for r in rows:
        data = r["body"]
        if data is None and r["frame_ref"]:
            bucket, key = r["frame_ref"]
            data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        thumb = _thumbnail(data) if data else None
        picture = f'<img src="{thumb}" alt="">' if thumb else '<div class="none">no image</div>'
        confidence = f"{r['confidence']:.3f}" if r["confidence"] is not None else ""
        cells.append(
            f'<figure class="{r["result"]}">{picture}<figcaption><b>{html.escape(r["image"])}</b><br>'
            f"{html.escape(r['result'])} {confidence}<br><small>{html.escape(r['label'])}: "
            f"{html.escape(str(r['detail']))}</small></figcaption></figure>"
        )
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>visionpipe demo report</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; }}
figure {{ display: inline-block; width: 180px; margin: 6px; padding: 6px; border: 3px solid #ccc;
          vertical-align: top; font-size: 12px; }}
figure.anomaly {{ border-color: #d33; }} figure.normal {{ border-color: #3a3; }}
figure.failed, figure.missing {{ border-color: #888; background: #f4f4f4; }}
img {{ max-width: 160px; }} .none {{ height: 90px; line-height: 90px; text-align: center; color: #888; }}
</style></head><body>
<h1>visionpipe demo</h1>
<p>{len(rows)} results; anomaly ratio {ratio:.1%}. Local stack {html.escape(stack.pseudo.stack_name)},
results table {html.escape(outputs["ResultsTableName"])}.</p>
{"".join(cells)}
</body></html>
"""
    path.write_text(page)
    return path


class Printer:
    """Writes to the real stdout even while handler output is redirected to the log file."""

    def __init__(self, stream):
        self._stream = stream

    def __call__(self, text: str) -> None:
        print(text, file=self._stream, flush=True)

    def heading(self, text: str) -> None:
        self(f"\n== {text}")


class Tee(io.TextIOBase):
    def __init__(self, *streams):
        self._streams = streams

    def write(self, text: str) -> int:
        for stream in self._streams:
            stream.write(text)
        return len(text)

    def flush(self) -> None:
        for stream in self._streams:
            stream.flush()
