"""The docs' runnable shell blocks, run as a reader runs them, in order, against a local stack.

A block is runnable when the line before its ```bash fence is `<!-- runnable -->` (run to the end,
exit 0, no traceback) or `<!-- runnable: background -->` (started, must print READY; stopped at the
end). They run in a scratch folder that links the repository's .venv and events/, so what they
write (outputs.json, data/) stays out of the repository; `make X` runs as `make -C <repo> X` (make
install in a scratch folder would install the scratch folder).
"""

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("local_stack")]

REPO = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"^<!-- runnable(: background)? -->\n```bash\n(.*?)^```", re.MULTILINE | re.DOTALL)
LINKED = (".venv", "events")
MAKE = re.compile(r"^make ", re.MULTILINE)


def nav_pages() -> list[Path]:
    def walk(node):
        if isinstance(node, str):
            yield node
        elif isinstance(node, list):
            for item in node:
                yield from walk(item)
        elif isinstance(node, dict):
            for value in node.values():
                yield from walk(value)

    nav = yaml.safe_load((REPO / "mkdocs.yml").read_text())["nav"]
    return [REPO / "docs" / page for page in walk(nav)]


def runnable_blocks() -> list[tuple[str, bool, str]]:
    """(page, background?, script) in reading order."""
    return [
        (page.name, bool(match.group(1)), match.group(2))
        for page in nav_pages()
        for match in BLOCK.finditer(page.read_text())
    ]


def test_the_getting_started_path_is_marked_runnable():
    scripts = "\n".join(script for _, _, script in runnable_blocks())
    for step in ("make local", "local outputs", "visionpipe upload", "visionpipe invoke", "review list"):
        assert step in scripts


def test_every_runnable_block_runs_against_the_local_stack(tmp_path, anomaly_model_dir):
    work = tmp_path / "reader"
    work.mkdir()
    for name in LINKED:
        (work / name).symlink_to(REPO / name)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "VISIONPIPE_"))},
        "VISIONPIPE_STATE_DIR": str(tmp_path / "state"),
        "VISIONPIPE_LOCAL_PORT": "0",  # the docs' default 4599 may be taken on a shared machine
        "VISIONPIPE_LOCAL_MODEL_DIR": str(anomaly_model_dir),
    }
    background: list[subprocess.Popen] = []
    try:
        for page, is_background, script in runnable_blocks():
            script = MAKE.sub(f"make -C {REPO} ", script)
            if is_background:
                process = subprocess.Popen(
                    ["bash", "-c", script],
                    cwd=work,
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                    text=True,
                    start_new_session=True,
                )
                background.append(process)
                deadline = time.monotonic() + 180
                for line in process.stdout:
                    if line.startswith("READY ") or time.monotonic() > deadline:
                        break
                assert line.startswith("READY "), f"{page}: {script!r} printed no READY line"
                continue
            result = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", script],
                cwd=work,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert result.returncode == 0, (
                f"{page}: {script}\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
            )
            assert "Traceback" not in result.stderr, f"{page}: {script}\n{result.stderr[-3000:]}"
        outputs = (work / "outputs.json").read_text()
        assert '"EndpointUrl": "http://127.0.0.1:' in outputs
    finally:
        for process in background:  # the local stack these blocks started, and only it
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
