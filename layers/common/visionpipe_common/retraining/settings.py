"""Settings of the retraining functions, read once from the environment the template gives them."""

from __future__ import annotations

from dataclasses import dataclass

from visionpipe_common.settings import EnvironmentSettings, names_list, setting


def prefix(value: str) -> str:
    """An S3 prefix that ends with one slash (or is empty)."""
    value = value.strip("/")
    return f"{value}/" if value else ""


@dataclass(frozen=True)
class CuratorSettings(EnvironmentSettings):
    """curate_retraining and finish_retraining_round: candidates and when a round starts."""

    candidates_table: str = setting("CANDIDATES_TABLE")
    class_names: tuple[str, ...] = setting("CLASS_NAMES", names_list("face"))
    threshold: int = setting("RETRAIN_THRESHOLD", 50)
    state_machine_arn: str = setting("RETRAIN_STATE_MACHINE_ARN", "")
    auto_approve: bool = setting("AUTO_APPROVE", False)


@dataclass(frozen=True)
class DatasetSettings(EnvironmentSettings):
    """build_retraining_dataset: where the base dataset, the rounds and the training output live."""

    candidates_table: str = setting("CANDIDATES_TABLE")
    model_bucket: str = setting("MODEL_BUCKET")
    base_dataset_prefix: str = setting("BASE_DATASET_PREFIX", "datasets/base/", parse=prefix)
    rounds_prefix: str = setting("ROUNDS_PREFIX", "datasets/rounds/", parse=prefix)
    output_prefix: str = setting("TRAINING_OUTPUT_PREFIX", "retraining/output/", parse=prefix)
    class_names: tuple[str, ...] = setting("CLASS_NAMES", names_list("face"))
    validation_fraction: float = setting("VALIDATION_FRACTION", 0.1)
    algorithm: str = setting("DETECTOR_ALGORITHM", "ssd")
    hyperparameters: str = setting("TRAINING_HYPERPARAMETERS", "{}")  # JSON object, the stack's overrides
    training_source_key: str = setting("TRAINING_SOURCE_KEY", "training/source/sourcedir.tar.gz")
    pretrained_prefix: str = setting("PRETRAINED_PREFIX", "training/pretrained/", parse=prefix)


@dataclass(frozen=True)
class ModelComponentSettings(EnvironmentSettings):
    """publish_model_component: the Greengrass component that carries the device's model."""

    component_name: str = setting("MODEL_COMPONENT_NAME")
    rollout_mode: str = setting("ROLLOUT_MODE", "manual")  # auto | manual
    rollout_target_arn: str = setting("ROLLOUT_TARGET_ARN", "")
