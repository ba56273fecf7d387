"""`visionpipe train-anomaly DIR --out MODEL_DIR`: train the local anomaly model on CPU."""

from __future__ import annotations

import argparse
import json
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train-anomaly",
        help="train an anomaly model from normal images and export it for the onnx backend",
        description="Default --method patchcore: a memory bank of patch features from a frozen ImageNet-"
        "pretrained backbone (the shipped EfficientNet-Lite0 ONNX file, or --backbone), one ONNX graph "
        "returning the image score and an anomaly map; the threshold comes from held-out normal images "
        "alone. --method padim-pca: the older model (PCA filters learned from your images, a Gaussian per "
        "position; anomalous images move its threshold). Writes MODEL_DIR/model.onnx and "
        "MODEL_DIR/metadata.json in the onnx backend's contract; anomalous images, when given, check the "
        "threshold on one half and measure AUROC, precision, recall and F1 on the other. DIR may also be "
        "a `visionpipe sample-data` folder (normal/ and anomalous/). CPU only, no torch.",
    )
    parser.add_argument("dir", help="folder of normal images (.jpg/.jpeg/.png, searched recursively)")
    parser.add_argument("--anomalous", help="folder of anomalous images (threshold calibration and test)")
    parser.add_argument("--out", required=True, help="model folder to write (model.onnx, metadata.json)")
    parser.add_argument(
        "--seed", type=int, default=0, help="random seed for the splits and patches (default 0)"
    )
    parser.add_argument(
        "--method",
        choices=("patchcore", "padim-pca"),
        default="patchcore",
        help="patchcore (default: pretrained features) or padim-pca (no pretrained weights)",
    )
    parser.add_argument(
        "--backbone", help="patchcore: backbone ONNX file (contract: anomaly_model/backbones/BACKBONE.md)"
    )
    parser.add_argument(
        "--backbone-taps",
        type=int,
        default=1,
        help="patchcore: how many backbone outputs (finest first) make the patch features (default 1)",
    )
    parser.add_argument(
        "--no-flips",
        action="store_true",
        help="patchcore: do not add mirrored copies of the normal images to the memory bank "
        "(use when a mirrored part would be a defect, e.g. a left-handed part)",
    )
    parser.add_argument("--json", action="store_true", help="also print the full report as JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(func=run)


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def run(args: argparse.Namespace) -> int:
    from visionpipe.anomaly_model import train
    from visionpipe.anomaly_model.patchcore_training import PatchCoreConfig, train_patchcore

    options = dict(
        anomalous_dir=args.anomalous,
        seed=args.seed,
        progress=not args.quiet and sys.stderr.isatty(),
        log=print,
    )
    try:
        if args.method == "patchcore":
            report = train_patchcore(
                args.dir,
                args.out,
                config=PatchCoreConfig(
                    backbone=args.backbone, backbone_taps=args.backbone_taps, flips=not args.no_flips
                ),
                **options,
            )
        else:
            report = train(args.dir, args.out, **options)
    except (FileNotFoundError, ValueError) as exc:
        print(f"visionpipe train-anomaly: error: {exc}", file=sys.stderr)
        return 2
    test, counts, t = report.test, report.counts, report.timings_s
    print(
        f"{report.method}: trained on {counts['train_normal']} normal images in {t['load'] + t['fit']:.1f} s "
        f"(load {t['load']:.1f} s, fit {t['fit']:.1f} s); total {t['total']:.1f} s"
    )
    print(
        f"threshold {report.threshold:.3f} ({report.threshold_rule}); score spread {report.score_spread:.3f}"
    )
    calibration = report.calibration
    if calibration:
        print(
            f"calibration: {calibration['normal_images']} normal images scored out of fold "
            f"({counts.get('calibration_folds', 1)} folds), median score {calibration['median']:.3f}, "
            f"max {calibration['max']:.3f}"
            + (
                f"; recall on {counts['calibration_anomalous']} calibration anomalies "
                f"{calibration['anomalous_recall']:.2f} (checked, not used)"
                if "anomalous_recall" in calibration
                else ""
            )
        )
        if not calibration["trusted"]:
            print(f"WARNING: calibration set too small to trust: {calibration['warning']}")
    print(f"held-out test: {counts['test_normal']} normal, {counts['test_anomalous']} anomalous images")
    if test["auroc"] is None:
        print("AUROC n/a: give anomalous images (--anomalous DIR) to measure AUROC, precision and recall")
    else:
        print(f"AUROC {test['auroc']:.4f}")
    print(
        f"precision {_fmt(test['precision'] if counts['test_anomalous'] else None)}  "
        f"recall {_fmt(test['recall'] if counts['test_anomalous'] else None)}  "
        f"F1 {_fmt(test['f1'] if counts['test_anomalous'] else None)}  "
        f"false-positive rate {test['false_positive_rate']:.3f}  "
        f"(TP {test['true_positives']} FP {test['false_positives']} "
        f"TN {test['true_negatives']} FN {test['false_negatives']})"
    )
    if test["recall_by_kind"]:
        print("recall by kind: " + ", ".join(f"{k} {v:.2f}" for k, v in test["recall_by_kind"].items()))
    print(f"inference {report.inference_ms:.2f} ms per image (onnxruntime, CPU, preprocessed input)")
    print(
        f"wrote {report.model_dir}/model.onnx ({report.model_bytes / 1e6:.1f} MB) and "
        f"{report.model_dir}/metadata.json, model_version {report.model_version}"
    )
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    return 0
