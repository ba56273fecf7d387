import boto3
import pytest
from moto import mock_aws
from support.images import jpeg_bytes
from support.onnx_models import brightness_metadata, mean_brightness_model

from visionpipe_common.anomaly.images import decode_image
from visionpipe_common.detectors.onnx_backend import OnnxDetector


@pytest.fixture
def model_bucket():
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="models")
        for prefix, version in (("anomaly/v1/", "v1"), ("anomaly/v2/", "v2")):
            s3.put_object(Bucket="models", Key=prefix + "model.onnx", Body=mean_brightness_model())
            s3.put_object(Bucket="models", Key=prefix + "metadata.json", Body=brightness_metadata(version))
        yield s3


def test_bright_images_are_anomalous_for_the_brightness_model(model_bucket):
    detector = OnnxDetector(model_bucket, "models", lambda: "anomaly/v1/")
    dark = detector.detect(decode_image(jpeg_bytes(brightness=40), "d.jpg", 10**7))
    bright = detector.detect(decode_image(jpeg_bytes(brightness=220), "b.jpg", 10**7))
    assert not dark.is_anomalous and bright.is_anomalous
    assert dark.confidence > 0.9 and bright.confidence > 0.9
    assert bright.model_version == "v1" and bright.details == {"threshold": 0.5}


def test_model_is_loaded_once_and_reloaded_when_the_prefix_changes(model_bucket):
    prefix = {"value": "anomaly/v1/"}
    detector = OnnxDetector(model_bucket, "models", lambda: prefix["value"])
    first = detector.model()
    assert detector.model() is first
    prefix["value"] = "anomaly/v2/"
    image = decode_image(jpeg_bytes(), "a.jpg", 10**7)
    assert detector.detect(image).model_version == "v2"
    assert detector.model() is not first
