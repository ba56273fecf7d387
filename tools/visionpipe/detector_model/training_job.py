"""A detector trained from SageMaker object-detection channels: what a training job computes.

Reads the job's four channels (train/, validation/ images and train_annotation/,
validation_annotation/ SageMaker object-detection JSON) from S3, trains a HOG + linear SVM
detector on CPU (hog_training.py: the built-in MXNet SSD cannot run here), evaluates it on the
validation channel (VOC mAP at the `overlap_threshold` IoU, mean_average_precision.py) and writes
model.tar.gz where the job's ModelArtifacts say. Data problems are a Failed outcome with
"ClientError: ...", as SageMaker reports data errors.

HyperParameters: image_shape (model input, longer side), nms_threshold, overlap_threshold and
num_classes are used; the SSD/SGD ones (base_network, epochs, mini_batch_size, learning_rate, ...)
have no meaning for a linear SVM and are ignored (listed in the artifact's hyperparams.json).

model.tar.gz holds: model.json (what the edge device reads: detector "hog", file, classes, input
size), hog_svm.json (the detector, visionpipe_edge.detectors.hog_detector format),
hyperparams.json (received / used / ignored) and metrics.json (validation figures).
"""

from __future__ import annotations

import io
import json
import tarfile
import time
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import cv2
import numpy as np

from visionpipe.detector_model.hog_training import (
    Sample,
    TrainingDataError,
    TrainingSettings,
    evaluate,
    input_size_for,
    to_input,
    train_detector,
)

CHANNELS = ("train", "validation", "train_annotation", "validation_annotation")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
USED_HYPERPARAMETERS = (
    "image_shape",
    "nms_threshold",
    "overlap_threshold",
    "num_classes",
    "num_training_samples",
)
METRIC = "validation:mAP"


@dataclass
class TrainingOutcome:
    status: str  # Completed | Failed
    validation_map: float | None = None
    failure_reason: str = ""
    artifact: str = ""
    seconds: float = 0.0
    metrics: dict[str, Any] | None = None


def parse_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise TrainingDataError(f"{uri!r} is not an s3:// URI")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


class S3Channels:
    """The job's channels read from the local S3."""

    def __init__(self, s3, input_data_config: list[dict[str, Any]]):
        self.s3 = s3
        self.uris = {
            c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in input_data_config or []
        }
        missing = [c for c in CHANNELS if c not in self.uris]
        if missing:
            raise TrainingDataError(f"missing channel(s) {', '.join(missing)}")

    def objects(self, channel: str) -> dict[str, str]:
        """File name -> key, for every object under the channel's prefix."""
        bucket, prefix = parse_s3_uri(self.uris[channel])
        found: dict[str, str] = {}
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                if not obj["Key"].endswith("/"):
                    found[PurePosixPath(obj["Key"]).name] = obj["Key"]
        return found

    def read(self, channel: str, key: str) -> bytes:
        bucket, _ = parse_s3_uri(self.uris[channel])
        return self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()

    def labelled_images(self, side: str) -> list[tuple[str, np.ndarray, list[tuple[int, tuple]], dict]]:
        images = {n: k for n, k in self.objects(side).items() if n.lower().endswith(IMAGE_SUFFIXES)}
        if not images:
            raise TrainingDataError(f"channel {side} ({self.uris[side]}) has no images")
        annotations = self.objects(f"{side}_annotation")
        labelled = []
        for name, key in sorted(annotations.items()):
            if not name.lower().endswith(".json"):
                continue
            try:
                doc = json.loads(self.read(f"{side}_annotation", key))
                file_name = PurePosixPath(doc["file"]).name
                boxes = [
                    (
                        int(a["class_id"]),
                        (
                            float(a["left"]),
                            float(a["top"]),
                            float(a["left"]) + float(a["width"]),
                            float(a["top"]) + float(a["height"]),
                        ),
                    )
                    for a in doc.get("annotations", [])
                ]
                categories = {int(c["class_id"]): str(c["name"]) for c in doc.get("categories", [])}
            except (ValueError, KeyError, TypeError) as error:
                raise TrainingDataError(
                    f"annotation {key} is not SageMaker object-detection JSON: {error}"
                ) from error
            if file_name not in images:
                raise TrainingDataError(f"annotation {key} names {file_name}, which is not in channel {side}")
            raw = np.frombuffer(self.read(side, images[file_name]), np.uint8)
            image = cv2.imdecode(raw, cv2.IMREAD_COLOR)
            if image is None:
                raise TrainingDataError(f"image {images[file_name]} cannot be decoded")
            labelled.append((file_name, image, boxes, categories))
        if not labelled:
            raise TrainingDataError(
                f"channel {side}_annotation ({self.uris[side + '_annotation']}) has no annotations"
            )
        return labelled


