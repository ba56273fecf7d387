"""The local Greengrass v2 engine: requests serialised by botocore, answers parsed by botocore and
checked against the service model's output shapes."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.validate import ParamValidator
from moto import mock_aws

from visionpipe.local.engines import greengrass
from visionpipe_common.retraining.model_component import component_version, model_recipe, publish, rollout

ENDPOINT = "http://127.0.0.1:9"  # never contacted: the hook answers first
BUCKET = "models"
ARTIFACT = f"s3://{BUCKET}/retraining/output/job-1/output/model.tar.gz"


@pytest.fixture
def stack():
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key=ARTIFACT.split("/", 3)[3], Body=b"model")
        engine = greengrass.GreengrassEngine(ENDPOINT, "us-east-1", "123456789012", lambda: s3)
        session = boto3.Session()
        with engine.installed([session]):
            yield engine, session.client("greengrassv2", endpoint_url=ENDPOINT), s3


def assert_matches_output_shape(client, operation: str, response: dict) -> None:
    shape = client.meta.service_model.operation_model(operation).output_shape
    body = {k: v for k, v in response.items() if k != "ResponseMetadata"}
    report = ParamValidator().validate(body, shape)
    assert not report.has_errors(), report.generate_report()
    assert set(body) <= set(shape.members)


def recipe(version: str, artifact: str = ARTIFACT) -> dict:
    return model_recipe("com.visionpipe.DetectorModel", version, artifact, ["face"], 0.91, "job-1", "arn:pkg")


def test_publish_creates_a_deployable_version_with_the_real_response_shape(stack):
    engine, client, s3 = stack
    published = publish(client, recipe(component_version(1)))  # what the publish handler calls
    arn = "arn:aws:greengrass:us-east-1:123456789012:components:com.visionpipe.DetectorModel:versions:1.0.1"
    assert published == {
        "component_name": "com.visionpipe.DetectorModel",
        "component_version": "1.0.1",
        "arn": arn,
    }

    created = client.create_component_version(inlineRecipe=json.dumps(recipe("1.0.2")).encode())
    assert_matches_output_shape(client, "CreateComponentVersion", created)
    assert created["status"]["componentState"] == "DEPLOYABLE"
    described = client.describe_component(arn=arn)
    assert_matches_output_shape(client, "DescribeComponent", described)
    assert described["publisher"] == "visionpipe" and described["platforms"] == [
        {"attributes": {"os": "linux"}}
    ]
    got = client.get_component(arn=arn, recipeOutputFormat="JSON")
    assert_matches_output_shape(client, "GetComponent", got)
    assert json.loads(got["recipe"])["Manifests"][0]["Artifacts"][0]["Uri"] == ARTIFACT
    listed = client.list_component_versions(arn=arn.split(":versions:")[0])
    assert_matches_output_shape(client, "ListComponentVersions", listed)
    assert sorted(v["componentVersion"] for v in listed["componentVersions"]) == ["1.0.1", "1.0.2"]


def test_missing_artifact_is_failed_duplicate_is_a_conflict_bad_recipe_is_invalid(stack):
    _, client, _ = stack
    missing = f"s3://{BUCKET}/retraining/output/nope/model.tar.gz"
    created = client.create_component_version(inlineRecipe=json.dumps(recipe("2.0.0", missing)).encode())
    assert created["status"]["componentState"] == "FAILED" and missing in created["status"]["errors"]
    with pytest.raises(client.exceptions.ConflictException):
        client.create_component_version(inlineRecipe=json.dumps(recipe("2.0.0")).encode())
    with pytest.raises(client.exceptions.ValidationException, match="ComponentVersion"):
        client.create_component_version(inlineRecipe=b"RecipeFormatVersion: '2020-01-25'\nComponentName: x\n")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.describe_component(arn="arn:aws:greengrass:us-east-1:123456789012:components:x:versions:9.9.9")
    with pytest.raises(ClientError, match="not emulated"):
        client.list_components()


def test_requests_to_other_endpoints_and_after_uninstall_pass_through(stack):
    engine, client, _ = stack

    class Request:
        url = "https://greengrass.us-east-1.amazonaws.com/greengrass/v2/createComponentVersion"
        method, body = "POST", b"{}"

    assert engine.before_send(Request(), event_name="before-send.greengrassv2.CreateComponentVersion") is None
    Request.url = ENDPOINT + "/greengrass/v2/createComponentVersion"
    engine.active = False  # what leaving engine.installed() does: clients made meanwhile pass through
    assert engine.before_send(Request(), event_name="before-send.greengrassv2.CreateComponentVersion") is None


TARGET = "arn:aws:iot:us-east-1:123456789012:thinggroup/cameras"


def test_rollout_revises_the_targets_deployment_keeping_its_other_components(stack):
    engine, client, s3 = stack
    publish(client, recipe("1.0.1"))
    publish(client, recipe("1.0.2"))
    # the camera fleet's deployment as the README sets it up: detector + model 1.0.1, with configuration
    first = client.create_deployment(
        targetArn=TARGET,
        deploymentName="cameras",
        components={
            "aws.greengrass.Nucleus": {"componentVersion": "2.14.0"},
            "com.visionpipe.DetectorModel": {"componentVersion": "1.0.1"},
        },
        deploymentPolicies={"failureHandlingPolicy": "ROLLBACK"},
    )
    assert_matches_output_shape(client, "CreateDeployment", first)

    rolled = rollout(client, "auto", TARGET, "com.visionpipe.DetectorModel", "1.0.2")
    assert rolled["mode"] == "auto" and rolled["deployment_id"] != first["deploymentId"]
    revised = client.get_deployment(deploymentId=rolled["deployment_id"])
    assert_matches_output_shape(client, "GetDeployment", revised)
    assert revised["components"] == {
        "aws.greengrass.Nucleus": {"componentVersion": "2.14.0"},
        "com.visionpipe.DetectorModel": {"componentVersion": "1.0.2"},
    }
    assert revised["deploymentPolicies"] == {"failureHandlingPolicy": "ROLLBACK"}
    assert (revised["deploymentName"], revised["revisionId"], revised["isLatestForTarget"]) == (
        "cameras",
        "2",
        True,
    )
    latest = client.list_deployments(targetArn=TARGET)
    assert_matches_output_shape(client, "ListDeployments", latest)
    assert [d["deploymentId"] for d in latest["deployments"]] == [rolled["deployment_id"]]
    history = client.list_deployments(targetArn=TARGET, historyFilter="ALL")["deployments"]
    assert [d["deploymentStatus"] for d in history] == ["ACTIVE", "INACTIVE"]
    assert engine.deployment_for(TARGET).deployment_id == rolled["deployment_id"]

    # manual: nothing deployed, the exact command the notification carries
    manual = rollout(client, "manual", TARGET, "com.visionpipe.DetectorModel", "1.0.1")
    assert (
        manual["deployment_id"] == ""
        and len(client.list_deployments(historyFilter="ALL")["deployments"]) == 2
    )
    prefix = "aws greengrassv2 create-deployment --cli-input-json '"
    assert manual["command"].startswith(prefix)
    request = json.loads(manual["command"][len(prefix) : -1])
    assert request["components"]["com.visionpipe.DetectorModel"] == {"componentVersion": "1.0.1"}
    assert request["components"]["aws.greengrass.Nucleus"] == {"componentVersion": "2.14.0"}


def test_a_deployment_of_an_unknown_version_or_to_a_non_iot_target_is_refused(stack):
    _, client, _ = stack
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        client.create_deployment(
            targetArn=TARGET, components={"com.visionpipe.DetectorModel": {"componentVersion": "9.9.9"}}
        )
    with pytest.raises(ClientError, match="ValidationException"):
        client.create_deployment(targetArn="arn:aws:s3:::bucket", components={})
