"""OfflineStack: the whole template running on this machine against moto's server.

    with OfflineStack(port=0) as stack:
        stack.endpoint_url, stack.outputs(), stack.session.client("s3")
        stack.wait_idle()

start(): parameters and the SAM transform (deployment.py) -> moto's server -> every resource in
dependency order -> onnx model uploaded -> handlers loaded (cold start) -> asynchronous workers.
Every patch and worker is entered on one contextlib.ExitStack; stop() closes it (and resets moto).
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from visionpipe.local import environment, iam, model, moto_internals, s3_delivery
from visionpipe.local.deployment import (
    LOCAL_STACK_NAME,
    Deployment,
    Intrinsics,
    PseudoParameters,
    creation_order,
    parameter_values,
    sam_transform,
    samconfig,
)
from visionpipe.local.engines import mediaconvert
from visionpipe.local.engines.greengrass import GreengrassEngine
from visionpipe.local.engines.training import TrainingEngine, parse_s3_uri
from visionpipe.local.functions import LocalFunction, local_credentials
from visionpipe.local.invocation import AsyncInvoker
from visionpipe.local.lambda_bridge import LambdaBridge
from visionpipe.local.resources import create_resource
from visionpipe.local.server import LocalServer
from visionpipe.template import REPO_ROOT, TEMPLATE_PATH, load_template

log = logging.getLogger("visionpipe.local")

SAMCONFIG_PATH = REPO_ROOT / "samconfig.toml"
DEFAULT_CONCURRENCY = 4  # invocations of one function at a time (Lambda's concurrent containers)


@dataclass
class ShutdownReport:
    delivered: int = 0  # events whose invocation finished (succeeded, or parked after its retries)
    drained: int = 0  # of those, the ones still queued or running when the shutdown began
    dropped: list[Any] = field(default_factory=list)  # events that never ran: the drain timed out

    def line(self) -> str:
        return (
            f"{self.delivered} event(s) delivered ({self.drained} while draining), "
            f"{len(self.dropped)} dropped"
        )


class OfflineStack:
    def __init__(
        self,
        port: int = 0,
        template_path: Path = TEMPLATE_PATH,
        parameter_overrides: Mapping[str, str] | None = None,
        samconfig_path: Path | None = SAMCONFIG_PATH,
        model_dir: Path | None = None,
        provision_model: bool = True,
        retry_delay: float = 0.2,
        concurrency: int = DEFAULT_CONCURRENCY,
    ):
        self.template_path = Path(template_path)
        overrides, configured_name = samconfig(samconfig_path)
        self.parameters = parameter_values(
            load_template(self.template_path), {**overrides, **(parameter_overrides or {})}
        )
        self.pseudo = PseudoParameters(stack_name=configured_name or LOCAL_STACK_NAME)
        self.template = sam_transform(load_template(self.template_path), self.parameters, self.pseudo.region)
        self.model_dir = Path(model_dir) if model_dir else model.DEFAULT_MODEL_DIR
        self.provision_model = provision_model
        self.server = LocalServer(port=port)
        self.session = boto3.Session(
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 (moto accepts any credentials)
            aws_session_token="local",  # noqa: S106
            region_name=self.pseudo.region,
        )
        self.deployment: Deployment | None = None
        self.invoker: AsyncInvoker | None = None
        self.training: TrainingEngine | None = None  # SageMaker training, really training
        self.greengrass: GreengrassEngine | None = None  # Greengrass v2, not in moto
        self.mediaconvert: mediaconvert.MediaConvertEngine | None = None  # MediaConvert, not in moto
        self.functions: dict[str, LocalFunction] = {}
        self.authorizer: iam.Authorizer | None = None  # IAM, enforced on every role's calls
        self._retry_delay = retry_delay
        self._concurrency = concurrency
        self._running: contextlib.ExitStack | None = None

    @property
    def endpoint_url(self) -> str:
        return self.server.endpoint_url

    @property
    def port(self) -> int:
        return self.server.port

    def start(self) -> OfflineStack:
        with contextlib.ExitStack() as running:
            running.enter_context(environment.installed())
            running.enter_context(moto_internals.s3_event_records(s3_delivery.enrich))
            endpoint = running.enter_context(self.server)
            running.enter_context(moto_internals.atomic_dynamodb())  # workers write concurrently
            if boto3.DEFAULT_SESSION is None:
                boto3.setup_default_session()
            # boto3's default session: the handlers' module-level clients come from it
            running.enter_context(self.server.marking_internal([boto3.DEFAULT_SESSION, self.session]))
            self.invoker = AsyncInvoker(
                self.session.client("sqs", endpoint_url=endpoint), self._retry_delay, self._concurrency
            )
            running.callback(self.invoker.stop)
            bridge = LambdaBridge(self.invoker.submit)
            running.enter_context(moto_internals.lambda_invocations(bridge.route))
            if boto3.DEFAULT_SESSION is None:
                boto3.setup_default_session()
            # boto3's default session: the handlers' module-level clients come from it
            running.enter_context(environment.credentials_per_thread(boto3.DEFAULT_SESSION._session))
            self.authorizer = iam.Authorizer(
                endpoint, iam.Account(self.pseudo.region, self.pseudo.account_id), self._object_exists
            )
            running.enter_context(iam.installed(self.authorizer, [boto3.DEFAULT_SESSION, self.session]))
            self._engines(running, endpoint)  # before the handlers load: their clients get the hooks
            self._deploy(endpoint)
            for function in self.functions.values():
                bridge.register(function)
            if self.provision_model:
                self._provision_model()
            for function in self.functions.values():
                credentials = self._assume(function.role_arn, "lambda.amazonaws.com", function.logical_id)
                function.load(local_credentials(endpoint, self.pseudo.region, credentials))
            self._state_machine_roles()
            self.invoker.start(self.functions.values())
            self._running = running.pop_all()
        log.info("local stack %s ready at %s", self.pseudo.stack_name, endpoint)
        return self

    def _engines(self, running: contextlib.ExitStack, endpoint: str) -> None:
        def s3():
            return self.session.client("s3", endpoint_url=endpoint)

        def owns(job) -> bool:  # the stack's jobs: output in one of its buckets
            return parse_s3_uri(job.output_data_config["S3OutputPath"])[0] in self._bucket_names()

        self.training = TrainingEngine(s3, owns)
        running.enter_context(self.training.installed())
        self.greengrass = GreengrassEngine(endpoint, self.pseudo.region, self.pseudo.account_id, s3)
        running.enter_context(self.greengrass.installed([boto3.DEFAULT_SESSION, self.session]))
        self.mediaconvert = mediaconvert.MediaConvertEngine(
            endpoint,
            self.pseudo.region,
            self.pseudo.account_id,
            self._mediaconvert_session,
            self.deliver_event,
            lambda key: key in self.authorizer.principals,
        )
        running.enter_context(self.mediaconvert.installed([boto3.DEFAULT_SESSION, self.session]))

    def _deploy(self, endpoint: str) -> None:
        intrinsics = Intrinsics(self.template, self.parameters, self.pseudo)
        d = self.deployment = Deployment(
            self.template, self.template_path.parent, self.pseudo, intrinsics, self.session, endpoint
        )
        resources = {k: v for k, v in self.template["Resources"].items() if intrinsics.is_active(v)}
        for logical_id in creation_order(resources):
            created = create_resource(d, logical_id, resources[logical_id])
            if isinstance(created.local, LocalFunction):
                self.functions[logical_id] = created.local

    # ------------------------------------------------------------ IAM
    def _object_exists(self, bucket: str, key: str) -> bool:
        try:
            self.client("s3").head_object(Bucket=bucket, Key=key)
            return True
        except self.client("s3").exceptions.ClientError:
            return False

    def _assume(self, role_arn: str, service: str, who: str, context: dict | None = None) -> dict[str, str]:
        """STS credentials of a template role, after checking that its trust policy lets `service`
        assume it; from then on every call signed with them is checked against its policies."""
        role_name = role_arn.rsplit("/", 1)[-1]
        iam_client = self.client("iam")
        trust = iam_client.get_role(RoleName=role_name)["Role"]["AssumeRolePolicyDocument"]
        trust = json.loads(trust) if isinstance(trust, str) else trust
        context = {"aws:SourceAccount": self.pseudo.account_id} if context is None else context
        assume = iam.Check("sts:AssumeRole", role_arn, context)
        if not iam.trusts(trust, service, assume):
            raise iam.AccessDenied(f"{role_arn}'s trust policy does not let {service} assume it ({who})")
        credentials = self.client("sts").assume_role(RoleArn=role_arn, RoleSessionName=who[:64])[
            "Credentials"
        ]
        principal = iam.Principal(who, role_arn, iam.role_policies(iam_client, role_name))
        self.authorizer.register(credentials["AccessKeyId"], principal)
        return credentials

    def _state_machine_roles(self) -> None:
        """moto's ASL interpreter signs its service calls with the access key "ak": they are the
        state machine's (the template has one), checked against its role."""
        machines = [
            c for c in self.deployment.created.values() if c.type == "AWS::StepFunctions::StateMachine"
        ]
        if len(machines) == 1:
            arn = self.template["Resources"][machines[0].logical_id]["Properties"]["RoleArn"]
            role_arn = self.deployment.intrinsics.resolve(arn)
            self._assume(role_arn, "states.amazonaws.com", machines[0].logical_id)
            principal = next(p for p in self.authorizer.principals.values() if p.role_arn == role_arn)
            self.authorizer.register(moto_internals.STEPFUNCTIONS_ACCESS_KEY, principal)

    def role_session(
        self, role_arn: str, service: str, who: str, context: dict | None = None
    ) -> boto3.Session:
        """A boto3 session with a role's credentials: its calls are checked like the functions'."""
        credentials = self._assume(role_arn, service, who, context)
        return boto3.Session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            region_name=self.pseudo.region,
        )

    def device_session(self, policy_logical_id: str = "EdgeDeviceUploadPolicy") -> boto3.Session:
        """The edge camera's credentials: a stand-in for its Greengrass token exchange role
        (trusted by credentials.iot.amazonaws.com) with the template's device policy attached."""
        iam_client, name = self.client("iam"), f"{self.pseudo.stack_name}-edge-device-local"
        try:
            arn = iam_client.get_role(RoleName=name)["Role"]["Arn"]
        except iam_client.exceptions.NoSuchEntityException:
            trust = {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "credentials.iot.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
            arn = iam_client.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"][
                "Arn"
            ]
            policy = self.deployment.created[policy_logical_id].ref
            iam_client.attach_role_policy(RoleName=name, PolicyArn=policy)
        return self.role_session(arn, "credentials.iot.amazonaws.com", "edge-device")

    def _mediaconvert_session(self, role_arn: str) -> boto3.Session:
        """The job role's credentials, as MediaConvert assumes it (sending no SourceAccount/SourceArn)."""
        try:
            return self.role_session(role_arn, mediaconvert.SERVICE_PRINCIPAL, "MediaConvert", context={})
        except (iam.AccessDenied, self.client("iam").exceptions.NoSuchEntityException) as error:
            raise mediaconvert.MediaConvertError(
                400, "BadRequestException", f"Unable to assume role {role_arn}: {error}"
            ) from error

    def deliver_event(self, event: dict[str, Any]) -> int:
        """Deliver an event to the Lambda targets of the stack's rules it matches, as EventBridge
        does (asynchronously, with the function's retries); returns how many it reached."""
        reached = 0
        for created in list(self.deployment.created.values()):
            if created.type != "AWS::Events::Rule":
                continue
            props = self.deployment.intrinsics.resolve(
                self.template["Resources"][created.logical_id]["Properties"]
            )
            if props.get("State", "ENABLED") != "ENABLED" or not mediaconvert.pattern_matches(
                props["EventPattern"], event
            ):
                continue
            for target in props.get("Targets", []):
                function = next((f for f in self.functions.values() if f.arn == target["Arn"]), None)
                if function is not None:
                    self.invoker.submit(function, event)
                    reached += 1
        return reached

    def _bucket_names(self) -> set[str]:
        created = self.deployment.created.values() if self.deployment else ()
        return {r.ref for r in created if r.type == "AWS::S3::Bucket"}

    def _provision_model(self) -> None:
        locations = model.onnx_model_locations(self.functions.values())
        if locations:
            model_dir = model.ensure_model(self.model_dir, quiet=True)
            for bucket, parameter in sorted(locations):
                model.upload_model(self.session, self.endpoint_url, model_dir, bucket, parameter)

    def stop(self, drain_seconds: float = 0.0) -> ShutdownReport:
        """Stop; with drain_seconds, first refuse other processes' requests and let queued events finish."""
        report = ShutdownReport(delivered=self.invoker.finished if self.invoker else 0)
        running, self._running = self._running, None
        if running is None:
            return report
        if drain_seconds > 0:
            in_flight = self.invoker.pending()
            self.server.refuse_external()
            report.dropped = self.invoker.drain(drain_seconds)
            report.delivered = self.invoker.finished
            report.drained = in_flight - len(report.dropped)
        running.close()
        return report

    def __enter__(self) -> OfflineStack:
        return self if self._running else self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # ------------------------------------------------------------ using it
    def outputs(self) -> dict[str, Any]:
        """The template's Outputs, resolved for this stack (outputs whose Condition is false omitted)."""
        intrinsics = self.deployment.intrinsics
        outputs = self.template.get("Outputs") or {}
        return {
            name: intrinsics.resolve(o["Value"]) for name, o in outputs.items() if intrinsics.is_active(o)
        }

    def client(self, service: str):
        return self.session.client(service, endpoint_url=self.endpoint_url)

    def pending(self) -> int:
        """Invocations queued, waiting for a retry or running."""
        return self.invoker.pending() if self.invoker else 0

    def wait_idle(self, timeout: float = 60.0, settle: float = 0.3) -> bool:
        """Wait until no event is in flight for `settle` seconds; False on timeout."""
        deadline, quiet_since = time.monotonic() + timeout, None
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
        functions = {  # what `visionpipe invoke` needs to run a function as this stack does
            f.logical_id: {
                "name": f.name,
                "arn": f.arn,
                "code_dir": str(f.code_dir),
                "handler": f.handler,
                "variables": f.variables,
                "timeout": f.timeout,
                "memory": f.memory,
            }
            for f in self.functions.values()
        }
        state = {
            "endpoint_url": self.endpoint_url,
            "region": self.pseudo.region,
            "stack_name": self.pseudo.stack_name,
            "account_id": self.pseudo.account_id,
            "outputs": self.outputs(),
            "functions": functions,
        }
        path.write_text(json.dumps(state, indent=2))
        return path
