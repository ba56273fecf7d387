"""`visionpipe invoke`: every sample event runs its function against the running local stack."""

import json
from pathlib import Path

import pytest

from visionpipe.cli import main
from visionpipe.demo.retraining import upload_base_dataset

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("local_stack")]

EVENTS = Path(__file__).resolve().parents[2] / "events"

# every events/*.json, the function it is for, and what its result must say
CASES = {
    "detect_anomaly_image_upload.json": (
        "DetectAnomalyFunction",
        lambda r: r["outcomes"][0]["status"] == "OK",
    ),
    "detect_anomaly_captured_frame.json": (
        "DetectAnomalyFunction",
        lambda r: r["outcomes"][0]["status"] == "OK",
    ),
    "detect_anomaly_s3_test_event.json": (
        "DetectAnomalyFunction",
        lambda r: "s3:TestEvent" in r["outcomes"][0]["reason"],
    ),
    "frame_capture_video_upload.json": (
        "FrameCaptureFunction",
        lambda r: r["outcomes"][0]["status"] == "CAPTURED" and r["outcomes"][0]["frames"] >= 1,
    ),
    "capture_job_state_complete.json": (
        "CaptureJobStateFunction",
        lambda r: r["status"] == "COMPLETE" and r["recorded"],
    ),
    "capture_job_state_error.json": (
        "CaptureJobStateFunction",
        lambda r: r["status"] == "ERROR" and r["recorded"],
    ),
    "tweet_detection.json": (
        "TweetDetectionFunction",
        lambda r: r["outcomes"][0]["status"] == "DRY_RUN" and r["outcomes"][0]["device_id"] == "office-cam-1",
    ),
    "curate_retraining_annotation.json": (
        "CurateRetrainingFunction",
        lambda r: r["candidates"][0]["candidate_id"] == "raw_office-cam-1_20261121-083114",
    ),
    "build_retraining_dataset.json": (
        "BuildRetrainingDatasetFunction",
        lambda r: r["train_images"] >= 1 and r["validation_images"] >= 1,
    ),
    "finish_retraining_round.json": ("FinishRetrainingRoundFunction", lambda r: r["succeeded"] is False),
    "publish_model_component.json": (
        "PublishModelComponentFunction",
        lambda r: r["component_version"] == "1.0.1" and ":components:" in r["arn"],
    ),
}


def last_json(out: str) -> dict:
    """The result: the last stdout line (in this process the stack's own handlers log to stdout too;
    the CLI sends the invoked function's logs to stderr)."""
    return json.loads(out.strip().splitlines()[-1])


def test_every_sample_event_has_a_case():
    assert sorted(p.name for p in EVENTS.glob("*.json")) == sorted(CASES)


@pytest.fixture(scope="module")
def base_dataset(local_stack, tmp_path_factory):
    """build_retraining_dataset needs a base dataset, as on AWS (`visionpipe dataset upload`)."""
    return upload_base_dataset(local_stack.stack, local_stack.outputs, tmp_path_factory.mktemp("base"))


@pytest.mark.parametrize("event_file", sorted(CASES))
def test_invoke_runs_the_sample_event_against_the_running_stack(
    event_file, local_stack, base_dataset, capsys
):
    logical_id, check = CASES[event_file]
    state_dir = str(local_stack.state_file.parent)
    code = main(["invoke", logical_id, "-e", str(EVENTS / event_file), "--state-dir", state_dir])
    out, err = capsys.readouterr()
    assert code == 0, err[-2000:]
    result = last_json(out)
    assert check(result), result
    assert f"Invoking app.lambda_handler ({logical_id})" in err and "REPORT RequestId:" in err
    assert local_stack.endpoint_url in err
    # placeholders are gone: the function saw the stack's own buckets
    assert "-example" not in json.dumps(result)


def test_invoke_uploads_the_named_object_and_only_the_invoked_function_sees_it(local_stack, capsys):
    event = EVENTS / "detect_anomaly_image_upload.json"
    state_dir = str(local_stack.state_file.parent)
    assert main(["invoke", "DetectAnomalyFunction", "-e", str(event), "--state-dir", state_dir]) == 0
    result = last_json(capsys.readouterr().out)["outcomes"][0]
    assert result["recorded"] is True  # not a duplicate of a delivery by the stack itself
    s3 = local_stack.client("s3")
    head = s3.head_object(
        Bucket=local_stack.outputs["ImageBucketName"], Key="image_inputs/red flower +1 café.jpg"
    )
    assert head["ContentLength"] > 1000
    assert local_stack.wait_idle()


def test_invoke_names_the_functions_when_the_logical_id_is_unknown(local_stack, capsys):
    event = EVENTS / "tweet_detection.json"
    state_dir = str(local_stack.state_file.parent)
    assert main(["invoke", "TweetFunction", "-e", str(event), "--state-dir", state_dir]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no function 'TweetFunction'" in err[0] and "TweetDetectionFunction" in err[0]
