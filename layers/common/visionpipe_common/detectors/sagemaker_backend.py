"""sagemaker backend: InvokeEndpoint on a real-time or serverless endpoint.

Request: the image bytes as they were uploaded, ContentType image/jpeg or image/png,
Accept application/json. Response, any one of:
  {"DetectAnomalyResult": {"IsAnomalous": true, "Confidence": 0.97}}   (Lookout for Vision shape)
  {"IsAnomalous": true, "Confidence": 0.97}  or  {"is_anomalous": true, "confidence": 0.97}
  {"score": 0.83}  (also "anomaly_score" or "pred_score"): compared with SAGEMAKER_THRESHOLD
Optional "model_version" in the response is recorded; otherwise the endpoint name is.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from visionpipe_common.anomaly.images import DecodedImage
from visionpipe_common.detectors.base import Verdict, verdict_from_score
from visionpipe_common.errors import RejectedInput

SCORE_FIELDS = ("score", "anomaly_score", "pred_score")


def verdict_from_response(body: dict[str, Any], threshold: float, default_version: str) -> Verdict:
    version = str(body.get("model_version") or default_version)
    result = body.get("DetectAnomalyResult", body)
    if "IsAnomalous" in result:
        return Verdict(bool(result["IsAnomalous"]), float(result["Confidence"]), version, details=body)
    if "is_anomalous" in result:
        return Verdict(bool(result["is_anomalous"]), float(result["confidence"]), version, details=body)
    for name in SCORE_FIELDS:
        if name in result:
            return verdict_from_score(float(result[name]), threshold, 0.1, version)
    raise ValueError(f"endpoint response has none of IsAnomalous, is_anomalous, {', '.join(SCORE_FIELDS)}")


class SageMakerDetector:
    backend = "sagemaker"

    def __init__(self, runtime_client, endpoint_name: str, threshold: float):
        if not endpoint_name:
            raise ValueError("the sagemaker backend needs SageMakerEndpointName")
        self._runtime = runtime_client
        self._endpoint = endpoint_name
        self._threshold = threshold

    def detect(self, image: DecodedImage) -> Verdict:
        try:
            response = self._runtime.invoke_endpoint(
                EndpointName=self._endpoint,
                ContentType=image.content_type,
                Accept="application/json",
                Body=image.data,
            )
        except ClientError as exc:
            # ModelError: the container answered 4xx for this image; anything else propagates
            # (throttling, 5xx, endpoint missing) and is retried, then parked in the queue.
            if (
                exc.response["Error"]["Code"] == "ModelError"
                and 400 <= int(exc.response.get("OriginalStatusCode", 500)) < 500
            ):
                raise RejectedInput(f"endpoint {self._endpoint} refused the image: {exc}") from exc
            raise
        body = json.loads(response["Body"].read())
        return verdict_from_response(body, self._threshold, default_version=self._endpoint)
