"""The two frame-capture engines, chosen by FRAME_CAPTURE_ENGINE."""

from __future__ import annotations

from visionpipe_common.frame_capture.settings import ENGINE_OPENCV, FrameCaptureSettings


def build_engine(settings: FrameCaptureSettings, s3_client, mediaconvert_client=None):
    """The configured engine (the MediaConvert client is only needed, and only made, for mediaconvert)."""
    if settings.engine == ENGINE_OPENCV:
        from visionpipe_common.frame_capture.opencv_engine import OpenCvEngine

        return OpenCvEngine(s3_client, settings.image_bucket, settings.capture, settings.opencv)
    from visionpipe_common.frame_capture.mediaconvert_job import MediaConvertEngine

    return MediaConvertEngine(
        mediaconvert_client, settings.image_bucket, settings.capture, settings.mediaconvert
    )
