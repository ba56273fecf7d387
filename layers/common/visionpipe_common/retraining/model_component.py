"""The device's model as its own Greengrass v2 component: one new version per adopted model.

The inference component depends on this component and finds the unpacked model in
{<component name>:work:path}/model (SageMaker's model.tar.gz: model_algo_1-symbol.json,
model_algo_1-0000.params, hyperparams.json) plus model.json (classes, mAP, training job) unless the
artifact ships its own model.json (local mode's HOG + SVM artifact does: detector, file, input size).
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
    install = (
        "set -e; rm -rf {work:path}/model && mkdir -p {work:path}/model && "
        "tar -xzf {artifacts:path}/model.tar.gz -C {work:path}/model && "
        # an artifact describing itself (local mode's HOG model: detector, file, input) keeps its model.json
        "if [ ! -f {work:path}/model/model.json ]; then "
        "printf '%s' '" + json.dumps(metadata).replace("'", "") + "' > {work:path}/model/model.json; fi"
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
