"""A user's mistake ends as one line on stderr and a non-zero exit, never a traceback.

Each case runs `visionpipe` as a user does (a fresh process, no credentials unless the case gives
them) against nothing, a closed port, or moto's server holding none of the named resources.
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from moto.server import ThreadedMotoServer

REPO = Path(__file__).resolve().parents[3]
NO_CREDENTIALS = {
    "AWS_CONFIG_FILE": "/nonexistent/config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/credentials",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_DEFAULT_REGION": "us-east-1",
}
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


CLOSED = f"http://127.0.0.1:{free_port()}"


@pytest.fixture(scope="module")
def moto_endpoint():
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("user-errors")
    (d / "not-json.json").write_text("READY http://127.0.0.1:4599\n")
    (d / "wrong.json").write_text(json.dumps({"SomethingElse": "x"}))
    (d / "stale.json").write_text(json.dumps({"CandidatesTableName": "t", "EndpointUrl": CLOSED}))
    (d / "stale-endpoint.json").write_text(json.dumps({"EndpointUrl": CLOSED}))
    (d / "clip.mp4").write_bytes(b"")
    return d


def visionpipe(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return subprocess.run(
        [sys.executable, "-m", "visionpipe.cli", *args],
        env={**clean, **NO_CREDENTIALS, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


# (case id, argv, extra env, what the line must mention); {moto}, {closed}, {files} are filled in.
CASES = [
    ("no-command", [], {}, "required"),
    ("unknown-command", ["deploy"], {}, "invalid choice"),
    ("review-no-action", ["review"], {}, "required"),
    ("review-sheet-no-out", ["review", "sheet", "--table", "t"], {}, "--out"),
    ("review-no-table", ["review", "list"], {}, "CandidatesTableName"),
    ("review-missing-outputs", ["review", "list", "--outputs", "{files}/none.json"], {}, "local outputs"),
    ("review-outputs-not-json", ["review", "list", "--outputs", "{files}/not-json.json"], {}, "not JSON"),
    (
        "review-wrong-outputs",
        ["review", "list", "--outputs", "{files}/wrong.json"],
        {},
        "CandidatesTableName",
    ),
    ("review-stack-not-running", ["review", "list", "--outputs", "{files}/stale.json"], {}, "not running"),
    ("review-no-credentials", ["review", "list", "--table", "t"], {}, "credentials"),
    (
        "review-unreachable",
        ["review", "list", "--table", "t", "--endpoint-url", "{closed}"],
        {},
        "cannot reach",
    ),
    (
        "review-unknown-table",
        ["review", "sheet", "--table", "nope", "--endpoint-url", "{moto}", "--out", "x.html"],
        FAKE_CREDENTIALS,
        "not found",
    ),
    (
        "review-unknown-stack",
        ["review", "list", "--stack-name", "nope", "--endpoint-url", "{moto}"],
        FAKE_CREDENTIALS,
        "no stack 'nope'",
    ),
    (
        "review-bad-decisions",
        [
            "review",
            "decide",
            "--table",
            "t",
            "--endpoint-url",
            "{moto}",
            "--decisions",
            "{files}/not-json.json",
        ],
        FAKE_CREDENTIALS,
        "not found",
    ),
    ("replay-no-queue", ["replay"], {}, "FailedEventsQueueUrl"),
    (
        "replay-unknown-queue",
        ["replay", "--queue-url", "{moto}/123456789012/nope", "--endpoint-url", "{moto}"],
        FAKE_CREDENTIALS,
        "not found",
    ),
    ("replay-stack-not-running", ["replay", "--outputs", "{files}/stale.json"], {}, "not running"),
    ("device-no-target", ["device", "run", "--source", "{files}/clip.mp4"], {}, "--bucket"),
    (
        "device-missing-video",
        ["device", "run", "--source", "{files}/none.mp4", "--no-upload"],
        {},
        "not found",
    ),
    (
        "device-no-credentials",
        ["device", "run", "--source", "{files}/clip.mp4", "--bucket", "b"],
        {},
        "credentials",
    ),
    (
        "device-stack-not-running",
        ["device", "run", "--source", "0", "--outputs", "{files}/stale.json"],
        {},
        "not running",
    ),
    (
        "device-unknown-bucket",
        ["device", "run", "--source", "0", "--bucket", "nope", "--endpoint-url", "{moto}"],
        FAKE_CREDENTIALS,
        "not found",
    ),
    ("invoke-no-event", ["invoke", "DetectAnomalyFunction", "-e", "{files}/none.json"], {}, "events/*.json"),
    (
        "invoke-no-stack",
        ["invoke", "DetectAnomalyFunction", "-e", "{files}/wrong.json", "--state-dir", "{files}"],
        {},
        "no running local stack",
    ),
    (
        "invoke-stack-not-running",
        [
            "invoke",
            "DetectAnomalyFunction",
            "-e",
            "{files}/wrong.json",
            "--outputs",
            "{files}/stale-endpoint.json",
        ],
        {},
        "not running",
    ),
    (
        "upload-missing-image",
        ["upload", "{files}/none.jpg", "--outputs", "{files}/stale.json"],
        {},
        "no such file",
    ),
    (
        "upload-stack-not-running",
        ["upload", "{files}/clip.mp4", "--outputs", "{files}/stale.json"],
        {},
        "not running",
    ),
    ("upload-no-bucket", ["upload", "{files}/clip.mp4"], {}, "ImageBucketName"),
    ("local-outputs-none", ["local", "outputs", "--state-dir", "{files}"], {}, "local up"),
    ("sample-data-negative", ["sample-data", "{files}/data", "--normal", "-1"], {}, ">= 0"),
    ("train-anomaly-missing", ["train-anomaly", "{files}/none", "--out", "{files}/model"], {}, "none"),
    ("dataset-missing", ["dataset", "convert", "{files}/none", "--out", "{files}/converted"], {}, "none"),
    ("dataset-upload-not-split", ["dataset", "upload", "{files}", "--bucket", "b"], {}, "dataset split"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_a_user_error_is_one_line_and_a_non_zero_exit(case, files, moto_endpoint, tmp_path):
    _, argv, env, mention = case
    filled = [a.format(files=files, moto=moto_endpoint, closed=CLOSED) for a in argv]
    result = visionpipe(filled, env, tmp_path)
    lines = result.stderr.strip().splitlines()
    assert result.returncode != 0, result
    assert "Traceback" not in result.stderr
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("visionpipe"), lines[0]
    assert mention in lines[0], lines[0]


def test_local_up_on_a_busy_port_says_so(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = visionpipe(["local", "up", "--port", str(port), "--state-dir", str(tmp_path)], {}, tmp_path)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        f"visionpipe local up: error: port {port} is in use (another `visionpipe local up`?): stop it, "
        "or pass --port 0 for a free port"
    ]


def test_local_up_has_a_fixed_default_port(monkeypatch):
    monkeypatch.delenv("VISIONPIPE_LOCAL_PORT", raising=False)
    from visionpipe.cli import build_parser
    from visionpipe.commands.local import DEFAULT_PORT

    assert build_parser().parse_args(["local", "up"]).port == DEFAULT_PORT == 4599
