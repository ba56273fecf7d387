"""`visionpipe anomaly-quality`: the per-texture figures of the README's quality section, reproduced.

For every development texture (crops of scikit-image's real photographs, defects drawn on them, mild
normal variation on every image: see visionpipe.anomaly_model.devset) and for the generator
(`visionpipe sample-data`): build the set, run `visionpipe train-anomaly` on its normal images, then
`visionpipe evaluate` on held-out normal and anomalous images it never saw. Reported at the model's
own threshold: AUROC, recall, false-positive rate on the visible defects (scratch, crack, stain, hole;
the generator's kinds), recall per defect kind, and, apart, AUROC and recall on the subtle (faint)
defects, with the full training set and with 20 training images. scikit-image's brick, gravel and
grass are never used.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import shutil
import sys
import time
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    from visionpipe.anomaly_model.devset import TEXTURES

    parser = subparsers.add_parser(
        "anomaly-quality",
        help="reproduce the anomaly model's per-texture quality figures (real photographs + generator)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--work", default=".quality", help="folder for the sets and models (default .quality)"
    )
    parser.add_argument(
        "--textures",
        nargs="+",
        default=[*TEXTURES, "generator"],
        choices=[*TEXTURES, "generator"],
        help="which textures (default: all)",
    )
    parser.add_argument("--train", type=int, default=60, help="normal images given to training (default 60)")
    parser.add_argument(
        "--small", type=int, default=20, help="also train on only this many (default 20; 0 = skip)"
    )
    parser.add_argument("--method", default="patchcore", choices=("patchcore", "padim-pca"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", metavar="FILE", help="write every figure as JSON")
    parser.set_defaults(func=run)


def _build(work: Path, texture: str, train: int, seed: int) -> Path:
    from visionpipe.anomaly_model import devset
    from visionpipe.cli import main

    root = work / "sets" / texture
    if (root / "test" / "anomalous").is_dir():
        return root
    if texture != "generator":
        return devset.build(work / "sets", texture, train=train, seed=seed)
    raw = work / "sets" / "generator-raw"
    with contextlib.redirect_stdout(io.StringIO()):
        code = main(["sample-data", str(raw), "--normal", str(train + 60), "--anomalous", "60", "--no-video"])
    if code:
        raise RuntimeError("sample-data failed")
    normals = sorted((raw / "normal").iterdir())
    (root / "train").mkdir(parents=True)
    (root / "test" / "normal").mkdir(parents=True)
    for path in normals[:train]:
        shutil.copy(path, root / "train" / path.name)
    for path in normals[train:]:
        shutil.copy(path, root / "test" / "normal" / path.name)
    shutil.copytree(raw / "anomalous", root / "test" / "anomalous")
    return root


def _subset(root: Path, count: int) -> Path:
    folder = root / f"train_{count}"
    if not folder.is_dir():
        folder.mkdir()
        for path in sorted((root / "train").iterdir())[:count]:
            shutil.copy(path, folder / path.name)
    return folder


def _measure(root: Path, train_dir: Path, model_dir: Path, method: str, seed: int) -> dict:
    from visionpipe.cli import main
    from visionpipe.commands.evaluate import judge_folder, summarize

    started = time.perf_counter()
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(["train-anomaly", str(train_dir), "--out", str(model_dir), "--method", method,
                     "--seed", str(seed), "--quiet"])  # fmt: skip
    if code:
        raise RuntimeError(f"train-anomaly failed on {train_dir}")
    train_s = time.perf_counter() - started
    meta, results, _ = judge_folder(model_dir, root / "test", 40_000_000)
    # The headline figures are on visible defects; faint ones are a harder question, reported apart.
    visible = summarize(meta, [r for r in results if r.kind != "subtle"])
    subtle = [r for r in results if r.kind in ("normal", "subtle")]
    subtle_summary = summarize(meta, subtle) if any(r.kind == "subtle" for r in subtle) else None
    return {
        "train_images": len(list(train_dir.iterdir())),
        "train_s": round(train_s, 1),
        "calibration": meta.extra.get("calibration"),
        "auroc": visible["auroc"],
        "recall": visible["recall"],
        "false_positive_rate": visible["false_positive_rate"],
        "recall_by_kind": visible["recall_by_kind"],
        "subtle_auroc": subtle_summary["auroc"] if subtle_summary else None,
        "subtle_recall": subtle_summary["recall"] if subtle_summary else None,
        "test_normal": visible["normal_images"],
        "test_anomalous": visible["anomalous_images"],
        "test_subtle": subtle_summary["anomalous_images"] if subtle_summary else 0,
    }


def run(args: argparse.Namespace) -> int:
    work = Path(args.work)
    rows = []
    print(
        f"{'texture':10s} {'train':>5s} {'AUROC':>6s} {'recall':>6s} {'FPR':>6s}  recall by kind | "
        f"subtle: AUROC recall (method {args.method}; test: held-out normals and drawn defects, "
        "mild variation on all)"
    )
    for texture in args.textures:
        root = _build(work, texture, args.train, args.seed)
        sizes = [("train", args.train)] + ([("small", args.small)] if args.small else [])
        for label, count in sizes:
            train_dir = root / "train" if label == "train" else _subset(root, count)
            model_dir = work / "models" / args.method / f"{texture}-{count}"
            row = {"texture": texture, "source": "generator" if texture == "generator" else "real photograph"}
            row.update(_measure(root, train_dir, model_dir, args.method, args.seed))
            rows.append(row)
            kinds = ", ".join(f"{k} {v:.2f}" for k, v in row["recall_by_kind"].items())
            trusted = "" if (row["calibration"] or {}).get("trusted", True) else "  (calibration too small)"
            subtle = (
                f" | subtle {row['subtle_auroc']:.3f} {row['subtle_recall']:.2f}"
                if row["subtle_auroc"] is not None
                else ""
            )
            print(
                f"{texture:10s} {row['train_images']:5d} {row['auroc']:6.3f} {row['recall']:6.2f} "
                f"{row['false_positive_rate']:6.3f}  {kinds}{subtle}{trusted}",
                flush=True,
            )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
        print(f"wrote {args.json}", file=sys.stderr)
    return 0
