import json

import pytest

from visionpipe.template import REPO_ROOT
from visionpipe_common.events.loop import TEST_EVENT_REASON, process_s3_event

EVENTS = REPO_ROOT / "events"


def two_object_event() -> dict:
    event = json.loads((EVENTS / "detect_anomaly_image_upload.json").read_text())
    second = json.loads(json.dumps(event["Records"][0]))
    second["s3"]["object"]["key"] = "image_inputs/second.png"
    event["Records"].append(second)
    return event


def test_every_object_is_processed_even_after_one_fails():
    seen = []

    def process(obj):
        seen.append(obj.key)
        if obj.key.endswith("café.jpg"):
            raise TimeoutError("endpoint too slow")
        return obj.key

    results = process_s3_event(two_object_event(), process, reject=lambda e, r: pytest.fail("not rejected"))
    assert seen == ["image_inputs/red flower +1 café.jpg", "image_inputs/second.png"]
    assert results.outcomes == ["image_inputs/second.png"]
    with pytest.raises(TimeoutError, match="too slow"):
        results.raise_first_error()


def test_events_naming_no_object_go_to_reject():
    test_event = json.loads((EVENTS / "detect_anomaly_s3_test_event.json").read_text())
    rejected = []
    results = process_s3_event(test_event, process=pytest.fail, reject=lambda e, r: rejected.append(r) or [r])
    process_s3_event({"not": "s3"}, process=pytest.fail, reject=lambda e, r: rejected.append(r) or [r])
    assert rejected[0] == TEST_EVENT_REASON and "not an S3 notification" in rejected[1]
    assert results.outcomes == [TEST_EVENT_REASON]
    results.raise_first_error()  # nothing failed: no exception
