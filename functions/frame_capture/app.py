"""frame_capture: every video uploaded under video_inputs/ becomes frames or a failure record.

Triggered by ObjectCreated under video_inputs/ of the video bucket (prefix only: names are checked
here in any letter case, so an unsupported upload is recorded instead of silently ignored).
FRAME_CAPTURE_ENGINE picks the engine: `mediaconvert` submits a job whose frames land in the
image bucket later (capture_job_state records how it ended); `opencv` captures the frames right
here. Either way the frames are named <image bucket>/video_inputs/<video path>/<stem>_frame.NNNNNNN.jpg
and detect_anomaly judges each of them. A frame is written once (a conditional put), so a
duplicate delivery adds no frame and no verdict.
"""

from visionpipe_common.events.handler import S3EventHandler
from visionpipe_common.frame_capture.flow import FrameCaptureFlow
from visionpipe_common.frame_capture.settings import FrameCaptureSettings

settings = FrameCaptureSettings.from_environment()
flow = FrameCaptureFlow.from_settings(settings)
handler = S3EventHandler(flow.capture, flow.reject_event)
lambda_handler = handler.lambda_handler
