"""Every private moto name local mode and the tests use still exists with the shape they rely on.

If one of these fails after a moto upgrade, the name it reports moved: adapt
tools/visionpipe/local/moto_internals.py (the only module that touches them) and re-pin moto.
"""

import inspect
from importlib.metadata import version

import boto3
import pytest
from moto import mock_aws
from moto.dynamodb.models import DynamoDBBackend

from visionpipe.local import moto_internals
from visionpipe.template import REPO_ROOT


def test_moto_is_the_pinned_version():
    pinned = next(
        line.split("==")[1].strip()
        for line in (REPO_ROOT / "constraints.txt").read_text().splitlines()
        if line.startswith("moto==")
    )
    assert version("moto") == pinned


@pytest.mark.parametrize("what", sorted(moto_internals.PATCHED))
def test_every_patched_name_exists(what):
    owner, name = moto_internals.PATCHED[what]
    assert hasattr(owner, name), f"moto no longer has {owner.__name__}.{name} ({what})"


def test_the_signatures_the_patches_assume():
    s3_event = moto_internals.PATCHED["s3 notification record"][0]._get_s3_event
    assert list(inspect.signature(s3_event).parameters) == ["event_name", "bucket", "key", "notification_id"]
    invoke = moto_internals.PATCHED["Lambda invoke"][0].invoke
    assert list(inspect.signature(invoke).parameters) == [
        "self",
        "body",
        "request_headers",
        "response_headers",
    ]
    for name in moto_internals.DYNAMODB_REQUESTS:
        assert callable(getattr(DynamoDBBackend, name)), f"DynamoDBBackend.{name}"


def test_a_training_job_has_the_attributes_the_engine_sets_and_describe_reports_them():
    started = []
    with mock_aws(), moto_internals.training_jobs(started.append):
        sagemaker = boto3.client("sagemaker", region_name="us-east-1")
        sagemaker.create_training_job(
            TrainingJobName="j",
            AlgorithmSpecification={
                "TrainingImage": "1.dkr.ecr.us-east-1.amazonaws.com/x:1",
                "TrainingInputMode": "File",
            },
            RoleArn="arn:aws:iam::123456789012:role/r",
            OutputDataConfig={"S3OutputPath": "s3://b/out/"},
            ResourceConfig={"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 1},
            StoppingCondition={"MaxRuntimeInSeconds": 60},
        )
        (job,) = started
        missing = [a for a in moto_internals.TRAINING_JOB_ATTRIBUTES if not hasattr(job, a)]
        assert not missing, f"FakeTrainingJob lacks {missing}"
        job.training_job_status, job.failure_reason = "Failed", "because"
        job.training_time_in_seconds = job.billable_time_in_seconds = 7
        assert set(moto_internals.TRAINING_JOB_ADDED) <= set(vars(job))
        described = sagemaker.describe_training_job(TrainingJobName="j")
    assert (described["TrainingJobStatus"], described["FailureReason"]) == ("Failed", "because")
    assert described["TrainingTimeInSeconds"] == described["BillableTimeInSeconds"] == 7


def test_patches_are_undone_on_exit():
    owner, name = moto_internals.PATCHED["Lambda invoke"]
    original = getattr(owner, name)
    with moto_internals.lambda_invocations(lambda *args: None):
        assert getattr(owner, name) is not original
    assert getattr(owner, name) is original
    patches = moto_internals.atomic_dynamodb_patches()
    assert [name for _, name, _ in patches] == list(moto_internals.DYNAMODB_REQUESTS)
    assert all(owner is DynamoDBBackend and value.__name__ == "request" for owner, _, value in patches)


def test_a_running_server_exposes_its_wsgi_app_for_the_shutdown_gate():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        assert callable(server._server.app), "moto's ThreadedMotoServer no longer keeps _server.app"
        with moto_internals.wsgi_app_wrapped(server, lambda app: ("wrapped", app)):
            assert server._server.app[0] == "wrapped"
        assert callable(server._server.app)
    finally:
        server.stop()
