"""The local stack for end-to-end tests: moto's server on a free port, every template resource,
the handlers in-process (`visionpipe local up` without the CLI).

    @pytest.mark.integration
    @pytest.mark.xdist_group("local_stack")
    def test_something(local_stack):
        s3 = local_stack.client("s3")
        s3.put_object(Bucket=local_stack.outputs["ImageBucketName"], Key="image_inputs/x.jpg", Body=...)
        item = local_stack.wait_until(lambda: find_item(...), timeout=20)

The stack is package-scoped: started once for tests/integration/ (per xdist worker; the
xdist_group keeps these tests on one worker), stopped when the package's tests are done. Use
unique object keys per test. The anomaly model is trained once (small sample set) and cached in
pytest's cache directory.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from visionpipe.local import model as local_model
from visionpipe.local.stack import OfflineStack


@dataclass
class OfflineStackHandle:
    stack: OfflineStack
    endpoint_url: str
    outputs: dict[str, Any]
    session: boto3.Session
    state_file: Path

    def client(self, service: str):
        return self.session.client(service, endpoint_url=self.endpoint_url)

    def resource(self, service: str):
        return self.session.resource(service, endpoint_url=self.endpoint_url)

    def wait_until(self, predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.1) -> Any:
        """Poll predicate until it returns something truthy (returned); TimeoutError otherwise."""
        return self.stack.wait_until(predicate, timeout=timeout, interval=interval)

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """True once no routed event is queued, retrying or running."""
        return self.stack.wait_idle(timeout=timeout)


@pytest.fixture(scope="session")
def anomaly_model_dir(request, tmp_path_factory) -> Path:
    """A real model from `visionpipe train-anomaly` on a small generated set (cached across runs)."""
    cache_plugin = getattr(request.config, "cache", None)  # absent with -p no:cacheprovider
    if cache_plugin is not None:
        cache = Path(cache_plugin.mkdir("visionpipe-local-model"))
    else:
        cache = tmp_path_factory.mktemp("visionpipe-local-model")
    model_dir = cache / "model"
    if not local_model.has_model(model_dir):
        data_dir = local_model.generate_sample_data(cache / "data", normal=40, anomalous=12, video=False)
        local_model.train_model(data_dir, model_dir)
    return model_dir


@pytest.fixture(scope="package")
def local_stack(anomaly_model_dir, tmp_path_factory) -> OfflineStackHandle:
    stack = OfflineStack(port=0, model_dir=anomaly_model_dir)
    stack.start()
    try:
        state_dir = tmp_path_factory.mktemp("local-state")
        state_file = stack.write_outputs(state_dir / f"local-{stack.port}.json")
        yield OfflineStackHandle(
            stack=stack,
            endpoint_url=stack.endpoint_url,
            outputs=json.loads(state_file.read_text())["outputs"],
            session=stack.session,
            state_file=state_file,
        )
    finally:
        stack.stop()
