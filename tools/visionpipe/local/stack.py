"""LocalStack: the whole template running on this machine against moto's server.

    with LocalStack(port=0).start() as stack:
        stack.endpoint_url, stack.outputs(), stack.session.client("s3")
        stack.wait_idle()

start(): server -> resources in dependency order (functions registered in moto's Lambda) ->
onnx model uploaded -> handlers loaded (cold start) -> S3 routes and other event sources ->
pollers and async workers running. stop() undoes it all and resets moto.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import boto3

from visionpipe.local import environment, lambda_bridge, routing
from visionpipe.local import functions as local_functions
from visionpipe.local import model as local_model
from visionpipe.local.engines import LocalEngines
from visionpipe.local.intrinsics import (
    LOCAL_STACK_NAME,
    PseudoParameters,
    Resolver,
    parameter_values,
    samconfig_overrides,
    samconfig_stack_name,
)
from visionpipe.local.resources import Deployment, create_resource, creation_order
from visionpipe.local.server import LocalServer
from visionpipe.template import REPO_ROOT, TEMPLATE_PATH, load_template

log = logging.getLogger("visionpipe.local")

SAMCONFIG_PATH = REPO_ROOT / "samconfig.toml"


class LocalStack:
    def __init__(
        self,
        port: int = 0,
        template_path: Path = TEMPLATE_PATH,
        parameter_overrides: Mapping[str, str] | None = None,
        samconfig_path: Path | None = SAMCONFIG_PATH,
        stack_name: str | None = None,
        model_dir: Path | None = None,
        provision_model: bool = True,
        retry_delay: float = 0.2,
    ):
        self.template_path = Path(template_path)
        self.template = load_template(self.template_path)
        overrides = samconfig_overrides(samconfig_path) if samconfig_path else {}
        overrides.update(parameter_overrides or {})
        self.parameters = parameter_values(self.template, overrides)
        name = (
            stack_name
            or (samconfig_stack_name(samconfig_path) if samconfig_path else None)
            or LOCAL_STACK_NAME
        )
        self.pseudo = PseudoParameters(stack_name=name)
        self.model_dir = Path(model_dir) if model_dir else local_model.DEFAULT_MODEL_DIR
        self.provision_model = provision_model
        self.server = LocalServer(port=port)
        self.session = boto3.Session(
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 (moto accepts any credentials)
            aws_session_token="local",  # noqa: S106
            region_name=self.pseudo.region,
        )
        self.deployment: Deployment | None = None
        self.invoker: routing.AsyncInvoker | None = None
        self.bridge: lambda_bridge.LambdaBridge | None = None
        self.engines: LocalEngines | None = None  # SageMaker training and Greengrass v2 stand-ins
        self.pollers: list[routing.QueuePoller] = []
        self.sources: list[routing.SqsEventSource] = []
        self.functions: dict[str, local_functions.LocalFunction] = {}
        self._retry_delay = retry_delay
        self._started = False
        self._stop_lock = threading.Lock()

    # ------------------------------------------------------------ lifecycle
    @property
    def endpoint_url(self) -> str:
        return self.server.endpoint_url

    @property
    def port(self) -> int:
        return self.server.port

    def start(self) -> LocalStack:
        environment.install()
        routing.install_s3_record_enrichment()
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        self._started = True
        endpoint = self.server.start()
        d = Deployment(
            template=self.template,
            template_dir=self.template_path.parent,
            pseudo=self.pseudo,
            session=self.session,
            endpoint_url=endpoint,
        )
        d.resolver = Resolver(self.template, self.parameters, self.pseudo, d.ref_of, d.attribute_of)
        self.deployment = d
        self.invoker = routing.AsyncInvoker(d, retry_delay=self._retry_delay)
        self.bridge = lambda_bridge.LambdaBridge(self.invoker.submit)
        lambda_bridge.install(self.bridge)
        self.engines = LocalEngines(
            self.session, endpoint, self.pseudo.region, self.pseudo.account_id, self._bucket_names
        )
        self.engines.install()  # before the handlers load: their module-level clients get the hooks

        resources = self.template.get("Resources") or {}
        for logical_id in creation_order(self.template, d.resolver.is_active):
            created = create_resource(d, logical_id, resources[logical_id])
            if created.type == local_functions.FUNCTION_TYPE:
                self.functions[logical_id] = created.local
                self.bridge.register(created.local)

        if self.provision_model:
            self._provision_model()
        local = local_functions.local_credentials(endpoint, self.pseudo.region)
        for function in self.functions.values():
            function.load(local)
        functions = list(self.functions.values())
        self.invoker.start(functions)
        for route in routing.configure_s3_routes(d, functions):
            poller = routing.QueuePoller(d, route, self.invoker)
            poller.start()
            self.pollers.append(poller)
        self.sources = routing.wire_other_events(d, functions)
        for source in self.sources:
            source.start()
        log.info("local stack %s ready at %s", self.pseudo.stack_name, endpoint)

    def _bucket_names(self) -> set[str]:
        created = self.deployment.created.values() if self.deployment else ()
        return {r.ref for r in created if r.type == "AWS::S3::Bucket" and not r.skipped}

    def _provision_model(self) -> None:
        locations = local_model.onnx_model_locations(self.functions.values())
        if not locations:
            return
        model_dir = local_model.ensure_model(self.model_dir, quiet=True)
        for bucket, parameter in sorted(locations):
            local_model.upload_model(self.session, self.endpoint_url, model_dir, bucket, parameter)

    def stop(self) -> None:
        with self._stop_lock:
            if not self._started:
                return
            self._started = False
            for poller in self.pollers:
                poller.stop()
            for source in self.sources:
                source.stop()
            if self.invoker:
                self.invoker.stop()
            if self.bridge:
                lambda_bridge.uninstall(self.bridge)
            if self.engines:
                self.engines.uninstall()
            self.server.stop()
            routing.uninstall_s3_record_enrichment()
            environment.uninstall()

    def __enter__(self) -> LocalStack:
        return self if self._started else self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # ------------------------------------------------------------ using it
    def outputs(self) -> dict[str, Any]:
        """The template's Outputs, resolved for this stack (outputs whose Condition is false omitted)."""
        resolver = self.deployment.resolver
        resolved = {}
        for name, output in (self.template.get("Outputs") or {}).items():
            if resolver.is_active(output):
                resolved[name] = resolver.resolve(output["Value"])
        return resolved

    def client(self, service: str):
        return self.session.client(service, endpoint_url=self.endpoint_url)

    def function(self, logical_id: str) -> local_functions.LocalFunction:
        return self.functions[logical_id]

    def resource(self, logical_id: str):
        return self.deployment.created[logical_id]

    def pending(self) -> int:
        """Events routed but not yet finished (queued in routing queues, waiting, retrying or running)."""
        return sum(p.pending() for p in self.pollers) + (self.invoker.pending() if self.invoker else 0)

    def wait_idle(self, timeout: float = 60.0, settle: float = 0.3) -> bool:
        """Wait until no event is in flight for `settle` seconds; False on timeout."""
        deadline = time.monotonic() + timeout
        quiet_since = None
        while time.monotonic() < deadline:
            if self.pending() == 0:
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since >= settle:
                    return True
            else:
                quiet_since = None
            time.sleep(0.05)
        return False

    def wait_until(self, predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.1) -> Any:
        """Poll predicate until it returns something truthy (returned); raises TimeoutError."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"condition not met within {timeout} s")
            time.sleep(interval)

    def write_outputs(self, path: Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"endpoint_url": self.endpoint_url, "outputs": self.outputs()}, indent=2))
        return path
