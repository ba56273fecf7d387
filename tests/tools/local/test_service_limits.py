"""visionpipe.local.service_limits: documented limits local mode refuses as AWS does."""

from __future__ import annotations

import pytest

from visionpipe.local.service_limits import refusal

LIMIT = 256 * 1024


def test_sns_message_just_inside_and_just_outside():
    assert refusal("sns", "Publish", {"Message": "a" * LIMIT}) is None
    code, message = refusal("sns", "Publish", {"Message": "a" * (LIMIT + 1)})
    assert code == "InvalidParameter" and "Message too long" in message


def test_sns_message_attributes_count_toward_the_limit():
    attributes = {"k": {"DataType": "String", "StringValue": "v"}}
    assert refusal("sns", "Publish", {"Message": "a" * (LIMIT - 2), "MessageAttributes": attributes}) is None
    assert (
        refusal("sns", "Publish", {"Message": "a" * (LIMIT - 1), "MessageAttributes": attributes}) is not None
    )


def test_step_functions_input_just_inside_and_just_outside_in_utf8_bytes():
    assert refusal("stepfunctions", "StartExecution", {"input": "a" * LIMIT}) is None
    assert (
        refusal("stepfunctions", "StartExecution", {"input": "é" * (LIMIT // 2 + 1)})[0]
        == "ValidationException"
    )


@pytest.mark.parametrize(
    ("name", "fits"),
    [("a" * 63, True), ("a" * 64, False), ("visionpipe-retrain-1", True), ("bad_name", False)],
)
def test_sagemaker_training_job_names(name, fits):
    assert (refusal("sagemaker", "CreateTrainingJob", {"TrainingJobName": name}) is None) is fits
