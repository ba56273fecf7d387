"""Windows and where the data is: flags, outputs files, the local stack's state file."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from visionpipe.report.detections import key_facts, key_prefix
from visionpipe.report.sources import Window, make_window, parse_moment, resolve
from visionpipe.report.verdicts import reason_group

NOW = datetime(2026, 11, 28, 15, 30, tzinfo=UTC)


def test_default_window_is_the_last_seven_days():
    window = make_window(None, None, now=NOW)
    assert (window.since, window.until) == (NOW - timedelta(days=7), NOW)
    assert window.days()[0] == "2026-11-21" and window.days()[-1] == "2026-11-28" and len(window.days()) == 8


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-21", datetime(2026, 11, 21, tzinfo=UTC)),
        ("2026-11-21T08:00", datetime(2026, 11, 21, 8, tzinfo=UTC)),
        ("2026-11-21T08:00:00Z", datetime(2026, 11, 21, 8, tzinfo=UTC)),
        ("2026-11-21T09:00:00+01:00", datetime(2026, 11, 21, 8, tzinfo=UTC)),
        ("36h", NOW - timedelta(hours=36)),
        ("2w", NOW - timedelta(weeks=2)),
        ("now", NOW),
    ],
)
def test_moments(text, expected):
    assert parse_moment(text, NOW) == expected


def test_window_must_not_be_empty_and_ends_are_half_open():
    with pytest.raises(ValueError, match="before"):
        make_window("2026-11-21", "2026-11-21", now=NOW)
    window = Window(datetime(2026, 11, 21, tzinfo=UTC), datetime(2026, 11, 22, tzinfo=UTC))
    assert window.contains(window.since) and not window.contains(window.until)
    assert window.days() == ["2026-11-21"] and window.since_iso == "2026-11-21T00:00:00.000Z"


def test_record_keys():
    assert key_facts("json/record_paint_booth-3_20261121-083114.json") == (
        "paint_booth-3",
        datetime(2026, 11, 21, 8, 31, 14, tzinfo=UTC),
    )
    assert key_facts("json/record_cam_2026-11-21.json") is None
    assert key_prefix(None, None) == "json/record_"
    assert key_prefix(None, "cam-1") == "json/record_cam-1_"
    assert key_prefix("archive/json/record_", "cam-1") == "archive/json/record_"


def test_failure_reasons_group_without_their_figures():
    assert reason_group("image is 48000000 pixels, over the limit of 40000000") == reason_group(
        "image is 52000000 pixels, over the limit of 40000000"
    )
    assert reason_group("not a supported image: 'shift notes.jpg'") == "not a supported image: '…'"


def test_resolve_from_an_outputs_file_and_a_local_state_file(tmp_path):
    outputs = {
        "DetectionsBucketName": "det",
        "ResultsTableName": "res",
        "ResultsBucketName": "resb",
        "RetrainStateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:r",
    }
    plain = tmp_path / "outputs.json"
    plain.write_text(json.dumps(outputs))
    sources = resolve(outputs_file=plain)
    assert (sources.detections_bucket, sources.results_table, sources.results_bucket) == (
        "det",
        "res",
        "resb",
    )
    assert sources.endpoint_url is None and sources.boto_session is None
    state = tmp_path / "local-4566.json"
    state.write_text(json.dumps({"endpoint_url": "http://127.0.0.1:4566", "outputs": outputs}))
    sources = resolve(outputs_file=state, bucket="other")
    assert sources.endpoint_url == "http://127.0.0.1:4566" and sources.detections_bucket == "other"
    assert sources.boto_session.get_credentials().access_key == "local"  # never a machine's real keys


def test_resolve_without_any_stack_says_how_to_get_one(tmp_path, monkeypatch):
    monkeypatch.setenv("VISIONPIPE_STATE_DIR", str(tmp_path))
    with pytest.raises(SystemExit, match="visionpipe local up"):
        resolve()
    # a state file whose server is gone is not a running stack
    (tmp_path / "local-9.json").write_text(json.dumps({"endpoint_url": "http://127.0.0.1:9", "outputs": {}}))
    with pytest.raises(SystemExit, match="no stack to read"):
        resolve(local=True)


def test_resolve_a_deployed_stack_by_name():
    import boto3
    from moto import mock_aws

    template = {
        "Resources": {"Detections": {"Type": "AWS::S3::Bucket"}},
        "Outputs": {
            "DetectionsBucketName": {"Value": {"Ref": "Detections"}},
            "ResultsTableName": {"Value": "visionpipe-results"},
        },
    }
    with mock_aws():
        boto3.client("cloudformation").create_stack(
            StackName="visionpipe-prod", TemplateBody=json.dumps(template)
        )
        sources = resolve(stack_name="visionpipe-prod")
        bucket = boto3.client("s3").list_buckets()["Buckets"][0]["Name"]
    assert sources.detections_bucket == bucket and sources.results_table == "visionpipe-results"
    assert sources.state_machine_arn is None and sources.described_as == "stack visionpipe-prod"
