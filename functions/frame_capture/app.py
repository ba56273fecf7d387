"""frame_capture: every video uploaded under video_inputs/ becomes frames or a failure record.

Triggered by ObjectCreated under video_inputs/ of the video bucket (prefix only: names are checked
here in any letter case, so an unsupported upload is recorded instead of silently ignored).
FRAME_CAPTURE_ENGINE picks the engine: `mediaconvert` submits a job whose frames land in the
image bucket later (capture_job_state records how it ended); `opencv` captures the frames right
here. Either way the frames are named <image bucket>/video_inputs/<video path>/<stem>_frame.NNNNNNN.jpg
and detect_anomaly judges each of them.
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
from botocore.config import Config

from visionpipe_common.frame_capture import ENGINE_MEDIACONVERT, FrameCaptureSettings, build_engine
from visionpipe_common.frame_capture.flow import (
    STATUS_CAPTURED,
    STATUS_SUBMITTED,
    CaptureOutcome,
    FrameCaptureFlow,
)
from visionpipe_common.result_store import ResultStore
from visionpipe_common.s3_event_loop import process_s3_event
from visionpipe_common.s3_events import S3Object, unreadable_event_object
from visionpipe_common.verdict_records import Provenance

logger = Logger()
tracer = Tracer()
metrics = Metrics()

RETRIES = Config(retries={"max_attempts": 5, "mode": "adaptive"})
settings = FrameCaptureSettings.from_environment()
s3 = boto3.client("s3", config=RETRIES)
mediaconvert = (
    boto3.client("mediaconvert", endpoint_url=settings.mediaconvert.endpoint_url, config=RETRIES)
    if settings.engine == ENGINE_MEDIACONVERT
    else None
)
results_table = boto3.resource("dynamodb", config=RETRIES).Table(settings.results_table)
store = ResultStore(results_table, s3, settings.results_bucket)
flow = FrameCaptureFlow(s3, store, settings.results_bucket, build_engine(settings, s3, mediaconvert))

# One upload is captured once (one job, one set of frames), however often its event is delivered.
idempotency_config = IdempotencyConfig(
    event_key_jmespath="[bucket, key, version_id, sequencer, etag]",
    expires_after_seconds=7 * 24 * 3600,
)
persistence = DynamoDBPersistenceLayer(table_name=os.environ["IDEMPOTENCY_TABLE"])


@idempotent_function(data_keyword_argument="obj", config=idempotency_config, persistence_store=persistence)
def capture_once(obj: dict) -> dict:
    outcome = flow.capture(S3Object(**obj))
    count(outcome)
    return outcome.as_dict()


def count(outcome: CaptureOutcome) -> None:
    if not outcome.recorded:
        return
    metrics.add_metric(name="VideosReceived", unit=MetricUnit.Count, value=1)
    if outcome.status == STATUS_CAPTURED:
        metrics.add_metric(name="FramesCaptured", unit=MetricUnit.Count, value=outcome.frames or 0)
    elif outcome.status == STATUS_SUBMITTED:
        metrics.add_metric(name="CaptureJobsSubmitted", unit=MetricUnit.Count, value=1)
    else:
        metrics.add_metric(name="VideosRejected", unit=MetricUnit.Count, value=1)


def capture_object(obj: S3Object) -> dict:
    return capture_once(obj=dataclasses.asdict(obj))


def reject_event(event: dict, reason: str) -> list[dict]:
    outcome = flow.reject(Provenance(obj=unreadable_event_object(event), backend=flow.engine_name), reason)
    count(outcome)
    return [outcome.as_dict()]


@logger.inject_lambda_context(correlation_id_path='Records[0].responseElements."x-amz-request-id"')
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    idempotency_config.register_lambda_context(context)
    results = process_s3_event(event, capture_object, reject_event)
    results.raise_first_error()
    return {"outcomes": results.outcomes}
