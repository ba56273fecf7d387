"""Template resources created in moto through the local endpoint."""

import json
import logging

import pytest

from visionpipe.local.intrinsics import TemplateError
from visionpipe.local.resources import create_resource, creation_order

TEMPLATE = {
    "Parameters": {"Env": {"Type": "String", "Default": "test"}},
    "Resources": {
        "Dlq": {"Type": "AWS::SQS::Queue", "Properties": {"MessageRetentionPeriod": 1209600}},
        "Work": {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": "Dlq.Arn"}, "maxReceiveCount": 3}
            },
        },
        "Images": {
            "Type": "AWS::S3::Bucket",
            "Properties": {
                "BucketName": {"Fn::Sub": "images-${Env}-${AWS::AccountId}"},
                "VersioningConfiguration": {"Status": "Enabled"},
            },
        },
        "Results": {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [
                    {"AttributeName": "id", "AttributeType": "S"},
                    {"AttributeName": "name", "AttributeType": "S"},
                ],
                "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
                "GlobalSecondaryIndexes": [
                    {
                        "IndexName": "ByName",
                        "KeySchema": [{"AttributeName": "name", "KeyType": "HASH"}],
                        "Projection": {"ProjectionType": "ALL"},
                    }
                ],
                "TimeToLiveSpecification": {"AttributeName": "expires", "Enabled": True},
            },
        },
        "Topic": {"Type": "AWS::SNS::Topic", "Properties": {}},
        "Prefix": {
            "Type": "AWS::SSM::Parameter",
            "Properties": {"Name": {"Fn::Sub": "/${AWS::StackName}/prefix"}, "Type": "String", "Value": "a/"},
        },
        "Secret": {
            "Type": "AWS::SecretsManager::Secret",
            "Properties": {
                "GenerateSecretString": {
                    "SecretStringTemplate": '{"user": "x"}',
                    "GenerateStringKey": "password",
                    "PasswordLength": 16,
                }
            },
        },
        "Machine": {
            "Type": "AWS::Serverless::StateMachine",
            "Properties": {
                "DefinitionUri": "machine.asl.json",
                "DefinitionSubstitutions": {"TopicArn": {"Ref": "Topic"}},
            },
        },
        "Role": {"Type": "AWS::IAM::Role", "Properties": {}},
        "Thing": {"Type": "AWS::Made::Up", "Properties": {}},
    },
}


def test_creation_order_follows_references():
    order = creation_order(TEMPLATE, lambda declaration: True)
    assert order.index("Dlq") < order.index("Work")
    assert order.index("Topic") < order.index("Machine")


def test_creation_order_rejects_cycles():
    template = {
        "Resources": {
            "A": {"Type": "AWS::SQS::Queue", "Properties": {"X": {"Ref": "B"}}},
            "B": {"Type": "AWS::SQS::Queue", "Properties": {"X": {"Ref": "A"}}},
        }
    }
    with pytest.raises(TemplateError, match="circular"):
        creation_order(template, lambda declaration: True)


def test_every_resource_is_created_or_stood_in(deploy, tmp_path, caplog):
    definition = {
        "StartAt": "Notify",
        "States": {"Notify": {"Type": "Pass", "Result": {"topic": "${TopicArn}"}, "End": True}},
    }
    (tmp_path / "machine.asl.json").write_text(json.dumps(definition))
    d = deploy(TEMPLATE)
    with caplog.at_level(logging.DEBUG, logger="visionpipe.local"):
        for logical_id in creation_order(TEMPLATE, lambda declaration: True):
            create_resource(d, logical_id, TEMPLATE["Resources"][logical_id])

    s3 = d.client("s3")
    bucket = d.created["Images"].ref
    assert bucket == "images-test-123456789012"
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"

    sqs = d.client("sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=d.created["Work"].ref, AttributeNames=["All"])[
        "Attributes"
    ]
    assert (
        json.loads(attributes["RedrivePolicy"])["deadLetterTargetArn"] == d.created["Dlq"].attributes["Arn"]
    )

    dynamodb = d.client("dynamodb")
    table = dynamodb.describe_table(TableName=d.created["Results"].ref)["Table"]
    assert table["GlobalSecondaryIndexes"][0]["IndexName"] == "ByName"
    ttl = dynamodb.describe_time_to_live(TableName=d.created["Results"].ref)["TimeToLiveDescription"]
    assert ttl["AttributeName"] == "expires"

    assert d.client("ssm").get_parameter(Name="/unit/prefix")["Parameter"]["Value"] == "a/"
    secret = json.loads(
        d.client("secretsmanager").get_secret_value(SecretId=d.created["Secret"].ref)["SecretString"]
    )
    assert secret["user"] == "x" and len(secret["password"]) == 16

    machine = d.client("stepfunctions").describe_state_machine(stateMachineArn=d.created["Machine"].ref)
    assert json.loads(machine["definition"])["States"]["Notify"]["Result"]["topic"] == d.created["Topic"].ref

    assert d.created["Role"].skipped and d.created["Role"].attributes["Arn"].startswith(
        "arn:aws:iam::123456789012:role/"
    )
    assert d.created["Thing"].skipped
    assert "AWS::Made::Up is not emulated" in caplog.text
