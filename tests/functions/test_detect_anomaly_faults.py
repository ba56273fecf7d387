"""Exactly once under faults: replies lost after the write committed, requests refused before it.

detect_anomaly runs against moto's server behind a fault-injecting proxy on 127.0.0.1: 20 % of
requests are refused before they reach the service and 20 % of replies are lost after it committed
them. Each upload is delivered like Lambda does (up to 3 attempts: MaximumRetryAttempts 2); an
upload whose attempts all fail would be parked. Every upload must end as exactly one item whose
document exists, and none may be parked.
"""

import json
from urllib.parse import quote_plus

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from botocore.retries import standard
from moto.server import ThreadedMotoServer
from support.fault_proxy import FaultProxy
from support.images import jpeg_bytes
from support.lambda_context import FakeLambdaContext
from support.onnx_models import brightness_metadata, mean_brightness_model

from visionpipe.lambda_loader import load_handler_module
from visionpipe.template import REPO_ROOT, table_definition

UPLOADS = 200
LAMBDA_ATTEMPTS = 3
IMAGE_BUCKET, RESULTS_BUCKET, MODEL_BUCKET = "images", "results-bucket", "model-bucket"
PREFIX_PARAMETER = "/visionpipe/anomaly/model-prefix"


@pytest.fixture(autouse=True)
def fresh_parameter_cache():
    """Powertools caches the model prefix process-wide: neither take another test's, nor leave ours."""
    parameters.clear_caches()
    yield
    parameters.clear_caches()


@pytest.fixture
def moto_server():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def notification(key: str, size: int, response: dict) -> dict:
    event = json.loads((REPO_ROOT / "events" / "detect_anomaly_image_upload.json").read_text())
    record = event["Records"][0]
    record["s3"]["bucket"]["name"] = IMAGE_BUCKET
    record["s3"]["object"].update(
        key=quote_plus(key),
        size=size,
        eTag=response["ETag"].strip('"'),
        versionId=response["VersionId"],
        sequencer=f"{abs(hash(response['VersionId'])):018X}",
    )
    return event


def test_lost_replies_and_refused_requests_lose_nothing_and_park_nothing(moto_server, monkeypatch):
    direct = {"endpoint_url": moto_server, "region_name": "us-east-1"}
    s3 = boto3.client("s3", **direct)
    for bucket in (IMAGE_BUCKET, RESULTS_BUCKET, MODEL_BUCKET):
        s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=IMAGE_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=MODEL_BUCKET, Key="anomaly/m/model.onnx", Body=mean_brightness_model())
    s3.put_object(Bucket=MODEL_BUCKET, Key="anomaly/m/metadata.json", Body=brightness_metadata("m-1"))
    boto3.client("ssm", **direct).put_parameter(Name=PREFIX_PARAMETER, Value="anomaly/m/", Type="String")
    table = boto3.resource("dynamodb", **direct).create_table(
        TableName="results", **table_definition("ResultsTable")
    )
    events = []
    for n in range(UPLOADS):
        body = jpeg_bytes(seed=n % 7, brightness=40 + n % 150)
        key = f"image_inputs/upload {n:03d}.jpg"
        events.append(notification(key, len(body), s3.put_object(Bucket=IMAGE_BUCKET, Key=key, Body=body)))

    with FaultProxy(moto_server, refuse_rate=0.2, lose_reply_rate=0.2, seed=7) as proxy:
        for name, value in {
            "AWS_ENDPOINT_URL": proxy.url,
            "POWERTOOLS_SERVICE_NAME": "detect_anomaly",
            "POWERTOOLS_METRICS_NAMESPACE": "visionpipe",
            "RESULTS_TABLE": "results",
            "RESULTS_BUCKET": RESULTS_BUCKET,
            "MODEL_BUCKET": MODEL_BUCKET,
            "MODEL_PREFIX_PARAMETER": PREFIX_PARAMETER,
        }.items():
            monkeypatch.setenv(name, value)
        # Correctness, not timing: the SDK retries at once instead of backing off for seconds, and
        # without its per-client retry quota (500 tokens: an outage guard that ~450 injected faults in
        # one process would drain, while on Lambda each container has its own).
        monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda self, context: 0.0)
        monkeypatch.setattr(standard.RetryQuotaChecker, "acquire_retry_quota", lambda self, context: True)
        module = load_handler_module("detect_anomaly")

        def deliver(event: dict) -> bool:
            for _ in range(LAMBDA_ATTEMPTS):
                try:
                    module.lambda_handler(event, FakeLambdaContext())
                    return True
                except Exception:  # the invocation failed: Lambda tries again
                    continue
            return False  # retries exhausted: parked in the failed-events queue

        delivered = [deliver(event) for event in events]  # in order: the seeded faults repeat exactly

    parked = delivered.count(False)
    pages = table.meta.client.get_paginator("scan").paginate(TableName="results", ConsistentRead=True)
    items = [item for page in pages for item in page["Items"]]
    print(f"faults: {dict(proxy.counts)}; parked {parked}")
    assert proxy.counts["reply_lost"] > 100 and proxy.counts["refused"] > 100  # the faults happened
    assert parked == 0
    assert sorted(i["Key"] for i in items) == sorted(
        f"image_inputs/upload {n:03d}.jpg" for n in range(UPLOADS)
    )
    assert all(i["Status"] == "OK" for i in items)
    for item in items:
        document = json.loads(s3.get_object(Bucket=RESULTS_BUCKET, Key=item["ResultKey"])["Body"].read())
        assert document["RequestID"] == item["RequestID"] and document["Date"] == item["Date"]
