"""visionpipe.local.iam: the policy evaluator and what each call asks IAM for."""

from __future__ import annotations

import pytest

from visionpipe.local.iam import Account, Check, checks_for, decide, trusts

ACCOUNT = Account("us-east-1", "123456789012")


def policy(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action, resource, **extra):
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def test_an_allow_needs_a_matching_action_and_resource():
    p = policy(allow(["s3:GetObject"], "arn:aws:s3:::bucket/images/*"))
    assert decide([p], Check("s3:GetObject", "arn:aws:s3:::bucket/images/a b'(1).jpg")) == "Allow"
    assert decide([p], Check("s3:GetObject", "arn:aws:s3:::bucket/json/x.json")) == "ImplicitDeny"
    assert decide([p], Check("s3:PutObject", "arn:aws:s3:::bucket/images/a.jpg")) == "ImplicitDeny"
    assert (
        decide([p], Check("S3:getobject", "arn:aws:s3:::bucket/images/a.jpg")) == "Allow"
    )  # actions: any case


def test_an_explicit_deny_wins_and_not_action_not_resource_invert():
    deny = {"Effect": "Deny", "NotAction": "s3:GetObject", "Resource": "*"}
    p = policy(allow("s3:*", "*"), deny)
    assert decide([p], Check("s3:PutObject", "arn:aws:s3:::b/k")) == "ExplicitDeny"
    assert decide([p], Check("s3:GetObject", "arn:aws:s3:::b/k")) == "Allow"
    q = policy({"Effect": "Allow", "Action": "s3:GetObject", "NotResource": "arn:aws:s3:::b/secret/*"})
    assert decide([q], Check("s3:GetObject", "arn:aws:s3:::b/secret/x")) == "ImplicitDeny"
    assert decide([q], Check("s3:GetObject", "arn:aws:s3:::b/public/x")) == "Allow"


def test_conditions_are_evaluated_not_ignored():
    pass_role = allow(
        "iam:PassRole",
        "arn:aws:iam::123456789012:role/mc",
        Condition={"StringEquals": {"iam:PassedToService": "mediaconvert.amazonaws.com"}},
    )
    list_prefix = allow(
        "s3:ListBucket", "arn:aws:s3:::b", Condition={"StringLike": {"s3:prefix": "video_inputs/*"}}
    )
    p = policy(pass_role, list_prefix)
    role = "arn:aws:iam::123456789012:role/mc"
    assert (
        decide([p], Check("iam:PassRole", role, {"iam:PassedToService": "mediaconvert.amazonaws.com"}))
        == "Allow"
    )
    assert (
        decide([p], Check("iam:PassRole", role, {"iam:PassedToService": "sagemaker.amazonaws.com"}))
        != "Allow"
    )
    assert decide([p], Check("iam:PassRole", role)) != "Allow"  # key absent: the condition fails
    assert (
        decide([p], Check("s3:ListBucket", "arn:aws:s3:::b", {"s3:prefix": "video_inputs/a.mp4"})) == "Allow"
    )
    assert decide([p], Check("s3:ListBucket", "arn:aws:s3:::b", {"s3:prefix": "other/a.mp4"})) != "Allow"


def test_a_trust_policy_names_the_service_and_its_conditions_hold():
    trust = policy(
        {
            "Effect": "Allow",
            "Principal": {"Service": "mediaconvert.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"}},
        }
    )
    check = Check(
        "sts:AssumeRole", "arn:aws:iam::123456789012:role/mc", {"aws:SourceAccount": "123456789012"}
    )
    assert trusts(trust, "mediaconvert.amazonaws.com", check)
    assert not trusts(trust, "lambda.amazonaws.com", check)
    other_account = Check("sts:AssumeRole", check.resource, {"aws:SourceAccount": "999999999999"})
    assert not trusts(trust, "mediaconvert.amazonaws.com", other_account)


@pytest.mark.parametrize(
    ("service", "operation", "params", "expected"),
    [
        ("s3", "HeadObject", {"Bucket": "b", "Key": "k"}, [("s3:GetObject", "arn:aws:s3:::b/k")]),
        (
            "s3",
            "GetObject",
            {"Bucket": "b", "Key": "k", "VersionId": "v"},
            [("s3:GetObjectVersion", "arn:aws:s3:::b/k")],
        ),
        ("s3", "ListObjectsV2", {"Bucket": "b", "Prefix": "p/"}, [("s3:ListBucket", "arn:aws:s3:::b")]),
        (
            "s3",
            "CopyObject",
            {"Bucket": "b", "Key": "new", "CopySource": {"Bucket": "a", "Key": "old"}},
            [("s3:PutObject", "arn:aws:s3:::b/new"), ("s3:GetObject", "arn:aws:s3:::a/old")],
        ),
        (
            "dynamodb",
            "Query",
            {"TableName": "t", "IndexName": "StatusIndex"},
            [("dynamodb:Query", "arn:aws:dynamodb:us-east-1:123456789012:table/t/index/StatusIndex")],
        ),
        (
            "dynamodb",
            "TransactWriteItems",
            {"TransactItems": [{"Update": {"TableName": "t"}}, {"ConditionCheck": {"TableName": "u"}}]},
            [
                ("dynamodb:UpdateItem", "arn:aws:dynamodb:us-east-1:123456789012:table/t"),
                ("dynamodb:ConditionCheckItem", "arn:aws:dynamodb:us-east-1:123456789012:table/u"),
            ],
        ),
        (
            "lambda",
            "Invoke",
            {"FunctionName": "f"},
            [("lambda:InvokeFunction", "arn:aws:lambda:us-east-1:123456789012:function:f")],
        ),
        (
            "sagemaker",
            "CreateTrainingJob",
            {"TrainingJobName": "Visionpipe-Retrain-1", "RoleArn": "arn:aws:iam::123456789012:role/sm"},
            [
                (
                    "sagemaker:CreateTrainingJob",
                    "arn:aws:sagemaker:us-east-1:123456789012:training-job/visionpipe-retrain-1",
                ),
                ("iam:PassRole", "arn:aws:iam::123456789012:role/sm"),
            ],
        ),
        (
            "greengrassv2",
            "CreateComponentVersion",
            {"inlineRecipe": b"ComponentName: com.example.Model\nComponentVersion: 1.0.0\n"},
            [
                (
                    "greengrass:CreateComponentVersion",
                    "arn:aws:greengrass:us-east-1:123456789012:components:com.example.Model",
                )
            ],
        ),
        (
            "ssm",
            "GetParameter",
            {"Name": "/visionpipe/model"},
            [("ssm:GetParameter", "arn:aws:ssm:us-east-1:123456789012:parameter/visionpipe/model")],
        ),
        ("cloudwatch", "PutMetricData", {"Namespace": "n"}, [("cloudwatch:PutMetricData", "*")]),
    ],
)
def test_each_call_asks_for_the_documented_action_and_resource(service, operation, params, expected):
    assert [(c.action, c.resource) for c in checks_for(service, operation, params, ACCOUNT)] == expected


def test_passing_a_role_names_the_service_it_is_passed_to():
    (_, passed) = checks_for(
        "mediaconvert", "CreateJob", {"Role": "arn:aws:iam::1:role/r", "Queue": "q"}, ACCOUNT
    )[1:]
    assert passed.action == "iam:PassRole"
    assert passed.context == {"iam:PassedToService": "mediaconvert.amazonaws.com"}
