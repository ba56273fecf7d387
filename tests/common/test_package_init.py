"""visionpipe_common limits numpy's OpenBLAS to one thread on Lambda only (see its __init__)."""

import os
import subprocess
import sys

import pytest

from visionpipe.template import REPO_ROOT

PROBE = "import os, visionpipe_common; print(os.environ.get('OPENBLAS_NUM_THREADS'))"


def _run(**env) -> str:
    base = {k: v for k, v in os.environ.items() if k not in ("LAMBDA_TASK_ROOT", "OPENBLAS_NUM_THREADS")}
    completed = subprocess.run(
        [sys.executable, "-c", PROBE],
        env={**base, "PYTHONPATH": str(REPO_ROOT / "layers" / "common"), **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return completed.stdout.strip()


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"LAMBDA_TASK_ROOT": "/var/task"}, "1"),  # on Lambda: one thread
        ({"LAMBDA_TASK_ROOT": "/var/task", "OPENBLAS_NUM_THREADS": "4"}, "4"),  # a deployer's choice stays
        ({}, "None"),  # local mode and tests: untouched (training shares the process)
    ],
)
def test_openblas_threads_are_limited_on_lambda_only(env, expected):
    assert _run(**env) == expected
