"""The scaffold every S3-triggered handler shares: each object processed, counted, rejections recorded.

`S3EventHandler(...).lambda_handler` is the function Lambda calls, with Powertools' structured
logging (the S3 request id as correlation id), tracing and metrics around it. A flow supplies
what is its own: `process(obj) -> outcome` for each object of the event, and
`reject(obj, reason) -> outcome | None` for an event that names no object it can process (an
s3:TestEvent, or not an S3 event at all). Outcomes have `as_dict()` and `metrics()`.
`traced_libraries`: the libraries X-Ray traces (Powertools' `patch_modules`); None patches every
library the X-Ray SDK supports, which imports some (sqlite3) only to patch them. A flow that calls
nothing but AWS names ("botocore",): every AWS call is still a subsegment.

Exactly-once is the flows' own: each decides an upload's outcome with one conditional write keyed
by the upload's identity (a result item, a frame object, a cooldown claim), so a duplicate delivery,
a Lambda retry or a retry after a lost reply finds the first decision and records nothing twice.
A duplicate's outcome has no metrics, so it counts nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from visionpipe_common.events.loop import EventResults, process_s3_event
from visionpipe_common.events.s3_events import S3Object, is_test_event, unreadable_event_object

# Logger(correlation_id_path=...) for S3 notifications: the S3 request id of the first record.
S3_CORRELATION_ID = 'Records[0].responseElements."x-amz-request-id"'

logger = Logger(child=True)


@dataclass(frozen=True)
class Metric:
    name: str
    value: float
    unit: str = MetricUnit.Count


class Outcome(Protocol):
    def as_dict(self) -> dict: ...

    def metrics(self) -> list[Metric]: ...


class S3EventHandler:
    def __init__(
        self,
        process: Callable[[S3Object], Outcome],
        reject: Callable[[S3Object, str], Outcome | None],
        record_test_events: bool = True,
        traced_libraries: tuple[str, ...] | None = None,
    ):
        self.metrics = Metrics()
        self._traced_libraries = traced_libraries
        self.lambda_handler = self._with_powertools(self.handle)
        self._process = process
        self._reject = reject
        self._record_test_events = record_test_events

    def _with_powertools(self, handle: Callable[[dict, Any], dict]) -> Callable[[dict, Any], dict]:
        @Logger().inject_lambda_context(correlation_id_path=S3_CORRELATION_ID)
        @Tracer(patch_modules=self._traced_libraries).capture_lambda_handler
        @self.metrics.log_metrics
        def lambda_handler(event: dict, context: Any) -> dict:
            return handle(event, context)

        return lambda_handler

    def handle(self, event: dict, context: Any) -> dict:
        """Process the whole event, then fail the invocation with the first transient error, if any."""
        results = self.process_event(event)
        results.raise_first_error()
        return {"outcomes": results.outcomes}

    def process_event(self, event: dict) -> EventResults:
        return process_s3_event(event, self._process_object, self._reject_event)

    def _process_object(self, obj: S3Object) -> dict:
        return self._counted(self._process(obj))

    def _reject_event(self, event: dict, reason: str) -> list[dict]:
        if is_test_event(event) and not self._record_test_events:
            logger.info(reason)
            return []
        outcome = self._reject(unreadable_event_object(event), reason)
        return [] if outcome is None else [self._counted(outcome)]

    def _counted(self, outcome: Outcome) -> dict:
        for metric in outcome.metrics():
            self.metrics.add_metric(name=metric.name, unit=metric.unit, value=metric.value)
        return outcome.as_dict()
