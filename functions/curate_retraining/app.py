"""curate_retraining: every camera annotation becomes a retraining candidate (pending or rejected).

Triggered by ObjectCreated on training_annotation/*.json in the detections bucket. Each annotation
and its raw image are checked (visionpipe_common.retraining.curator); the candidate lands in the
candidates table with its status and, if rejected, the reason. Then, if the approved candidates
since the last training reach the threshold, the retraining state machine is started: exactly
once per round, however many events arrive together (visionpipe_common.retraining.rounds).
Recording is a conditional write keyed by the annotation, so redelivered events change nothing.
Transient errors fail the invocation after the other records are done (retry, then the
failed-events queue; `visionpipe replay` puts them back).
"""

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from visionpipe_common.events.handler import S3_CORRELATION_ID, S3EventHandler
from visionpipe_common.retraining.curator import Curator
from visionpipe_common.retraining.rounds import RetrainingRounds
from visionpipe_common.retraining.settings import CuratorSettings

logger = Logger()
tracer = Tracer()

settings = CuratorSettings.from_environment()
curator = Curator.from_settings(settings)
rounds = RetrainingRounds.from_settings(settings)
handler = S3EventHandler(curator.curate, curator.ignore_event)
metrics = handler.metrics


@logger.inject_lambda_context(correlation_id_path=S3_CORRELATION_ID)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    results = handler.process_event(event)
    # Even when an object failed, the approvals already counted may complete a round.
    decision = rounds.maybe_start(trigger=f"curate_retraining:{context.aws_request_id}")
    if decision.started:
        logger.info("retraining started", extra=decision.as_dict())
        metrics.add_metric(name="RetrainingStarted", unit=MetricUnit.Count, value=1)
    results.raise_first_error()
    return {"candidates": results.outcomes, "retraining": decision.as_dict()}
