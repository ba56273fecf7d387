"""`visionpipe replay`: put events whose retries ran out back through their function."""

from __future__ import annotations

import argparse
import json

import boto3


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "replay",
        help="replay events parked in the failed-events queue",
        description="Reads the failed-events queue (the functions' async OnFailure destination), "
        "invokes the original function again with each original event, and deletes the message "
        "once the new invocation has been accepted. Duplicates are harmless: uploads are judged once.",
    )
    parser.add_argument("--queue-url", required=True, help="FailedEventsQueueUrl from the stack outputs")
    parser.add_argument("--max", type=int, default=100, help="replay at most this many events (default 100)")
    parser.add_argument("--dry-run", action="store_true", help="list what would be replayed, change nothing")
    parser.set_defaults(func=run)


def failed_invocations(sqs, queue_url: str, limit: int):
    """Yield (receipt_handle, function_arn, original_event) for each parked invocation."""
    seen = 0
    while seen < limit:
        batch = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=min(10, limit - seen),
            WaitTimeSeconds=1,
            VisibilityTimeout=60,
        ).get("Messages", [])
        if not batch:
            return
        for message in batch:
            seen += 1
            record = json.loads(message["Body"])
            yield message["ReceiptHandle"], record["requestContext"]["functionArn"], record["requestPayload"]


def run(args: argparse.Namespace) -> int:
    sqs, lambda_client = boto3.client("sqs"), boto3.client("lambda")
    replayed = 0
    for receipt, function_arn, event in failed_invocations(sqs, args.queue_url, args.max):
        # The ARN names the version or alias that failed ("...:function:name:$LATEST"): replay there.
        print(
            f"{'would replay' if args.dry_run else 'replaying'} to {function_arn}: {json.dumps(event)[:160]}"
        )
        if args.dry_run:
            continue
        lambda_client.invoke(
            FunctionName=function_arn, InvocationType="Event", Payload=json.dumps(event).encode()
        )
        sqs.delete_message(QueueUrl=args.queue_url, ReceiptHandle=receipt)
        replayed += 1
    print(f"{replayed} event(s) replayed")
    return 0
