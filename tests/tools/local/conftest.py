import boto3
import pytest

from visionpipe.local.deployment import Deployment, Intrinsics, PseudoParameters, parameter_values
from visionpipe.local.server import LocalServer


@pytest.fixture
def server():
    server = LocalServer(port=0)
    with server:
        yield server


@pytest.fixture
def deploy(server, tmp_path):
    """deploy(cfn_template) -> a Deployment on a fresh moto server (template_dir: tmp_path)."""

    def make(template: dict) -> Deployment:
        session = boto3.Session(aws_access_key_id="k", aws_secret_access_key="s", region_name="us-east-1")
        pseudo = PseudoParameters(stack_name="unit")
        intrinsics = Intrinsics(template, parameter_values(template), pseudo)
        return Deployment(template, tmp_path, pseudo, intrinsics, session, server.endpoint_url)

    return make
