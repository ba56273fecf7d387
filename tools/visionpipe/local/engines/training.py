"""Local SageMaker training engine: CreateTrainingJob against the local stack runs the job's script.

moto records a training job and reports it Completed at once, with no metric and no artifact.
For the local stack's jobs this engine takes over after moto has recorded the job (moto's
SageMaker backend keeps serving Describe/List) and does what SageMaker does for a script-mode job
on a framework container, with the same training-toolkit contract (visionpipe.detector_model.contract):
- sourcedir.tar.gz from the `sagemaker_submit_directory` hyperparameter, unpacked into code/;
- every channel's S3 prefix downloaded into input/data/<channel>/ (SM_CHANNEL_<NAME>);
- input/config/hyperparameters.json, inputdataconfig.json, resourceconfig.json;
- `<python> <sagemaker_program>` in a subprocess (cwd code/; SM_MODEL_DIR, SM_OUTPUT_DIR, ...);
- stdout/stderr matched line by line against the job's MetricDefinitions (last value wins, as
  FinalMetricDataList reports it);
- exit 0: SM_MODEL_DIR tarred into the job's ModelArtifacts (…/<job>/output/model.tar.gz); else
  Failed with output/failure's text (or "AlgorithmError: ..." and the last lines of stderr).
No local code path trains: the script SageMaker runs is the script run here. The interpreter is
this Python for `train_hog.py` and the torch venv's (make torch-venv; $VISIONPIPE_TORCH_PYTHON)
for `train_ssd.py`; a missing interpreter fails the job with the command that makes it.

The job starts InProgress and runs in a thread; CreateTrainingJob returns when it is done or after
`sync_seconds`, whichever comes first (the state machine's describe/wait loop follows a longer job).

`outcome`, when set, decides a job's outcome instead of running it (tests of the state machine's
paths: a given mAP, a failure); it receives the job's name, hyperparameters, channels and artifact URI.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from visionpipe.detector_model.contract import METRIC
from visionpipe.local import moto_internals
from visionpipe.template import REPO_ROOT

log = logging.getLogger("visionpipe.local")

TORCH_PYTHON = REPO_ROOT / ".venv-torch" / "bin" / "python"


@dataclass
class TrainingOutcome:
    status: str  # Completed | Failed
    validation_map: float | None = None
    failure_reason: str = ""
    artifact: str = ""
    seconds: float = 0.0
    metrics: dict[str, float] = field(default_factory=dict)
    log: str = ""


def parse_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise ValueError(f"{uri!r} is not an s3:// URI")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


def captured_metrics(text: str, definitions: list[dict[str, str]]) -> dict[str, float]:
    """What SageMaker's MetricDefinitions capture from the job's log: the last match per metric."""
    found: dict[str, float] = {}
    for definition in definitions or []:
        pattern = re.compile(definition["Regex"])
        for line in text.splitlines():
            match = pattern.search(line)
            if match:
                try:
                    found[definition["Name"]] = float(match.group(1))
                except (IndexError, ValueError):
                    continue
    return found


def torch_python() -> Path:
    return Path(os.environ.get("VISIONPIPE_TORCH_PYTHON") or TORCH_PYTHON)


class TrainingEngine:
    """Runs the jobs `owns(job)` accepts (the local stack's: output in one of its buckets)."""

    def __init__(
        self,
        s3_client_factory: Callable[[], Any],
        owns: Callable[[Any], bool],
        sync_seconds: float = 25.0,
        interpreters: dict[str, str] | None = None,
    ):
        self._s3_factory = s3_client_factory
        self._owns = owns
        self.sync_seconds = sync_seconds
        self.interpreters = interpreters or {}
        self.outcome: Callable[..., TrainingOutcome] | None = None
        self.jobs: list[Any] = []
        self.logs: dict[str, str] = {}  # job name -> its log (CloudWatch's /aws/sagemaker/TrainingJobs)

    def installed(self):
        """Within the block, the stack's CreateTrainingJob calls run (moto_internals)."""
        return moto_internals.training_jobs(lambda job: self.start(job) if self.owns(job) else None)

    def owns(self, job) -> bool:
        try:
            return bool(self._owns(job))
        except Exception:  # a job the predicate cannot read is not ours
            return False

    def start(self, job) -> None:
        now = datetime.now(UTC)
        job.training_job_status, job.secondary_status = "InProgress", "Training"
        job.final_metric_data_list = []
        job.training_start_time = job.last_modified_time = now
        job.training_end_time = None
        program = (job.hyper_parameters or {}).get("sagemaker_program", "?")
        job.secondary_status_transitions = [
            {
                "Status": "Starting",
                "StartTime": job.creation_time,
                "EndTime": now,
                "StatusMessage": "Local engine",
            },
            {"Status": "Training", "StartTime": now, "StatusMessage": f"Running {program} (script mode)"},
        ]
        self.jobs.append(job)
        done = threading.Event()
        thread = threading.Thread(
            target=self._run, args=(job, done), name=f"train-{job.training_job_name}", daemon=True
        )
        thread.start()
        done.wait(self.sync_seconds)

    def _run(self, job, done: threading.Event) -> None:
        try:
            try:
                if self.outcome is not None:
                    outcome = self.outcome(
                        job.training_job_name,
                        job.hyper_parameters,
                        job.input_data_config,
                        job.model_artifacts["S3ModelArtifacts"],
                    )
                else:
                    outcome = self.run_script(job)
            except Exception as error:  # an engine bug or S3 failure: report it as SageMaker would
                log.exception("local training job %s failed", job.training_job_name)
                outcome = TrainingOutcome(
                    "Failed", failure_reason=f"InternalServerError: {type(error).__name__}: {error}"
                )
            self.finish(job, outcome)
        finally:
            done.set()

    # ------------------------------------------------------------ script mode
    def interpreter_for(self, program: str) -> Path:
        if program in self.interpreters:
            return Path(self.interpreters[program])
        return torch_python() if program == "train_ssd.py" else Path(sys.executable)

    def run_script(self, job) -> TrainingOutcome:
        started = time.perf_counter()
        hyperparameters = dict(job.hyper_parameters or {})
        program = hyperparameters.get("sagemaker_program", "")
        submit = hyperparameters.get("sagemaker_submit_directory", "")
        if not program or not submit:
            return TrainingOutcome(
                "Failed",
                failure_reason="ClientError: script mode needs the sagemaker_program and "
                "sagemaker_submit_directory hyperparameters",
            )
        interpreter = self.interpreter_for(program)
        if not interpreter.is_file():
            return TrainingOutcome(
                "Failed",
                failure_reason=f"AlgorithmError: {program} needs {interpreter} (make torch-venv, "
                "or set VISIONPIPE_TORCH_PYTHON)",
            )
        s3 = self._s3_factory()
        with tempfile.TemporaryDirectory(prefix=f"sm-{job.training_job_name}-") as folder:
            root = Path(folder)
            code, data, config = root / "code", root / "input" / "data", root / "input" / "config"
            model_dir, output_dir = root / "model", root / "output"
            for path in (code, data, config, model_dir, output_dir):
                path.mkdir(parents=True, exist_ok=True)
            try:
                bucket, key = parse_s3_uri(submit)
                archive = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            except Exception as error:
                return TrainingOutcome("Failed", failure_reason=f"ClientError: cannot read {submit}: {error}")
            with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
                tar.extractall(code, filter="data")
            if not (code / program).is_file():
                return TrainingOutcome("Failed", failure_reason=f"ClientError: {program} is not in {submit}")
            channels = self._download_channels(s3, job.input_data_config or [], data)
            (config / "hyperparameters.json").write_text(json.dumps(hyperparameters))
            (config / "inputdataconfig.json").write_text(
                json.dumps(
                    {c["ChannelName"]: {"TrainingInputMode": "File"} for c in job.input_data_config or []}
                )
            )
            (config / "resourceconfig.json").write_text(
                json.dumps({"current_host": "algo-1", "hosts": ["algo-1"]})
            )
            env = {
                "PATH": os.environ.get("PATH", ""),
                "HOME": os.environ.get("HOME", str(root)),
                "PYTHONPATH": str(code),
                "PYTHONUNBUFFERED": "1",
                "TRAINING_JOB_NAME": job.training_job_name,
                "SM_CHANNELS": json.dumps(sorted(channels)),
                "SM_HPS": json.dumps(hyperparameters),
                "SM_MODEL_DIR": str(model_dir),
                "SM_OUTPUT_DIR": str(output_dir),
                "SM_OUTPUT_DATA_DIR": str(output_dir / "data"),
                "SM_INPUT_DIR": str(root / "input"),
                "SM_INPUT_CONFIG_DIR": str(config),
                "SM_INPUT_DATA_DIR": str(data),
                "SM_CURRENT_HOST": "algo-1",
                "SM_NUM_GPUS": "0",
                **{f"SM_CHANNEL_{name.upper()}": str(path) for name, path in channels.items()},
            }
            limit = float((getattr(job, "stopping_condition", None) or {}).get("MaxRuntimeInSeconds", 86400))
            try:
                process = subprocess.run(  # noqa: S603 (the job's own script, as SageMaker runs it)
                    [str(interpreter), program],
                    cwd=code,
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=limit,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                return TrainingOutcome("Failed", failure_reason=f"MaxRuntimeExceeded: {limit:.0f} s")
            text = process.stdout + process.stderr
            self.logs[job.training_job_name] = text
            metrics = captured_metrics(text, job.algorithm_specification.get("MetricDefinitions"))
            seconds = time.perf_counter() - started
            if process.returncode != 0:
                failure = output_dir / "failure"
                reason = failure.read_text().strip() if failure.is_file() else ""
                tail = " | ".join(process.stderr.strip().splitlines()[-3:])
                reason = reason or f"AlgorithmError: {program} exited {process.returncode}: {tail}"
                return TrainingOutcome("Failed", failure_reason=reason, seconds=seconds, log=text)
            artifact = job.model_artifacts["S3ModelArtifacts"]
            bucket, key = parse_s3_uri(artifact)
            s3.put_object(
                Bucket=bucket, Key=key, Body=tar_folder(model_dir), ContentType="application/x-gzip"
            )
        return TrainingOutcome(
            "Completed", metrics.get(METRIC), artifact=artifact, seconds=seconds, metrics=metrics, log=text
        )

    @staticmethod
    def _download_channels(s3, input_data_config: list[dict[str, Any]], data: Path) -> dict[str, Path]:
        channels = {}
        for channel in input_data_config:
            name = channel["ChannelName"]
            bucket, prefix = parse_s3_uri(channel["DataSource"]["S3DataSource"]["S3Uri"])
            target = channels[name] = data / name
            target.mkdir(parents=True, exist_ok=True)
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                for obj in page.get("Contents", []):
                    if obj["Key"].endswith("/"):
                        continue
                    relative = PurePosixPath(
                        obj["Key"][len(prefix) :].lstrip("/") or PurePosixPath(obj["Key"]).name
                    )
                    path = target / relative
                    path.parent.mkdir(parents=True, exist_ok=True)
                    s3.download_file(bucket, obj["Key"], str(path))
        return channels

    @staticmethod
    def finish(job, outcome: TrainingOutcome) -> None:
        now = datetime.now(UTC)
        if outcome.status == "Completed":
            metrics = dict(outcome.metrics)
            if outcome.validation_map is not None:
                metrics.setdefault(METRIC, float(outcome.validation_map))
            job.final_metric_data_list = [
                {"MetricName": name, "Value": float(value), "Timestamp": now}
                for name, value in metrics.items()
            ]
        else:
            job.failure_reason = outcome.failure_reason
        job.training_time_in_seconds = job.billable_time_in_seconds = max(1, int(round(outcome.seconds)))
        transitions = job.secondary_status_transitions
        transitions[-1]["EndTime"] = now
        message = outcome.failure_reason or "Training job completed"
        transitions.append(
            {"Status": outcome.status, "StartTime": now, "EndTime": now, "StatusMessage": message}
        )
        job.training_end_time = job.last_modified_time = now
        job.secondary_status = outcome.status
        job.training_job_status = outcome.status  # last: pollers see the final state with everything set
        log.info("local training job %s %s (%s)", job.training_job_name, outcome.status, message)


def tar_folder(folder: Path) -> bytes:
    """model.tar.gz as SageMaker makes it from SM_MODEL_DIR: the folder's files at the archive root."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.add(path, arcname=path.relative_to(folder).as_posix())
    return buffer.getvalue()
