"""build_detector: the onnx backend reads the model prefix through its own SSM client."""

from __future__ import annotations

import boto3
from aws_lambda_powertools.utilities import parameters
from moto.server import ThreadedMotoServer

from visionpipe_common.detectors import build_detector
from visionpipe_common.detectors.settings import DetectorSettings

PARAMETER = "/visionpipe/anomaly/model-prefix"
SETTINGS = {"DETECTOR_BACKEND": "onnx", "MODEL_BUCKET": "models", "MODEL_PREFIX_PARAMETER": PARAMETER}


def test_a_detector_built_for_a_new_endpoint_never_asks_an_earlier_one(monkeypatch):
    """Two stacks one after the other in one process (local mode, tests): the second detector
    reads from its own server, not through a client left behind for the first one."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    parameters.clear_caches()
    first, second = (ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False) for _ in range(2))
    first.start()
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://{}:{}".format(*first.get_host_and_port()))
    boto3.client("ssm").put_parameter(Name=PARAMETER, Value="models/a/", Type="String", Overwrite=True)
    assert build_detector(DetectorSettings.from_environment(SETTINGS))._current_prefix() == "models/a/"
    first.stop()

    second.start()
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL", "http://{}:{}".format(*second.get_host_and_port()))
        boto3.client("ssm").put_parameter(Name=PARAMETER, Value="models/b/", Type="String", Overwrite=True)
        detector = build_detector(DetectorSettings.from_environment(SETTINGS))
        monkeypatch.delenv("AWS_ENDPOINT_URL")
        assert detector._current_prefix() == "models/b/"
    finally:
        second.stop()
        parameters.clear_caches()
