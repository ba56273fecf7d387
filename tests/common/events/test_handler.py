"""The S3 handler scaffold: each object once, metrics counted once, rejections recorded or skipped."""

import json
from dataclasses import dataclass, field

import pytest
from support.lambda_context import FakeLambdaContext

from visionpipe.template import REPO_ROOT
from visionpipe_common.events.handler import Metric, S3EventHandler
from visionpipe_common.events.loop import TEST_EVENT_REASON

EVENTS = REPO_ROOT / "events"


@dataclass(frozen=True)
class Done:
    key: str
    status: str = "OK"

    def as_dict(self) -> dict:
        return {"key": self.key, "status": self.status}

    def metrics(self) -> list[Metric]:
        return [Metric("Done" if self.status == "OK" else "Rejected", 1)]


@dataclass
class RecordingMetrics:
    added: list[tuple[str, float]] = field(default_factory=list)

    def add_metric(self, name, unit, value):
        self.added.append((name, value))


def upload_event() -> dict:
    return json.loads((EVENTS / "detect_anomaly_image_upload.json").read_text())


def test_each_object_is_processed_and_counted():
    seen = []
    handler = S3EventHandler(lambda obj: seen.append(obj.key) or Done(obj.key), pytest.fail)
    handler.metrics = metrics = RecordingMetrics()
    result = handler.handle(upload_event(), FakeLambdaContext())
    assert result == {"outcomes": [{"key": "image_inputs/red flower +1 café.jpg", "status": "OK"}]}
    assert seen == ["image_inputs/red flower +1 café.jpg"] and metrics.added == [("Done", 1)]


def test_a_transient_error_fails_the_invocation():
    def process(obj):
        raise TimeoutError("endpoint too slow")

    with pytest.raises(TimeoutError):
        S3EventHandler(process, pytest.fail).handle(upload_event(), FakeLambdaContext())


def test_events_naming_no_object_are_recorded_unless_the_flow_skips_test_events():
    test_event = json.loads((EVENTS / "detect_anomaly_s3_test_event.json").read_text())
    recording = S3EventHandler(pytest.fail, lambda obj, reason: Done(obj.key, status=reason))
    recording.metrics = metrics = RecordingMetrics()
    (outcome,) = recording.handle(test_event, FakeLambdaContext())["outcomes"]
    assert outcome == {"key": "s3:TestEvent", "status": TEST_EVENT_REASON}
    assert metrics.added == [("Rejected", 1)]

    skipping = S3EventHandler(pytest.fail, pytest.fail, record_test_events=False)
    assert skipping.handle(test_event, FakeLambdaContext()) == {"outcomes": []}
    # Not an S3 event at all: still recorded, whatever the flow does with test events.
    (foreign,) = S3EventHandler(
        pytest.fail, lambda obj, reason: Done(obj.key, "FAILED"), record_test_events=False
    ).handle({"not": "s3"}, FakeLambdaContext())["outcomes"]
    assert foreign["status"] == "FAILED"


def test_a_duplicate_outcome_counts_nothing():
    handler = S3EventHandler(lambda obj: Done(obj.key, status="DUPLICATE"), pytest.fail)
    handler.metrics = metrics = RecordingMetrics()
    handler.handle(upload_event(), FakeLambdaContext())
    assert metrics.added == [("Rejected", 1)]  # Done.metrics() decides; the scaffold adds nothing


def test_lambda_handler_is_the_handle_call_with_powertools_around_it(capsys):
    handler = S3EventHandler(lambda obj: Done(obj.key), pytest.fail)
    result = handler.lambda_handler(upload_event(), FakeLambdaContext())
    assert result == {"outcomes": [{"key": "image_inputs/red flower +1 café.jpg", "status": "OK"}]}
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert emf and emf[-1]["Done"] == [1.0]  # the flow's metric, flushed as EMF
