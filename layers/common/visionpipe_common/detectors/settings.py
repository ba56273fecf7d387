"""Which detector backend judges images, and its parameters (from the function's environment)."""

from __future__ import annotations

from dataclasses import dataclass

from visionpipe_common.settings import EnvironmentSettings, setting


@dataclass(frozen=True)
class DetectorSettings(EnvironmentSettings):
    backend: str = setting("DETECTOR_BACKEND", "onnx")
    model_bucket: str = setting("MODEL_BUCKET", "")
    model_prefix_parameter: str = setting("MODEL_PREFIX_PARAMETER", "")
    sagemaker_endpoint_name: str = setting("SAGEMAKER_ENDPOINT_NAME", "")
    sagemaker_threshold: float = setting("SAGEMAKER_THRESHOLD", 0.5)
    rekognition_project_version_arn: str = setting("REKOGNITION_PROJECT_VERSION_ARN", "")
    rekognition_anomaly_label: str = setting("REKOGNITION_ANOMALY_LABEL", "anomaly")
    rekognition_min_confidence: float = setting("REKOGNITION_MIN_CONFIDENCE", 50.0)
