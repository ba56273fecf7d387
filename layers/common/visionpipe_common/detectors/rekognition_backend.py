"""rekognition backend: DetectCustomLabels on a Custom Labels project version.

The image is anomalous when the configured label is returned with at least MinConfidence.
Confidence is that label's confidence (0..1); for a normal verdict, the best other label's,
or 1 - the anomaly label's when Rekognition returned it below the bar.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from visionpipe_common.anomaly.images import DecodedImage
from visionpipe_common.detectors.base import Verdict
from visionpipe_common.errors import RejectedInput

MAX_IMAGE_BYTES = 4 * 1024 * 1024  # DetectCustomLabels' limit for image bytes
PERMANENT_CODES = frozenset({"ImageTooLargeException", "InvalidImageFormatException"})


class RekognitionDetector:
    backend = "rekognition"

    def __init__(self, client, project_version_arn: str, anomaly_label: str, min_confidence: float):
        if not project_version_arn:
            raise ValueError("the rekognition backend needs RekognitionProjectVersionArn")
        self._client = client
        self._arn = project_version_arn
        self._label = anomaly_label.lower()
        self._min_confidence = min_confidence

    def detect(self, image: DecodedImage) -> Verdict:
        if len(image.data) > MAX_IMAGE_BYTES:
            raise RejectedInput(
                f"image is {len(image.data)} bytes; Rekognition accepts at most {MAX_IMAGE_BYTES}"
            )
        try:
            response = self._client.detect_custom_labels(
                ProjectVersionArn=self._arn, Image={"Bytes": image.data}, MinConfidence=0
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] in PERMANENT_CODES:
                raise RejectedInput(f"Rekognition refused the image: {exc}") from exc
            raise
        labels = {
            label["Name"].lower(): float(label["Confidence"]) / 100.0 for label in response["CustomLabels"]
        }
        version = self._arn.rsplit("/", 2)[-2] if "/version/" in self._arn else self._arn
        anomaly = labels.get(self._label, 0.0)
        if anomaly * 100.0 >= self._min_confidence:
            return Verdict(True, anomaly, version, score=anomaly, details={"labels": labels})
        others = [c for name, c in labels.items() if name != self._label]
        confidence = max(others) if others else 1.0 - anomaly
        return Verdict(False, confidence, version, score=anomaly, details={"labels": labels})
