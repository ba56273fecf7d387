"""AWS clients for every function: one retry policy, clients made once per container.

Standard mode retries throttling, 5xx and connection errors with backoff (5 attempts in all)
before the error reaches the flow, which then fails the invocation so Lambda retries the event.
Five, not the SDK's default three: a failed invocation re-runs the whole event (read, decode,
inference), a retried call costs only that call.
https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html
"""

from __future__ import annotations

import boto3
from botocore.config import Config

RETRIES = Config(retries={"mode": "standard", "max_attempts": 5})


def client(service: str, **kwargs):
    return boto3.client(service, config=RETRIES, **kwargs)


def table(name: str):
    """A DynamoDB Table resource (the flows use its conditional writes and typed items)."""
    return boto3.resource("dynamodb", config=RETRIES).Table(name)
