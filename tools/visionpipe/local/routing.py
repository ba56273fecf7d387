"""Delivers events to the in-process handlers the way Lambda would.

S3 -> function: for every `Events: {Type: S3}` of a function, a queue and a QueueConfiguration
on the bucket with the template's event names and prefix/suffix rules, so moto's own S3->SQS
notifications do the filtering. A poller per queue hands each S3 event to the function's
asynchronous invoker, which is Lambda's async invocation: one event per invocation, retried
MaximumRetryAttempts times, then sent to the OnFailure destination with Lambda's record.

moto's S3 record lacks fields real S3 sends (versionId on versioned buckets, sequencer,
responseElements, requestParameters, userIdentity) and encodes "/" in keys: those are added
while routing is installed, from the object moto just stored.

SQS -> function (`Type: SQS`): an event source mapping (batches, synchronous invoke, messages
deleted on success, partial batch failures when ReportBatchItemFailures is on).
SNS and EventBridge rules with function targets go through moto's own delivery, which reaches
the handlers through the Lambda bridge.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import json
import logging
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

from moto.s3 import notifications as s3_notifications

from visionpipe.local.functions import LocalFunction
from visionpipe.local.lambda_bridge import error_payload
from visionpipe.local.resources import Deployment

log = logging.getLogger("visionpipe.local")

# ------------------------------------------------------------------ S3 records as real S3 sends them

_sequence_lock = threading.Lock()
_sequence = itertools.count(time.time_ns() // 1000)
_original_get_s3_event = s3_notifications._get_s3_event
_enrichment_users = 0


def next_sequencer() -> str:
    """Unique per PUT and increasing, like S3's sequencer (hex, fixed width)."""
    with _sequence_lock:
        return f"{next(_sequence):018X}"


def _enriched_s3_event(event_name: str, bucket: Any, key: Any, notification_id: str) -> dict[str, Any]:
    event = _original_get_s3_event(event_name, bucket, key, notification_id)
    for record in event["Records"]:
        obj = record["s3"]["object"]
        obj["key"] = quote_plus(key.name, safe="/")
        obj["sequencer"] = next_sequencer()
        version_id = getattr(key, "version_id", None)
        if getattr(bucket, "is_versioned", False) and version_id not in (None, "null"):
            obj["versionId"] = version_id
        record["userIdentity"] = {"principalId": "AWS:AIDALOCALUSER000000"}
        record["requestParameters"] = {"sourceIPAddress": "127.0.0.1"}
        record["responseElements"] = {
            "x-amz-request-id": secrets.token_hex(8).upper(),
            "x-amz-id-2": secrets.token_urlsafe(48),
        }
        record["s3"]["bucket"]["ownerIdentity"] = {"principalId": "A3NL1KOZZKExample"}
    return event


def install_s3_record_enrichment() -> None:
    global _enrichment_users
    with _sequence_lock:
        _enrichment_users += 1
        s3_notifications._get_s3_event = _enriched_s3_event


def uninstall_s3_record_enrichment() -> None:
    global _enrichment_users
    with _sequence_lock:
        _enrichment_users = max(0, _enrichment_users - 1)
        if _enrichment_users == 0:
            s3_notifications._get_s3_event = _original_get_s3_event


# ------------------------------------------------------------------ asynchronous invocation


@dataclass(order=True)
class _Attempt:
    due: float
    sequence: int
    function: LocalFunction = field(compare=False)
    event: Any = field(compare=False)
    request_id: str = field(compare=False)
    attempt: int = field(compare=False, default=1)
    received: float = field(compare=False, default_factory=time.time)


