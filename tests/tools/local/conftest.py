import boto3
import pytest

from visionpipe.local.intrinsics import PseudoParameters, Resolver, parameter_values
from visionpipe.local.resources import Deployment
from visionpipe.local.server import LocalServer


@pytest.fixture
def server():
    server = LocalServer(port=0)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def deploy(server, tmp_path):
    """deploy(template) -> a Deployment on a fresh moto server, resolver attached."""

    def make(template: dict) -> Deployment:
        session = boto3.Session(aws_access_key_id="k", aws_secret_access_key="s", region_name="us-east-1")
        d = Deployment(
            template=template,
            template_dir=tmp_path,
            pseudo=PseudoParameters(stack_name="unit"),
            session=session,
            endpoint_url=server.endpoint_url,
        )
        d.resolver = Resolver(template, parameter_values(template), d.pseudo, d.ref_of, d.attribute_of)
        return d

    return make
