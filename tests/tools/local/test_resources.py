"""Transformed-template resources created in moto through the local endpoint; the explicit registry."""

import json
import subprocess
import sys

import pytest

from visionpipe.local.deployment import (
    LOCAL_ARTIFACTS,
    TemplateError,
    creation_order,
    parameter_values,
    sam_transform,
)
from visionpipe.local.resources import CREATORS, STAND_INS, create_resource
from visionpipe.template import load_template

TEMPLATE = {
    "Parameters": {"Env": {"Type": "String", "Default": "test"}},
    "Resources": {
        "Dlq": {"Type": "AWS::SQS::Queue", "Properties": {"MessageRetentionPeriod": 1209600}},
        "Work": {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": ["Dlq", "Arn"]}, "maxReceiveCount": 3}
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
        "MachineRole": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": {
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "states.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ]
                },
                "Policies": [
                    {
                        "PolicyName": "publish",
                        "PolicyDocument": {
                            "Statement": [
                                {"Effect": "Allow", "Action": "sns:Publish", "Resource": {"Ref": "Topic"}}
                            ]
                        },
                    }
                ],
            },
        },
        "Machine": {
            "Type": "AWS::StepFunctions::StateMachine",
            "Properties": {
                "DefinitionS3Location": {"Bucket": LOCAL_ARTIFACTS, "Key": "machine.asl.json"},
                "DefinitionSubstitutions": {"TopicArn": {"Ref": "Topic"}},
                "RoleArn": {"Fn::GetAtt": ["MachineRole", "Arn"]},
            },
        },
        "Alarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {}},
    },
}


def test_every_resource_is_created_through_the_endpoint(deploy, tmp_path):
    definition = {
        "StartAt": "Notify",
        "States": {"Notify": {"Type": "Pass", "Result": {"topic": "${TopicArn}"}, "End": True}},
    }
    (tmp_path / "machine.asl.json").write_text(json.dumps(definition))
    d = deploy(TEMPLATE)
    for logical_id in creation_order(TEMPLATE["Resources"]):
        create_resource(d, logical_id, TEMPLATE["Resources"][logical_id])

    bucket = d.created["Images"].ref
    assert bucket == "images-test-123456789012"
    assert d.client("s3").get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    attributes = d.client("sqs").get_queue_attributes(QueueUrl=d.created["Work"].ref, AttributeNames=["All"])
    redrive = json.loads(attributes["Attributes"]["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == d.created["Dlq"].attributes["Arn"]
    dynamodb = d.client("dynamodb")
    table = dynamodb.describe_table(TableName=d.created["Results"].ref)["Table"]
    assert table["GlobalSecondaryIndexes"][0]["IndexName"] == "ByName"
    ttl = dynamodb.describe_time_to_live(TableName=d.created["Results"].ref)["TimeToLiveDescription"]
    assert ttl["AttributeName"] == "expires"
    assert d.client("ssm").get_parameter(Name="/unit/prefix")["Parameter"]["Value"] == "a/"
    role = d.created["MachineRole"].ref
    policy = d.client("iam").get_role_policy(RoleName=role, PolicyName="publish")["PolicyDocument"]
    assert policy["Statement"][0]["Resource"] == d.created["Topic"].ref
    machine = d.client("stepfunctions").describe_state_machine(stateMachineArn=d.created["Machine"].ref)
    assert json.loads(machine["definition"])["States"]["Notify"]["Result"]["topic"] == d.created["Topic"].ref
    assert machine["roleArn"] == d.created["MachineRole"].attributes["Arn"]
    assert d.created["Alarm"].attributes["Arn"].startswith("arn:aws:cloudwatch:us-east-1:123456789012:")


def test_a_type_without_a_creator_is_an_error_naming_it(deploy):
    template = {"Resources": {"Thing": {"Type": "AWS::Made::Up", "Properties": {}}}}
    with pytest.raises(TemplateError, match=r"Thing: local mode has no creator for AWS::Made::Up"):
        create_resource(deploy(template), "Thing", template["Resources"]["Thing"])


def test_every_type_of_the_transformed_template_is_registered():
    template = load_template()
    transformed = sam_transform(template, parameter_values(template), "us-east-1")
    types = {r["Type"] for r in transformed["Resources"].values()}
    assert types <= set(CREATORS) | STAND_INS, types - set(CREATORS) - STAND_INS
    assert not set(CREATORS) & STAND_INS


def test_the_function_creator_is_registered_by_importing_resources_alone():
    """No registration by import side effect: a fresh interpreter importing only resources.py has it."""
    code = (
        "from visionpipe.local.resources import CREATORS as C; "
        "print(C['AWS::Lambda::Function'].__module__, C['AWS::Lambda::EventInvokeConfig'].__name__)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["visionpipe.local.functions", "create_event_invoke_config"]