class AsyncInvoker:
    """Lambda's asynchronous invocation for the local functions: a queue, retries, destinations.

    One worker thread per function (one warm container). Retries wait retry_delay * 2**n seconds
    (Lambda waits about a minute, then two; locally it is scaled down).
    """

    def __init__(self, deployment: Deployment, retry_delay: float = 0.2):
        self._d = deployment
        self._retry_delay = retry_delay
        self._queues: dict[str, list[_Attempt]] = {}
        self._conditions: dict[str, threading.Condition] = {}
        self._threads: list[threading.Thread] = []
        self._counter = itertools.count()
        self._stopping = threading.Event()
        self._busy: dict[str, int] = {}
        self.completed = 0
        self.failed = 0

    def start(self, functions: list[LocalFunction]) -> None:
        for function in functions:
            self._queues[function.name] = []
            self._conditions[function.name] = threading.Condition()
            self._busy[function.name] = 0
            thread = threading.Thread(
                target=self._work, args=(function.name,), name=f"lambda-{function.logical_id}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stopping.set()
        for condition in self._conditions.values():
            with condition:
                condition.notify_all()
        for thread in self._threads:
            thread.join(timeout=10)

    def submit(self, function: LocalFunction, event: Any, request_id: str | None = None) -> str:
        request_id = request_id or str(uuid.uuid4())
        self._push(_Attempt(time.monotonic(), next(self._counter), function, event, request_id))
        return request_id

    def pending(self) -> int:
        """Invocations queued, waiting for a retry, or running."""
        total = 0
        for name, condition in self._conditions.items():
            with condition:
                total += len(self._queues[name]) + self._busy[name]
        return total

    def _push(self, attempt: _Attempt) -> None:
        condition = self._conditions[attempt.function.name]
        with condition:
            heapq.heappush(self._queues[attempt.function.name], attempt)
            condition.notify()

    def _work(self, name: str) -> None:
        condition, queue = self._conditions[name], self._queues[name]
        while not self._stopping.is_set():
            with condition:
                while not self._stopping.is_set() and (not queue or queue[0].due > time.monotonic()):
                    condition.wait(timeout=(queue[0].due - time.monotonic()) if queue else 0.5)
                if self._stopping.is_set():
                    return
                attempt = heapq.heappop(queue)
                self._busy[name] += 1
            try:
                self._run(attempt)
            finally:
                with condition:
                    self._busy[name] -= 1

    def _run(self, attempt: _Attempt) -> None:
        function, config = attempt.function, attempt.function.async_config
        try:
            result = function.invoke(attempt.event, attempt.request_id)
        except Exception as exc:
            age = time.time() - attempt.received
            if attempt.attempt <= config.maximum_retry_attempts and age < config.maximum_event_age_seconds:
                log.info(
                    "%s: attempt %d of %s failed (%s), retrying",
                    function.logical_id,
                    attempt.attempt,
                    attempt.request_id,
                    exc,
                )
                attempt.attempt += 1
                attempt.due = time.monotonic() + self._retry_delay * 2 ** (attempt.attempt - 2)
                attempt.sequence = next(self._counter)
                self._push(attempt)
                return
            condition = "RetriesExhausted" if age < config.maximum_event_age_seconds else "EventAgeExceeded"
            self.failed += 1
            log.warning(
                "%s: %s after %d attempt(s): %s", function.logical_id, condition, attempt.attempt, exc
            )
            record = destination_record(
                attempt, condition, error_payload(exc, attempt.request_id), failed=True
            )
            self._deliver(function, config.on_failure, record)
            return
        self.completed += 1
        if config.on_success:
            self._deliver(
                function, config.on_success, destination_record(attempt, "Success", result, failed=False)
            )

    def _deliver(self, function: LocalFunction, destination: dict[str, str] | None, record: dict) -> None:
        if not destination or not destination.get("Destination"):
            if record["requestContext"]["condition"] != "Success":
                log.error("%s: event dropped (no OnFailure destination): %s", function.logical_id, record)
            return
        kind, arn = destination.get("Type", ""), destination["Destination"]
        body = json.dumps(record, default=str)
        service = arn.split(":")[2]
        if service == "sqs":
            sqs = self._d.client("sqs")
            url = sqs.get_queue_url(QueueName=arn.rsplit(":", 1)[1])["QueueUrl"]
            sqs.send_message(QueueUrl=url, MessageBody=body)
        elif service == "sns":
            self._d.client("sns").publish(TopicArn=arn, Message=body)
        elif service == "lambda":
            self._d.client("lambda").invoke(FunctionName=arn, InvocationType="Event", Payload=body.encode())
        elif service == "events":
            self._d.client("events").put_events(
                Entries=[
                    {
                        "Source": "lambda",
                        "DetailType": "Lambda Function Invocation Result - "
                        + ("Success" if record["requestContext"]["condition"] == "Success" else "Failure"),
                        "Detail": body,
                        "EventBusName": arn,
                    }
                ]
            )
        else:
            log.error("%s: destination type %s (%s) not supported locally", function.logical_id, kind, arn)


def destination_record(attempt: _Attempt, condition: str, payload: Any, failed: bool) -> dict[str, Any]:
    """The record Lambda sends to an asynchronous invocation's destination."""
    response_context: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
    if failed:
        response_context["functionError"] = "Unhandled"
    return {
        "version": "1.0",
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "requestContext": {
            "requestId": attempt.request_id,
            "functionArn": f"{attempt.function.arn}:$LATEST",
            "condition": condition,
            "approximateInvokeCount": attempt.attempt,
        },
        "requestPayload": attempt.event,
        "responseContext": response_context,
        "responsePayload": payload,
    }


# ------------------------------------------------------------------ S3 events through SQS


@dataclass
class S3Route:
    function: LocalFunction
    event_id: str
    bucket: str
    events: list[str]
    rules: list[dict[str, str]]
    queue_url: str = ""
    queue_arn: str = ""


def s3_routes(functions: list[LocalFunction]) -> list[S3Route]:
    """Every S3 event source the template declares on a function (already resolved)."""
    routes = []
    for function in functions:
        for event_id, event in sorted(function.events.items()):
            if event.get("Type") != "S3":
                continue
            props = event.get("Properties", {})
            names = props.get("Events", [])
            rules = props.get("Filter", {}).get("S3Key", {}).get("Rules", [])
            routes.append(
                S3Route(
                    function=function,
                    event_id=event_id,
                    bucket=props["Bucket"],
                    events=[names] if isinstance(names, str) else list(names),
                    rules=[{"Name": r["Name"].lower(), "Value": r["Value"]} for r in rules],
                )
            )
    return routes


def _route_queue_name(d: Deployment, route: S3Route) -> str:
    digest = hashlib.sha256(f"{route.function.logical_id}/{route.event_id}".encode()).hexdigest()[:8]
    return f"{d.pseudo.stack_name}-s3-{route.function.logical_id}-{route.event_id}"[:70] + f"-{digest}"


def _template_notifications(d: Deployment, bucket_logical_id: str, functions: dict[str, LocalFunction]):
    """A bucket's own NotificationConfiguration (CloudFormation form) in the S3 API form."""
    raw = d.created[bucket_logical_id].attributes.get("NotificationConfiguration") or {}
    queues, topics, extra_routes = [], [], []

    def api_filter(entry: dict) -> dict:
        rules = entry.get("Filter", {}).get("S3Key", {}).get("Rules", [])
        return (
            {"Key": {"FilterRules": [{"Name": r["Name"].lower(), "Value": r["Value"]} for r in rules]}}
            if rules
            else {}
        )

    for entry in raw.get("QueueConfigurations", []) or []:
        queues.append(
            {"QueueArn": entry["Queue"], "Events": [entry["Event"]], **_as_filter(api_filter(entry))}
        )
    for entry in raw.get("TopicConfigurations", []) or []:
        topics.append(
            {"TopicArn": entry["Topic"], "Events": [entry["Event"]], **_as_filter(api_filter(entry))}
        )
    for index, entry in enumerate(raw.get("LambdaConfigurations", []) or []):
        target = functions.get(entry["Function"]) or functions.get(entry["Function"].split(":function:")[-1])
        if target is None:
            log.warning(
                "%s: LambdaConfiguration to %s (not a template function) ignored", bucket_logical_id, entry
            )
            continue
        rules = entry.get("Filter", {}).get("S3Key", {}).get("Rules", [])
        extra_routes.append(
            S3Route(
                target,
                f"{bucket_logical_id}Notification{index}",
                d.created[bucket_logical_id].ref,
                [entry["Event"]],
                [{"Name": r["Name"].lower(), "Value": r["Value"]} for r in rules],
            )
        )
    return queues, topics, extra_routes


def _as_filter(value: dict) -> dict:
    return {"Filter": value} if value else {}


def configure_s3_routes(d: Deployment, functions: list[LocalFunction]) -> list[S3Route]:
    """Create one queue per S3 event source and put each bucket's NotificationConfiguration."""
    by_name = {f.name: f for f in functions} | {f.arn: f for f in functions}
    routes = s3_routes(functions)
    buckets = {r.ref: logical_id for logical_id, r in d.created.items() if r.type == "AWS::S3::Bucket"}
    extra_queues: dict[str, tuple[list, list]] = {}
    for bucket_name, logical_id in buckets.items():
        queues, topics, extra_routes = _template_notifications(d, logical_id, by_name)
        routes.extend(extra_routes)
        extra_queues[bucket_name] = (queues, topics)
    sqs = d.client("sqs")
    for route in routes:
        if route.bucket not in buckets:
            raise ValueError(
                f"{route.function.logical_id}.{route.event_id}: S3 events need a bucket of this template "
                f"(SAM's rule too), got {route.bucket!r}"
            )
        name = _route_queue_name(d, route)
        route.queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
        route.queue_arn = d.arn("sqs", name)
    s3 = d.client("s3")
    for bucket_name in buckets:
        queues, topics = extra_queues[bucket_name]
        for route in (r for r in routes if r.bucket == bucket_name):
            queues.append(
                {
                    "Id": f"{route.function.logical_id}-{route.event_id}",
                    "QueueArn": route.queue_arn,
                    "Events": route.events,
                    **_as_filter({"Key": {"FilterRules": route.rules}} if route.rules else {}),
                }
            )
        if queues or topics:
            configuration: dict[str, Any] = {}
            if queues:
                configuration["QueueConfigurations"] = queues
            if topics:
                configuration["TopicConfigurations"] = topics
            s3.put_bucket_notification_configuration(
                Bucket=bucket_name, NotificationConfiguration=configuration
            )
    return routes


class QueuePoller:
    """Long-polls a routing queue and hands each S3 event to the async invoker.

    The queue is transport only (Lambda's own internal queue): messages are deleted once handed
    over. s3:TestEvent messages (S3 sends them to queues when notifications are configured) are
    dropped: S3 never sends them to a Lambda function.
    """

    def __init__(self, d: Deployment, route: S3Route, invoker: AsyncInvoker):
        self._d, self._route, self._invoker = d, route, invoker
        self._stopping = threading.Event()
        self._thread = threading.Thread(
            target=self._poll, name=f"s3-{route.function.logical_id}-{route.event_id}", daemon=True
        )
        self.delivered = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=10)

    def _poll(self) -> None:
        sqs = self._d.session.client("sqs", endpoint_url=self._d.endpoint_url)
        while not self._stopping.is_set():
            try:
                messages = sqs.receive_message(
                    QueueUrl=self._route.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
                ).get("Messages", [])
            except Exception as exc:  # the server is shutting down
                if self._stopping.is_set():
                    return
                log.warning("polling %s failed: %s", self._route.queue_url, exc)
                time.sleep(0.5)
                continue
            for message in messages:
                event = json.loads(message["Body"])
                if event.get("Event") == "s3:TestEvent":
                    log.debug("s3:TestEvent for %s dropped (S3 sends none to Lambda)", self._route.bucket)
                else:
                    self._invoker.submit(self._route.function, event)
                    self.delivered += 1
            if messages:
                sqs.delete_message_batch(
                    QueueUrl=self._route.queue_url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
                    ],
                )

    def pending(self) -> int:
        attributes = self._d.client("sqs").get_queue_attributes(
            QueueUrl=self._route.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )


