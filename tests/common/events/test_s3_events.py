import json

import pytest

from visionpipe.template import REPO_ROOT
from visionpipe_common.errors import RejectedInput
from visionpipe_common.events.s3_events import S3Object, is_test_event, objects_in, unreadable_event_object

EVENTS = REPO_ROOT / "events"


def load(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


def test_keys_are_url_decoded():
    (obj,) = objects_in(load("detect_anomaly_image_upload.json"))
    assert obj.key == "image_inputs/red flower +1 café.jpg"
    assert obj.file_name == "red flower +1 café.jpg"
    assert obj.version_id and obj.sequencer and obj.size == 18000


def test_every_record_is_returned_in_order():
    event = load("detect_anomaly_image_upload.json")
    second = json.loads(json.dumps(event["Records"][0]))
    second["s3"]["object"]["key"] = "image_inputs/b.png"
    event["Records"].append(second)
    assert [o.key for o in objects_in(event)] == ["image_inputs/red flower +1 café.jpg", "image_inputs/b.png"]


def test_upload_id_is_stable_for_duplicates_and_new_for_reuploads():
    (obj,) = objects_in(load("detect_anomaly_image_upload.json"))
    (again,) = objects_in(load("detect_anomaly_image_upload.json"))
    reupload = S3Object(**{**obj.__dict__, "version_id": "other", "sequencer": "0062A3C1E4B7D5FFFF"})
    assert obj.upload_id == again.upload_id
    assert obj.upload_id != reupload.upload_id


def test_test_event_is_recognised_and_has_a_stand_in_object():
    event = load("detect_anomaly_s3_test_event.json")
    assert is_test_event(event)
    stand_in = unreadable_event_object(event)
    assert stand_in.file_name == "s3:TestEvent"
    assert stand_in.upload_id == unreadable_event_object(load("detect_anomaly_s3_test_event.json")).upload_id


def test_non_s3_event_is_rejected_with_a_reason():
    with pytest.raises(RejectedInput, match="not an S3 notification"):
        objects_in({"hello": "world"})


def test_optional_identity_fields_may_be_absent_and_the_etag_identifies_the_upload():
    event = load("detect_anomaly_image_upload.json")
    for field in ("sequencer", "versionId"):
        del event["Records"][0]["s3"]["object"][field]
    (obj,) = objects_in(event)
    assert (obj.sequencer, obj.version_id) == ("", "") and obj.etag
    assert obj.upload_id == objects_in(event)[0].upload_id


@pytest.mark.parametrize(
    "records", [[{"s3": {}}], [{"s3": {"bucket": {"name": "b"}, "object": {"size": 1}}}], ["text"], [None]]
)
def test_malformed_records_are_rejected_not_retried(records):
    with pytest.raises(RejectedInput, match=r"Records\[0\] is not an S3 object notification"):
        objects_in({"Records": records})


@pytest.mark.parametrize("event", [[], "s3:TestEvent", None, {"Records": "x"}])
def test_events_that_are_not_objects_are_rejected(event):
    assert not is_test_event(event)
    with pytest.raises(RejectedInput, match="not an S3 notification event"):
        objects_in(event)
