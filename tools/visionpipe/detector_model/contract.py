"""The SageMaker training-toolkit contract, as a training script sees it (no SageMaker library needed).

SageMaker (script mode, any framework container) and the local SageMaker engine run our training
scripts the same way:
- channels are folders: $SM_CHANNEL_<NAME> (else /opt/ml/input/data/<name>);
- hyperparameters: /opt/ml/input/config/hyperparameters.json ($SM_INPUT_CONFIG_DIR overrides the
  folder), a flat object of strings (the SageMaker Python SDK JSON-encodes values: decoded here);
- the model goes to $SM_MODEL_DIR (else /opt/ml/model); SageMaker tars that folder into
  <S3OutputPath>/<job>/output/model.tar.gz;
- metrics are lines on stdout (`validation:mAP=0.8123`) the job's MetricDefinitions capture;
- a failure reason goes to /opt/ml/output/failure ($SM_OUTPUT_DIR), "ClientError: ..." for data
  problems, and the script exits non-zero: DescribeTrainingJob's FailureReason is that text.
See https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-training-algo-running-container.html
and the sagemaker-training-toolkit's environment variables (SM_CHANNEL_*, SM_MODEL_DIR, SM_HPS).
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

METRIC = "validation:mAP"
METRIC_REGEX = r"validation:mAP=([0-9.eE+-]+)"
MODEL_FORMAT = "visionpipe-model/1"
TRAINING_CHANNELS = ("train", "validation", "train_annotation", "validation_annotation")
OPTIONAL_CHANNELS = ("pretrained",)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
SAGEMAKER_HYPERPARAMETERS = "sagemaker_"  # sagemaker_program, sagemaker_submit_directory, ...


class TrainingDataError(ValueError):
    """The data cannot train a detector (no images, no boxes, bad annotation): a ClientError."""


@dataclass
class TrainingEnvironment:
    hyperparameters: dict[str, str]
    channels: dict[str, Path]
    model_dir: Path
    output_dir: Path
    job_name: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> TrainingEnvironment:
        environ = os.environ if environ is None else environ
        config_dir = Path(environ.get("SM_INPUT_CONFIG_DIR", "/opt/ml/input/config"))
        data_dir = Path(environ.get("SM_INPUT_DATA_DIR", "/opt/ml/input/data"))
        path = config_dir / "hyperparameters.json"
        raw = json.loads(path.read_text()) if path.is_file() else {}
        hyperparameters = {str(k): _decoded(v) for k, v in raw.items()}
        channels = {}
        names = json.loads(environ["SM_CHANNELS"]) if environ.get("SM_CHANNELS") else []
        if not names and data_dir.is_dir():
            names = sorted(p.name for p in data_dir.iterdir() if p.is_dir())
        for name in names:
            channels[name] = Path(environ.get(f"SM_CHANNEL_{name.upper()}", str(data_dir / name)))
        return cls(
            hyperparameters=hyperparameters,
            channels=channels,
            model_dir=Path(environ.get("SM_MODEL_DIR", "/opt/ml/model")),
            output_dir=Path(environ.get("SM_OUTPUT_DIR", "/opt/ml/output")),
            job_name=environ.get("TRAINING_JOB_NAME", ""),
        )

    def algorithm_hyperparameters(self) -> dict[str, str]:
        return {k: v for k, v in self.hyperparameters.items() if not k.startswith(SAGEMAKER_HYPERPARAMETERS)}

    def number(self, name: str, default: float) -> float:
        value = self.hyperparameters.get(name, default)
        try:
            return float(value)
        except (TypeError, ValueError) as error:
            raise TrainingDataError(f"hyperparameter {name}={value!r} is not a number") from error

    def channel(self, name: str) -> Path:
        if name not in self.channels or not self.channels[name].is_dir():
            raise TrainingDataError(f"missing channel {name}")
        return self.channels[name]

    def fail(self, reason: str) -> None:
        self.output_dir.mkdir(parents=True, exist_ok=True)
        (self.output_dir / "failure").write_text(reason[:1024])


def _decoded(value: Any) -> str:
    """The SDK writes '"train.py"' and '10'; the console and Step Functions plain strings."""
    if isinstance(value, str):
        try:
            decoded = json.loads(value)
        except ValueError:
            return value
        return decoded if isinstance(decoded, str) else value
    return json.dumps(value) if not isinstance(value, (int, float)) else str(value)


def run_training(train: Callable[[TrainingEnvironment], Any], env: TrainingEnvironment | None = None) -> int:
    """A training script's entry point: bad data is the client's error (exit 2), anything else the
    algorithm's (exit 1); either way SageMaker's failure file says which (output/failure)."""
    env = env or TrainingEnvironment.from_environment()
    try:
        train(env)
    except TrainingDataError as error:
        env.fail(f"ClientError: {error}")
        print(f"ClientError: {error}", file=sys.stderr)
        return 2
    except Exception as error:
        env.fail(f"AlgorithmError: {type(error).__name__}: {error}")
        traceback.print_exc()
        return 1
    return 0


def report_metric(name: str, value: float) -> str:
    line = f"{name}={value:.6f}"
    print(line, flush=True)
    return line


@dataclass
class LabelledImage:
    name: str
    image: Any  # BGR uint8 (numpy)
    boxes: list[tuple[int, tuple[float, float, float, float]]]  # (class_id, (x0, y0, x1, y1)) pixels
    categories: dict[int, str]


def labelled_images(images_dir: Path, annotations_dir: Path) -> list[LabelledImage]:
    """SageMaker object-detection JSON annotations (file, annotations[class_id,left,top,width,height],
    categories) with their images, decoded with OpenCV."""
    import cv2
    import numpy as np

    images = {p.name: p for p in images_dir.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES}
    if not images:
        raise TrainingDataError(f"channel {images_dir.name} has no images")
    labelled = []
    for path in sorted(annotations_dir.rglob("*.json")):
        try:
            doc = json.loads(path.read_text())
            file_name = Path(doc["file"]).name
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
                f"annotation {path.name} is not SageMaker object-detection JSON: {error}"
            ) from error
        if file_name not in images:
            raise TrainingDataError(f"annotation {path.name} names {file_name}, not in {images_dir.name}")
        image = cv2.imdecode(np.fromfile(str(images[file_name]), np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            raise TrainingDataError(f"image {file_name} cannot be decoded")
        labelled.append(LabelledImage(file_name, image, boxes, categories))
    if not labelled:
        raise TrainingDataError(f"channel {annotations_dir.name} has no annotations")
    return labelled


def class_names_of(items: list[LabelledImage], num_classes: int) -> dict[int, str]:
    names: dict[int, str] = {}
    for item in items:
        for class_id, name in item.categories.items():
            names.setdefault(class_id, name)
    out_of_range = sorted({c for item in items for c, _ in item.boxes if c >= num_classes})
    if out_of_range:
        raise TrainingDataError(f"class ids {out_of_range} not below num_classes={num_classes}")
    return {c: names.get(c, f"class-{c}") for c in range(num_classes)}


def model_card(
    *,
    algorithm: str,
    detector: str,
    file: str,
    input_size: tuple[int, int],
    labels: list[str],
    preprocessing: dict[str, Any],
    output_decoding: dict[str, Any],
    training_job: str,
    validation_map: float,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """model.json: everything the device needs to run the model, and where it came from."""
    return {
        "format": MODEL_FORMAT,
        "name": f"{algorithm}-{training_job}" if training_job else algorithm,
        "version": training_job,
        "algorithm": algorithm,
        "detector": detector,
        "file": file,
        "input": {"width": int(input_size[0]), "height": int(input_size[1])},
        "classes": list(labels),
        "preprocessing": preprocessing,
        "output_decoding": output_decoding,
        "training_job": training_job,
        "validation_mAP": round(float(validation_map), 6),
        **(extra or {}),
    }
