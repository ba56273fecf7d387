"""capture_job_state: records how each MediaConvert frame-capture job of this stack ended.

Invoked by an EventBridge rule on "MediaConvert Job State Change" (COMPLETE, ERROR, CANCELED) for
jobs whose UserMetadata names this stack. ERROR/CANCELED -> a failure item for the source video
(Status FAILED, Reason = MediaConvert's error message), findable by the video's file name like a
rejected image; COMPLETE -> the video's capture document is updated with the frame count.
"""

import os

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config

from visionpipe_common.frame_capture.job_state import FAILED_STATES, JobStateRecorder
from visionpipe_common.result_store import ResultStore

logger = Logger()
tracer = Tracer()
metrics = Metrics()

RETRIES = Config(retries={"max_attempts": 5, "mode": "adaptive"})
s3 = boto3.client("s3", config=RETRIES)
results_table = boto3.resource("dynamodb", config=RETRIES).Table(os.environ["RESULTS_TABLE"])
store = ResultStore(results_table, s3, os.environ["RESULTS_BUCKET"])
recorder = JobStateRecorder(s3, store, os.environ["RESULTS_BUCKET"], stack_name=os.environ["STACK_NAME"])


@logger.inject_lambda_context(correlation_id_path="detail.jobId")
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_source(data_class=EventBridgeEvent)
def lambda_handler(event: EventBridgeEvent, context: LambdaContext) -> dict:
    outcome = recorder.record(event.raw_event)
    if outcome.recorded:
        failed = outcome.status in FAILED_STATES
        metrics.add_metric(
            name="CaptureJobsFailed" if failed else "CaptureJobsCompleted", unit=MetricUnit.Count, value=1
        )
        if outcome.frames:
            metrics.add_metric(name="FramesCaptured", unit=MetricUnit.Count, value=outcome.frames)
    return outcome.as_dict()
