"""Anomaly model budgets: inference per image on one core, model file size, training time.

    .venv/bin/python benchmarks/bench_anomaly_model.py [--train-images 200] [--repeats 60]

1. Training: `train-anomaly --method patchcore` on N generated normal images (sample-data, cached in
   .bench/anomaly), wall clock and process CPU (budget: 200 images <= 60 s on this machine's 2 cores).
2. Model file size (budget <= 20 MB).
3. Inference at 256 x 256 in onnxruntime with one intra-op thread (one core): the served graph
   (backbone + memory bank + nearest neighbour) p50/p95, and the bare backbone measured alongside
   in the same run as the anchor (what any pretrained-feature model pays), with the ratio; the
   budget is <= 10 ms per image. The padim-pca model is measured too, for comparison.
4. Cold start of the detect path: onnxruntime session creation + metadata + first image.
Figures are printed, never asserted: the machine is shared, so read them with the anchor.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / ".bench" / "anomaly"


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def one_core_session(model_bytes: bytes):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])


def interleaved(runs: dict, repeats: int) -> dict[str, list[float]]:
    """name -> (session, feed); runs them in turn, so a shared machine's load hits every one alike."""
    for session, feed in runs.values():
        for _ in range(3):
            session.run(None, feed)
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, (session, feed) in runs.items():
            start = time.perf_counter()
            session.run(None, feed)
            times[name].append((time.perf_counter() - start) * 1000.0)
    return times


def p(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-images", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=60)
    parser.add_argument(
        "--quick", action="store_true", help="60 training images, 20 repeats (make bench QUICK=1)"
    )
    args = parser.parse_args()
    if args.quick:
        args.train_images, args.repeats = 60, 20

    from visionpipe.anomaly_model import backbone
    from visionpipe.cli import main as cli
    from visionpipe_common.detectors.onnx_model import ModelMetadata, OnnxModel, preprocess

    data = WORK / f"data-{args.train_images}"
    if not (data / "manifest.json").exists():
        with contextlib.redirect_stdout(io.StringIO()):
            cli(
                [
                    "sample-data",
                    str(data),
                    "--normal",
                    str(args.train_images),
                    "--anomalous",
                    "0",
                    "--no-video",
                ]
            )

    results = {}
    for method in ("patchcore", "padim-pca"):
        model_dir = WORK / f"model-{method}"
        wall, cpu = time.perf_counter(), cpu_s()
        with contextlib.redirect_stdout(io.StringIO()):
            code = cli(
                [
                    "train-anomaly",
                    str(data / "normal"),
                    "--out",
                    str(model_dir),
                    "--method",
                    method,
                    "--quiet",
                ]
            )
        if code:
            print(f"train-anomaly {method} failed", file=sys.stderr)
            return 1
        results[method] = {
            "train_wall_s": time.perf_counter() - wall,
            "train_cpu_s": cpu_s() - cpu,
            "size_mb": (model_dir / "model.onnx").stat().st_size / 1e6,
            "dir": model_dir,
        }

    image_path = sorted((data / "normal").iterdir())[0]
    from PIL import Image

    with Image.open(image_path) as opened:
        image = opened.convert("RGB")
    bb = backbone.load()
    anchor_input = np.ascontiguousarray(
        ((np.asarray(image.resize((256, 256)), np.float32) - 127.0) / 128.0).transpose(2, 0, 1)[None]
    )
    runs = {"anchor": (one_core_session(bb.path.read_bytes()), {bb.input_name: anchor_input})}
    for method, row in results.items():
        meta = ModelMetadata.from_json((row["dir"] / "metadata.json").read_text())
        model_bytes = (row["dir"] / "model.onnx").read_bytes()
        cold = time.perf_counter()  # what a new container pays: session, then the first image
        OnnxModel(model_bytes, meta).judge(image)
        row["cold_ms"] = (time.perf_counter() - cold) * 1000.0
        session = one_core_session(model_bytes)
        runs[method] = (session, {session.get_inputs()[0].name: preprocess(image, meta)})
        row["input"] = f"{meta.input_width}x{meta.input_height}"
    times = interleaved(runs, args.repeats)
    anchor = times.pop("anchor")
    for method, values in times.items():
        results[method]["infer"] = values

    print(
        f"anchor: bare backbone ({bb.name}) 256x256, one core, interleaved with the models: "
        f"p50 {p(anchor, 50):.1f} ms, p95 {p(anchor, 95):.1f} ms"
    )
    for method, row in results.items():
        p50, p95 = p(row["infer"], 50), p(row["infer"], 95)
        print(
            f"{method}: inference {row['input']} one core p50 {p50:.1f} ms, p95 {p95:.1f} ms "
            f"(x{p50 / p(anchor, 50):.2f} the backbone; budget 10 ms); model file {row['size_mb']:.1f} MB "
            f"(budget 20 MB); training on {args.train_images} images {row['train_wall_s']:.1f} s wall, "
            f"{row['train_cpu_s']:.1f} s process CPU (budget 60 s); cold start (session + first image) "
            f"{row['cold_ms']:.0f} ms"
        )
    summary = {
        "anchor_backbone_ms": {"p50": p(anchor, 50), "p95": p(anchor, 95)},
        **{
            m: {
                "p50_ms": p(r["infer"], 50),
                "p95_ms": p(r["infer"], 95),
                "ratio_to_backbone": p(r["infer"], 50) / p(anchor, 50),
                "size_mb": r["size_mb"],
                "train_wall_s": r["train_wall_s"],
                "train_cpu_s": r["train_cpu_s"],
                "cold_ms": r["cold_ms"],
            }
            for m, r in results.items()
        },
    }
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
