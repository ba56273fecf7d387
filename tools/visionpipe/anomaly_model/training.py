"""Training orchestration: folders in, model.onnx + metadata.json out, quality measured on held-out data.

    normal images ── split ── train ───────── preprocess() ─ learn PCA filters ─ ONNX features ─ fit Gaussians
                         ├─── calibration ─┐                                                         │
    anomalous images ─ split ─ calibration ┴─ score with the exported model ─ choose threshold ◄─ export ONNX
                         └─── test (both) ──── score with visionpipe_common's OnnxModel ─ AUROC, P, R, F1

Every image goes through visionpipe_common.detectors.onnx_model.preprocess, the function the onnx
backend serves with, and the held-out figures come from the exported file loaded the way the
backend loads it, so the printed quality is the deployed model's.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from tqdm import tqdm

from visionpipe.anomaly_model import dataset, features, gaussian, metrics, onnx_export
from visionpipe_common.detectors.onnx_model import ModelMetadata, OnnxModel, preprocess

MODEL_FILE = "model.onnx"
METADATA_FILE = "metadata.json"
MODEL_TYPE = "padim-pca"


@dataclass(frozen=True)
class TrainConfig:
    input_width: int = 224
    input_height: int = 168
    stride: int = 4
    fine_channels: int = 16
    fine_kernel: int = 5
    coarse_channels: int = 12
    coarse_kernel: int = 5
    patches_per_image: int = 400
    shrinkage: float = 0.3
    ridge: float = 0.01
    test_fraction: float = 0.2
    calibration_fraction: float = 0.15
    # Without anomalous images: threshold = max(highest calibration normal score, mean + k * std).
    normal_sigmas: float = 4.0
    batch_size: int = 16


@dataclass
class TrainingReport:
    model_dir: Path
    model_version: str
    threshold: float
    threshold_rule: str
    score_spread: float
    counts: dict[str, int]
    test: dict  # auroc (None without anomalous images), confusion + precision/recall/f1, per-kind recall
    timings_s: dict[str, float] = field(default_factory=dict)
    inference_ms: float = 0.0
    model_bytes: int = 0
    calibration: dict = field(default_factory=dict)  # threshold provenance (patchcore: trusted or not)
    method: str = "padim-pca"

    def as_dict(self) -> dict:
        body = asdict(self)
        body["model_dir"] = str(self.model_dir)
        return body


def _bar(iterable, description: str, enabled: bool, total: int | None = None):
    return tqdm(iterable, desc=description, total=total, disable=not enabled, unit="img", leave=False)


def _tensors(paths: list[Path], meta: ModelMetadata, progress: bool) -> np.ndarray:
    return np.concatenate(
        [preprocess(dataset.load_rgb(p), meta) for p in _bar(paths, "loading normal images", progress)]
    )


def _features(session, batch: np.ndarray, batch_size: int, progress: bool) -> np.ndarray:
    out = []
    starts = range(0, len(batch), batch_size)
    for start in tqdm(starts, desc="extracting features", disable=not progress, unit="batch", leave=False):
        out.append(
            session.run(
                [onnx_export.FEATURES_NAME], {onnx_export.INPUT_NAME: batch[start : start + batch_size]}
            )[0]
        )
    return np.concatenate(out)


def _scores(model: OnnxModel, paths: list[Path], description: str, progress: bool) -> np.ndarray:
    return np.array(
        [model.score(dataset.load_rgb(p)) for p in _bar(paths, description, progress)], np.float64
    )


def choose_threshold(normal: np.ndarray, anomalous: np.ndarray, config: TrainConfig) -> tuple[float, str]:
    """From calibration scores: the normal scores' own bound, moved into the best-F1 gap if needed.

    The normal bound (above every calibration normal score and mean + k std) follows the class we
    know best; when anomalous images are given, it is clipped into the widest gap of thresholds
    with the best calibration F1 (10% of the gap kept clear of either side), so subtle defects just
    above the normal range still count when the data allows.
    """
    by_spread = float(normal.mean() + config.normal_sigmas * normal.std(ddof=1))
    normal_bound = max(by_spread, float(normal.max()) * 1.02)
    if not anomalous.size:
        rule = f"above every calibration normal and mean + {config.normal_sigmas:g} std (no anomalous images)"
        return normal_bound, rule
    low, high = metrics.best_f1_interval(normal, anomalous)
    margin = 0.1 * (high - low)
    threshold = min(max(normal_bound, low + margin), high - margin)
    return (
        threshold,
        f"normal bound clipped into the best-F1 gap of the calibration split ({low:.2f}..{high:.2f}]",
    )


def _median_inference_ms(model: OnnxModel, path: Path, repeats: int = 30) -> float:
    image = dataset.load_rgb(path)
    batch = preprocess(image, model.meta)
    feed = {model.input_name: batch}
    for _ in range(3):
        model.session.run([model.output_name], feed)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.session.run([model.output_name], feed)
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1000.0)


def measure_and_write(
    model_bytes: bytes,
    meta: ModelMetadata,
    test_normal_paths: list[Path],
    test_anomalous_paths: list[Path],
    out_dir: str | Path,
    timings: dict[str, float],
    started: float,
    progress: bool,
) -> tuple[dict, float]:
    """Both trainers' last step: the held-out test split through visionpipe_common's OnnxModel, exactly as
    the onnx backend runs it, then model.onnx and metadata.json (with the test figures) written."""
    mark = time.perf_counter()
    served = OnnxModel(model_bytes, meta)
    test_normal = _scores(served, test_normal_paths, "testing on held-out normals", progress)
    test_anomalous = _scores(served, test_anomalous_paths, "testing on held-out anomalies", progress)
    confusion = metrics.confusion_at(test_normal, test_anomalous, meta.threshold)
    per_kind: dict[str, list[bool]] = {}
    for path, score in zip(test_anomalous_paths, test_anomalous, strict=True):
        per_kind.setdefault(dataset.kind_of(path), []).append(bool(score >= meta.threshold))
    test = {
        "auroc": metrics.auroc(test_normal, test_anomalous)
        if test_anomalous.size and test_normal.size
        else None,
        **confusion.as_dict(),
        "recall_by_kind": {kind: float(np.mean(hits)) for kind, hits in sorted(per_kind.items())},
        "normal_score_median": float(np.median(test_normal)) if test_normal.size else None,
        "anomalous_score_median": float(np.median(test_anomalous)) if test_anomalous.size else None,
    }
    timings["evaluate"] = time.perf_counter() - mark
    inference_ms = _median_inference_ms(served, test_normal_paths[0])
    timings["total"] = time.perf_counter() - started
    meta = ModelMetadata(
        **{**asdict(meta), "extra": {**meta.extra, "test": test, "inference_ms": inference_ms}}
    )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MODEL_FILE).write_bytes(model_bytes)
    (out_dir / METADATA_FILE).write_text(meta.to_json() + "\n")
    return test, inference_ms


def train(
    normal_dir: str | Path,
    out_dir: str | Path,
    anomalous_dir: str | Path | None = None,
    seed: int = 0,
    config: TrainConfig | None = None,
    progress: bool = False,
    log: Callable[[str], None] = lambda message: None,
) -> TrainingReport:
    """Train, export and evaluate; writes out_dir/model.onnx and out_dir/metadata.json."""
    config = config or TrainConfig()
    timings: dict[str, float] = {}
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    splits = dataset.split_folders(
        normal_dir, anomalous_dir, rng, config.test_fraction, config.calibration_fraction
    )
    normal_split, anomalous_split, counts = splits.normal, splits.anomalous, splits.counts
    log(
        f"normal images: {len(normal_split.train)} train, {len(normal_split.calibration)} calibration, "
        f"{len(normal_split.test)} test; anomalous: {len(anomalous_split.calibration)} calibration, "
        f"{len(anomalous_split.test)} test"
    )

    # Preprocessing as served: the metadata's own preprocess(), scale 1/255, no mean/std (the
    # PCA filters' biases centre the data).
    draft = ModelMetadata(
        model_version="draft", input_width=config.input_width, input_height=config.input_height
    )
    train_batch = _tensors(normal_split.train, draft, progress)
    timings["load"] = time.perf_counter() - started

    mark = time.perf_counter()
    bank = features.learn_filters(
        train_batch,
        rng,
        fine_channels=config.fine_channels,
        fine_kernel=config.fine_kernel,
        coarse_channels=config.coarse_channels,
        coarse_kernel=config.coarse_kernel,
        stride=config.stride,
        patches_per_image=config.patches_per_image,
    )
    feature_session = onnx_export.session(onnx_export.build(bank, config.input_height, config.input_width))
    train_features = _features(feature_session, train_batch, config.batch_size, progress)
    del train_batch
    model_gaussian = gaussian.fit(train_features, shrinkage=config.shrinkage, ridge=config.ridge)
    model_proto = onnx_export.build(bank, config.input_height, config.input_width, model_gaussian)
    model_bytes = model_proto.SerializeToString()
    timings["fit"] = time.perf_counter() - mark

    # Score the calibration split with the exported model, loaded the way the backend loads it.
    mark = time.perf_counter()
    draft = ModelMetadata(
        model_version="draft",
        input_width=config.input_width,
        input_height=config.input_height,
        input_name=onnx_export.INPUT_NAME,
        output_name=onnx_export.SCORE_NAME,
        output_kind="score",
    )
    candidate = OnnxModel(model_bytes, draft)
    cal_normal = _scores(candidate, normal_split.calibration, "scoring calibration normals", progress)
    cal_anomalous = _scores(candidate, anomalous_split.calibration, "scoring calibration anomalies", progress)
    threshold, rule = choose_threshold(cal_normal, cal_anomalous, config)
    spread = max((threshold - float(np.median(cal_normal))) / 3.0, 1e-6)
    timings["calibrate"] = time.perf_counter() - mark

    now = datetime.now(UTC)
    digest = hashlib.sha256(model_bytes).hexdigest()[:8]
    model_version = f"{now:%Y%m%d-%H%M%S}-{digest}"
    meta_fields = {k: v for k, v in asdict(draft).items() if k not in ("model_version", "extra")}
    meta = ModelMetadata(
        model_version=model_version,
        **{**meta_fields, "threshold": threshold, "score_spread": spread, "confidence": "logistic"},
        extra={
            "model_type": MODEL_TYPE,
            "trained_at": now.isoformat(timespec="seconds").replace("+00:00", "Z"),
            "seed": seed,
            "threshold_rule": rule,
            "feature_dim": bank.dim,
            "grid": list(model_gaussian.grid),
            "counts": counts,
        },
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
    )
