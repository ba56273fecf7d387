"""`visionpipe local up` on SIGTERM: refuse new requests, drain what was accepted, say what happened."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import signal
import subprocess
import sys
import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.support.images import jpeg_bytes

pytestmark = [pytest.mark.integration]

STOPPED = re.compile(
    r"local stack stopped: (\d+) event\(s\) delivered \((\d+) while draining\), (\d+) dropped"
)


def test_sigterm_drains_every_accepted_upload_and_refuses_the_rest(anomaly_model_dir, tmp_path):
    state_dir = tmp_path / "state"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    up = subprocess.Popen(
        [sys.executable, "-m", "visionpipe.cli", "local", "up", "--state-dir", str(state_dir),
         "--model-dir", str(anomaly_model_dir), "--drain-seconds", "60"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        ready = up.stdout.readline()
        assert ready.startswith("READY "), up.stderr.read()
        endpoint = ready.split()[1]
        outputs = json.loads(next(state_dir.glob("local-*.json")).read_text())["outputs"]
        # Another process's client, like a user's: no retries, so a refusal shows at once.
        s3 = boto3.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name="us-east-1").client(
            "s3", endpoint_url=endpoint, config=Config(retries={"total_max_attempts": 1})
        )
        image, accepted, refused = jpeg_bytes(seed=3), 0, 0
        for n in range(30):
            s3.put_object(Bucket=outputs["ImageBucketName"], Key=f"image_inputs/before {n}.jpg", Body=image)
            accepted += 1
        up.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and refused < 5:
            try:
                s3.put_object(
                    Bucket=outputs["ImageBucketName"], Key=f"image_inputs/after {accepted}.jpg", Body=image
                )
                accepted += 1
            except ClientError as refusal:
                assert refusal.response["Error"]["Code"] == "ServiceUnavailable"
                refused += 1
        assert up.wait(timeout=120) == 0
    finally:
        up.kill()
    stderr = up.stderr.read()
    assert "stopping: new requests refused; draining" in stderr
    delivered, _drained, dropped = map(int, STOPPED.search(stderr).groups())
    assert refused == 5
    assert (delivered, dropped) == (accepted, 0)  # every upload answered 200 was judged before the stop
    report = json.loads(next(state_dir.glob("local-*-stopped.json")).read_text())
    assert report["delivered"] == accepted and report["dropped"] == []


def test_a_restart_says_what_an_earlier_stop_could_not_deliver(tmp_path):
    from visionpipe.commands.local import report_previous_stops

    (tmp_path / "local-4566-stopped.json").write_text(
        json.dumps({"delivered": 3, "dropped": [{"Records": []}]})
    )
    (tmp_path / "local-4567-stopped.json").write_text(json.dumps({"delivered": 3, "dropped": []}))

    said = io.StringIO()
    with contextlib.redirect_stderr(said):
        report_previous_stops(tmp_path)
    assert said.getvalue().splitlines() == [
        f"note: a local stack stopped with 1 undelivered event(s): {tmp_path / 'local-4566-stopped.json'}"
    ]
