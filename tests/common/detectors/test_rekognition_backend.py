import boto3
import pytest
from botocore.stub import Stubber
from support.images import jpeg_bytes

from visionpipe_common.anomaly.images import decode_image
from visionpipe_common.detectors.rekognition_backend import RekognitionDetector
from visionpipe_common.errors import RejectedInput

ARN = "arn:aws:rekognition:us-east-1:123456789012:project/parts/version/parts.2026-11-01/1730000000000"


@pytest.fixture
def rekognition():
    client = boto3.client("rekognition", region_name="us-east-1")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def detect(client, stubber, labels):
    image = decode_image(jpeg_bytes(), "part.jpg", 10**7)
    stubber.add_response(
        "detect_custom_labels",
        {"CustomLabels": labels},
        {"ProjectVersionArn": ARN, "Image": {"Bytes": image.data}, "MinConfidence": 0},
    )
    return RekognitionDetector(client, ARN, "Anomaly", 50).detect(image)


def test_anomaly_label_above_the_bar_is_anomalous(rekognition):
    verdict = detect(
        *rekognition, [{"Name": "anomaly", "Confidence": 91.0}, {"Name": "normal", "Confidence": 9.0}]
    )
    assert (verdict.is_anomalous, verdict.confidence, verdict.model_version) == (
        True,
        0.91,
        "parts.2026-11-01",
    )


def test_normal_label_wins_below_the_bar(rekognition):
    verdict = detect(
        *rekognition, [{"Name": "normal", "Confidence": 88.0}, {"Name": "anomaly", "Confidence": 12.0}]
    )
    assert (verdict.is_anomalous, verdict.confidence) == (False, 0.88)


def test_no_labels_means_normal(rekognition):
    verdict = detect(*rekognition, [])
    assert (verdict.is_anomalous, verdict.confidence) == (False, 1.0)


def test_model_not_running_propagates_for_retry(rekognition):
    client, stubber = rekognition
    stubber.add_client_error(
        "detect_custom_labels", service_error_code="ResourceNotReadyException", http_status_code=400
    )
    with pytest.raises(Exception, match="ResourceNotReadyException"):
        RekognitionDetector(client, ARN, "anomaly", 50).detect(decode_image(jpeg_bytes(), "p.jpg", 10**7))


def test_invalid_image_format_is_rejected(rekognition):
    client, stubber = rekognition
    stubber.add_client_error(
        "detect_custom_labels", service_error_code="InvalidImageFormatException", http_status_code=400
    )
    with pytest.raises(RejectedInput, match="Rekognition refused"):
        RekognitionDetector(client, ARN, "anomaly", 50).detect(decode_image(jpeg_bytes(), "p.jpg", 10**7))
