import io
import json

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from support.images import jpeg_bytes, png_bytes

from visionpipe_common.anomaly.images import decode_image
from visionpipe_common.detectors.sagemaker_backend import SageMakerDetector, verdict_from_response
from visionpipe_common.errors import RejectedInput


def body(payload: dict) -> StreamingBody:
    raw = json.dumps(payload).encode()
    return StreamingBody(io.BytesIO(raw), len(raw))


@pytest.fixture
def runtime():
    client = boto3.client("sagemaker-runtime", region_name="us-east-1")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def test_sends_the_uploaded_bytes_with_their_real_type(runtime):
    client, stubber = runtime
    image = decode_image(png_bytes(), "named-like-a.jpg", 10**7)
    stubber.add_response(
        "invoke_endpoint",
        {
            "Body": body({"DetectAnomalyResult": {"IsAnomalous": True, "Confidence": 0.93}}),
            "ContentType": "application/json",
        },
        {
            "EndpointName": "defects",
            "ContentType": "image/png",
            "Accept": "application/json",
            "Body": image.data,
        },
    )
    verdict = SageMakerDetector(client, "defects", 0.5).detect(image)
    assert (verdict.is_anomalous, verdict.confidence, verdict.model_version) == (True, 0.93, "defects")


@pytest.mark.parametrize(
    ("response", "anomalous", "confidence"),
    [
        ({"DetectAnomalyResult": {"IsAnomalous": False, "Confidence": 0.8}}, False, 0.8),
        ({"IsAnomalous": True, "Confidence": 0.7}, True, 0.7),
        ({"is_anomalous": False, "confidence": 0.99}, False, 0.99),
        ({"score": 0.9}, True, None),
        ({"anomaly_score": 0.1}, False, None),
    ],
)
def test_response_shapes(response, anomalous, confidence):
    verdict = verdict_from_response(response, threshold=0.5, default_version="ep")
    assert verdict.is_anomalous is anomalous
    if confidence is not None:
        assert verdict.confidence == confidence
    else:
        assert 0.5 < verdict.confidence <= 1.0


def test_unknown_response_shape_is_an_error():
    with pytest.raises(ValueError, match="IsAnomalous"):
        verdict_from_response({"label": "cat"}, 0.5, "ep")


def test_model_error_4xx_rejects_the_image(runtime):
    client, stubber = runtime
    stubber.add_client_error(
        "invoke_endpoint",
        service_error_code="ModelError",
        http_status_code=424,
        response_meta={},
        modeled_fields={"OriginalStatusCode": 400, "OriginalMessage": "bad image"},
    )
    with pytest.raises(RejectedInput, match="refused the image"):
        SageMakerDetector(client, "defects", 0.5).detect(decode_image(jpeg_bytes(), "a.jpg", 10**7))


def test_throttling_propagates_for_a_retry(runtime):
    client, stubber = runtime
    stubber.add_client_error(
        "invoke_endpoint", service_error_code="ThrottlingException", http_status_code=400
    )
    with pytest.raises(Exception, match="ThrottlingException"):
        SageMakerDetector(client, "defects", 0.5).detect(decode_image(jpeg_bytes(), "a.jpg", 10**7))
