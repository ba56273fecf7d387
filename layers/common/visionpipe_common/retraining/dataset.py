"""Build one round's training dataset in S3: the base dataset plus every approved camera candidate.

Layout (SageMaker object detection, image format), under datasets/rounds/round-NNNNN/:
train/, validation/, train_annotation/, validation_annotation/, class_map.json. The base dataset
(uploaded with `visionpipe dataset upload`) keeps its own split; candidates are split by a hash of
their image name, so a candidate stays on the same side in every round.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from visionpipe_common import aws
from visionpipe_common.retraining.annotations import (
    CHANNELS,
    CLASS_MAP_FILE,
    ClassMap,
    InvalidAnnotation,
    TrainingAnnotation,
    assign_splits,
)
from visionpipe_common.retraining.candidates import TRAINED, TRAINING, Candidate, CandidateStore
from visionpipe_common.retraining.settings import DatasetSettings

# Per algorithm (tools/visionpipe/detector_model/scripts/train_<algorithm>.py, script mode). ssd takes
# the original's best run (version 4 in the seed write-up) where the names mean the same thing for
# SSDlite (epochs, batch, SGD learning rate/schedule, momentum, weight decay, NMS/IoU thresholds);
# base_network/use_pretrained_model/optimizer have no counterpart. hog uses only the thresholds and size.
DEFAULT_HYPERPARAMETERS = {
    "ssd": {
        "mini_batch_size": "10",
        "epochs": "60",
        "learning_rate": "0.004",
        "lr_scheduler_step": "10",
        "lr_scheduler_factor": "0.1",
        "momentum": "0.9",
        "weight_decay": "0.0005",
        "overlap_threshold": "0.5",
        "nms_threshold": "0.45",
        "image_shape": "320",
    },
    "hog": {"overlap_threshold": "0.5", "nms_threshold": "0.45", "image_shape": "512"},
}
PROGRAMS = {"ssd": "train_ssd.py", "hog": "train_hog.py"}
COMPUTED = ("num_classes", "num_training_samples", "sagemaker_program", "sagemaker_submit_directory")
TRAINING_JOB_PREFIX = "visionpipe-retrain"


class DatasetBuildError(Exception):
    """The round cannot be trained (no data, disagreeing class maps, bad overrides)."""


def hyperparameters_for(
    overrides: dict[str, Any] | None,
    num_classes: int,
    num_training_samples: int,
    algorithm: str = "ssd",
    source_uri: str = "",
) -> dict:
    """The job's HyperParameters: the algorithm's defaults, the overrides, the computed values and
    the script-mode pair naming the entry point and the sourcedir.tar.gz holding it."""
    if algorithm not in PROGRAMS:
        raise DatasetBuildError(f"unknown algorithm {algorithm!r} (known: {', '.join(PROGRAMS)})")
    overrides = dict(overrides or {})
    fixed = [name for name in COMPUTED if name in overrides]
    if fixed:
        raise DatasetBuildError(f"{', '.join(fixed)} are computed from the dataset and cannot be overridden")
    merged = {**DEFAULT_HYPERPARAMETERS[algorithm], **{k: str(v) for k, v in overrides.items()}}
    merged.update(num_classes=str(num_classes), num_training_samples=str(num_training_samples))
    if source_uri:
        merged.update(sagemaker_program=PROGRAMS[algorithm], sagemaker_submit_directory=source_uri)
    return merged


def channel_config(name: str, uri: str) -> dict[str, Any]:
    """One InputDataConfig entry (File mode, a prefix, every instance gets all of it)."""
    return {
        "ChannelName": name,
        "InputMode": "File",
        "DataSource": {
            "S3DataSource": {
                "S3DataType": "S3Prefix",
                "S3DataDistributionType": "FullyReplicated",
                "S3Uri": uri,
            }
        },
    }


class DatasetBuilder:
    def __init__(self, s3, store: CandidateStore, settings: DatasetSettings):
        self.s3 = s3
        self.store = store
        self.settings = settings

    @classmethod
    def from_settings(cls, settings: DatasetSettings) -> DatasetBuilder:
        return cls(aws.client("s3"), CandidateStore(aws.table(settings.candidates_table)), settings)

    def build(self, round_number: int, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
        settings = self.settings
        self.store.claim_approved(round_number)
        new = self.store.with_status(TRAINING, round_number)
        earlier = self.store.with_status(TRAINED)
        class_map = ClassMap.from_names(settings.class_names)
        base_map = self._base_class_map()
        if base_map is not None:
            class_map = base_map.merged_with(class_map, f"{settings.base_dataset_prefix}{CLASS_MAP_FILE}")

        root = f"{settings.rounds_prefix}round-{round_number:05d}/"
        counts = {"train": 0, "validation": 0}
        boxes = {"train": 0, "validation": 0}
        base_images = 0
        for channel in CHANNELS:
            for key in self._keys(settings.base_dataset_prefix + channel + "/"):
                self._copy(settings.model_bucket, key, root + channel + "/" + key.rsplit("/", 1)[-1])
                if channel in counts:
                    counts[channel] += 1
                    base_images += 1
                else:
                    body = self.s3.get_object(Bucket=settings.model_bucket, Key=key)["Body"].read()
                    boxes[channel.removesuffix("_annotation")] += len(
                        TrainingAnnotation.from_json(body, key).boxes
                    )

        candidates = [c for c in new + earlier if c.annotation]
        sides = assign_splits(
            [c.image_key.rsplit("/", 1)[-1] for c in candidates], settings.validation_fraction
        )
        for candidate in candidates:
            annotation = self._annotation(candidate, class_map)
            side = sides[annotation.file]
            self._copy(candidate.bucket, candidate.image_key, f"{root}{side}/{annotation.file}")
            stem = annotation.file.rsplit(".", 1)[0]
            self.s3.put_object(
                Bucket=settings.model_bucket,
                Key=f"{root}{side}_annotation/{stem}.json",
                Body=annotation.to_json().encode(),
                ContentType="application/json",
            )
            counts[side] += 1
            boxes[side] += len(annotation.boxes)
        self.s3.put_object(
            Bucket=settings.model_bucket, Key=root + CLASS_MAP_FILE, Body=class_map.to_json().encode()
        )

        if counts["train"] == 0 or counts["validation"] == 0:
            raise DatasetBuildError(
                f"round {round_number}: {counts['train']} training and {counts['validation']} "
                "validation images; both channels need at least one "
                "(upload a base dataset or approve more candidates)"
            )
        stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
        uri = f"s3://{settings.model_bucket}/{root}"
        channels = {name: f"{uri}{name}/" for name in CHANNELS}
        input_data_config = [channel_config(name, channel_uri) for name, channel_uri in channels.items()]
        if settings.pretrained_prefix and self._keys(settings.pretrained_prefix):
            # offline fine-tuning: weights the ssd script finds in SM_CHANNEL_PRETRAINED
            input_data_config.append(
                channel_config("pretrained", f"s3://{settings.model_bucket}/{settings.pretrained_prefix}")
            )
        source_uri = f"s3://{settings.model_bucket}/{settings.training_source_key}"
        return {
            "round": round_number,
            "training_job_name": f"{TRAINING_JOB_PREFIX}-{round_number:05d}-{stamp}",
            "dataset_uri": uri,
            "channels": channels,
            "input_data_config": input_data_config,
            "algorithm": settings.algorithm,
            "output_path": f"s3://{settings.model_bucket}/{settings.output_prefix}",
            "train_images": counts["train"],
            "validation_images": counts["validation"],
            "train_boxes": boxes["train"],
            "validation_boxes": boxes["validation"],
            "base_images": base_images,
            "new_candidates": len(new),
            "earlier_candidates": len(earlier),
            "classes": class_map.names,
            "hyperparameters": hyperparameters_for(
                {**self._stack_hyperparameters(), **(overrides or {})},
                class_map.num_classes,
                counts["train"],
                settings.algorithm,
                source_uri,
            ),
        }

    def _stack_hyperparameters(self) -> dict[str, Any]:
        try:
            values = json.loads(self.settings.hyperparameters or "{}")
        except ValueError as error:
            raise DatasetBuildError(f"TRAINING_HYPERPARAMETERS is not JSON: {error}") from error
        if not isinstance(values, dict):
            raise DatasetBuildError("TRAINING_HYPERPARAMETERS must be a JSON object")
        return values

    def _annotation(self, candidate: Candidate, class_map: ClassMap) -> TrainingAnnotation:
        try:
            return TrainingAnnotation.from_json(candidate.annotation, candidate.annotation_key).relabelled(
                class_map, candidate.annotation_key
            )
        except InvalidAnnotation as exc:
            raise DatasetBuildError(f"candidate {candidate.candidate_id}: {exc}") from exc

    def _base_class_map(self) -> ClassMap | None:
        key = self.settings.base_dataset_prefix + CLASS_MAP_FILE
        try:
            body = self.s3.get_object(Bucket=self.settings.model_bucket, Key=key)["Body"].read()
        except self.s3.exceptions.NoSuchKey:
            return None
        return ClassMap.from_json(body, key)

    def _keys(self, prefix: str) -> list[str]:
        keys = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.settings.model_bucket, Prefix=prefix
        ):
            keys += [obj["Key"] for obj in page.get("Contents", []) if not obj["Key"].endswith("/")]
        return keys

    def _copy(self, bucket: str, key: str, target_key: str) -> None:
        self.s3.copy_object(
            Bucket=self.settings.model_bucket, Key=target_key, CopySource={"Bucket": bucket, "Key": key}
        )
