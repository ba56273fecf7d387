"""PatchCore training: normal images in, one served ONNX graph + metadata.json out (numpy/onnxruntime, CPU).

    normal ─ split ─ fit (85 %) ─ preprocess() ─ features (onnxruntime) ─ whitening ─ greedy coreset
                 │      │                                        ─ memory bank ─ served graph (one ONNX)
                 │      └─ 4 folds: bank from 3, score the 4th ─ out-of-fold normal scores ─ threshold
                 └─ test (15 %) ─┐
    anomalous ─ calibration ─────┴─ checks the threshold (never sets it); test: AUROC, P, R, F1

Threshold rule (no anomalies needed): mean + k std of the out-of-fold normal scores, never below their
median. Cross-calibration scores every fitting image once, against a bank built without it, so a small
set of normal photos gives both the bank and a calibration set several times larger than a held-out
split would (a single 25 % split of 60 photos put one unusual normal crop among 15 and moved the
threshold above most defects). The fold banks see 3/4 of the photos, so their scores run slightly
high: the threshold errs towards fewer false positives. Anomalous images only report how it fares.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import onnxruntime

from visionpipe.anomaly_model import backbone as backbones
from visionpipe.anomaly_model import dataset, patchcore
from visionpipe.anomaly_model.training import TrainingReport, _bar, _scores, measure_and_write
from visionpipe_common.detectors.onnx_model import ModelMetadata, OnnxModel, preprocess

MODEL_TYPE = "patchcore"
MIN_TRUSTED_CALIBRATION = 20  # out-of-fold scores; below this, one unlucky image moves the threshold a lot


@dataclass(frozen=True)
class PatchCoreConfig:
    input_width: int = 256
    input_height: int = 256
    backbone: str | None = None  # ONNX file; default: the shipped EfficientNet-Lite0
    backbone_taps: int = 1  # how many of its outputs (finest first) make the patch features
    # Also fit the bank on each image mirrored left-right and top-bottom: more normal patches for the
    # same photos (fewer false positives; measured: AUROC +0.001-0.003, one seed's recall 0.65 -> 0.92).
    flips: bool = True
    bank_size: int = 1024  # memory bank rows: inference cost grows with it
    whitening_shrinkage: float = 1e-3  # eigenvalue floor, as a fraction of the largest (see fit_whitening)
    max_candidates: int = 60000  # patches the coreset chooses from (random subset beyond that)
    projection_dim: int = 32  # coreset distances in this many random dimensions (speed)
    test_fraction: float = 0.15
    calibration_folds: int = 4
    normal_sigmas: float = 3.0  # FPR 0-5 % on every development texture (2.5: up to 6.7 %)
    batch_size: int = 8


def _session(model_bytes: bytes) -> onnxruntime.InferenceSession:
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])


def _features(
    session, paths: list[Path], meta: ModelMetadata, batch: int, progress: bool, flips: bool = False
) -> np.ndarray:
    """(N, A, D, h, w): each image's features, and with `flips` also its mirror images (A = 3)."""
    out, pending = [], []
    for path in _bar(paths, "extracting features", progress):
        image = preprocess(dataset.load_rgb(path), meta)
        views = [image, image[..., ::-1], image[..., ::-1, :]] if flips else [image]
        pending.append(np.ascontiguousarray(np.concatenate(views)))
        if len(pending) == batch:
            out.append(
                session.run([patchcore.FEATURES_NAME], {patchcore.INPUT_NAME: np.concatenate(pending)})[0]
            )
            pending = []
    if pending:
        out.append(session.run([patchcore.FEATURES_NAME], {patchcore.INPUT_NAME: np.concatenate(pending)})[0])
    features = np.concatenate(out)
    views = 3 if flips else 1
    return features.reshape(len(paths), views, *features.shape[1:])


