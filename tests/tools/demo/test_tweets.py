"""Reading tweet_detection's outcomes from its Powertools idempotency records (moto DynamoDB)."""

import json

import boto3
from moto import mock_aws

from visionpipe.demo.tweets import TweetResult, completed_outcomes

FUNCTION = "visionpipe-local-TweetDetectionFunction-ABC"


def test_only_the_tweet_functions_completed_records_count():
    with mock_aws():
        table = boto3.resource("dynamodb", region_name="us-east-1").create_table(
            TableName="idempotency",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        outcomes = [
            {"status": "DRY_RUN", "record": "s3://b/json/record_cam_1.json", "text": "hello"},
            {"status": "SUPPRESSED", "record": "s3://b/json/record_cam_2.json"},
        ]
        for n, outcome in enumerate(outcomes):
            table.put_item(
                Item={"id": f"{FUNCTION}.tweet_once#{n}", "status": "COMPLETED", "data": json.dumps(outcome)}
            )
        table.put_item(Item={"id": f"{FUNCTION}.tweet_once#9", "status": "INPROGRESS"})
        table.put_item(
            Item={"id": "visionpipe-local-DetectAnomaly-X.detect#1", "status": "COMPLETED", "data": "{}"}
        )
        found = completed_outcomes(table, FUNCTION)
    assert sorted(found, key=lambda o: o["record"]) == outcomes
    result = TweetResult(records=2, outcomes={o["record"]: o for o in found}, dry_run=[{"key": "k"}])
    assert result.suppressed == 1 and result.problems() == []
