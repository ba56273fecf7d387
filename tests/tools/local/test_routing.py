"""S3 events routed through moto's own S3->SQS notifications; Lambda's async retries and destinations."""

import json
import threading
from pathlib import Path
from types import SimpleNamespace

from visionpipe.local import routing
from visionpipe.local.functions import AsyncConfig, LocalFunction
from visionpipe.local.resources import create_resource
from visionpipe.local.routing import AsyncInvoker, QueuePoller, configure_s3_routes, s3_routes


def local_function(handler, events=None, retries=2, on_failure=None) -> LocalFunction:
    function = LocalFunction(
        logical_id="Fn",
        name="unit-Fn",
        arn="arn:aws:lambda:us-east-1:123456789012:function:unit-Fn",
        code_dir=Path("."),
        handler="app.handler",
        variables={},
        timeout=30,
        memory=128,
        async_config=AsyncConfig(maximum_retry_attempts=retries, on_failure=on_failure),
        events=events or {},
        properties={},
    )
    function.module = SimpleNamespace(handler=handler)
    function._local = {}
    return function


def s3_event(bucket: str, prefix: str) -> dict:
    return {
        "Type": "S3",
        "Properties": {
            "Bucket": bucket,
            "Events": "s3:ObjectCreated:*",
            "Filter": {
                "S3Key": {"Rules": [{"Name": "prefix", "Value": prefix}, {"Name": "suffix", "Value": ".jpg"}]}
            },
        },
    }


def test_s3_routes_keep_the_templates_filter_rules():
    function = local_function(
        lambda e, c: None, events={"Uploads": s3_event("b", "in/"), "Other": {"Type": "SQS"}}
    )
    (route,) = s3_routes([function])
    assert route.bucket == "b" and route.events == ["s3:ObjectCreated:*"]
    assert route.rules == [{"Name": "prefix", "Value": "in/"}, {"Name": "suffix", "Value": ".jpg"}]


def test_filtered_enriched_events_reach_the_handler_once_each(deploy):
    template = {
        "Resources": {
            "Bucket": {
                "Type": "AWS::S3::Bucket",
                "Properties": {"VersioningConfiguration": {"Status": "Enabled"}},
            }
        }
    }
    d = deploy(template)
    bucket = create_resource(d, "Bucket", template["Resources"]["Bucket"]).ref
    received, done = [], threading.Event()

    def handler(event, context):
        received.append(event)
        done.set()

    function = local_function(handler, events={"Uploads": s3_event(bucket, "in/")})
    invoker = AsyncInvoker(d)
    invoker.start([function])
    routing.install_s3_record_enrichment()
    try:
        (route,) = configure_s3_routes(d, [function])
        poller = QueuePoller(d, route, invoker)
        poller.start()
        s3 = d.client("s3")
        s3.put_object(Bucket=bucket, Key="out/skip.jpg", Body=b"x")  # prefix does not match
        s3.put_object(Bucket=bucket, Key="in/skip.png", Body=b"x")  # suffix does not match
        put = s3.put_object(Bucket=bucket, Key="in/a b+ü.jpg", Body=b"x")
        assert done.wait(10)
        poller.stop()
    finally:
        routing.uninstall_s3_record_enrichment()
        invoker.stop()
    (event,) = received  # the s3:TestEvent S3 sends to the queue never reaches the function
    record = event["Records"][0]
    assert record["s3"]["object"]["key"] == "in/a+b%2B%C3%BC.jpg"
    assert record["s3"]["object"]["versionId"] == put["VersionId"]
    assert len(record["s3"]["object"]["sequencer"]) == 18
    assert record["responseElements"]["x-amz-request-id"]


def test_sequencers_increase():
    first, second = routing.next_sequencer(), routing.next_sequencer()
    assert first < second and len(first) == len(second)


def test_retries_exhausted_go_to_the_on_failure_queue(deploy):
    template = {"Resources": {"Failed": {"Type": "AWS::SQS::Queue", "Properties": {}}}}
    d = deploy(template)
    queue = create_resource(d, "Failed", template["Resources"]["Failed"])
    attempts = []

    def handler(event, context):
        attempts.append(context.aws_request_id)
        raise ConnectionError("throttled")

    function = local_function(
        handler, retries=2, on_failure={"Type": "SQS", "Destination": queue.attributes["Arn"]}
    )
    invoker = AsyncInvoker(d, retry_delay=0.05)
    invoker.start([function])
    try:
        request_id = invoker.submit(function, {"hello": "world"})
        sqs = d.client("sqs")
        messages = []
        for _ in range(20):
            messages = sqs.receive_message(QueueUrl=queue.ref, WaitTimeSeconds=1).get("Messages", [])
            if messages:
                break
    finally:
        invoker.stop()
    record = json.loads(messages[0]["Body"])
    assert attempts == [request_id] * 3
    assert record["version"] == "1.0" and record["timestamp"]
    assert record["requestContext"] == {
        "requestId": request_id,
        "functionArn": function.arn + ":$LATEST",
        "condition": "RetriesExhausted",
        "approximateInvokeCount": 3,
    }
    assert record["requestPayload"] == {"hello": "world"}
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"]["errorMessage"] == "throttled"
    assert record["responsePayload"]["errorType"] == "ConnectionError"
