"""Frame capture: videos uploaded under video_inputs/ become JPEG frames the image flow judges.

Two engines give the same result (names, sizes, metadata): `mediaconvert` (a CreateJob per video;
frames arrive when the job finishes) and `opencv` (frames captured inside the function).
"""

from __future__ import annotations

from visionpipe_common.frame_capture.settings import (
    ENGINE_MEDIACONVERT,
    ENGINE_OPENCV,
    FrameCaptureSettings,
)


def build_engine(settings: FrameCaptureSettings, s3_client, mediaconvert_client=None):
    """The configured engine (the MediaConvert client is only needed, and only made, for mediaconvert)."""
    if settings.engine == ENGINE_OPENCV:
        from visionpipe_common.frame_capture.opencv_engine import OpenCvEngine

        return OpenCvEngine(s3_client, settings.image_bucket, settings.capture, settings.opencv)
    from visionpipe_common.frame_capture.mediaconvert_job import MediaConvertEngine

    return MediaConvertEngine(
        mediaconvert_client, settings.image_bucket, settings.capture, settings.mediaconvert
    )


__all__ = ["ENGINE_MEDIACONVERT", "ENGINE_OPENCV", "FrameCaptureSettings", "build_engine"]
