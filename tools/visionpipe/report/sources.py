"""Where the report reads from, and the time window it covers.

Resources come from (first found wins): explicit flags; a stack-outputs JSON file (`visionpipe local
outputs > outputs.json`, or the local stack's own state file `local-<port>.json` that also holds the
endpoint); a deployed stack's CloudFormation Outputs (`--stack NAME`); the running local stack
(`visionpipe local up`, found as `visionpipe local outputs` finds it).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

DEFAULT_DAYS = 7
RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


@dataclass(frozen=True)
class Window:
    """[since, until) in UTC."""

    since: datetime
    until: datetime

    def __post_init__(self) -> None:
        if self.since >= self.until:
            raise ValueError(f"--since ({self.since:%Y-%m-%d %H:%M:%S}) must be before --until")

    def contains(self, moment: datetime) -> bool:
        return self.since <= moment < self.until

    def days(self) -> list[str]:
        """Every UTC day the window touches, as YYYY-MM-DD."""
        day = self.since.date()
        last = (self.until - timedelta(microseconds=1)).date()
        out = []
        while day <= last:
            out.append(day.isoformat())
            day += timedelta(days=1)
        return out

    @property
    def since_iso(self) -> str:
        return iso(self.since)

    @property
    def until_iso(self) -> str:
        return iso(self.until)


def iso(moment: datetime) -> str:
    """The form the results table's `Date` uses: 2026-11-21T08:31:14.123Z (sorts as time)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_moment(text: str, now: datetime) -> datetime:
    """`2026-11-21`, `2026-11-21T08:00`, `2026-11-21T08:00:00Z`, or relative to now: `7d`, `36h`, `now`."""
    text = text.strip()
    if text == "now":
        return now
    relative = RELATIVE.match(text)
    if relative:
        return now - timedelta(**{UNITS[relative.group(2)]: float(relative.group(1))})
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def make_window(since: str | None, until: str | None, now: datetime | None = None) -> Window:
    now = now or datetime.now(UTC)
    end = parse_moment(until, now) if until else now
    start = parse_moment(since, now) if since else end - timedelta(days=DEFAULT_DAYS)
    return Window(start.astimezone(UTC), end.astimezone(UTC))


@dataclass
class StackSources:
    """The resources one report reads, and how to reach them."""

    detections_bucket: str | None = None
    results_table: str | None = None
    results_bucket: str | None = None
    state_machine_arn: str | None = None
    endpoint_url: str | None = None
    region: str | None = None
    described_as: str = ""
    outputs: dict[str, Any] = field(default_factory=dict)
    boto_session: boto3.Session | None = None  # e.g. the local stack's (its placeholder credentials)

    def session(self) -> boto3.Session:
        if self.boto_session is not None:
            return self.boto_session
        return boto3.Session(region_name=self.region) if self.region else boto3.Session()

    def client(self, service: str, workers: int = 10):
        # Standard retries (throttling, 5xx with backoff); one pool connection per reader thread.
        config = Config(
            max_pool_connections=max(10, workers), retries={"mode": "standard", "max_attempts": 5}
        )
        return self.session().client(service, endpoint_url=self.endpoint_url, config=config)


def running_local_stack(state_dir: str | None = None, port: int | None = None) -> tuple[str, dict] | None:
    """(endpoint_url, outputs) of the live local stack `visionpipe local outputs` would print."""
    from visionpipe.commands import local as local_command

    directory = local_command.state_dir(state_dir)
    if port:
        candidates = [directory / f"local-{port}.json"]
    else:
        candidates = sorted(directory.glob("local-*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    for path in candidates:
        if not path.exists():
            continue
        state = json.loads(path.read_text())
        if local_command._alive(state["endpoint_url"]):
            return state["endpoint_url"], state["outputs"]
    return None


def cloudformation_outputs(stack_name: str, endpoint_url: str | None, region: str | None) -> dict[str, str]:
    session = boto3.Session(region_name=region) if region else boto3.Session()
    stacks = session.client("cloudformation", endpoint_url=endpoint_url).describe_stacks(StackName=stack_name)
    return {o["OutputKey"]: o["OutputValue"] for o in stacks["Stacks"][0].get("Outputs", [])}


def resolve(
    *,
    outputs_file: Path | None = None,
    stack_name: str | None = None,
    local: bool = False,
    local_port: int | None = None,
    state_dir: str | None = None,
    endpoint_url: str | None = None,
    region: str | None = None,
    bucket: str | None = None,
    table: str | None = None,
    state_machine_arn: str | None = None,
) -> StackSources:
    outputs: dict[str, Any] = {}
    described = ""
    local_session = None
    if outputs_file:
        document = json.loads(Path(outputs_file).read_text())
        if "outputs" in document and "endpoint_url" in document:  # a local-<port>.json state file
            endpoint_url = endpoint_url or document["endpoint_url"]
            document = document["outputs"]
            local_session = local_stack_session(region)
        outputs, described = document, f"outputs file {outputs_file}"
    elif stack_name:
        outputs = cloudformation_outputs(stack_name, endpoint_url, region)
        described = f"stack {stack_name}"
    elif local or not (bucket or table or state_machine_arn):
        found = running_local_stack(state_dir, local_port)
        if found is None:
            if local or not _from_environment():
                raise SystemExit(
                    "error: no stack to read: pass --stack NAME (deployed), --outputs FILE, "
                    "--bucket/--table, or start one with `visionpipe local up`"
                )
        else:
            endpoint_url = endpoint_url or found[0]
            outputs, described = found[1], f"local stack at {found[0]}"
            local_session = local_stack_session(region)
    env = os.environ
    return StackSources(
        detections_bucket=bucket
        or outputs.get("DetectionsBucketName")
        or env.get("VISIONPIPE_DETECTIONS_BUCKET"),
        results_table=table or outputs.get("ResultsTableName") or env.get("VISIONPIPE_RESULTS_TABLE"),
        results_bucket=outputs.get("ResultsBucketName") or env.get("VISIONPIPE_RESULTS_BUCKET"),
        state_machine_arn=state_machine_arn
        or outputs.get("RetrainStateMachineArn")
        or env.get("VISIONPIPE_RETRAIN_STATE_MACHINE_ARN"),
        endpoint_url=endpoint_url,
        region=region,
        described_as=described or "flags and environment",
        outputs=outputs,
        boto_session=local_session,
    )


def local_stack_session(region: str | None) -> boto3.Session:
    """moto's server takes any credentials; these placeholders keep a machine's real ones out of it
    (the same ones `visionpipe local up` prints)."""
    return boto3.Session(
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106 (a placeholder for moto's local server)
        region_name=region or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
    )


def _from_environment() -> bool:
    return any(
        os.environ.get(name)
        for name in (
            "VISIONPIPE_DETECTIONS_BUCKET",
            "VISIONPIPE_RESULTS_TABLE",
            "VISIONPIPE_RETRAIN_STATE_MACHINE_ARN",
        )
    )
