"""`visionpipe replay`: put events whose retries ran out back through their function, once each."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from dataclasses import dataclass, field

from visionpipe.stack_outputs import add_stack_options, resolve


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "replay",
        help="replay events parked in the failed-events queue",
        description="Reads the failed-events queue (the functions' async OnFailure destination) and "
        "invokes the original function again, synchronously, with each original event: at most once "
        "per message and run. A message whose replay succeeds is deleted; one that fails again stays "
        "parked (or, with --dead-letter, moves to that queue). Duplicates are harmless: each upload is "
        "recorded once.",
    )
    add_stack_options(parser)
    parser.add_argument("--queue-url", help="failed-events queue (default: the FailedEventsQueueUrl output)")
    parser.add_argument("--max", type=int, default=100, help="replay at most this many events (default 100)")
    parser.add_argument("--dry-run", action="store_true", help="list what would be replayed, change nothing")
    parser.add_argument(
        "--dead-letter",
        metavar="QUEUE_URL",
        help="move messages that fail again to this SQS queue instead of leaving them parked",
    )
    parser.set_defaults(func=run)


@dataclass(frozen=True)
class Parked:
    message_id: str
    receipt: str
    body: str
    function_arn: str
    event: dict


@dataclass
class ReplaySummary:
    succeeded: int = 0
    failed: list[str] = field(default_factory=list)  # "<function>: <error>" per message
    moved: int = 0

    def line(self, remaining: int) -> str:
        kept = "moved to the dead-letter queue" if self.moved else "left parked"
        return (
            f"{self.succeeded} event(s) replayed, {len(self.failed)} failed again ({kept}), "
            f"{remaining} remain in the queue"
        )


def parked_invocations(sqs, queue_url: str, limit: int, visibility_seconds: int) -> Iterator[Parked]:
    """Each parked message once: a message seen before in this run ends the reading."""
    seen: set[str] = set()
    while len(seen) < limit:
        batch = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=min(10, limit - len(seen)),
            WaitTimeSeconds=1,
            VisibilityTimeout=visibility_seconds,
        ).get("Messages", [])
        fresh = [m for m in batch if m["MessageId"] not in seen]
        if not fresh:
            return
        for message in fresh:
            seen.add(message["MessageId"])
            record = json.loads(message["Body"])
            yield Parked(
                message["MessageId"],
                message["ReceiptHandle"],
                message["Body"],
                record["requestContext"]["functionArn"],
                record["requestPayload"],
            )


def replay_one(lambda_client, parked: Parked) -> str | None:
    """Invoke the function and wait: None when it succeeded, else why it failed."""
    response = lambda_client.invoke(
        FunctionName=parked.function_arn,
        InvocationType="RequestResponse",  # no async retry, no OnFailure: this run sees the result
        Payload=json.dumps(parked.event).encode(),
    )
    if "FunctionError" not in response:
        return None
    payload = json.loads(response["Payload"].read() or b"{}")
    return f"{payload.get('errorType', response['FunctionError'])}: {payload.get('errorMessage', '')}"[:300]


def remaining(sqs, queue_url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def run(args: argparse.Namespace) -> int:
    stack = resolve(args)
    queue_url = stack.require("FailedEventsQueueUrl", args.queue_url, option="--queue-url")
    sqs, lambda_client = stack.client("sqs"), stack.client("lambda")
    sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])  # missing: one message
    summary, release = ReplaySummary(), []
    # Messages stay invisible for the whole run, so none is read twice; those left parked return after.
    for parked in parked_invocations(sqs, queue_url, args.max, visibility_seconds=900):
        print(
            f"{'would replay' if args.dry_run else 'replaying'} to {parked.function_arn}: "
            f"{json.dumps(parked.event)[:160]}"
        )
        if args.dry_run:
            release.append(parked.receipt)
            continue
        error = replay_one(lambda_client, parked)
        if error is None:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=parked.receipt)
            summary.succeeded += 1
            continue
        print(f"  failed again: {error}")
        summary.failed.append(f"{parked.function_arn}: {error}")
        if args.dead_letter:
            sqs.send_message(QueueUrl=args.dead_letter, MessageBody=parked.body)
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=parked.receipt)
            summary.moved += 1
        else:
            release.append(parked.receipt)
    for receipt in release:  # visible again, still parked
        sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=receipt, VisibilityTimeout=0)
    print(summary.line(remaining(sqs, queue_url)))
    return 1 if summary.failed else 0
