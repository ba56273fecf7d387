"""Each AWS::Serverless::Function of the template as an in-process handler.

The handler module is loaded with visionpipe.lambda_loader (module-level code runs once, as on a
cold start) inside a thread-local environment overlay holding exactly what Lambda would set: the
template's Globals merged with the function's own variables (resolved), Lambda's reserved
variables, and, for local mode only, the endpoint and fake credentials. One function is one warm
container: its invocations run one at a time.
"""

from __future__ import annotations

import io
import logging
import sys
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from visionpipe.lambda_loader import load_handler_module
from visionpipe.local import environment
from visionpipe.local.resources import CreatedResource, Deployment, creates, implicit_role

log = logging.getLogger("visionpipe.local")

FUNCTION_TYPE = "AWS::Serverless::Function"


def local_credentials(endpoint_url: str, region: str) -> dict[str, str]:
    """What handlers need to reach the local stack instead of AWS (nothing else changes)."""
    return {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_SESSION_TOKEN": "local",
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "POWERTOOLS_TRACE_DISABLED": "true",
    }


@dataclass
class LambdaContext:
    """The context object Lambda passes as the handler's second argument."""

    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    deadline: float
    identity: Any = None
    client_context: Any = None

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


@dataclass
class AsyncConfig:
    """EventInvokeConfig: how Lambda retries an asynchronous invocation and where failures go."""

    maximum_retry_attempts: int = 2
    maximum_event_age_seconds: int = 21600
    on_failure: dict[str, str] | None = None  # {"Type": "SQS", "Destination": arn}
    on_success: dict[str, str] | None = None


@dataclass
class LocalFunction:
    logical_id: str
    name: str
    arn: str
    code_dir: Path
    handler: str
    variables: dict[str, str]
    timeout: int
    memory: int
    async_config: AsyncConfig
    events: dict[str, Any]
    properties: dict[str, Any]
    module: ModuleType | None = None
    lock: threading.RLock = field(default_factory=threading.RLock)
    invocations: int = 0

    def environment(self, local: dict[str, str]) -> dict[str, str]:
        return {
            **self.variables,
            "AWS_LAMBDA_FUNCTION_NAME": self.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.memory),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{self.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": "local",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
            "_HANDLER": self.handler,
            **local,
        }

    def load(self, local: dict[str, str]) -> None:
        """Cold start: import the handler module inside the function's environment."""
        with self.lock, environment.overlaid(self.environment(local)):
            added = str(self.code_dir) not in sys.path
            if added:
                sys.path.insert(0, str(self.code_dir))
            try:
                self.module = load_handler_module(self.code_dir, self.handler)
            finally:
                if added:
                    sys.path.remove(str(self.code_dir))
            isolate_metrics(self.module)
        self._local = local

    def invoke(self, event: Any, request_id: str | None = None) -> Any:
        """Run the handler once (raises what the handler raises)."""
        if self.module is None:
            raise RuntimeError(f"{self.logical_id} is not loaded")
        handler = getattr(self.module, self.handler.rsplit(".", 1)[1])
        request_id = request_id or str(uuid.uuid4())
        context = LambdaContext(
            function_name=self.name,
            function_version="$LATEST",
            invoked_function_arn=self.arn,
            memory_limit_in_mb=self.memory,
            aws_request_id=request_id,
            log_group_name=f"/aws/lambda/{self.name}",
            log_stream_name="local",
            deadline=time.monotonic() + self.timeout,
        )
        with self.lock, environment.overlaid(self.environment(self._local)):
            self.invocations += 1
            return handler(event, context)


def isolate_metrics(module: ModuleType) -> None:
    """Give each function's Powertools Metrics their own store.

    Powertools shares metric sets across all Metrics instances of a process (one function per
    process in Lambda). Here several functions share the process, so each function's Metrics get
    private sets: every invocation flushes exactly its own metrics.
    """
    try:
        from aws_lambda_powertools import Metrics
    except ImportError:  # pragma: no cover
        return
    for value in list(vars(module).values()):
        if isinstance(value, Metrics):
            provider = value.provider
            metric_set, dimension_set, metadata_set = {}, {}, {}
            default_dimensions = dict(getattr(provider, "default_dimensions", {}) or {})
            dimension_set.update(default_dimensions)
            value.metric_set = provider.metric_set = metric_set
            value.dimension_set = provider.dimension_set = dimension_set
            value.metadata_set = provider.metadata_set = metadata_set
            value.default_dimensions = provider.default_dimensions = default_dimensions


def _async_config(d: Deployment, props: dict[str, Any], globals_: dict[str, Any]) -> AsyncConfig:
    raw = props.get("EventInvokeConfig") or d.resolver.resolve(globals_.get("EventInvokeConfig", {})) or {}
    destinations = raw.get("DestinationConfig", {}) or {}
    return AsyncConfig(
        maximum_retry_attempts=int(raw.get("MaximumRetryAttempts", 2)),
        maximum_event_age_seconds=int(raw.get("MaximumEventAgeInSeconds", 21600)),
        on_failure=destinations.get("OnFailure"),
        on_success=destinations.get("OnSuccess"),
    )


def _code_zip(code_dir: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(code_dir.glob("*.py")):
            archive.write(path, path.name)
    return buffer.getvalue()


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@creates(FUNCTION_TYPE)
def create_function(d: Deployment, logical_id: str, declaration: dict) -> CreatedResource:
    """Register the function in moto's Lambda (so lambda.invoke finds it) and describe it locally."""
    globals_ = (d.template.get("Globals") or {}).get("Function", {}) or {}
    props = d.resolver.resolve(
        {k: v for k, v in (declaration.get("Properties") or {}).items() if k not in ("Policies", "Events")}
    )
    events = d.resolver.resolve((declaration.get("Properties") or {}).get("Events", {}) or {})
    merged_variables = {
        **(d.resolver.resolve(globals_.get("Environment", {})).get("Variables", {}) or {}),
        **((props.get("Environment") or {}).get("Variables", {}) or {}),
    }
    variables = {k: _text(v) for k, v in merged_variables.items()}
    name = props.get("FunctionName") or d.generated_name(logical_id, 64)
    code_uri = props.get("CodeUri", globals_.get("CodeUri"))
    if not isinstance(code_uri, str):
        raise ValueError(f"{logical_id}: CodeUri {code_uri!r} must be a local directory")
    code_dir = (d.template_dir / code_uri).resolve()
    handler = props.get("Handler") or globals_.get("Handler", "app.lambda_handler")
    timeout = int(props.get("Timeout", globals_.get("Timeout", 3)))
    memory = int(props.get("MemorySize", globals_.get("MemorySize", 128)))
    role = props.get("Role") or implicit_role(d, logical_id, "lambda.amazonaws.com")
    lambda_client = d.client("lambda")
    arn = lambda_client.create_function(
        FunctionName=name,
        Runtime=props.get("Runtime", globals_.get("Runtime", "python3.13")),
        Role=role,
        Handler=handler,
        Code={"ZipFile": _code_zip(code_dir)},
        Timeout=timeout,
        MemorySize=memory,
        Environment={"Variables": variables},
        Architectures=props.get("Architectures", globals_.get("Architectures", ["x86_64"])),
    )["FunctionArn"]
    function = LocalFunction(
        logical_id=logical_id,
        name=name,
        arn=arn,
        code_dir=code_dir,
        handler=handler,
        variables=variables,
        timeout=timeout,
        memory=memory,
        async_config=_async_config(d, props, globals_),
        events=events,
        properties=props,
    )
    return CreatedResource(logical_id, FUNCTION_TYPE, name, {"Arn": arn}, local=function)
