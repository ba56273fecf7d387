"""Settings of the tweet flow, read once from the environment the template gives the function."""

from __future__ import annotations

from dataclasses import dataclass

from visionpipe_common.settings import EnvironmentSettings, setting
from visionpipe_common.tweets.message import DEFAULT_TEMPLATE


@dataclass(frozen=True)
class TweetSettings(EnvironmentSettings):
    cooldown_table: str = setting("COOLDOWN_TABLE")
    detections_bucket: str = setting("DETECTIONS_BUCKET", "")
    cooldown_seconds: float = setting("COOLDOWN_SECONDS", 60.0)
    # empty: dry run (tweets go to outbox/dry-run/ only)
    x_secret_arn: str = setting("X_SECRET_ARN", "", parse=str.strip)
    attach_image: bool = setting("ATTACH_IMAGE", False)
    template: str = setting("TWEET_TEMPLATE", DEFAULT_TEMPLATE, parse=lambda v: v or DEFAULT_TEMPLATE)
    messages: str = setting("TWEET_MESSAGES", "")  # "|"-separated; empty: the original three
    hashtags: str = setting("TWEET_HASHTAGS", "botchitecture,{device}")  # ","-separated, placeholders allowed
    secret_max_age_seconds: int = setting("SECRET_MAX_AGE_SECONDS", 300)

    @property
    def dry_run(self) -> bool:
        return not self.x_secret_arn
