"""tweet_detection: each edge detection record becomes at most one tweet (X API v2).

Triggered by ObjectCreated on json/record_*.json in the detections bucket. The text comes from the
record itself (device, UTC time, what was detected). Without XSecretArn (the default, and locally)
it is a dry run: the tweet is logged and stored under outbox/dry-run/. A per-device cooldown
(DynamoDB conditional write) turns a burst into one tweet; Idempotency on the record's identity
makes a duplicate delivery return the first outcome. Bad records get an outbox/failures/ entry;
throttling and X errors fail the invocation so Lambda retries, then parks it in the failed-events
queue (`visionpipe replay` puts it back).
"""

from visionpipe_common.events.handler import S3EventHandler
from visionpipe_common.tweets.flow import TweetFlow, record_identity
from visionpipe_common.tweets.settings import TweetSettings

settings = TweetSettings.from_environment()
flow = TweetFlow.from_settings(settings)
# A concurrent delivery of the same record raises IdempotencyAlreadyInProgressError: retried later.
handler = S3EventHandler(
    flow.handle,
    flow.reject,
    settings.idempotency_table,
    identity=record_identity,
    record_test_events=False,  # s3:TestEvent: logged, nothing to tweet
)
lambda_handler = handler.lambda_handler
