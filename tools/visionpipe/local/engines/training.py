"""Local SageMaker training engine: CreateTrainingJob against the local stack really trains.

moto records a training job and reports it Completed at once, with no metric and no artifact.
For the local stack's jobs this engine takes over after moto has recorded the job (moto's
SageMaker backend keeps serving Describe/List): visionpipe.detector_model.training_job trains a
HOG + linear SVM detector from the job's four channels in the local S3, measures validation:mAP
and writes model.tar.gz to the job's ModelArtifacts. DescribeTrainingJob then reports:
- Completed: FinalMetricDataList [validation:mAP = the measured value, train:progress = 100],
  ModelArtifacts.S3ModelArtifacts, TrainingTimeInSeconds;
- Failed: FailureReason ("ClientError: ..." for data problems), as SageMaker reports them.

The job starts InProgress and trains in a thread; CreateTrainingJob returns when it is done or
after `sync_seconds`, whichever comes first (a longer job goes on in the background and the
state machine's describe/wait loop follows it, as on AWS).

`outcome`, when set, decides a job's outcome instead of training (tests of the state machine's
paths: a given mAP, a failure); it receives the job's name, hyperparameters, channels and
artifact URI, as train_job does.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

from visionpipe.detector_model.training_job import METRIC, TrainingOutcome, train_job
from visionpipe.local import moto_internals

log = logging.getLogger("visionpipe.local")


class TrainingEngine:
    """Trains the jobs `owns(job)` accepts (the local stack's: output in one of its buckets)."""

    def __init__(
        self, s3_client_factory: Callable[[], Any], owns: Callable[[Any], bool], sync_seconds: float = 25.0
    ):
        self._s3_factory = s3_client_factory
        self._owns = owns
        self.sync_seconds = sync_seconds
        self.outcome: Callable[..., TrainingOutcome] | None = None
        self.jobs: list[Any] = []

    def installed(self):
        """Within the block, the stack's CreateTrainingJob calls train (moto_internals)."""
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
        job.secondary_status_transitions = [
            {
                "Status": "Starting",
                "StartTime": job.creation_time,
                "EndTime": now,
                "StatusMessage": "Local engine",
            },
            {
                "Status": "Training",
                "StartTime": now,
                "StatusMessage": "Training a HOG + linear SVM detector on CPU",
            },
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
                outcome = (self.outcome or partial(train_job, self._s3_factory()))(
                    job.training_job_name,
                    job.hyper_parameters,
                    job.input_data_config,
                    job.model_artifacts["S3ModelArtifacts"],
                )
            except Exception as error:  # an engine bug or S3 failure: report it as SageMaker would
                log.exception("local training job %s failed", job.training_job_name)
                outcome = TrainingOutcome(
                    "Failed", failure_reason=f"AlgorithmError: {type(error).__name__}: {error}"
                )
            self.finish(job, outcome)
        finally:
            done.set()

    @staticmethod
    def finish(job, outcome: TrainingOutcome) -> None:
        now = datetime.now(UTC)
        if outcome.status == "Completed":
            job.final_metric_data_list = [
                {"MetricName": METRIC, "Value": float(outcome.validation_map), "Timestamp": now},
                {"MetricName": "train:progress", "Value": 100.0, "Timestamp": now},
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
