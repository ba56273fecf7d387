"""`visionpipe evaluate MODEL_DIR DATA_DIR`: a model folder against labelled folders, as the product judges.

DATA_DIR holds normal/ and anomalous/ (searched recursively); an anomalous file named `<kind>_NNN.*`
counts towards that kind's recall. Every image goes through visionpipe_common's decoding
(anomaly.images.decode_image) and onnx model class (detectors.onnx_model.OnnxModel), the code the
detect_anomaly function runs, so the figures are the deployed model's.
"""

from __future__ import annotations

import argparse
import base64
import html
import io
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="measure a model folder on labelled images (AUROC, precision/recall/F1, FPR, per kind)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model_dir", help="folder with model.onnx and metadata.json")
    parser.add_argument("data_dir", help="folder with normal/ and anomalous/ images")
    parser.add_argument("--json", metavar="FILE", help="write every image's score and verdict as JSON")
    parser.add_argument("--html", metavar="FILE", help="write a page with thumbnails, heatmaps, ROC curve")
    parser.add_argument(
        "--max-image-pixels", type=int, default=40_000_000, help="decoder's pixel limit (as deployed)"
    )
    parser.set_defaults(func=run)


@dataclass
class Judged:
    path: str
    label: str  # normal | anomalous
    kind: str
    score: float | None
    anomalous: bool | None
    confidence: float | None
    ms: float
    box: list[int] | None = None
    area_percent: float | None = None
    rejected: str | None = None


def _kind(path: Path, label: str) -> str:
    if label == "normal":
        return "normal"
    stem = path.stem
    return stem.rsplit("_", 1)[0] if "_" in stem else "anomalous"


def judge_folder(model_dir: Path, data_dir: Path, max_pixels: int, keep_maps: bool = False):
    from visionpipe.anomaly_model.dataset import list_images
    from visionpipe_common.anomaly import heatmap
    from visionpipe_common.anomaly.images import decode_image
    from visionpipe_common.detectors.onnx_model import ModelMetadata, OnnxModel, verdict_of
    from visionpipe_common.errors import RejectedInput

    meta = ModelMetadata.from_json((model_dir / "metadata.json").read_text())
    model = OnnxModel((model_dir / "model.onnx").read_bytes(), meta)
    results: list[Judged] = []
    maps: dict[str, tuple] = {}
    for label in ("normal", "anomalous"):
        folder = data_dir / label
        if not folder.is_dir():
            raise FileNotFoundError(f"no {label}/ folder in {data_dir}")
        for path in list_images(folder):
            data = path.read_bytes()
            start = time.perf_counter()
            try:
                decoded = decode_image(data, path.name, max_pixels)
                score, amap = model.score_and_map(decoded.pixels)
            except RejectedInput as exc:
                ms = (time.perf_counter() - start) * 1000.0
                results.append(
                    Judged(str(path), label, _kind(path, label), None, None, None, ms, rejected=str(exc))
                )
                continue
            verdict = verdict_of(score, meta)
            ms = (time.perf_counter() - start) * 1000.0
            item = Judged(
                str(path), label, _kind(path, label), score, verdict.is_anomalous, verdict.confidence, ms
            )
            if amap is not None:
                found = heatmap.region(amap, meta.threshold, decoded.width, decoded.height)
                item.box = list(found.box) if found.box else None
                item.area_percent = found.area_percent
                if keep_maps:
                    maps[item.path] = (decoded.pixels, amap)
            results.append(item)
    return meta, results, maps


def summarize(meta, results: list[Judged]) -> dict:
    from visionpipe.anomaly_model import metrics

    judged = [r for r in results if r.score is not None]
    normal = np.array([r.score for r in judged if r.label == "normal"])
    anomalous = np.array([r.score for r in judged if r.label == "anomalous"])
    confusion = metrics.confusion_at(normal, anomalous, meta.threshold)
    kinds: dict[str, list[bool]] = {}
    for r in judged:
        if r.label == "anomalous":
            kinds.setdefault(r.kind, []).append(bool(r.anomalous))
    times = np.array([r.ms for r in judged]) if judged else np.array([0.0])
    return {
        "model_version": meta.model_version,
        "threshold": meta.threshold,
        "normal_images": int(normal.size),
        "anomalous_images": int(anomalous.size),
        "rejected": [{"path": r.path, "reason": r.rejected} for r in results if r.rejected],
        "auroc": metrics.auroc(normal, anomalous) if normal.size and anomalous.size else None,
        **confusion.as_dict(),
        "recall_by_kind": {k: float(np.mean(v)) for k, v in sorted(kinds.items())},
        "ms_per_image_p50": float(np.percentile(times, 50)),
        "ms_per_image_p95": float(np.percentile(times, 95)),
    }


