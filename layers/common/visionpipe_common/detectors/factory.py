from __future__ import annotations

from visionpipe_common import aws
from visionpipe_common.detectors.base import Detector
from visionpipe_common.detectors.settings import DetectorSettings


def build_detector(settings: DetectorSettings, s3_client=None) -> Detector:
    """s3_client: the flow's own S3 client, shared (one fewer client to build at a cold start)."""
    if settings.backend == "onnx":
        from aws_lambda_powertools.utilities.parameters import SSMProvider

        from visionpipe_common.detectors.onnx_backend import OnnxDetector

        # The detector's own provider, its client made with the others (one retry policy, this
        # container's endpoint); Powertools' module-wide default one would outlive them.
        ssm = SSMProvider(boto3_client=aws.client("ssm"))

        def current_prefix() -> str:
            return ssm.get(settings.model_prefix_parameter, max_age=300)

        return OnnxDetector(s3_client or aws.client("s3"), settings.model_bucket, current_prefix)
    if settings.backend == "sagemaker":
        from visionpipe_common.detectors.sagemaker_backend import SageMakerDetector

        return SageMakerDetector(
            aws.client("sagemaker-runtime"),
            settings.sagemaker_endpoint_name,
            settings.sagemaker_threshold,
        )
    if settings.backend == "rekognition":
        from visionpipe_common.detectors.rekognition_backend import RekognitionDetector

        return RekognitionDetector(
            aws.client("rekognition"),
            settings.rekognition_project_version_arn,
            settings.rekognition_anomaly_label,
            settings.rekognition_min_confidence,
        )
    raise ValueError(f"unknown DETECTOR_BACKEND {settings.backend!r}: use onnx, sagemaker or rekognition")
