"""Frame-capture settings, read once from the environment the template gives the function."""

from __future__ import annotations

from dataclasses import dataclass

from visionpipe_common.settings import EnvironmentSettings, setting

ENGINE_MEDIACONVERT = "mediaconvert"
ENGINE_OPENCV = "opencv"
ENGINES = (ENGINE_MEDIACONVERT, ENGINE_OPENCV)

# Common video containers; matched case-insensitively in code (S3 suffix filters are case-sensitive,
# so the notification filters by prefix only and anything else becomes a failure item here).
SUPPORTED_VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".mkv", ".avi", ".webm")


@dataclass(frozen=True)
class CaptureSettings(EnvironmentSettings):
    """What to capture: the same for both engines (MediaConvert's FRAME_CAPTURE defaults of the original)."""

    interval_seconds: float = setting("FRAME_INTERVAL_SECONDS", 5.0)
    max_captures: int = setting("MAX_CAPTURES", 4)
    width: int = setting("FRAME_WIDTH", 500)
    height: int = setting("FRAME_HEIGHT", 500)
    jpeg_quality: int = setting("JPEG_QUALITY", 80)

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
class MediaConvertSettings(EnvironmentSettings):
    # The regional endpoint (empty: https://mediaconvert.<region>.amazonaws.com), never DescribeEndpoints.
    endpoint_url: str = setting("MEDIACONVERT_ENDPOINT", "")
    role_arn: str = setting("MEDIACONVERT_ROLE_ARN", "")
    queue_arn: str = setting("MEDIACONVERT_QUEUE_ARN", "")
    proxy_output: bool = setting("PROXY_OUTPUT", False)
    proxy_prefix: str = setting("PROXY_PREFIX", "proxies/")
    stack_name: str = setting("STACK_NAME", "visionpipe")  # UserMetadata tag the job-state rule matches on
    region: str = setting(("AWS_REGION", "AWS_DEFAULT_REGION"), "us-east-1")

    def __post_init__(self):
        if not self.endpoint_url:
            object.__setattr__(self, "endpoint_url", f"https://mediaconvert.{self.region}.amazonaws.com")


@dataclass(frozen=True)
class OpenCvSettings(EnvironmentSettings):
    # url: presigned URL streamed by FFmpeg (falls back to /tmp) | download: /tmp
    read_mode: str = setting("OPENCV_READ_MODE", "url")
    # 8K: anything larger is refused before decoding
    max_video_pixels: int = setting("MAX_VIDEO_PIXELS", 8192 * 4320)
    # /tmp copy limit (the function's ephemeral storage)
    max_download_bytes: int = setting("MAX_VIDEO_DOWNLOAD_BYTES", 1536 * 1024 * 1024)
    url_expiry_seconds: int = 900
    open_timeout_ms: int = 15_000


@dataclass(frozen=True)
class FrameCaptureSettings(EnvironmentSettings):
    image_bucket: str = setting("IMAGE_BUCKET")
    results_table: str = setting("RESULTS_TABLE")
    results_bucket: str = setting("RESULTS_BUCKET")
    engine: str = setting("FRAME_CAPTURE_ENGINE", ENGINE_MEDIACONVERT, parse=lambda v: v.strip().lower())
    video_bucket: str = setting("VIDEO_BUCKET", "")
    capture: CaptureSettings = CaptureSettings()
    mediaconvert: MediaConvertSettings = MediaConvertSettings()
    opencv: OpenCvSettings = OpenCvSettings()

    def __post_init__(self):
        if self.engine not in ENGINES:
            raise ValueError(f"FRAME_CAPTURE_ENGINE must be one of {ENGINES}, not {self.engine!r}")


@dataclass(frozen=True)
class JobStateSettings(EnvironmentSettings):
    """capture_job_state: where the outcome of a MediaConvert job is recorded."""

    results_table: str = setting("RESULTS_TABLE")
    results_bucket: str = setting("RESULTS_BUCKET")
    stack_name: str = setting("STACK_NAME")
