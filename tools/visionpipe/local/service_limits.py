"""Documented limits the local stand-ins do not check themselves, refused before the call as AWS
refuses them (each limit and its source page: visionpipe_common.limits).

moto accepts an SNS message, a Step Functions input and SageMaker names of any size or shape;
botocore's validation checks types and minimums, not these.
"""

from __future__ import annotations

from typing import Any

from visionpipe_common.limits import (
    SNS_MESSAGE_MAX_BYTES,
    STEP_FUNCTIONS_PAYLOAD_MAX_BYTES,
    sagemaker_name_problem,
    utf8_bytes,
)

_SAGEMAKER_NAMES = {
    "CreateTrainingJob": "TrainingJobName",
    "CreateModel": "ModelName",
    "CreateEndpoint": "EndpointName",
    "CreateEndpointConfig": "EndpointConfigName",
}


def refusal(service: str, operation: str, params: dict[str, Any]) -> tuple[str, str] | None:
    """(error code, message) AWS answers with, or None when the call fits."""
    if service == "sns" and operation == "Publish":
        size = utf8_bytes(str(params.get("Message", ""))) + sum(
            utf8_bytes(name) + utf8_bytes(str(v.get("StringValue", v.get("BinaryValue", ""))))
            for name, v in (params.get("MessageAttributes") or {}).items()
        )
        if size > SNS_MESSAGE_MAX_BYTES:
            return (
                "InvalidParameter",
                f"Invalid parameter: Message too long ({size} bytes, limit {SNS_MESSAGE_MAX_BYTES})",
            )
    if service == "stepfunctions" and operation in ("StartExecution", "StartSyncExecution"):
        size = utf8_bytes(str(params.get("input", "")))
        if size > STEP_FUNCTIONS_PAYLOAD_MAX_BYTES:
            return (
                "ValidationException",
                f"input is {size} bytes, over Step Functions' {STEP_FUNCTIONS_PAYLOAD_MAX_BYTES}",
            )
    if service == "sagemaker" and operation in _SAGEMAKER_NAMES:
        member = _SAGEMAKER_NAMES[operation]
        problem = sagemaker_name_problem(str(params.get(member, "")), member)
        if problem:
            return "ValidationException", problem
    return None
