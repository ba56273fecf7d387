"""publish_model_component (state machine task): a new version of the device's model component.

Input: {"round", "model_artifact" (s3://.../model.tar.gz), "validation_map", "training_job",
"model_package_arn", "classes"}. Creates the Greengrass v2 component version whose recipe points at
the artifact, then rolls it out: RolloutMode=auto revises the Greengrass deployment of
RolloutTargetArn with the new version (CreateDeployment); manual returns the exact command instead.
"""

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from visionpipe_common import aws
from visionpipe_common.retraining.model_component import component_version, model_recipe, publish, rollout
from visionpipe_common.retraining.settings import ModelComponentSettings

logger = Logger()
tracer = Tracer()

settings = ModelComponentSettings.from_environment()
greengrass = aws.client("greengrassv2")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    recipe = model_recipe(
        component_name=settings.component_name,
        version=component_version(int(event["round"])),
        model_artifact=event["model_artifact"],
        classes=list(event.get("classes") or []),
        validation_map=float(event["validation_map"]),
        training_job=event["training_job"],
        model_package_arn=event.get("model_package_arn", ""),
    )
    published = publish(greengrass, recipe)
    logger.info("model component published", extra=published)
    rolled = rollout(
        greengrass,
        settings.rollout_mode,
        settings.rollout_target_arn,
        published["component_name"],
        published["component_version"],
    )
    logger.info("model component rollout", extra=rolled)
    return {**published, "rollout": rolled}
