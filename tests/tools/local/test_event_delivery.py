"""S3 notifications and invocations reach the in-process handlers as Lambda delivers them.

moto's own S3 notifications (the bucket's LambdaConfigurations) -> the bridge -> the function's
asynchronous queue with the EventInvokeConfig's retries and OnFailure queue; `lambda invoke`
through the endpoint runs the handler in place.
"""

import contextlib
import json
import threading
from types import SimpleNamespace

import pytest

from visionpipe.local import moto_internals, s3_delivery
from visionpipe.local.deployment import LOCAL_ARTIFACTS, creation_order
from visionpipe.local.invocation import AsyncInvoker
from visionpipe.local.lambda_bridge import LambdaBridge
from visionpipe.local.resources import create_resource

TRUST = {
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ]
}
FUNCTION_ARN = {"Fn::GetAtt": ["Fn", "Arn"]}
RULES = [{"Name": "prefix", "Value": "in/"}, {"Name": "suffix", "Value": ".jpg"}]
TEMPLATE = {
    "Resources": {
        "Failed": {"Type": "AWS::SQS::Queue", "Properties": {}},
        "FnRole": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": TRUST}},
        "Fn": {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "Code": {"S3Bucket": LOCAL_ARTIFACTS, "S3Key": "fn/"},
                "Handler": "app.handler",
                "Runtime": "python3.13",
                "Role": {"Fn::GetAtt": ["FnRole", "Arn"]},
                "Environment": {"Variables": {"FLAG": True}},
            },
        },
        "FnEventInvokeConfig": {
            "Type": "AWS::Lambda::EventInvokeConfig",
            "Properties": {
                "FunctionName": {"Ref": "Fn"},
                "Qualifier": "$LATEST",
                "MaximumRetryAttempts": 2,
                "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": ["Failed", "Arn"]}}},
            },
        },
        "Bucket": {
            "Type": "AWS::S3::Bucket",
            "Properties": {
                "VersioningConfiguration": {"Status": "Enabled"},
                "NotificationConfiguration": {
                    "LambdaConfigurations": [
                        {
                            "Function": FUNCTION_ARN,
                            "Event": "s3:ObjectCreated:*",
                            "Filter": {"S3Key": {"Rules": RULES}},
                        }
                    ]
                },
            },
        },
    }
}


@pytest.fixture
def stack(deploy, tmp_path):
    (tmp_path / "fn").mkdir()
    (tmp_path / "fn" / "app.py").write_text("def handler(event, context):\n    return event\n")
    d = deploy(TEMPLATE)
    for logical_id in creation_order(TEMPLATE["Resources"]):
        create_resource(d, logical_id, TEMPLATE["Resources"][logical_id])
    function = d.created["Fn"].local
    invoker = AsyncInvoker(d.client("sqs"), retry_delay=0.05)
    bridge = LambdaBridge(invoker.submit)
    bridge.register(function)
    with contextlib.ExitStack() as running:
        running.enter_context(moto_internals.s3_event_records(s3_delivery.enrich))
        running.enter_context(moto_internals.lambda_invocations(bridge.route))
        invoker.start([function])
        running.callback(invoker.stop)
        yield SimpleNamespace(d=d, function=function, invoker=invoker)


def handled_by(function, handler) -> None:
    function.module = SimpleNamespace(handler=handler)


def test_filtered_enriched_s3_events_reach_the_handler_once_each(stack):
    assert stack.function.variables == {"FLAG": "true"}
    received, done = [], threading.Event()
    handled_by(stack.function, lambda event, context: (received.append(event), done.set()))
    s3, bucket = stack.d.client("s3"), stack.d.created["Bucket"].ref
    s3.put_object(Bucket=bucket, Key="out/skip.jpg", Body=b"x")  # prefix does not match
    s3.put_object(Bucket=bucket, Key="in/skip.png", Body=b"x")  # suffix does not match
    put = s3.put_object(Bucket=bucket, Key="in/a b+ü.jpg", Body=b"x")
    assert done.wait(10)
    (event,) = received
    record = event["Records"][0]
    assert record["eventSource"] == "aws:s3" and record["eventName"] == "ObjectCreated:Put"
    assert record["s3"]["object"]["key"] == "in/a+b%2B%C3%BC.jpg"
    assert record["s3"]["object"]["versionId"] == put["VersionId"]
    assert len(record["s3"]["object"]["sequencer"]) == 18
    assert record["responseElements"]["x-amz-request-id"]


def test_sequencers_increase():
    first, second = s3_delivery.next_sequencer(), s3_delivery.next_sequencer()
    assert first < second and len(first) == len(second)


def test_retries_exhausted_go_to_the_on_failure_queue(stack):
    attempts = []

    def fail(event, context):
        attempts.append(context.aws_request_id)
        raise ConnectionError("throttled")

    handled_by(stack.function, fail)
    lambda_client = stack.d.client("lambda")
    response = lambda_client.invoke(
        FunctionName=stack.function.name, InvocationType="Event", Payload=b'{"a": 1}'
    )
    assert response["StatusCode"] == 202
    sqs, queue = stack.d.client("sqs"), stack.d.created["Failed"].ref
    messages = []
    for _ in range(20):
        messages = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1).get("Messages", [])
        if messages:
            break
    record = json.loads(messages[0]["Body"])
    request_id = attempts[0]
    assert attempts == [request_id] * 3  # one request id, three attempts
    assert record["requestContext"] == {
        "requestId": request_id,
        "functionArn": stack.function.arn + ":$LATEST",
        "condition": "RetriesExhausted",
        "approximateInvokeCount": 3,
    }
    assert record["requestPayload"] == {"a": 1}
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert (record["responsePayload"]["errorType"], record["responsePayload"]["errorMessage"]) == (
        "ConnectionError",
        "throttled",
    )


def test_request_response_invokes_run_in_place(stack):
    lambda_client = stack.d.client("lambda")
    handled_by(stack.function, lambda event, context: {"got": event, "name": context.function_name})
    ok = lambda_client.invoke(FunctionName=stack.function.name, Payload=b'{"x": 1}')
    assert json.loads(ok["Payload"].read()) == {"got": {"x": 1}, "name": stack.function.name}

    def boom(event, context):
        raise ValueError("bad input")

    handled_by(stack.function, boom)
    failed = lambda_client.invoke(FunctionName=stack.function.name, Payload=b"{}")
    assert failed["FunctionError"] == "Unhandled"
    assert json.loads(failed["Payload"].read())["errorMessage"] == "bad input"
