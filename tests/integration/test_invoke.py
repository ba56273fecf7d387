"""`visionpipe invoke`: every sample event runs its function against the running local stack."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import boto3
import pytest

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


def test_every_sample_event_has_a_case():
    assert sorted(p.name for p in EVENTS.glob("*.json")) == sorted(CASES)


@pytest.fixture(scope="module")
def running_stack(anomaly_model_dir, tmp_path_factory):
    """`visionpipe local up` in its own process, as a reader runs it: the invocations below write
    sample objects and items that must not reach the package's shared stack."""
    state_dir = tmp_path_factory.mktemp("invoke-state")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "visionpipe.cli",
            "local",
            "up",
            "--port",
            "0",
            "--state-dir",
            str(state_dir),
            "--model-dir",
            str(anomaly_model_dir),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        line = process.stdout.readline()
        assert line.startswith("READY "), line
        endpoint = line.split()[1]
        state = json.loads(next(state_dir.glob("local-*.json")).read_text())
        session = boto3.Session(
            aws_access_key_id="local", aws_secret_access_key="local", region_name="us-east-1"
        )
        upload_base_dataset(
            SimpleNamespace(
                functions={"BuildRetrainingDatasetFunction": SimpleNamespace(variables={})},
                client=lambda service: session.client(service, endpoint_url=endpoint),
            ),
            state["outputs"],
            tmp_path_factory.mktemp("base"),
        )  # build_retraining_dataset needs a base dataset, as on AWS (`visionpipe dataset upload`)
        yield SimpleNamespace(
            state_dir=state_dir, endpoint=endpoint, outputs=state["outputs"], session=session
        )
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # the stack this fixture started, and only it
        process.wait(timeout=60)


def invoke(stack, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "visionpipe.cli", "invoke", *args, "--state-dir", str(stack.state_dir)],
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.mark.parametrize("event_file", sorted(CASES))
def test_invoke_runs_the_sample_event_against_the_running_stack(event_file, running_stack):
    logical_id, check = CASES[event_file]
    s3 = running_stack.session.client("s3", endpoint_url=running_stack.endpoint)
    bucket = running_stack.outputs["ImageBucketName"]
    before = s3.get_bucket_notification_configuration(Bucket=bucket)["LambdaFunctionConfigurations"]
    result = invoke(running_stack, logical_id, "-e", str(EVENTS / event_file))
    assert result.returncode == 0, result.stderr[-3000:]
    output = json.loads(result.stdout)  # stdout is the result alone; the logs went to stderr
    assert check(output), output
    assert (
        f"Invoking app.lambda_handler ({logical_id})" in result.stderr
        and "REPORT RequestId:" in result.stderr
    )
    assert running_stack.endpoint in result.stderr
    assert "-example" not in json.dumps(output)  # the function saw the stack's own buckets
    # the notifications paused for the sample upload are back as they were
    assert s3.get_bucket_notification_configuration(Bucket=bucket)["LambdaFunctionConfigurations"] == before


def test_invoke_names_the_functions_when_the_logical_id_is_unknown(running_stack):
    result = invoke(running_stack, "TweetFunction", "-e", str(EVENTS / "tweet_detection.json"))
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1
    assert "no function 'TweetFunction'" in lines[0] and "TweetDetectionFunction" in lines[0]
