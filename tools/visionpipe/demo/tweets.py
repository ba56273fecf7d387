"""The tweet flow in the demo: what tweet_detection did with each record the camera wrote.

Every record ends as one outcome of the function (DRY_RUN: an outbox/dry-run/ entry; SUPPRESSED:
another record of the device tweeted within TweetCooldownSeconds; DUPLICATE; FAILED: an
outbox/failures/ entry). The outcomes are read from where the function itself keeps them: every
record leaves exactly one outbox/ entry (dry-run, posted, suppressed, duplicates or failures).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field

from visionpipe_common.tweets.outbox import (
    DRY_RUN,
    DUPLICATES,
    FAILURES,
    OUTBOX_PREFIX,
    POSTED,
    SUPPRESSED,
)

TWEET_FUNCTION = "TweetDetectionFunction"
STATUS_OF_FOLDER = {
    DRY_RUN: "DRY_RUN",
    POSTED: "POSTED",
    SUPPRESSED: "SUPPRESSED",
    DUPLICATES: "DUPLICATE",
    FAILURES: "FAILED",
}


@dataclass
class TweetResult:
    records: int
    outcomes: dict[str, dict] = field(default_factory=dict)  # record key -> the function's outcome
    dry_run: list[dict] = field(default_factory=list)  # the outbox/dry-run/ entries, with "key"
    cooldown_seconds: str = ""

    @property
    def statuses(self) -> Counter:
        return Counter(o.get("status", "?") for o in self.outcomes.values())

    @property
    def suppressed(self) -> int:
        return self.statuses["SUPPRESSED"]

    def problems(self) -> list[str]:
        problems = []
        if len(self.outcomes) < self.records:
            problems.append(f"only {len(self.outcomes)} of {self.records} records have a tweet outcome")
        if not self.dry_run:
            problems.append("no dry-run tweet in outbox/dry-run/")
        if self.statuses["FAILED"]:
            problems.append(f"{self.statuses['FAILED']} record(s) failed (see outbox/failures/)")
        if len(self.dry_run) != self.statuses["DRY_RUN"]:
            problems.append(
                f"{len(self.dry_run)} outbox entries for {self.statuses['DRY_RUN']} dry-run outcomes"
            )
        return problems


def collect_tweets(stack, bucket: str, device_id: str, record_keys: list[str], timeout: float) -> TweetResult:
    """Wait until every record has its outcome, then read them and the device's dry-run entries."""
    function = stack.functions[TWEET_FUNCTION]
    s3 = stack.client("s3")
    result = TweetResult(
        records=len(record_keys), cooldown_seconds=function.variables.get("COOLDOWN_SECONDS", "")
    )
    wanted = {f"s3://{bucket}/{key}" for key in record_keys}
    deadline = time.monotonic() + timeout
    while True:
        # A record delivered twice also has a duplicates/ entry: its first outcome is the one to show.
        outcomes = sorted(outbox_outcomes(s3, bucket), key=lambda o: o["status"] != "DUPLICATE")
        result.outcomes = {
            outcome["record"].split("/", 3)[-1]: outcome
            for outcome in outcomes
            if outcome.get("record") in wanted
        }
        if len(result.outcomes) >= len(wanted) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    listing = s3.list_objects_v2(Bucket=bucket, Prefix=f"outbox/dry-run/{device_id}/").get("Contents", [])
    for item in sorted(listing, key=lambda o: o["Key"]):
        entry = json.loads(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
        result.dry_run.append({"key": item["Key"], **entry})
    return result


def outbox_outcomes(s3, bucket: str) -> list[dict]:
    """Every record's outcome, from its outbox/ entry (the entry's folder names the outcome)."""
    outcomes = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=OUTBOX_PREFIX):
        for listed in page.get("Contents", []):
            folder = listed["Key"][len(OUTBOX_PREFIX) :].split("/", 1)[0]
            if folder not in STATUS_OF_FOLDER:
                continue
            entry = json.loads(s3.get_object(Bucket=bucket, Key=listed["Key"])["Body"].read())
            outcomes.append({**entry, "status": STATUS_OF_FOLDER[folder], "outbox_key": listed["Key"]})
    return outcomes
