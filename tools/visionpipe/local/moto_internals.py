"""Every private moto name visionpipe uses, in one place (moto is pinned: see pyproject.toml).

moto's public surface (mock_aws, ThreadedMotoServer, the /moto-api endpoints) does not cover what
local mode replaces: the S3 notification record, Lambda's invoke, SageMaker training jobs, and
the process-wide config. Each use below is a context manager that restores the original on exit.
tests/tools/local/test_moto_internals.py checks that every name still exists with the shape used
here, so a moto upgrade that moves one fails there, by name, instead of somewhere downstream.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

from moto.awslambda import models as lambda_models
from moto.core import config as moto_config
from moto.dynamodb import models as dynamodb_models
from moto.s3 import notifications as s3_notifications
from moto.sagemaker import models as sagemaker_models

# (module or class, attribute) pairs this module patches or reads.
PATCHED = {
    "s3 notification record": (s3_notifications, "_get_s3_event"),
    "Lambda invoke": (lambda_models.LambdaFunction, "invoke"),
    "SageMaker CreateTrainingJob": (sagemaker_models.SageMakerModelBackend, "create_training_job"),
    "process-wide config": (moto_config, "default_user_config"),
}
# FakeTrainingJob attributes the training engine reads and sets (DescribeTrainingJob reports them).
TRAINING_JOB_ATTRIBUTES = [
    "training_job_name",
    "hyper_parameters",
    "input_data_config",
    "output_data_config",
    "model_artifacts",
    "creation_time",
    "training_job_status",
    "secondary_status",
    "secondary_status_transitions",
    "final_metric_data_list",
    "training_start_time",
    "training_end_time",
    "last_modified_time",
]
# ... and attributes it adds, which DescribeTrainingJob reports too (moto reports every attribute).
TRAINING_JOB_ADDED = ("failure_reason", "training_time_in_seconds", "billable_time_in_seconds")
DYNAMODB_REQUESTS = (
    "get_item",
    "put_item",
    "update_item",
    "transact_write_items",
    "query",
    "scan",
    "delete_item",
)
_lock = threading.Lock()


@contextlib.contextmanager
def _patched(owner: Any, name: str, value: Any) -> Iterator[None]:
    with _lock:
        original = getattr(owner, name)
        setattr(owner, name, value)
    try:
        yield
    finally:
        with _lock:
            setattr(owner, name, original)


def s3_event_records(enrich: Callable[[dict, Any, Any], None]) -> contextlib.AbstractContextManager:
    """moto builds each S3 notification in _get_s3_event(event_name, bucket, key, id); enrich(event,
    bucket, key) completes it in place before it is sent."""
    original = s3_notifications._get_s3_event

    def build(event_name: str, bucket: Any, key: Any, notification_id: str) -> dict:
        event = original(event_name, bucket, key, notification_id)
        enrich(event, bucket, key)
        return event

    return _patched(s3_notifications, "_get_s3_event", build)


def lambda_invocations(
    route: Callable[[Any, Any, Any, Any], Any | None],
) -> contextlib.AbstractContextManager:
    """Every LambdaFunction.invoke(body, request_headers, response_headers) in moto (the HTTP API,
    S3 notifications, SNS, Step Functions tasks) goes to route(function_name, body, request_headers,
    response_headers); None from route means moto's own behaviour."""
    original = lambda_models.LambdaFunction.invoke

    def invoke(function: Any, body: Any, request_headers: Any, response_headers: Any) -> Any:
        routed = route(function.function_name, body, request_headers, response_headers)
        return original(function, body, request_headers, response_headers) if routed is None else routed

    return _patched(lambda_models.LambdaFunction, "invoke", invoke)


def training_jobs(started: Callable[[Any], None]) -> contextlib.AbstractContextManager:
    """started(job) runs after moto has recorded each CreateTrainingJob (a FakeTrainingJob whose
    TRAINING_JOB_ATTRIBUTES DescribeTrainingJob reports)."""
    original = sagemaker_models.SageMakerModelBackend.create_training_job

    def create(backend: Any, *args: Any, **kwargs: Any) -> Any:
        job = original(backend, *args, **kwargs)
        started(job)
        return job

    return _patched(sagemaker_models.SageMakerModelBackend, "create_training_job", create)


def config_values(keys) -> dict[str, Any]:
    """moto's process-wide config (the server runs in this process), to restore it afterwards."""
    return {key: moto_config.default_user_config.get(key) for key in keys}


def atomic_dynamodb_patches() -> list[tuple[Any, str, Any]]:
    """(owner, name, value) patches making each moto DynamoDB request atomic, as every real DynamoDB
    request is: moto's backend is not thread-safe (transact_write_items deep-copies a table while
    other threads write to it). Requests stay separate, so races between requests (GetItem, then a
    conditional UpdateItem) happen exactly as against DynamoDB."""
    lock, backend = threading.RLock(), dynamodb_models.DynamoDBBackend

    def locked(original):
        def request(self, *args, **kwargs):
            with lock:
                return original(self, *args, **kwargs)

        return request

    return [(backend, name, locked(getattr(backend, name))) for name in DYNAMODB_REQUESTS]


@contextlib.contextmanager
def atomic_dynamodb() -> Iterator[None]:
    """Within the block every moto DynamoDB request is atomic (see atomic_dynamodb_patches)."""
    with contextlib.ExitStack() as patches:
        for owner, name, value in atomic_dynamodb_patches():
            patches.enter_context(_patched(owner, name, value))
        yield


@contextlib.contextmanager
def wsgi_app_wrapped(server: Any, wrap: Callable[[Any], Any]) -> Iterator[None]:
    """Put a WSGI middleware in front of a running ThreadedMotoServer's app (its private `_server`)."""
    wsgi = server._server
    original = wsgi.app
    wsgi.app = wrap(original)
    try:
        yield
    finally:
        wsgi.app = original
