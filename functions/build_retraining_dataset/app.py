"""build_retraining_dataset (state machine task): the round's dataset and training-job settings.

Input: the execution input {"round": N, "hyperparameters": {...optional overrides}}. Claims the
approved candidates for round N, copies the base dataset and every candidate (new and earlier
rounds') into datasets/rounds/round-N/ in the four channels, and returns the channel URIs, counts
and hyperparameters (the original's best run; num_classes and num_training_samples computed).
"""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from visionpipe_common.retraining.dataset import DatasetBuilder
from visionpipe_common.retraining.settings import DatasetSettings

logger = Logger()
tracer = Tracer()
metrics = Metrics()

builder = DatasetBuilder.from_settings(DatasetSettings.from_environment())


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    dataset = builder.build(int(event["round"]), event.get("hyperparameters"))
    logger.info("dataset built", extra={k: v for k, v in dataset.items() if k != "channels"})
    metrics.add_metric(
        name="RetrainingImages",
        unit=MetricUnit.Count,
        value=dataset["train_images"] + dataset["validation_images"],
    )
    return dataset
