"""Settings of the image anomaly flow, read once from the environment the template gives the function."""

from __future__ import annotations

from dataclasses import dataclass

from visionpipe_common.detectors.settings import DetectorSettings
from visionpipe_common.settings import EnvironmentSettings, setting


@dataclass(frozen=True)
class AnomalyFlowSettings(EnvironmentSettings):
    results_table: str = setting("RESULTS_TABLE")
    results_bucket: str = setting("RESULTS_BUCKET")
    detector: DetectorSettings = DetectorSettings()
    video_bucket: str = setting("VIDEO_BUCKET", "")
    max_image_pixels: int = setting("MAX_IMAGE_PIXELS", 40_000_000)
    max_image_bytes: int = setting("MAX_IMAGE_BYTES", 25 * 1024 * 1024)
    frame_interval_seconds: float = setting("FRAME_INTERVAL_SECONDS", 5.0)
