"""Each AWS::Lambda::Function of the transformed template as an in-process handler.

The handler module is loaded with visionpipe.lambda_loader (module-level code runs once, as on a
cold start) inside a thread-local environment overlay holding exactly what Lambda would set: the
function's Environment as the SAM transform wrote it (Globals merged) and resolved, Lambda's
reserved variables, and, for local mode only, the endpoint and fake credentials. One function is
one warm container: its invocations run one at a time.
"""

from __future__ import annotations

import io
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
from visionpipe.local.deployment import (
    Created,
    Deployment,
    Intrinsics,
    PseudoParameters,
    local_path,
    parameter_values,
    sam_transform,
)
from visionpipe.local.invocation import AsyncConfig
from visionpipe.template import TEMPLATE_PATH, load_template


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


def variables_of(properties: dict[str, Any]) -> dict[str, str]:
    """A resolved AWS::Lambda::Function's environment variables, as the strings Lambda sets."""
    variables = (properties.get("Environment") or {}).get("Variables") or {}
    return {
        name: ("true" if v is True else "false" if v is False else str(v)) for name, v in variables.items()
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
class LocalFunction:
    logical_id: str
    name: str
    arn: str
    code_dir: Path
    handler: str
    variables: dict[str, str]
    timeout: int
    memory: int
    async_config: AsyncConfig = field(default_factory=AsyncConfig)
    module: ModuleType | None = None
    lock: threading.RLock = field(default_factory=threading.RLock)
    local: dict[str, str] = field(default_factory=dict)

    def environment(self) -> dict[str, str]:
        return {
            **self.variables,
            "AWS_LAMBDA_FUNCTION_NAME": self.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.memory),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{self.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": "local",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
            "_HANDLER": self.handler,
            **self.local,
        }

    def load(self, local: dict[str, str]) -> None:
        """Cold start: import the handler module inside the function's environment."""
        self.local = local
        with self.lock, environment.overlaid(self.environment()):
            added = str(self.code_dir) not in sys.path
            if added:
                sys.path.insert(0, str(self.code_dir))
            try:
                self.module = load_handler_module(self.code_dir, self.handler)
            finally:
                if added:
                    sys.path.remove(str(self.code_dir))
            isolate_metrics(self.module)

    def invoke(self, event: Any, request_id: str | None = None) -> Any:
        """Run the handler once (raises what the handler raises)."""
        if self.module is None:
            raise RuntimeError(f"{self.logical_id} is not loaded")
        handler = getattr(self.module, self.handler.rsplit(".", 1)[1])
        context = LambdaContext(
            function_name=self.name,
            function_version="$LATEST",
            invoked_function_arn=self.arn,
            memory_limit_in_mb=self.memory,
            aws_request_id=request_id or str(uuid.uuid4()),
            log_group_name=f"/aws/lambda/{self.name}",
            log_stream_name="local",
            deadline=time.monotonic() + self.timeout,
        )
        with self.lock, environment.overlaid(self.environment()):
            return handler(event, context)


def isolate_metrics(module: ModuleType) -> None:
    """Give each function's Powertools Metrics their own store.

    Powertools shares metric sets across all Metrics instances of a process (one function per
    process in Lambda). Here several functions share the process, so each function's Metrics get
    private sets: every invocation flushes exactly its own metrics.
    """
    from aws_lambda_powertools import Metrics

    for value in list(vars(module).values()):
        if isinstance(value, Metrics):
            provider = value.provider
            default_dimensions = dict(getattr(provider, "default_dimensions", {}) or {})
            value.metric_set = provider.metric_set = {}
            value.dimension_set = provider.dimension_set = dict(default_dimensions)
            value.metadata_set = provider.metadata_set = {}
            value.default_dimensions = provider.default_dimensions = default_dimensions


def _code_zip(code_dir: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(code_dir.glob("*.py")):
            archive.write(path, path.name)
    return buffer.getvalue()


def create_function(d: Deployment, logical_id: str, props: dict[str, Any]) -> Created:
    """Register the function in moto's Lambda (so lambda.invoke finds it) and describe it locally."""
    name = props.get("FunctionName") or d.generated_name(logical_id, 64)
    code_dir, variables = local_path(d.template_dir, props["Code"]), variables_of(props)
    timeout, memory = int(props.get("Timeout", 3)), int(props.get("MemorySize", 128))
    arn = d.client("lambda").create_function(
        FunctionName=name,
        Runtime=props["Runtime"],
        Role=props["Role"],
        Handler=props["Handler"],
        Code={"ZipFile": _code_zip(code_dir)},
        Timeout=timeout,
        MemorySize=memory,
        Environment={"Variables": variables},
        Architectures=props.get("Architectures", ["x86_64"]),
    )["FunctionArn"]
    function = LocalFunction(logical_id, name, arn, code_dir, props["Handler"], variables, timeout, memory)
    return Created(logical_id, "AWS::Lambda::Function", name, {"Arn": arn}, local=function)


def create_event_invoke_config(d: Deployment, logical_id: str, props: dict[str, Any]) -> Created:
    """PutFunctionEventInvokeConfig in moto; the function's asynchronous invocations follow it."""
    (function,) = [c.local for c in d.created.values() if c.local and c.local.name == props["FunctionName"]]
    request = {
        k: props[k]
        for k in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig")
        if k in props
    }
    config = d.client("lambda").put_function_event_invoke_config(
        FunctionName=function.name, Qualifier=props.get("Qualifier", "$LATEST"), **request
    )
    function.async_config = AsyncConfig(
        maximum_retry_attempts=int(config.get("MaximumRetryAttempts", 2)),
        maximum_event_age_seconds=int(config.get("MaximumEventAgeInSeconds", 21600)),
        on_failure=config.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination"),
    )
    return Created(logical_id, "AWS::Lambda::EventInvokeConfig", logical_id)


def function_environment(
    logical_id: str,
    resources: dict[str, Any],
    parameters: dict[str, str] | None = None,
    pseudo: PseudoParameters | None = None,
    template_path: Path = TEMPLATE_PATH,
) -> dict[str, str]:
    """A function's environment variables as local mode resolves them from template.yaml.

    resources: the physical id (its Ref) of every resource the environment refers to, or a dict
    {"Ref": ..., "Arn": ...} when it needs attributes; a reference not given raises. Parameters are
    the template's Defaults with `parameters` over them; the bucket suffix taken from the stack id
    is pseudo.stack_uuid (e.g. PseudoParameters(stack_uuid="test") -> visionpipe-images-test).
    """
    template = load_template(template_path)
    values = parameter_values(template, parameters)
    pseudo = pseudo or PseudoParameters()
    transformed = sam_transform(template, values, pseudo.region)
    intrinsics = Intrinsics(transformed, values, pseudo)
    for name, value in resources.items():
        intrinsics.symbols[name] = value if isinstance(value, dict) else {"Ref": value}
    properties = transformed["Resources"][logical_id]["Properties"]
    return variables_of({"Environment": intrinsics.resolve(properties.get("Environment") or {})})