# ------------------------------------------------------------------ SQS event sources


class SqsEventSource:
    """An event source mapping: batches from a queue, invoked synchronously."""

    def __init__(self, d: Deployment, function: LocalFunction, event_id: str, props: dict[str, Any]):
        self._d, self._function, self._event_id = d, function, event_id
        self._queue_arn = props["Queue"]
        self._batch_size = min(10, int(props.get("BatchSize", 10)))
        self._partial = "ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or [])
        self._enabled = str(props.get("Enabled", True)).lower() != "false"
        self._stopping = threading.Event()
        self._thread = threading.Thread(
            target=self._poll, name=f"sqs-{function.logical_id}-{event_id}", daemon=True
        )

    def start(self) -> None:
        if self._enabled:
            self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _poll(self) -> None:
        sqs = self._d.session.client("sqs", endpoint_url=self._d.endpoint_url)
        url = sqs.get_queue_url(QueueName=self._queue_arn.rsplit(":", 1)[1])["QueueUrl"]
        while not self._stopping.is_set():
            try:
                messages = sqs.receive_message(
                    QueueUrl=url,
                    MaxNumberOfMessages=self._batch_size,
                    WaitTimeSeconds=1,
                    AttributeNames=["All"],
                    MessageAttributeNames=["All"],
                ).get("Messages", [])
            except Exception:
                if self._stopping.is_set():
                    return
                time.sleep(0.5)
                continue
            if not messages:
                continue
            event = {"Records": [self._record(m) for m in messages]}
            try:
                result = self._function.invoke(event)
            except Exception as exc:
                log.warning(
                    "%s.%s: batch failed, messages return to the queue: %s",
                    self._function.logical_id,
                    self._event_id,
                    exc,
                )
                continue
            failed = set()
            if self._partial and isinstance(result, dict):
                failed = {f.get("itemIdentifier") for f in result.get("batchItemFailures", []) or []}
            done = [m for m in messages if m["MessageId"] not in failed]
            if done:
                sqs.delete_message_batch(
                    QueueUrl=url,
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
                )

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": {
                name: {
                    "stringValue": value.get("StringValue"),
                    "binaryValue": value.get("BinaryValue"),
                    "stringListValues": [],
                    "binaryListValues": [],
                    "dataType": value.get("DataType"),
                }
                for name, value in (message.get("MessageAttributes") or {}).items()
            },
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": self._queue_arn,
            "awsRegion": self._d.pseudo.region,
        }


