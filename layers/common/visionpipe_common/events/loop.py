"""The loop every S3-triggered handler runs: each object once, transient errors raised last.

One bad or slow object must not cost the others: every object of the event is processed; an
exception from one is logged and kept, and the caller re-raises the first one after the whole
event is done (and after any work it does once per event). Lambda then retries the event, and
idempotency makes the objects that already succeeded a no-op. Events that name no object
(s3:TestEvent, or not an S3 event at all) go to `reject(event, reason)`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools import Logger

from visionpipe_common.errors import RejectedInput
from visionpipe_common.events.s3_events import S3Object, is_test_event, objects_in

TEST_EVENT_REASON = "s3:TestEvent: S3 checked the notification; no object to process"

logger = Logger(child=True)


@dataclass
class EventResults:
    outcomes: list[Any] = field(default_factory=list)
    errors: list[Exception] = field(default_factory=list)

    def raise_first_error(self) -> None:
        if self.errors:
            raise self.errors[0]


def process_s3_event(
    event: dict,
    process: Callable[[S3Object], Any],
    reject: Callable[[dict, str], list[Any]],
) -> EventResults:
    if is_test_event(event):
        return EventResults(outcomes=reject(event, TEST_EVENT_REASON))
    try:
        objects = objects_in(event)
    except RejectedInput as rejected:
        return EventResults(outcomes=reject(event, rejected.reason))
    results = EventResults()
    for obj in objects:
        try:
            results.outcomes.append(process(obj))
        except Exception as exc:  # transient: finish the other objects first, then fail for a retry
            logger.exception("processing failed; the event will be retried", extra={"s3_uri": obj.uri})
            results.errors.append(exc)
    return results
