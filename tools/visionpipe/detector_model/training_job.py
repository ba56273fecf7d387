"""The `hog` training job: HOG + linear SVM from four SageMaker object-detection channels.

Runs inside a SageMaker training container (script mode: scripts/train_hog.py imports main) and,
unchanged, as the local SageMaker engine's subprocess: the same contract either way (contract.py).
Reads train/, validation/ images and their SageMaker object-detection JSON, trains one SVM per
class on CPU (hog_training.py), evaluates VOC mAP on the validation channel at `overlap_threshold`
IoU, prints `validation:mAP=<v>` and writes SM_MODEL_DIR: model.json (what the device loads),
hog_svm.json, hyperparams.json, metrics.json.

HyperParameters used: image_shape (model input, longer side), nms_threshold, overlap_threshold,
num_classes. Others (the ssd ones: epochs, learning_rate, ...) are listed as ignored.
"""

from __future__ import annotations

import json
import time

from visionpipe.detector_model.contract import (
    METRIC,
    LabelledImage,
    TrainingDataError,
    TrainingEnvironment,
    class_names_of,
    labelled_images,
    model_card,
    report_metric,
    run_training,
)
from visionpipe.detector_model.hog_training import (
    Sample,
    TrainingSettings,
    evaluate,
    input_size_for,
    to_input,
    train_detector,
)

USED_HYPERPARAMETERS = ("image_shape", "nms_threshold", "overlap_threshold", "num_classes")


def samples_of(items: list[LabelledImage], size: tuple[int, int]) -> list[Sample]:
    converted = []
    for item in items:
        sample = to_input(item.image, item.boxes, size)
        sample.name = item.name
        converted.append(sample)
    return converted


def train(env: TrainingEnvironment) -> dict:
    started = time.perf_counter()
    settings = TrainingSettings(
        image_shape=int(env.number("image_shape", 320)),
        nms_threshold=env.number("nms_threshold", 0.45),
        overlap_threshold=env.number("overlap_threshold", 0.5),
    )
    train_items = labelled_images(env.channel("train"), env.channel("train_annotation"))
    validation_items = labelled_images(env.channel("validation"), env.channel("validation_annotation"))
    num_classes = int(env.number("num_classes", 0)) or (
        max([c for item in train_items for c, _ in item.boxes] or [0]) + 1
    )
    class_names = class_names_of(train_items + validation_items, num_classes)
    size = input_size_for([(i.image.shape[1], i.image.shape[0]) for i in train_items], settings.image_shape)
    train_samples, validation_samples = samples_of(train_items, size), samples_of(validation_items, size)
    if not any(s.boxes for s in train_samples):
        raise TrainingDataError("the train channel has no boxes")
    if not any(s.boxes for s in validation_samples):
        raise TrainingDataError("the validation channel has no boxes")
    report = train_detector(train_samples, class_names, settings)
    result = evaluate(report.model, validation_samples, settings.overlap_threshold)
    report_metric(METRIC, result.mean_ap)

    metrics = {
        METRIC: result.mean_ap,
        "per_class_ap": {class_names[c]: ap for c, ap in result.per_class.items()},
        "validation_boxes": {class_names[c]: n for c, n in result.ground_truth.items()},
        "validation_detections": result.detections,
        "train_images": len(train_samples),
        "validation_images": len(validation_samples),
        "train_boxes": sum(len(s.boxes) for s in train_samples),
        "iou_threshold": settings.overlap_threshold,
        "input": {"width": size[0], "height": size[1]},
        "training_seconds": round(report.seconds, 3),
        "total_seconds": round(time.perf_counter() - started, 3),
    }
    hyperparameters = env.algorithm_hyperparameters()
    card = model_card(
        algorithm="hog",
        detector="hog",
        file="hog_svm.json",
        input_size=size,
        labels=[class_names[c] for c in sorted(class_names)],
        preprocessing={"resize": "area, to input (width x height)", "color": "grey"},
        output_decoding={
            "type": "hog-svm-sliding-window",
            "nms_threshold": settings.nms_threshold,
            "score": "logistic(score_scale * margin + score_bias)",
        },
        training_job=env.job_name,
        validation_map=result.mean_ap,
    )
    env.model_dir.mkdir(parents=True, exist_ok=True)
    files = {
        "model.json": json.dumps(card, indent=2),
        "hog_svm.json": report.model.to_json(),
        "hyperparams.json": json.dumps(
            {
                "received": hyperparameters,
                "used": {k: v for k, v in hyperparameters.items() if k in USED_HYPERPARAMETERS},
                "ignored": sorted(k for k in hyperparameters if k not in USED_HYPERPARAMETERS),
            },
            indent=2,
        ),
        "metrics.json": json.dumps(metrics, indent=2),
    }
    for name, text in files.items():
        (env.model_dir / name).write_text(text)
    return metrics


def main(env: TrainingEnvironment | None = None) -> int:
    return run_training(train, env)
