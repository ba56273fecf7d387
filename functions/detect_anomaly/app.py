"""detect_anomaly: every image in an S3 event ends as one verdict or one failure record.

Triggered by ObjectCreated under image_inputs/ (uploads) and video_inputs/ (captured frames) of
the image bucket. Bad inputs become failure items; transient errors fail the invocation after the
other records are done, so Lambda retries it and, when retries run out, parks the event in the
failed-events queue (`visionpipe replay` puts it back).
"""

import dataclasses
import os

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from visionpipe_common.anomaly_flow import AnomalyFlow, Outcome
from visionpipe_common.detectors import build_detector
from visionpipe_common.detectors.factory import RETRIES
from visionpipe_common.result_store import ResultStore
from visionpipe_common.s3_event_loop import process_s3_event
from visionpipe_common.s3_events import S3Object, unreadable_event_object
from visionpipe_common.settings import AnomalyFlowSettings
from visionpipe_common.verdict_records import STATUS_OK, Provenance

logger = Logger()
tracer = Tracer()
metrics = Metrics()

settings = AnomalyFlowSettings.from_environment()
s3 = boto3.client("s3", config=RETRIES)
results_table = boto3.resource("dynamodb", config=RETRIES).Table(settings.results_table)
detector = build_detector(settings.detector)
flow = AnomalyFlow(settings, s3, ResultStore(results_table, s3, settings.results_bucket), detector)

# One upload is judged once, however often its event is delivered or retried.
idempotency_config = IdempotencyConfig(
    event_key_jmespath="[bucket, key, version_id, sequencer, etag]",
    expires_after_seconds=7 * 24 * 3600,
)
persistence = DynamoDBPersistenceLayer(table_name=os.environ["IDEMPOTENCY_TABLE"])


@idempotent_function(data_keyword_argument="obj", config=idempotency_config, persistence_store=persistence)
def judge_once(obj: dict) -> dict:
    outcome = flow.judge(S3Object(**obj))
    count(outcome)
    return outcome.as_dict()


def count(outcome: Outcome) -> None:
    if not outcome.recorded:
        return
    if outcome.status == STATUS_OK:
        metrics.add_metric(name="ImagesProcessed", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="Anomalies", unit=MetricUnit.Count, value=int(bool(outcome.is_anomalous)))
        metrics.add_metric(name="DetectLatency", unit=MetricUnit.Milliseconds, value=outcome.detect_ms or 0.0)
    else:
        metrics.add_metric(name="Rejected", unit=MetricUnit.Count, value=1)


def judge_object(obj: S3Object) -> dict:
    return judge_once(obj=dataclasses.asdict(obj))


def reject_event(event: dict, reason: str) -> list[dict]:
    outcome = flow.reject(Provenance(obj=unreadable_event_object(event), backend=detector.backend), reason)
    count(outcome)
    return [outcome.as_dict()]


@logger.inject_lambda_context(correlation_id_path='Records[0].responseElements."x-amz-request-id"')
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    idempotency_config.register_lambda_context(context)
    results = process_s3_event(event, judge_object, reject_event)
    results.raise_first_error()
    return {"outcomes": results.outcomes}