def _float(hyperparameters: dict[str, str], name: str, default: float) -> float:
    try:
        return float(hyperparameters.get(name, default))
    except (TypeError, ValueError) as error:
        raise TrainingDataError(f"hyperparameter {name}={hyperparameters[name]!r} is not a number") from error


def train_job(
    s3, job_name: str, hyperparameters: dict[str, str], input_data_config, artifact_uri: str
) -> TrainingOutcome:
    """Train, evaluate and write the artifact; data problems become a Failed outcome."""
    started = time.perf_counter()
    hyperparameters = dict(hyperparameters or {})
    try:
        settings = TrainingSettings(
            image_shape=int(_float(hyperparameters, "image_shape", 512)),
            nms_threshold=_float(hyperparameters, "nms_threshold", 0.45),
            overlap_threshold=_float(hyperparameters, "overlap_threshold", 0.5),
        )
        channels = S3Channels(s3, input_data_config)
        train = channels.labelled_images("train")
        validation = channels.labelled_images("validation")
        names: dict[int, str] = {}
        for *_, categories in train + validation:
            for class_id, name in categories.items():
                names.setdefault(class_id, name)
        num_classes = int(_float(hyperparameters, "num_classes", 0)) or (
            max([c for *_, boxes, _ in train for c, _ in boxes] or [0]) + 1
        )
        class_names = {c: names.get(c, f"class-{c}") for c in range(num_classes)}
        out_of_range = sorted(
            {c for *_, boxes, _ in train + validation for c, _ in boxes if c >= num_classes}
        )
        if out_of_range:
            raise TrainingDataError(f"class ids {out_of_range} not below num_classes={num_classes}")
        size = input_size_for([(img.shape[1], img.shape[0]) for _, img, _, _ in train], settings.image_shape)

        def samples(items) -> list[Sample]:
            converted = []
            for name, image, boxes, _ in items:
                sample = to_input(image, boxes, size)
                sample.name = name
                converted.append(sample)
            return converted

        train_samples, validation_samples = samples(train), samples(validation)
        if not any(s.boxes for s in train_samples):
            raise TrainingDataError("the train channel has no boxes")
        if not any(s.boxes for s in validation_samples):
            raise TrainingDataError("the validation channel has no boxes")
        report = train_detector(train_samples, class_names, settings)
        result = evaluate(report.model, validation_samples, settings.overlap_threshold)
    except TrainingDataError as error:
        return TrainingOutcome(
            "Failed", failure_reason=f"ClientError: {error}", seconds=time.perf_counter() - started
        )

    seconds = time.perf_counter() - started
    metrics = {
        METRIC: result.mean_ap,
        "per_class_ap": {class_names[c]: ap for c, ap in result.per_class.items()},
        "validation_boxes": {class_names[c]: n for c, n in result.ground_truth.items()},
        "validation_detections": result.detections,
        "train_images": len(train_samples),
        "validation_images": len(validation_samples),
        "train_boxes": sum(len(s.boxes) for s in train_samples),
        "positives": {class_names[c]: n for c, n in report.positives.items()},
        "negatives": {class_names[c]: n for c, n in report.negatives.items()},
        "iou_threshold": settings.overlap_threshold,
        "input": {"width": size[0], "height": size[1]},
        "training_seconds": round(report.seconds, 3),
        "total_seconds": round(seconds, 3),
    }
    artifact = model_archive(job_name, report, class_names, hyperparameters, metrics)
    bucket, key = parse_s3_uri(artifact_uri)
    s3.put_object(Bucket=bucket, Key=key, Body=artifact, ContentType="application/x-gzip")
    return TrainingOutcome(
        "Completed", result.mean_ap, artifact=artifact_uri, seconds=seconds, metrics=metrics
    )


def model_archive(
    job_name: str, report, class_names: dict[int, str], hyperparameters: dict, metrics: dict
) -> bytes:
    device_model = {
        "name": f"hog-svm-{job_name}",
        "version": job_name,
        "detector": "hog",
        "file": "hog_svm.json",
        "classes": [class_names[c] for c in sorted(class_names)],
        "input": {"width": report.input_size[0], "height": report.input_size[1]},
        "validation_mAP": metrics[METRIC],
    }
    files = {
        "model.json": json.dumps(device_model, indent=2),
        "hog_svm.json": report.model.to_json(),
        "hyperparams.json": json.dumps(
            {
                "received": hyperparameters,
                "used": {k: v for k, v in hyperparameters.items() if k in USED_HYPERPARAMETERS},
                "ignored": sorted(k for k in hyperparameters if k not in USED_HYPERPARAMETERS),
                "note": "local engine: HOG + linear SVM; SSD/SGD hyperparameters have no meaning here",
            },
            indent=2,
        ),
        "metrics.json": json.dumps(metrics, indent=2),
    }
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), int(time.time()), 0o644
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()
