"""tweet_detection: each edge detection record becomes at most one tweet (X API v2).

Triggered by ObjectCreated on json/record_*.json in the detections bucket. The text comes from the
record itself (device, UTC time, what was detected). Without XSecretArn (the default, and locally)
it is a dry run: the tweet is logged and stored under outbox/dry-run/. A per-device cooldown
(DynamoDB conditional write) turns a burst into one tweet and a duplicate delivery into a
DUPLICATE outcome; every record leaves one outbox/ entry saying what became of it (bad records:
outbox/failures/). Throttling and X errors fail the invocation so Lambda retries, then parks it
in the failed-events queue (`visionpipe replay` puts it back).
"""

from visionpipe_common.events.handler import S3EventHandler
from visionpipe_common.tweets.flow import TweetFlow
from visionpipe_common.tweets.settings import TweetSettings

settings = TweetSettings.from_environment()
flow = TweetFlow.from_settings(settings)
# s3:TestEvent: logged, nothing to tweet.
handler = S3EventHandler(flow.handle, flow.reject, record_test_events=False)
lambda_handler = handler.lambda_handler
