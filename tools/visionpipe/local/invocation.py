"""Asynchronous invocation and retries, as Lambda runs them for S3 notifications and `Event` invokes.

A queue per function and `concurrency` worker threads on it (Lambda's concurrent containers; they
share one loaded handler module, so Powertools' log context and metrics of concurrent invocations
may interleave locally). A failed invocation is
retried MaximumRetryAttempts times while younger than MaximumEventAgeInSeconds (the function's
EventInvokeConfig), waiting retry_delay * 2**n seconds (Lambda waits about a minute, then two;
locally it is scaled down), then sent with Lambda's destination record to the OnFailure SQS queue.
https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger("visionpipe.local")


@dataclass
class AsyncConfig:
    """A function's EventInvokeConfig (Lambda's defaults without one)."""

    maximum_retry_attempts: int = 2
    maximum_event_age_seconds: int = 21600
    on_failure: str | None = None  # an SQS queue ARN (the only destination the template uses)


def error_payload(exc: BaseException, request_id: str) -> dict[str, Any]:
    """The payload Lambda returns for an unhandled Python exception."""
    return {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "requestId": request_id,
        "stackTrace": traceback.format_tb(exc.__traceback__),
    }


@dataclass(order=True)
class _Attempt:
    due: float
    sequence: int
    function: Any = field(compare=False)  # a LocalFunction
    event: Any = field(compare=False)
    request_id: str = field(compare=False)
    attempt: int = field(compare=False, default=1)
    received: float = field(compare=False, default_factory=time.time)


class AsyncInvoker:
    def __init__(self, sqs_client, retry_delay: float = 0.2, concurrency: int = 1):
        self._sqs = sqs_client
        self._concurrency = max(1, concurrency)
        self._retry_delay = retry_delay
        self._queues: dict[str, list[_Attempt]] = {}
        self._busy: dict[str, int] = {}
        self._condition = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._counter = itertools.count()
        self._stopping = False
        self.finished = 0  # invocations done for good: succeeded, or parked after their retries

    def start(self, functions) -> None:
        for function in functions:
            self._queues[function.name], self._busy[function.name] = [], 0
            for worker in range(self._concurrency):
                thread = threading.Thread(target=self._work, args=(function.name,), daemon=True)
                thread.name = f"lambda-{function.logical_id}-{worker}"
                thread.start()
                self._threads.append(thread)

    def stop(self) -> None:
        with self._condition:
            self._stopping = True
            self._condition.notify_all()
        for thread in self._threads:
            thread.join(timeout=10)

    def drain(self, timeout: float) -> list[Any]:
        """Let queued and retrying invocations finish (at most `timeout` s), stop; the events left."""
        deadline = time.monotonic() + timeout
        while self.pending() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.stop()
        with self._condition:
            return [attempt.event for queue in self._queues.values() for attempt in queue]

    def submit(self, function, event: Any, request_id: str | None = None) -> str:
        request_id = request_id or str(uuid.uuid4())
        self._push(_Attempt(time.monotonic(), next(self._counter), function, event, request_id))
        return request_id

    def pending(self) -> int:
        """Invocations queued, waiting for a retry, or running."""
        with self._condition:
            return sum(len(queue) for queue in self._queues.values()) + sum(self._busy.values())

    def _push(self, attempt: _Attempt) -> None:
        with self._condition:
            heapq.heappush(self._queues[attempt.function.name], attempt)
            self._condition.notify_all()

    def _work(self, name: str) -> None:
        queue = self._queues[name]
        while True:
            with self._condition:
                while not self._stopping and (not queue or queue[0].due > time.monotonic()):
                    self._condition.wait(timeout=(queue[0].due - time.monotonic()) if queue else 0.5)
                if self._stopping:
                    return
                attempt = heapq.heappop(queue)
                self._busy[name] += 1
            done = False
            try:
                done = self._run(attempt)
            finally:
                with self._condition:
                    self._busy[name] -= 1
                    self.finished += done

    def _run(self, attempt: _Attempt) -> bool:
        """Invoke once; True when the event is done for good (succeeded, or parked), False if retried."""
        function, config = attempt.function, attempt.function.async_config
        try:
            function.invoke(attempt.event, attempt.request_id)
            return True
        except Exception as exc:
            error = exc
        young = time.time() - attempt.received < config.maximum_event_age_seconds
        if young and attempt.attempt <= config.maximum_retry_attempts:
            log.info(
                "%s: attempt %d of %s failed (%s), retrying",
                function.logical_id,
                attempt.attempt,
                attempt.request_id,
                error,
            )
            attempt.due = time.monotonic() + self._retry_delay * 2 ** (attempt.attempt - 1)
            attempt.attempt += 1
            attempt.sequence = next(self._counter)
            self._push(attempt)
            return False
        condition = "RetriesExhausted" if young else "EventAgeExceeded"
        log.warning("%s: %s after %d attempt(s): %s", function.logical_id, condition, attempt.attempt, error)
        record = destination_record(attempt, condition, error_payload(error, attempt.request_id))
        if not config.on_failure:
            log.error("%s: event dropped (no OnFailure destination): %s", function.logical_id, record)
            return True
        url = self._sqs.get_queue_url(QueueName=config.on_failure.rsplit(":", 1)[1])["QueueUrl"]
        self._sqs.send_message(QueueUrl=url, MessageBody=json.dumps(record, default=str))
        return True


def destination_record(attempt: _Attempt, condition: str, payload: Any) -> dict[str, Any]:
    """The record Lambda sends to an asynchronous invocation's OnFailure destination."""
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
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": payload,
    }