def _fit_bank(
    features: np.ndarray, rng: np.random.Generator, config: PatchCoreConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(N, A, D, h, w) normal features -> whitening (transform, offset) and the coreset bank in that space."""
    d = features.shape[2]
    patches = features.transpose(0, 1, 3, 4, 2).reshape(-1, d)
    if len(patches) > config.max_candidates:
        patches = patches[rng.choice(len(patches), config.max_candidates, replace=False)]
    transform, offset = patchcore.fit_whitening(patches, config.whitening_shrinkage)
    patches = patches @ transform + offset
    chosen = patchcore.greedy_coreset(patches, config.bank_size, rng, config.projection_dim)
    return transform, offset, patches[chosen]


def _out_of_fold_scores(
    features: np.ndarray, rng: np.random.Generator, config: PatchCoreConfig
) -> np.ndarray:
    """Every image's score from a bank fitted without its fold (numpy; the served graph computes the same)."""
    n = len(features)
    folds = np.array_split(rng.permutation(n), min(config.calibration_folds, n))
    scores = np.empty(n, np.float64)
    for held in folds:
        kept = np.setdiff1d(np.arange(n), held)
        transform, offset, bank = _fit_bank(features[kept], rng, config)
        scores[held], _ = patchcore.image_scores(  # the image as taken, not its mirror images
            patchcore.transform_patches(features[held, 0], transform, offset), bank
        )
    return scores


def threshold_from_normals(scores: np.ndarray, sigmas: float) -> tuple[float, str, dict]:
    """The threshold from held-out normal scores alone, and how far it can be trusted."""
    scores = np.asarray(scores, np.float64)
    if scores.size < 2:
        raise ValueError("need at least 2 calibration normal images to set a threshold")
    median = float(np.median(scores))
    by_spread = float(scores.mean() + sigmas * scores.std(ddof=1))
    threshold = max(by_spread, median)
    trusted = scores.size >= MIN_TRUSTED_CALIBRATION
    calibration = {
        "normal_images": int(scores.size),
        "median": median,
        "mean": float(scores.mean()),
        "std": float(scores.std(ddof=1)),
        "max": float(scores.max()),
        "trusted": trusted,
        "warning": None
        if trusted
        else (
            f"only {scores.size} calibration normal images (fewer than {MIN_TRUSTED_CALIBRATION}): the "
            "threshold is a rough guess; give more normal images before relying on the verdicts"
        ),
    }
    rule = f"max(mean + {sigmas:g} std, median) of {scores.size} out-of-fold normal scores"
    return threshold, rule, calibration


def train_patchcore(
    normal_dir: str | Path,
    out_dir: str | Path,
    anomalous_dir: str | Path | None = None,
    seed: int = 0,
    config: PatchCoreConfig | None = None,
    progress: bool = False,
    log: Callable[[str], None] = lambda message: None,
) -> TrainingReport:
    """Fit the memory bank, export the served graph, set and check the threshold, measure on held-out data."""
    config = config or PatchCoreConfig()
    timings: dict[str, float] = {}
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    splits = dataset.split_folders(normal_dir, anomalous_dir, rng, config.test_fraction, calibration=0.0)
    normal_split, anomalous_split = splits.normal, splits.anomalous
    fitting = sorted(normal_split.train + normal_split.calibration)  # every fitting image is calibrated too
    counts = {
        **splits.counts,
        "train_normal": len(fitting),
        "calibration_normal": len(fitting),
        "calibration_folds": config.calibration_folds,
    }
    log(
        f"normal images: {counts['train_normal']} to fit (each also scored out of fold, "
        f"{config.calibration_folds} folds), {counts['test_normal']} test; anomalous: "
        f"{counts['calibration_anomalous']} calibration (threshold check only), "
        f"{counts['test_anomalous']} test"
    )
    backbone = backbones.load(config.backbone)
    draft = ModelMetadata(
        model_version="draft",
        input_width=config.input_width,
        input_height=config.input_height,
        scale=1.0,
        mean=backbone.mean,
        std=backbone.std,
        input_name=patchcore.INPUT_NAME,
        output_name=patchcore.SCORE_NAME,
        output_kind="score",
    )
    stride = patchcore.finest_stride(backbone)
    feature_session = _session(
        patchcore.feature_graph(backbone, stride, config.backbone_taps).SerializeToString()
    )
    features = _features(feature_session, fitting, draft, config.batch_size, progress, config.flips)
    timings["load"] = time.perf_counter() - started

    mark = time.perf_counter()
    n, _, d, h, w = features.shape
    transform, offset, bank = _fit_bank(features, rng, config)
    model_bytes = patchcore.served_graph(
        backbone,
        bank,
        config.input_height,
        config.input_width,
        transform,
        offset,
        stride,
        config.backbone_taps,
    ).SerializeToString()
    timings["fit"] = time.perf_counter() - mark

    mark = time.perf_counter()
    cal_normal = _out_of_fold_scores(features, rng, config)
    del features
    candidate = OnnxModel(model_bytes, draft)
    threshold, rule, calibration = threshold_from_normals(cal_normal, config.normal_sigmas)
    cal_anomalous = _scores(
        candidate, anomalous_split.calibration, "checking on calibration anomalies", progress
    )
    if cal_anomalous.size:
        calibration["anomalous_recall"] = float((cal_anomalous >= threshold).mean())
    spread = max((threshold - calibration["median"]) / 3.0, 1e-6)
    timings["calibrate"] = time.perf_counter() - mark

    now = datetime.now(UTC)
    digest = hashlib.sha256(model_bytes).hexdigest()[:8]
    model_version = f"{now:%Y%m%d-%H%M%S}-{digest}"
    meta_fields = {k: v for k, v in asdict(draft).items() if k not in ("model_version", "extra")}
    extra = {
        "model_type": MODEL_TYPE,
        "map_output_name": patchcore.MAP_NAME,  # (N, 1, H/stride, W/stride) patch distances
        "map_stride": config.input_height // h,
        "trained_at": now.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "seed": seed,
        "threshold_rule": rule,
        "calibration": calibration,
        "backbone": {
            "file": backbone.name,
            "sha256": backbone.sha256,
            "outputs": list(backbone.output_names[: config.backbone_taps]),
        },
        "memory_bank": {"rows": int(bank.shape[0]), "dim": int(bank.shape[1]), "grid": [h, w]},
        "features": {
            "backbone_channels": int(d - len(patchcore.COLOR_CHANNELS)),
            "color_channels": list(patchcore.COLOR_CHANNELS),
            "transform": f"whitening, eigenvalues floored at {config.whitening_shrinkage:g} x the largest",
        },
        "counts": counts,
    }
    meta = ModelMetadata(
        model_version=model_version,
        **{**meta_fields, "threshold": threshold, "score_spread": spread, "confidence": "logistic"},
        extra=extra,
    )

    test, inference_ms = measure_and_write(
        model_bytes, meta, normal_split.test, anomalous_split.test, out_dir, timings, started, progress
    )
    return TrainingReport(
        model_dir=Path(out_dir),
        model_version=model_version,
        threshold=threshold,
        threshold_rule=rule,
        score_spread=spread,
        counts=counts,
        test=test,
        timings_s={k: round(v, 3) for k, v in timings.items()},
        inference_ms=inference_ms,
        model_bytes=len(model_bytes),
        calibration=calibration,
        method=MODEL_TYPE,
    )
