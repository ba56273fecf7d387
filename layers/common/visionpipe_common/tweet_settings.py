"""Settings of the tweet flow, read once from the environment the template gives the function."""

from __future__ import annotations

import os
from dataclasses import dataclass

from botocore.config import Config

from visionpipe_common.tweet_message import DEFAULT_TEMPLATE

# Standard mode retries throttling and 5xx of S3/DynamoDB a few times before the invocation fails.
AWS_RETRIES = Config(retries={"mode": "standard", "max_attempts": 4})


@dataclass(frozen=True)
class TweetSettings:
    detections_bucket: str
    cooldown_table: str
    cooldown_seconds: float = 60.0
    x_secret_arn: str = ""  # empty: dry run (tweets go to outbox/dry-run/ only)
    attach_image: bool = False
    template: str = DEFAULT_TEMPLATE
    messages: str = ""  # "|"-separated; empty: the original three
    hashtags: str = "botchitecture,{device}"  # ","-separated, placeholders allowed
    secret_max_age_seconds: int = 300

    @property
    def dry_run(self) -> bool:
        return not self.x_secret_arn

    @classmethod
    def from_environment(cls) -> TweetSettings:
        env = os.environ
        return cls(
            detections_bucket=env.get("DETECTIONS_BUCKET", ""),
            cooldown_table=env["COOLDOWN_TABLE"],
            cooldown_seconds=float(env.get("COOLDOWN_SECONDS", "60")),
            x_secret_arn=env.get("X_SECRET_ARN", "").strip(),
            attach_image=env.get("ATTACH_IMAGE", "false").strip().lower() in ("true", "1", "yes"),
            template=env.get("TWEET_TEMPLATE", "") or DEFAULT_TEMPLATE,
            messages=env.get("TWEET_MESSAGES", ""),
            hashtags=env.get("TWEET_HASHTAGS", "botchitecture,{device}"),
            secret_max_age_seconds=int(env.get("SECRET_MAX_AGE_SECONDS", "300")),
        )
