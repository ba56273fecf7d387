"""Anomaly detectors behind one interface: detect(image) -> Verdict.

Backends: onnx (onnxruntime in the Lambda), sagemaker (InvokeEndpoint), rekognition
(DetectCustomLabels). build_detector() picks one from the function's settings.
"""

from visionpipe_common.detectors.base import Detector, Verdict
from visionpipe_common.detectors.factory import build_detector

__all__ = ["Detector", "Verdict", "build_detector"]
