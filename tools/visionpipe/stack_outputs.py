"""Where a command finds the stack: an outputs file, a deployed stack's name, or flags.

Every command that talks to the stack takes the same options:

    --outputs FILE      `visionpipe local outputs > FILE` (carries EndpointUrl: the local stack),
                        a local-<port>.json state file, or `aws cloudformation describe-stacks
                        --query 'Stacks[0].Outputs'` saved as JSON
    --stack-name NAME   a deployed stack: its Outputs are read with CloudFormation DescribeStacks
    --endpoint-url URL  an explicit endpoint (the local stack)

An outputs file with an EndpointUrl sends every client to that endpoint, never to real AWS.
Mistakes become UserError: `visionpipe` prints them as one line (cli.py).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import boto3

ENDPOINT_KEY = "EndpointUrl"  # written by `visionpipe local outputs`
LOCAL_CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}  # moto takes any
START_LOCAL = "start it with `make local` (or `.venv/bin/visionpipe local up`)"


class UserError(Exception):
    """A mistake the user can fix: the message says what is wrong and what to do (one line)."""


def add_stack_options(parser: argparse.ArgumentParser) -> None:
    where = parser.add_argument_group("which stack (pick one; default: $AWS_ENDPOINT_URL and flags)")
    where.add_argument(
        "--outputs",
        type=Path,
        metavar="FILE",
        help="stack outputs as JSON: `visionpipe local outputs > FILE` (its EndpointUrl is used) or "
        "`aws cloudformation describe-stacks --query 'Stacks[0].Outputs'`",
    )
    where.add_argument("--stack-name", help="a deployed stack: its Outputs are read from CloudFormation")
    where.add_argument("--endpoint-url", help="AWS endpoint, e.g. the local stack's http://127.0.0.1:4599")


@dataclass
class Stack:
    """Resolved outputs plus the endpoint and session every client of the command uses."""

    outputs: dict[str, Any] = field(default_factory=dict)
    endpoint_url: str | None = None
    source: str = "flags"

    def session(self) -> boto3.Session:
        if self.endpoint_url and not _has_credentials():
            return boto3.Session(region_name=_region(), **LOCAL_CREDENTIALS)
        return boto3.Session(region_name=_region())

    def client(self, service: str):
        return self.session().client(service, endpoint_url=self.endpoint_url)

    def resource(self, service: str):
        return self.session().resource(service, endpoint_url=self.endpoint_url)

    def get(self, key: str, flag: str | None = None, env: str | None = None) -> str | None:
        return flag or self.outputs.get(key) or (os.environ.get(env) if env else None) or None

    def require(self, key: str, flag: str | None = None, env: str | None = None, option: str = "") -> str:
        value = self.get(key, flag, env)
        if value:
            return str(value)
        if self.source != "flags":
            raise UserError(
                f"{self.source} has no {key}: use the output of `visionpipe local outputs` or of the "
                "deployed stack" + (f", or pass {option}" if option else "")
            )
        hints = " or ".join(
            x for x in (option, "--outputs FILE", "--stack-name NAME", env and f"${env}") if x
        )
        raise UserError(f"no {key}: pass {hints}")


def resolve(args: argparse.Namespace) -> Stack:
    """The stack named by --outputs / --stack-name / --endpoint-url (checked reachable)."""
    endpoint = getattr(args, "endpoint_url", None)
    outputs_file, stack_name = getattr(args, "outputs", None), getattr(args, "stack_name", None)
    if outputs_file and stack_name:
        raise UserError("give --outputs or --stack-name, not both")
    if outputs_file:
        outputs = read_outputs_file(Path(outputs_file))
        stack = Stack(outputs, endpoint or outputs.get(ENDPOINT_KEY), source=str(outputs_file))
    elif stack_name:
        stack = Stack(
            endpoint_url=endpoint or os.environ.get("AWS_ENDPOINT_URL"), source=f"stack {stack_name}"
        )
        stack.outputs = describe_outputs(stack, stack_name)
    else:
        stack = Stack(endpoint_url=endpoint or os.environ.get("AWS_ENDPOINT_URL"))
    if stack.endpoint_url:
        check_reachable(stack.endpoint_url)
    return stack


def read_outputs_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise UserError(f"no outputs file {path}: write one with `visionpipe local outputs > {path}`")
    try:
        document = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UserError(
            f"{path} is not JSON ({error}): write it with `visionpipe local outputs > {path}`"
        ) from None
    if isinstance(document, dict) and isinstance(document.get("outputs"), dict):  # a local-<port>.json
        return {**document["outputs"], ENDPOINT_KEY: document.get("endpoint_url")}
    if isinstance(document, list) and all(isinstance(o, dict) and "OutputKey" in o for o in document):
        return {o["OutputKey"]: o.get("OutputValue") for o in document}  # describe-stacks Outputs
    if (
        isinstance(document, dict)
        and document
        and all(isinstance(v, (str, int, float)) for v in document.values())
    ):
        return document
    raise UserError(
        f"{path} does not look like stack outputs: write it with `visionpipe local outputs > {path}`"
    )


def describe_outputs(stack: Stack, stack_name: str) -> dict[str, Any]:
    from botocore.exceptions import ClientError

    try:
        described = stack.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"][0]
    except ClientError as error:
        if "does not exist" in str(error):
            raise UserError(
                f"no stack {stack_name!r} in region {_region() or '(none)'}: check --stack-name and "
                "AWS_DEFAULT_REGION, or deploy it with `sam deploy --guided`"
            ) from None
        raise
    return {o["OutputKey"]: o.get("OutputValue") for o in described.get("Outputs", [])}


def check_reachable(endpoint_url: str, timeout: float = 2.0) -> None:
    parsed = urlparse(endpoint_url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise UserError(f"endpoint {endpoint_url!r} is not an http(s) URL")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((parsed.hostname, port), timeout=timeout):
            return
    except OSError:
        local = parsed.hostname in ("127.0.0.1", "localhost", "::1")
        hint = f"the local stack is not running: {START_LOCAL}" if local else "check the URL and network"
        raise UserError(f"cannot reach {endpoint_url}: {hint}") from None


def _has_credentials() -> bool:
    return boto3.Session().get_credentials() is not None


def _region() -> str:
    return (
        os.environ.get("AWS_REGION")
        or os.environ.get("AWS_DEFAULT_REGION")
        or boto3.Session().region_name
        or ("us-east-1")
    )
