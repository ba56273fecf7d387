"""Local Greengrass v2 engine: moto has no greengrassv2, so local mode answers it here.

A botocore `before-send.greengrassv2` hook on the sessions the local stack uses in-process (boto3's
default session, where the handlers' module-level clients come from, and the stack's own). It
answers only requests to the local endpoint, so a client pointed at AWS is never touched. Requests
go through botocore as to AWS (validation, rest-json) and botocore parses the answer from an HTTP
response shaped as the service's.

Operations: CreateComponentVersion (recipe JSON or YAML; RecipeFormatVersion, ComponentName and
ComponentVersion required; an existing version is a ConflictException; every s3:// artifact is
looked up in the local S3: all present -> DEPLOYABLE, any missing -> FAILED with the error per URI),
DescribeComponent, GetComponent, ListComponentVersions; CreateDeployment (targetArn a thing or thing
group ARN; every non-aws.* component version must exist; the target's previous deployment stops being
the latest, a new revision for the target), GetDeployment, ListDeployments (targetArn,
historyFilter LATEST_ONLY|ALL); others answer 501 naming this engine. A device started against the
local stack reads its target's latest deployment as a core would (`deployment_for`).
Records live in memory, like moto's backends.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import yaml
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

log = logging.getLogger("visionpipe.local")

EVENT = "before-send.greengrassv2"
_TARGET = re.compile(r"^arn:aws[a-z-]*:iot:[a-z0-9-]+:\d{12}:(thing|thinggroup)/[A-Za-z0-9:_-]+$")
_SEMVER = re.compile(r"^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")


class _Raw:
    def __init__(self, body: bytes):
        self._body = body

    def stream(self, **_kwargs):
        yield self._body


class GreengrassError(Exception):
    def __init__(self, status: int, code: str, message: str, **extra: Any):
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra


def _invalid(message: str) -> GreengrassError:
    return GreengrassError(400, "ValidationException", message)


@dataclass
class ComponentVersion:
    arn: str
    name: str
    version: str
    recipe: dict[str, Any]
    created: float
    state: str
    message: str
    errors: dict[str, str]
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def artifacts(self) -> list[str]:
        return [
            a.get("Uri") or a.get("URI", "")
            for m in self.recipe.get("Manifests", [])
            for a in m.get("Artifacts", [])
        ]

    @property
    def status(self) -> dict[str, Any]:
        return {"componentState": self.state, "message": self.message, "errors": self.errors}


@dataclass
class Deployment:
    deployment_id: str
    target_arn: str
    revision: int
    name: str
    components: dict[str, Any]
    policies: dict[str, Any]
    job_configuration: dict[str, Any]
    created: float
    tags: dict[str, str]
    latest: bool = True

    def summary(self) -> dict[str, Any]:
        return {
            "targetArn": self.target_arn,
            "revisionId": str(self.revision),
            "deploymentId": self.deployment_id,
            "deploymentName": self.name,
            "creationTimestamp": self.created,
            "deploymentStatus": "ACTIVE" if self.latest else "INACTIVE",
            "isLatestForTarget": self.latest,
        }


class GreengrassEngine:
    def __init__(self, endpoint_url: str, region: str, account_id: str, s3_client_factory: Callable[[], Any]):
        self.endpoint_url = endpoint_url.rstrip("/")
        self.region, self.account_id = region, account_id
        self._s3_factory = s3_client_factory
        self.components: dict[str, ComponentVersion] = {}  # version ARN -> version
        self.deployments: dict[str, Deployment] = {}  # deployment id -> deployment
        self._lock = threading.Lock()
        self.active = False

    # ------------------------------------------------------------ ARNs
    def component_arn(self, name: str) -> str:
        return f"arn:aws:greengrass:{self.region}:{self.account_id}:components:{name}"

    def version_arn(self, name: str, version: str) -> str:
        return f"{self.component_arn(name)}:versions:{version}"

    # ------------------------------------------------------------ operations
    def create_component_version(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if "inlineRecipe" not in body:
            raise _invalid("only inlineRecipe is supported by the local engine")
        try:
            recipe = yaml.safe_load(base64.b64decode(body["inlineRecipe"]).decode())
        except (UnicodeDecodeError, yaml.YAMLError) as error:
            raise _invalid(f"recipe is neither JSON nor YAML: {error}") from error
        if not isinstance(recipe, dict):
            raise _invalid("recipe must be an object")
        missing = [
            k for k in ("RecipeFormatVersion", "ComponentName", "ComponentVersion") if not recipe.get(k)
        ]
        if missing:
            raise _invalid(f"recipe is missing {', '.join(missing)}")
        name, version = str(recipe["ComponentName"]), str(recipe["ComponentVersion"])
        if not _SEMVER.match(version):
            raise _invalid(f"ComponentVersion {version!r} is not semantic (x.y.z)")
        arn = self.version_arn(name, version)
        with self._lock:
            if arn in self.components:
                raise GreengrassError(
                    409,
                    "ConflictException",
                    f"Component {name} version {version} already exists",
                    resourceId=arn,
                    resourceType="ComponentVersion",
                )
            component = ComponentVersion(
                arn, name, version, recipe, time.time(), "DEPLOYABLE", "NONE", {}, body.get("tags") or {}
            )
            errors = self._check_artifacts(component.artifacts)
            if errors:  # Greengrass reports artifact problems this way
                component.state, component.message, component.errors = (
                    "FAILED",
                    "artifact check failed",
                    errors,
                )
            self.components[arn] = component
        log.info("local Greengrass: %s %s %s", name, version, component.state)
        return 201, {
            "arn": arn,
            "componentName": name,
            "componentVersion": version,
            "creationTimestamp": component.created,
            "status": component.status,
        }

    def _check_artifacts(self, uris: list[str]) -> dict[str, str]:
        errors = {}
        s3 = self._s3_factory()
        for uri in uris:
            if not uri.startswith("s3://"):
                continue
            bucket, _, key = uri[5:].partition("/")
            try:
                s3.head_object(Bucket=bucket, Key=key)
            except ClientError as error:
                errors[uri] = f"artifact not found ({error.response['Error'].get('Code')})"
        return errors

    def _get(self, arn: str) -> ComponentVersion:
        component = self.components.get(arn)
        if component is None:
            raise GreengrassError(
                404,
                "ResourceNotFoundException",
                f"{arn} not found",
                resourceId=arn,
                resourceType="ComponentVersion",
            )
        return component

    def describe_component(self, arn: str) -> tuple[int, dict[str, Any]]:
        c = self._get(arn)
        return 200, {
            "arn": c.arn,
            "componentName": c.name,
            "componentVersion": c.version,
            "creationTimestamp": c.created,
            "publisher": str(c.recipe.get("ComponentPublisher", "")),
            "description": str(c.recipe.get("ComponentDescription", "")),
            "status": c.status,
            "platforms": [
                {"attributes": {k: str(v) for k, v in (m.get("Platform") or {}).items()}}
                for m in c.recipe.get("Manifests", [])
            ],
            "tags": c.tags,
        }

    def get_component(self, arn: str, output_format: str) -> tuple[int, dict[str, Any]]:
        c = self._get(arn)
        fmt = (output_format or "JSON").upper()
        recipe = json.dumps(c.recipe).encode() if fmt == "JSON" else yaml.safe_dump(c.recipe).encode()
        return 200, {"recipeOutputFormat": fmt, "recipe": base64.b64encode(recipe).decode(), "tags": c.tags}

    def list_component_versions(self, component_arn: str) -> tuple[int, dict[str, Any]]:
        versions = [c for c in self.components.values() if self.component_arn(c.name) == component_arn]
        versions.sort(key=lambda c: c.created, reverse=True)
        return 200, {
            "componentVersions": [
                {"componentName": c.name, "componentVersion": c.version, "arn": c.arn} for c in versions
            ]
        }

    def create_deployment(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        target = str(body.get("targetArn", ""))
        if not _TARGET.match(target):
            raise _invalid(f"targetArn {target!r} is not an AWS IoT thing or thing group ARN")
        components = body.get("components") or {}
        for name, spec in components.items():
            version = (spec or {}).get("componentVersion", "")
            if not name.startswith("aws.") and self.version_arn(name, version) not in self.components:
                raise GreengrassError(
                    404,
                    "ResourceNotFoundException",
                    f"component {name} version {version} not found",
                    resourceId=self.version_arn(name, version),
                    resourceType="ComponentVersion",
                )
        with self._lock:
            previous = [d for d in self.deployments.values() if d.target_arn == target]
            for deployment in previous:
                deployment.latest = False
            deployment = Deployment(
                deployment_id=str(uuid.uuid4()),
                target_arn=target,
                revision=len(previous) + 1,
                name=str(body.get("deploymentName") or ""),
                components=components,
                policies=body.get("deploymentPolicies") or {},
                job_configuration=body.get("iotJobConfiguration") or {},
                created=time.time(),
                tags=body.get("tags") or {},
            )
            self.deployments[deployment.deployment_id] = deployment
        log.info("local Greengrass: deployment %s to %s: %s", deployment.deployment_id, target, components)
        job = f"arn:aws:iot:{self.region}:{self.account_id}:job/{deployment.deployment_id}"
        return 201, {
            "deploymentId": deployment.deployment_id,
            "iotJobId": deployment.deployment_id,
            "iotJobArn": job,
        }

    def get_deployment(self, deployment_id: str) -> tuple[int, dict[str, Any]]:
        deployment = self.deployments.get(deployment_id)
        if deployment is None:
            raise GreengrassError(
                404,
                "ResourceNotFoundException",
                f"deployment {deployment_id} not found",
                resourceId=deployment_id,
                resourceType="Deployment",
            )
        return 200, {
            **deployment.summary(),
            "components": deployment.components,
            "deploymentPolicies": deployment.policies,
            "iotJobConfiguration": deployment.job_configuration,
            "tags": deployment.tags,
        }

    def list_deployments(self, target_arn: str, history: str) -> tuple[int, dict[str, Any]]:
        found = [d for d in self.deployments.values() if not target_arn or d.target_arn == target_arn]
        if history != "ALL":
            found = [d for d in found if d.latest]
        found.sort(key=lambda d: d.created, reverse=True)
        return 200, {"deployments": [d.summary() for d in found]}

    def deployment_for(self, target_arn: str) -> Deployment | None:
        """The target's latest deployment: what its cores run."""
        latest = [d for d in self.deployments.values() if d.target_arn == target_arn and d.latest]
        return latest[0] if latest else None

    # ------------------------------------------------------------ HTTP
    def handle(self, operation: str, method: str, url: str, body: bytes | None) -> tuple[int, dict[str, Any]]:
        parts = urlsplit(url)
        path, query = unquote(parts.path), parse_qs(parts.query)
        document = json.loads(body) if body else {}
        if operation == "CreateComponentVersion":
            return self.create_component_version(document)
        if operation == "CreateDeployment":
            return self.create_deployment(document)
        if operation == "GetDeployment":
            return self.get_deployment(path.rsplit("/", 1)[-1])
        if operation == "ListDeployments":
            return self.list_deployments(
                (query.get("targetArn") or [""])[0], (query.get("historyFilter") or ["LATEST_ONLY"])[0]
            )
        match = re.fullmatch(r"/greengrass/v2/components/(.+?)(/metadata|/versions)?", path)
        if match and operation == "DescribeComponent":
            return self.describe_component(match.group(1))
        if match and operation == "GetComponent":
            return self.get_component(match.group(1), (query.get("recipeOutputFormat") or ["JSON"])[0])
        if match and operation == "ListComponentVersions":
            return self.list_component_versions(match.group(1))
        raise GreengrassError(
            501, "NotImplemented", f"{operation} is not emulated by visionpipe's local Greengrass engine"
        )

    @contextlib.contextmanager
    def installed(self, sessions: list[Any]):
        """Within the block, answer greengrassv2 requests to the endpoint from clients of these boto3
        sessions made meanwhile (a client copies its session's handlers; afterwards they pass through)."""
        emitters = list({id(s.events): s.events for s in sessions}.values())
        unique_id = f"visionpipe-local-greengrassv2-{id(self)}"
        for emitter in emitters:
            emitter.register(EVENT, self.before_send, unique_id=unique_id)
        self.active = True
        try:
            yield self
        finally:
            self.active = False
            for emitter in emitters:
                emitter.unregister(EVENT, self.before_send, unique_id=unique_id)

    def before_send(self, request, event_name: str = "", **_kwargs) -> AWSResponse | None:
        if not self.active or not request.url.startswith(self.endpoint_url + "/"):
            return None  # not for the local stack: the real service (or another stand-in) answers
        operation = event_name.rsplit(".", 1)[-1]
        try:
            status, payload = self.handle(operation, request.method, request.url, request.body)
            headers = {"content-type": "application/json"}
        except GreengrassError as error:
            status, payload = error.status, {"message": error.message, **error.extra}
            headers = {"content-type": "application/json", "x-amzn-errortype": error.code}
        headers["x-amzn-requestid"] = f"local-{time.time_ns()}"
        return AWSResponse(request.url, status, headers, _Raw(json.dumps(payload).encode()))