# ------------------------------------------------------------------ other event sources


def wire_other_events(d: Deployment, functions: list[LocalFunction]) -> list[SqsEventSource]:
    """SQS mappings; SNS subscriptions and EventBridge rules through moto's own delivery."""
    sources = []
    for function in functions:
        for event_id, event in sorted(function.events.items()):
            kind, props = event.get("Type"), event.get("Properties", {})
            if kind == "S3":
                continue
            if kind == "SQS":
                sources.append(SqsEventSource(d, function, event_id, props))
            elif kind == "SNS":
                d.client("sns").subscribe(TopicArn=props["Topic"], Protocol="lambda", Endpoint=function.arn)
            elif kind in ("EventBridgeRule", "CloudWatchEvent"):
                rule = f"{function.name}-{event_id}"[:64]
                pattern = props.get("Pattern")
                events = d.client("events")
                events.put_rule(
                    Name=rule,
                    EventPattern=json.dumps(pattern),
                    EventBusName=props.get("EventBusName", "default"),
                )
                events.put_targets(
                    Rule=rule,
                    EventBusName=props.get("EventBusName", "default"),
                    Targets=[{"Id": function.logical_id[:64], "Arn": function.arn}],
                )
            else:
                log.info(
                    "%s.%s: event type %s is not triggered locally (invoke it yourself)",
                    function.logical_id,
                    event_id,
                    kind,
                )
    return sources
