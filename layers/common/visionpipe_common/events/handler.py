"""The scaffold every S3-triggered handler shares: once per object, counted, rejections recorded.

`S3EventHandler(...).lambda_handler` is the function Lambda calls, with Powertools' structured
logging (the S3 request id as correlation id), tracing and metrics around it. A flow supplies
what is its own: `process(obj) -> outcome` for each object of the event, and
`reject(obj, reason) -> outcome | None` for an event that names no object it can process (an
s3:TestEvent, or not an S3 event at all). Outcomes have `as_dict()` and `metrics()`.
With an idempotency table, Powertools Idempotency keyed on `identity(obj)` makes a duplicate
delivery (or a replay) return the first outcome instead of processing the object again; metrics
are counted inside that once-only step, so a duplicate counts nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

from visionpipe_common.aws import RETRIES
from visionpipe_common.events.loop import EventResults, process_s3_event
from visionpipe_common.events.s3_events import S3Object, is_test_event, unreadable_event_object

# Logger(correlation_id_path=...) for S3 notifications: the S3 request id of the first record.
S3_CORRELATION_ID = 'Records[0].responseElements."x-amz-request-id"'
IDEMPOTENCY_EXPIRY_SECONDS = 7 * 24 * 3600

logger = Logger(child=True)


@dataclass(frozen=True)
class Metric:
    name: str
    value: float
    unit: str = MetricUnit.Count


class Outcome(Protocol):
    def as_dict(self) -> dict: ...

    def metrics(self) -> list[Metric]: ...


def upload_identity(obj: S3Object) -> str:
    return obj.upload_id


class S3EventHandler:
    def __init__(
        self,
        process: Callable[[S3Object], Outcome],
        reject: Callable[[S3Object, str], Outcome | None],
        idempotency_table: str = "",
        identity: Callable[[S3Object], str] = upload_identity,
        record_test_events: bool = True,
    ):
        self.metrics = Metrics()
        self.lambda_handler = self._with_powertools(self.handle)
        self._process = process
        self._reject = reject
        self._identity = identity
        self._record_test_events = record_test_events
        self._idempotency = None
        self._once = self._process_request
        if idempotency_table:
            self._idempotency = IdempotencyConfig(
                event_key_jmespath="identity", expires_after_seconds=IDEMPOTENCY_EXPIRY_SECONDS
            )
            persistence = DynamoDBPersistenceLayer(table_name=idempotency_table, boto_config=RETRIES)
            self._once = idempotent_function(
                data_keyword_argument="request", config=self._idempotency, persistence_store=persistence
            )(self._process_request)

    def _with_powertools(self, handle: Callable[[dict, Any], dict]) -> Callable[[dict, Any], dict]:
        @Logger().inject_lambda_context(correlation_id_path=S3_CORRELATION_ID)
        @Tracer().capture_lambda_handler
        @self.metrics.log_metrics
        def lambda_handler(event: dict, context: Any) -> dict:
            return handle(event, context)

        return lambda_handler

    def handle(self, event: dict, context: Any) -> dict:
        """Process the whole event, then fail the invocation with the first transient error, if any."""
        results = self.process_event(event, context)
        results.raise_first_error()
        return {"outcomes": results.outcomes}

    def process_event(self, event: dict, context: Any) -> EventResults:
        if self._idempotency is not None:
            self._idempotency.register_lambda_context(context)
        return process_s3_event(event, self._process_object, self._reject_event)

    def _process_object(self, obj: S3Object) -> dict:
        return self._once(request={"identity": self._identity(obj), "object": dataclasses.asdict(obj)})

    def _process_request(self, request: dict) -> dict:
        return self._counted(self._process(S3Object(**request["object"])))

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