def roc_points(normal: np.ndarray, anomalous: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    thresholds = np.unique(np.concatenate([normal, anomalous, [np.inf]]))[::-1]
    fpr = np.array([(normal >= t).mean() for t in thresholds])
    tpr = np.array([(anomalous >= t).mean() for t in thresholds])
    return fpr, tpr


def _png_data_uri(image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _roc_uri(meta, results: list[Judged], summary: dict) -> str:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    normal = np.array([r.score for r in results if r.score is not None and r.label == "normal"])
    anomalous = np.array([r.score for r in results if r.score is not None and r.label == "anomalous"])
    fig, ax = plt.subplots(figsize=(4, 4), dpi=100)
    if normal.size and anomalous.size:
        fpr, tpr = roc_points(normal, anomalous)
        ax.plot(fpr, tpr, lw=2, label=f"AUROC {summary['auroc']:.3f}")
        ax.plot(
            [summary["false_positive_rate"]], [summary["recall"]], "o", color="red", label="model's threshold"
        )
    ax.plot([0, 1], [0, 1], "--", color="grey", lw=1)
    ax.set_xlabel("false-positive rate")
    ax.set_ylabel("recall (true-positive rate)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def write_html(path: Path, meta, results: list[Judged], maps: dict, summary: dict) -> None:
    from PIL import Image, ImageDraw

    from visionpipe_common.anomaly import heatmap

    cards = []
    for r in sorted(results, key=lambda r: (r.label, -(r.score or 0.0))):
        if r.path in maps:
            image, amap = maps[r.path]
            shown = heatmap.overlay(image, amap, meta.threshold, max_side=192)
            if r.box:
                draw = ImageDraw.Draw(shown)
                fx, fy = shown.width / image.width, shown.height / image.height
                x0, y0, x1, y1 = r.box
                draw.rectangle([x0 * fx, y0 * fy, x1 * fx - 1, y1 * fy - 1], outline=(255, 255, 255), width=2)
        elif r.rejected is None:
            with Image.open(r.path) as opened:
                shown = opened.convert("RGB")
                shown.thumbnail((192, 192))
        else:
            shown = None
        ok = r.anomalous == (r.label == "anomalous")
        verdict = "rejected" if r.rejected else ("ANOMALOUS" if r.anomalous else "normal")
        cards.append(
            f'<figure class="{"ok" if ok else "wrong"}">'
            + (f'<img src="{_png_data_uri(shown)}" alt="">' if shown is not None else "")
            + f"<figcaption>{html.escape(Path(r.path).name)}<br>{html.escape(r.kind)}: <b>{verdict}</b>"
            + (f" {r.score:.2f}" if r.score is not None else f" ({html.escape(r.rejected or '')})")
            + (f"<br>box {r.box}, {r.area_percent:.1f} %" if r.box else "")
            + "</figcaption></figure>"
        )
    per_kind = ", ".join(f"{k} {v:.2f}" for k, v in summary["recall_by_kind"].items())
    auroc = "n/a" if summary["auroc"] is None else f"{summary['auroc']:.4f}"
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>visionpipe evaluate</title>
<style>body{{font-family:sans-serif;margin:1.5em}} figure{{display:inline-block;margin:4px;width:200px;
font-size:12px;vertical-align:top}} figure img{{width:192px}} .wrong{{outline:3px solid #d22}}
.ok{{outline:1px solid #ccc}} table td{{padding:2px 10px}}</style></head><body>
<h1>Model {html.escape(meta.model_version)}</h1>
<table><tr><td>AUROC</td><td>{auroc}</td></tr>
<tr><td>threshold</td><td>{meta.threshold:.3f}</td></tr>
<tr><td>precision / recall / F1</td><td>{summary["precision"]:.3f} / {summary["recall"]:.3f} /
{summary["f1"]:.3f}</td></tr>
<tr><td>false-positive rate</td><td>{summary["false_positive_rate"]:.3f}</td></tr>
<tr><td>recall by kind</td><td>{html.escape(per_kind)}</td></tr>
<tr><td>time per image (decode + model)</td><td>p50 {summary["ms_per_image_p50"]:.1f} ms,
p95 {summary["ms_per_image_p95"]:.1f} ms</td></tr></table>
<img src="{_roc_uri(meta, results, summary)}" alt="ROC curve">
<p>Red outline: wrong verdict. White box: the above-threshold region (AnomalyBox).</p>
{"".join(cards)}</body></html>"""
    path.write_text(page)


def run(args: argparse.Namespace) -> int:
    model_dir, data_dir = Path(args.model_dir), Path(args.data_dir)
    try:
        meta, results, maps = judge_folder(
            model_dir, data_dir, args.max_image_pixels, keep_maps=bool(args.html)
        )
    except (FileNotFoundError, ValueError) as exc:
        print(f"evaluate: {exc}", file=sys.stderr)
        return 2
    summary = summarize(meta, results)
    print(
        f"model {meta.model_version}: {summary['normal_images']} normal, {summary['anomalous_images']} "
        f"anomalous images, threshold {meta.threshold:.3f}"
    )
    for rejected in summary["rejected"]:
        print(f"rejected {rejected['path']}: {rejected['reason']}")
    print("AUROC " + ("n/a" if summary["auroc"] is None else f"{summary['auroc']:.4f}"))
    print(
        f"at the threshold: precision {summary['precision']:.3f}  recall {summary['recall']:.3f}  "
        f"F1 {summary['f1']:.3f}  false-positive rate {summary['false_positive_rate']:.3f}  "
        f"(TP {summary['true_positives']} FP {summary['false_positives']} "
        f"TN {summary['true_negatives']} FN {summary['false_negatives']})"
    )
    if summary["recall_by_kind"]:
        print("recall by kind: " + ", ".join(f"{k} {v:.2f}" for k, v in summary["recall_by_kind"].items()))
    print(
        f"time per image (decode + onnx, one process): p50 {summary['ms_per_image_p50']:.1f} ms, "
        f"p95 {summary['ms_per_image_p95']:.1f} ms"
    )
    if args.json:
        Path(args.json).write_text(
            json.dumps({"summary": summary, "images": [asdict(r) for r in results]}, indent=2) + "\n"
        )
        print(f"wrote {args.json}")
    if args.html:
        write_html(Path(args.html), meta, results, maps, summary)
        print(f"wrote {args.html}")
    return 0
