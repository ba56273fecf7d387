"""Function settings, read once from the environment the template gives each function."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class DetectorSettings:
    backend: str
    model_bucket: str = ""
    model_prefix_parameter: str = ""
    sagemaker_endpoint_name: str = ""
    sagemaker_threshold: float = 0.5
    rekognition_project_version_arn: str = ""
    rekognition_anomaly_label: str = "anomaly"
    rekognition_min_confidence: float = 50.0


@dataclass(frozen=True)
class AnomalyFlowSettings:
    results_table: str
    results_bucket: str
    video_bucket: str
    max_image_pixels: int
    max_image_bytes: int
    frame_interval_seconds: float
    detector: DetectorSettings

    @classmethod
    def from_environment(cls) -> AnomalyFlowSettings:
        env = os.environ
        return cls(
            results_table=env["RESULTS_TABLE"],
            results_bucket=env["RESULTS_BUCKET"],
            video_bucket=env.get("VIDEO_BUCKET", ""),
            max_image_pixels=int(env.get("MAX_IMAGE_PIXELS", "40000000")),
            max_image_bytes=int(env.get("MAX_IMAGE_BYTES", str(25 * 1024 * 1024))),
            frame_interval_seconds=float(env.get("FRAME_INTERVAL_SECONDS", "5")),
            detector=DetectorSettings(
                backend=env.get("DETECTOR_BACKEND", "onnx"),
                model_bucket=env.get("MODEL_BUCKET", ""),
                model_prefix_parameter=env.get("MODEL_PREFIX_PARAMETER", ""),
                sagemaker_endpoint_name=env.get("SAGEMAKER_ENDPOINT_NAME", ""),
                sagemaker_threshold=float(env.get("SAGEMAKER_THRESHOLD", "0.5")),
                rekognition_project_version_arn=env.get("REKOGNITION_PROJECT_VERSION_ARN", ""),
                rekognition_anomaly_label=env.get("REKOGNITION_ANOMALY_LABEL", "anomaly"),
                rekognition_min_confidence=float(env.get("REKOGNITION_MIN_CONFIDENCE", "50")),
            ),
        )
