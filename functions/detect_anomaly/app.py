"""detect_anomaly: every image in an S3 event ends as one verdict or one failure record.

Triggered by ObjectCreated under image_inputs/ (uploads) and video_inputs/ (captured frames) of
the image bucket. Bad inputs become failure items; transient errors fail the invocation after the
other records are done, so Lambda retries it and, when retries run out, parks the event in the
failed-events queue (`visionpipe replay` puts it back). One upload is recorded once, however often
its event is delivered: the result item's conditional put decides (anomaly.result_store).
"""

from visionpipe_common.anomaly.flow import AnomalyFlow
from visionpipe_common.anomaly.settings import AnomalyFlowSettings
from visionpipe_common.events.handler import S3EventHandler

settings = AnomalyFlowSettings.from_environment()
flow = AnomalyFlow.from_settings(settings)
handler = S3EventHandler(flow.judge, flow.reject_event, traced_libraries=("botocore",))
lambda_handler = handler.lambda_handler
