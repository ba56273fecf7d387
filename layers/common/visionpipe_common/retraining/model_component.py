"""The device's model as its own Greengrass v2 component: one new version per adopted model, rolled
out by revising the target's Greengrass deployment.

The inference component depends on this component and finds the unpacked model.tar.gz in
{<component name>:work:path}/model: model.json (detector, file, input size, labels, preprocessing,
output decoding, training job, validation mAP: written by the training script) and the model file,
plus component.json (this component's name and version, which the device's records name).

Publishing a version changes no device: `rollout` revises the target's latest deployment (thing
or thing group) with the new model version and every other component as it was, or, in manual
mode, returns the exact AWS CLI command that does it.
"""

from __future__ import annotations

import json
from typing import Any


def component_version(round_number: int, major: int = 1) -> str:
    """Semantic version from the round number: rounds only grow, so versions only grow."""
    return f"{major}.0.{round_number}"


def model_recipe(
    component_name: str,
    version: str,
    model_artifact: str,
    classes: list[str],
    validation_map: float,
    training_job: str,
    model_package_arn: str,
) -> dict[str, Any]:
    if not model_artifact.startswith("s3://"):
        raise ValueError(f"model artifact must be an s3:// URI (got {model_artifact!r})")
    metadata = {
        "classes": classes,
        "validation_mAP": validation_map,
        "training_job": training_job,
        "model_package_arn": model_package_arn,
        "version": version,
    }
    component = json.dumps({"component": component_name, "version": version}).replace("'", "")
    install = (
        "set -e; rm -rf {work:path}/model && mkdir -p {work:path}/model && "
        "tar -xzf {artifacts:path}/model.tar.gz -C {work:path}/model && "
        # no model.json: the device reports the model unusable (never a silent fallback)
        "printf '%s' '" + component + "' > {work:path}/model/component.json"
    )
    return {
        "RecipeFormatVersion": "2020-01-25",
        "ComponentName": component_name,
        "ComponentVersion": version,
        "ComponentDescription": f"Object detector retrained by visionpipe ({training_job}, validation mAP "
        f"{validation_map:.4f}).",
        "ComponentPublisher": "visionpipe",
        "ComponentConfiguration": {"DefaultConfiguration": {"Model": metadata}},
        "Manifests": [
            {
                "Platform": {"os": "linux"},
                "Lifecycle": {"Install": {"Script": install, "RequiresPrivilege": False}},
                "Artifacts": [{"Uri": model_artifact, "Unarchive": "NONE", "Permission": {"Read": "OWNER"}}],
            }
        ],
    }


def publish(greengrass, recipe: dict[str, Any]) -> dict[str, str]:
    response = greengrass.create_component_version(inlineRecipe=json.dumps(recipe).encode())
    return {
        "component_name": response["componentName"],
        "component_version": response["componentVersion"],
        "arn": response["arn"],
    }


def rollout_request(greengrass, target_arn: str, component_name: str, version: str) -> dict[str, Any]:
    """CreateDeployment's request: the target's latest deployment with the model at `version`."""
    request: dict[str, Any] = {
        "targetArn": target_arn,
        "deploymentName": f"visionpipe model {component_name} {version}",
        "components": {component_name: {"componentVersion": version}},
    }
    latest = greengrass.list_deployments(targetArn=target_arn, historyFilter="LATEST_ONLY")["deployments"]
    if latest:
        current = greengrass.get_deployment(deploymentId=latest[0]["deploymentId"])
        request["components"] = {
            **current.get("components", {}),
            component_name: {"componentVersion": version},
        }
        for key in ("deploymentPolicies", "iotJobConfiguration"):
            if current.get(key):
                request[key] = current[key]
        if current.get("deploymentName"):
            request["deploymentName"] = current["deploymentName"]
    return request


def cli_command(request: dict[str, Any]) -> str:
    """The AWS CLI command for a CreateDeployment request (shell-quoted JSON)."""
    document = json.dumps(request, separators=(",", ":")).replace("'", "'\\''")
    return f"aws greengrassv2 create-deployment --cli-input-json '{document}'"


def rollout(greengrass, mode: str, target_arn: str, component_name: str, version: str) -> dict[str, str]:
    if not target_arn:
        request = {
            "targetArn": "<thing or thing group ARN>",
            "components": {component_name: {"componentVersion": version}},
        }
        return {"mode": "manual", "deployment_id": "", "command": cli_command(request)}
    request = rollout_request(greengrass, target_arn, component_name, version)
    if mode != "auto":
        return {"mode": "manual", "deployment_id": "", "command": cli_command(request)}
    deployment = greengrass.create_deployment(**request)
    return {"mode": "auto", "deployment_id": deployment["deploymentId"], "command": cli_command(request)}
