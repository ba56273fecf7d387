"""Frame-capture settings, read once from the environment the template gives the function."""

from __future__ import annotations

import os
from dataclasses import dataclass

ENGINE_MEDIACONVERT = "mediaconvert"
ENGINE_OPENCV = "opencv"
ENGINES = (ENGINE_MEDIACONVERT, ENGINE_OPENCV)

# Common video containers; matched case-insensitively in code (S3 suffix filters are case-sensitive,
# so the notification filters by prefix only and anything else becomes a failure item here).
SUPPORTED_VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".mkv", ".avi", ".webm")


def _flag(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on", "enabled")


@dataclass(frozen=True)
class CaptureSettings:
    """What to capture: the same for both engines (MediaConvert's FRAME_CAPTURE defaults of the original)."""

    interval_seconds: float = 5.0
    max_captures: int = 4
    width: int = 500
    height: int = 500
    jpeg_quality: int = 80

    def __post_init__(self):
        if self.interval_seconds <= 0:
            raise ValueError("FRAME_INTERVAL_SECONDS must be > 0")
        if not 1 <= self.max_captures <= 10_000_000:
            raise ValueError("MAX_CAPTURES must be between 1 and 10000000")
        if not (32 <= self.width <= 8192 and 32 <= self.height <= 8192):
            raise ValueError("FRAME_WIDTH and FRAME_HEIGHT must be between 32 and 8192")
        if not 1 <= self.jpeg_quality <= 100:
            raise ValueError("JPEG_QUALITY must be between 1 and 100")


@dataclass(frozen=True)
class MediaConvertSettings:
    endpoint_url: str = ""  # the regional endpoint, never DescribeEndpoints
    role_arn: str = ""
    queue_arn: str = ""
    proxy_output: bool = False
    proxy_prefix: str = "proxies/"
    stack_name: str = "visionpipe"  # UserMetadata tag the job-state rule matches on


@dataclass(frozen=True)
class OpenCvSettings:
    read_mode: str = "url"  # url: presigned URL streamed by FFmpeg (falls back to /tmp) | download: /tmp
    max_video_pixels: int = 8192 * 4320  # 8K: anything larger is refused before decoding
    max_download_bytes: int = 1536 * 1024 * 1024  # /tmp copy limit (the function's ephemeral storage)
    url_expiry_seconds: int = 900
    open_timeout_ms: int = 15_000


@dataclass(frozen=True)
class FrameCaptureSettings:
    engine: str
    image_bucket: str
    video_bucket: str
    results_table: str
    results_bucket: str
    capture: CaptureSettings
    mediaconvert: MediaConvertSettings
    opencv: OpenCvSettings

    def __post_init__(self):
        if self.engine not in ENGINES:
            raise ValueError(f"FRAME_CAPTURE_ENGINE must be one of {ENGINES}, not {self.engine!r}")

    @classmethod
    def from_environment(cls) -> FrameCaptureSettings:
        env = os.environ
        region = env.get("AWS_REGION", env.get("AWS_DEFAULT_REGION", "us-east-1"))
        return cls(
            engine=env.get("FRAME_CAPTURE_ENGINE", ENGINE_MEDIACONVERT).strip().lower(),
            image_bucket=env["IMAGE_BUCKET"],
            video_bucket=env.get("VIDEO_BUCKET", ""),
            results_table=env["RESULTS_TABLE"],
            results_bucket=env["RESULTS_BUCKET"],
            capture=CaptureSettings(
                interval_seconds=float(env.get("FRAME_INTERVAL_SECONDS", "5")),
                max_captures=int(env.get("MAX_CAPTURES", "4")),
                width=int(env.get("FRAME_WIDTH", "500")),
                height=int(env.get("FRAME_HEIGHT", "500")),
                jpeg_quality=int(env.get("JPEG_QUALITY", "80")),
            ),
            mediaconvert=MediaConvertSettings(
                endpoint_url=env.get("MEDIACONVERT_ENDPOINT")
                or f"https://mediaconvert.{region}.amazonaws.com",
                role_arn=env.get("MEDIACONVERT_ROLE_ARN", ""),
                queue_arn=env.get("MEDIACONVERT_QUEUE_ARN", ""),
                proxy_output=_flag(env.get("PROXY_OUTPUT", "false")),
                proxy_prefix=env.get("PROXY_PREFIX", "proxies/"),
                stack_name=env.get("STACK_NAME", "visionpipe"),
            ),
            opencv=OpenCvSettings(
                read_mode=env.get("OPENCV_READ_MODE", "url"),
                max_video_pixels=int(env.get("MAX_VIDEO_PIXELS", str(8192 * 4320))),
                max_download_bytes=int(env.get("MAX_VIDEO_DOWNLOAD_BYTES", str(1536 * 1024 * 1024))),
            ),
        )
