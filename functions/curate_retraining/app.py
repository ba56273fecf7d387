"""curate_retraining: every camera annotation becomes a retraining candidate (pending or rejected).

Triggered by ObjectCreated on training_annotation/*.json in the detections bucket. Each annotation
and its raw image are checked (visionpipe_common.retraining_curator); the candidate lands in the
candidates table with its status and, if rejected, the reason. Then, if the approved candidates
since the last training reach the threshold, the retraining state machine is started: exactly
once per round, however many events arrive together (visionpipe_common.retraining_rounds).
Recording is a conditional write keyed by the annotation, so redelivered events change nothing.
Transient errors fail the invocation after the other records are done (retry, then the
failed-events queue; `visionpipe replay` puts them back).
"""

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config

from visionpipe_common.retraining_candidates import PENDING, REJECTED, CandidateStore
from visionpipe_common.retraining_curator import Curator, CuratorSettings
from visionpipe_common.retraining_rounds import RetrainingRounds
from visionpipe_common.s3_event_loop import process_s3_event
from visionpipe_common.s3_events import S3Object
from visionpipe_common.training_annotations import ClassMap

logger = Logger()
tracer = Tracer()
metrics = Metrics()

RETRIES = Config(retries={"max_attempts": 5, "mode": "standard"})
settings = CuratorSettings.from_environment()
table = boto3.resource("dynamodb", config=RETRIES).Table(settings.candidates_table)
store = CandidateStore(table)
curator = Curator(
    boto3.client("s3", config=RETRIES),
    store,
    ClassMap.from_names(settings.class_names),
    auto_approve=settings.auto_approve,
)
rounds = RetrainingRounds(
    table, boto3.client("stepfunctions", config=RETRIES), settings.state_machine_arn, settings.threshold
)


def curate_object(obj: S3Object) -> dict:
    outcome = curator.curate(obj)
    logger.info(
        "candidate recorded",
        extra={
            "candidate": outcome.candidate_id,
            "status": outcome.status,
            "ok": outcome.ok,
            "detail": outcome.message,
        },
    )
    if outcome.ok:
        name = {PENDING: "CandidatesPending", REJECTED: "CandidatesRejected"}.get(
            outcome.status, "CandidatesApproved"
        )
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
    return {"candidate_id": outcome.candidate_id, "status": outcome.status, "message": outcome.message}


def ignore_event(event: dict, reason: str) -> list[dict]:
    logger.warning("event names no annotation; nothing recorded", extra={"reason": reason})
    return []


@logger.inject_lambda_context(correlation_id_path='Records[0].responseElements."x-amz-request-id"')
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    results = process_s3_event(event, curate_object, ignore_event)
    # Even when an object failed, the approvals already counted may complete a round.
    decision = rounds.maybe_start(trigger=f"curate_retraining:{context.aws_request_id}")
    if decision.started:
        logger.info("retraining started", extra=decision.as_dict())
        metrics.add_metric(name="RetrainingStarted", unit=MetricUnit.Count, value=1)
    results.raise_first_error()
    return {"candidates": results.outcomes, "retraining": decision.as_dict()}
