"""tweet_detection: each edge detection record becomes at most one tweet (X API v2).

Triggered by ObjectCreated on json/record_*.json in the detections bucket. The text comes from the
record itself (device, UTC time, what was detected). Without XSecretArn (the default, and locally)
it is a dry run: the tweet is logged and stored under outbox/dry-run/. A per-device cooldown
(DynamoDB conditional write) turns a burst into one tweet; Idempotency on the record's identity
makes a duplicate delivery return the first outcome. Bad records get an outbox/failures/ entry;
throttling and X errors fail the invocation so Lambda retries, then parks it in the failed-events
queue (`visionpipe replay` puts it back).
"""

import dataclasses
import os

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from visionpipe_common.s3_event_loop import process_s3_event
from visionpipe_common.s3_events import S3Object, is_test_event, unreadable_event_object
from visionpipe_common.tweet_cooldown import DeviceCooldown
from visionpipe_common.tweet_flow import (
    STATUS_DRY_RUN,
    STATUS_FAILED,
    STATUS_POSTED,
    TweetFlow,
    TweetOutcome,
    record_identity,
)
from visionpipe_common.tweet_message import TweetComposer
from visionpipe_common.tweet_settings import AWS_RETRIES, TweetSettings
from visionpipe_common.x_api import XPoster

logger = Logger()
tracer = Tracer()
metrics = Metrics()

settings = TweetSettings.from_environment()
flow = TweetFlow(
    s3_client=boto3.client("s3", config=AWS_RETRIES),
    cooldown=DeviceCooldown(
        boto3.client("dynamodb", config=AWS_RETRIES), settings.cooldown_table, settings.cooldown_seconds
    ),
    composer=TweetComposer.from_settings(settings.template, settings.messages, settings.hashtags),
    poster=None
    if settings.dry_run
    else XPoster(settings.x_secret_arn, max_age=settings.secret_max_age_seconds),
    attach_image=settings.attach_image,
    fallback_bucket=settings.detections_bucket,
)

# A record delivered twice (or replayed) returns the first outcome instead of tweeting again.
idempotency_config = IdempotencyConfig(event_key_jmespath="identity", expires_after_seconds=7 * 24 * 3600)
persistence = DynamoDBPersistenceLayer(table_name=os.environ["IDEMPOTENCY_TABLE"])

METRIC_NAMES = {
    STATUS_POSTED: "TweetsPosted",
    STATUS_DRY_RUN: "TweetsDryRun",
    STATUS_FAILED: "RecordsRejected",
}


@idempotent_function(data_keyword_argument="record", config=idempotency_config, persistence_store=persistence)
def tweet_once(record: dict) -> dict:
    outcome = flow.handle(S3Object(**record["object"]))
    count(outcome)
    return outcome.as_dict()


def count(outcome: TweetOutcome) -> None:
    metrics.add_metric(
        name=METRIC_NAMES.get(outcome.status, "TweetsSuppressed"), unit=MetricUnit.Count, value=1
    )


def tweet_object(obj: S3Object) -> dict:
    # A concurrent delivery of the same record raises IdempotencyAlreadyInProgressError: retried later.
    return tweet_once(record={"identity": record_identity(obj), "object": dataclasses.asdict(obj)})


def reject_event(event: dict, reason: str) -> list[dict]:
    if is_test_event(event):
        logger.info("s3:TestEvent: S3 checked the notification; nothing to tweet")
        return []
    outcome = flow.reject(unreadable_event_object(event), reason)
    count(outcome)
    return [outcome.as_dict()]


@logger.inject_lambda_context(correlation_id_path='Records[0].responseElements."x-amz-request-id"')
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    idempotency_config.register_lambda_context(context)
    results = process_s3_event(event, tweet_object, reject_event)
    results.raise_first_error()
    return {"outcomes": results.outcomes}
