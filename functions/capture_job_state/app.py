"""capture_job_state: records how each MediaConvert frame-capture job of this stack ended.

Invoked by an EventBridge rule on "MediaConvert Job State Change" (COMPLETE, ERROR, CANCELED) for
jobs whose UserMetadata names this stack. ERROR/CANCELED -> a failure item for the source video
(Status FAILED, Reason = MediaConvert's error message), findable by the video's file name like a
rejected image; COMPLETE -> the video's capture document is updated with the frame count.
"""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from visionpipe_common.frame_capture.job_state import JobStateRecorder
from visionpipe_common.frame_capture.settings import JobStateSettings

logger = Logger()
tracer = Tracer()
metrics = Metrics()

recorder = JobStateRecorder.from_settings(JobStateSettings.from_environment())


@logger.inject_lambda_context(correlation_id_path="detail.jobId")
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_source(data_class=EventBridgeEvent)
def lambda_handler(event: EventBridgeEvent, context: LambdaContext) -> dict:
    outcome = recorder.record(event.raw_event)
    for metric in outcome.metrics():
        metrics.add_metric(name=metric.name, unit=metric.unit, value=metric.value)
    return outcome.as_dict()
