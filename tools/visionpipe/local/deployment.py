"""Deployment state: template.yaml as CloudFormation would deploy it, on the local endpoint.

- parameters: samconfig.toml's [local] overrides over the Defaults, checked like CloudFormation
  (AllowedValues, AllowedPattern);
- the SAM transform (samtranslator, what CloudFormation runs for AWS::Serverless-2016-10-31):
  Globals merged, implicit resources (function roles, event-invoke configs, permissions, layer
  versions, the events' bucket notifications and rules) under their real logical ids;
- intrinsics resolved with aws-sam-cli's IntrinsicResolver (pinned, see pyproject.toml; what we rely
  on is tested in tests/tools/local/test_deployment.py) against what has been created so far;
- creation order from the references (graphlib), and the record of created resources.
"""

from __future__ import annotations

import copy
import random
import re
import shlex
import string
import tomllib
import uuid
from dataclasses import dataclass, field
from graphlib import TopologicalSorter
from pathlib import Path
from typing import Any

import boto3
from samcli.lib.intrinsic_resolver.intrinsic_property_resolver import IntrinsicResolver
from samcli.lib.intrinsic_resolver.intrinsics_symbol_table import IntrinsicsSymbolTable
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

LOCAL_STACK_NAME = "visionpipe-local"
# CodeUri/ContentUri/DefinitionUri are local folders: the transform wants S3 locations (as after
# `sam package`), so they pass through it as s3://<this>/<path> and come back as Code.S3Key etc.
LOCAL_ARTIFACTS = "visionpipe-local-artifacts"
_SUB = re.compile(r"\$\{([^}]*)\}")


class TemplateError(Exception):
    """The template asks for something local mode cannot do (with the reason)."""


@dataclass(frozen=True)
class PseudoParameters:
    stack_name: str = LOCAL_STACK_NAME
    region: str = "us-east-1"
    account_id: str = "123456789012"
    partition: str = "aws"
    stack_uuid: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def stack_id(self) -> str:
        return (
            f"arn:{self.partition}:cloudformation:{self.region}:{self.account_id}:"
            f"stack/{self.stack_name}/{self.stack_uuid}"
        )

    def refs(self) -> dict[str, str]:
        return {
            "AWS::StackName": self.stack_name,
            "AWS::StackId": self.stack_id,
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::Partition": self.partition,
            "AWS::URLSuffix": "amazonaws.com",
        }


# ------------------------------------------------------------------ parameters


def parse_parameter_overrides(text: str) -> dict[str, str]:
    """`Key="value" Other=value` (sam's parameter_overrides syntax) -> {"Key": "value", ...}."""
    overrides = {}
    for token in shlex.split(text or ""):
        key, equals, value = token.partition("=")
        if not equals:
            raise TemplateError(f"parameter override {token!r} is not Key=Value")
        overrides[key] = value
    return overrides


def samconfig(path: Path | None, environment: str = "local") -> tuple[dict[str, str], str | None]:
    """(parameter_overrides, stack_name) of samconfig.toml's [<environment>] sections."""
    if path is None or not Path(path).exists():
        return {}, None
    config = tomllib.loads(Path(path).read_text()).get(environment, {})
    overrides = config.get("deploy", {}).get("parameters", {}).get("parameter_overrides", "")
    overrides = " ".join(overrides) if isinstance(overrides, list) else overrides
    stack_name = config.get("global", {}).get("parameters", {}).get("stack_name")
    return parse_parameter_overrides(overrides), stack_name


def parameter_values(template: dict[str, Any], overrides: dict[str, str] | None = None) -> dict[str, str]:
    """Each declared parameter's value (the override, else its Default), validated like CloudFormation."""
    overrides, declared = dict(overrides or {}), template.get("Parameters") or {}
    unknown = set(overrides) - set(declared)
    if unknown:
        raise TemplateError(f"overrides for parameters the template does not declare: {sorted(unknown)}")
    values = {}
    for name, spec in declared.items():
        if name not in overrides and "Default" not in spec:
            raise TemplateError(f"parameter {name} has no Default and no override")
        value = str(overrides.get(name, spec.get("Default")))
        allowed = spec.get("AllowedValues")
        if allowed is not None and value not in [str(a) for a in allowed]:
            raise TemplateError(f"parameter {name}={value!r} is not one of {allowed}")
        if "AllowedPattern" in spec and not re.fullmatch(spec["AllowedPattern"], value):
            raise TemplateError(f"parameter {name}={value!r} does not match {spec['AllowedPattern']}")
        values[name] = value
    return values


# ------------------------------------------------------------------ the SAM transform


def sam_transform(template: dict[str, Any], parameters: dict[str, str], region: str) -> dict[str, Any]:
    """The CloudFormation template samtranslator makes of a SAM template (local paths kept)."""
    sam = copy.deepcopy(template)
    for resource in sam.get("Resources", {}).values():
        properties = resource.get("Properties") or {}
        for key in ("CodeUri", "ContentUri", "DefinitionUri"):
            if isinstance(properties.get(key), str) and "://" not in properties[key]:
                properties[key] = f"s3://{LOCAL_ARTIFACTS}/{properties[key]}"

    def managed_policies() -> dict[str, str]:
        raise TemplateError("a policy names an AWS managed policy: local mode has no managed-policy map")

    translator = Translator(None, Parser(), boto_session=boto3.Session(region_name=region))
    return translator.translate(
        sam, parameter_values=dict(parameters), get_managed_policy_map=managed_policies
    )


def local_path(template_dir: Path, location: dict[str, Any], bucket_key: str = "S3Bucket") -> Path:
    """The folder or file behind an S3 location the transform made of a local path."""
    bucket, key = (location or {}).get(bucket_key), (location or {}).get(bucket_key.replace("Bucket", "Key"))
    if bucket != LOCAL_ARTIFACTS:
        raise TemplateError(f"{location!r}: local mode runs local code and definitions only")
    return (template_dir / key).resolve()


# ------------------------------------------------------------------ intrinsics


class UnresolvedReference(TemplateError):
    def __init__(self, name: str):
        super().__init__(f"unresolved reference to {name} (not created, or its Condition is false)")


class Intrinsics:
    """samcli's IntrinsicResolver over the transformed template, strict where it is lenient.

    Its defaults resolve an unknown Ref to the logical id itself, resolve Fn::Sub variable values
    again as references and evaluate both branches of Fn::If: here an unknown Ref raises, and
    Fn::Sub and Fn::If are CloudFormation's (both Sub forms, ${!Literal}; only the chosen branch).
    """

    def __init__(self, template: dict[str, Any], parameters: dict[str, str], pseudo: PseudoParameters):
        self.template = template
        self.symbols: dict[str, Any] = dict(pseudo.refs())  # + created resources: {"Ref": ..., attributes}
        declared = {name: {"Default": value} for name, value in parameters.items()}

        def unresolved(name: str):
            raise UnresolvedReference(name)

        table = IntrinsicsSymbolTable(
            template={"Parameters": declared, "Resources": template.get("Resources", {})},
            logical_id_translator=self.symbols,
            common_attribute_resolver={"Ref": unresolved},
        )
        self._resolver = IntrinsicResolver(
            {"Conditions": template.get("Conditions", {}), "Mappings": template.get("Mappings", {})}, table
        )
        functions = self._resolver.intrinsic_key_function_map
        self._resolver.set_intrinsic_key_function_map({**functions, "Fn::Sub": self._sub})
        conditionals = self._resolver.conditional_key_function_map
        self._resolver.set_conditional_function_map({**conditionals, "Fn::If": self._if})
        self._table = table

    def resolve(self, value: Any) -> Any:
        return self._resolver.intrinsic_property_resolver(value, ignore_errors=False)

    def condition(self, name: str) -> bool:
        conditions = self.template.get("Conditions") or {}
        if name not in conditions:
            raise TemplateError(f"unknown condition {name}")
        return bool(self.resolve(conditions[name]))

    def is_active(self, declaration: dict[str, Any]) -> bool:
        return "Condition" not in declaration or self.condition(declaration["Condition"])

    def created(self, logical_id: str, ref: Any, attributes: dict[str, Any]) -> None:
        self.symbols[logical_id] = {"Ref": ref, **attributes}

    def _if(self, arguments: list, _ignore_errors: bool) -> Any:
        name, when_true, when_false = arguments
        return self.resolve(when_true if self.condition(name) else when_false)

    def _sub(self, argument: Any, _ignore_errors: bool) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else (argument[0], argument[1])
        variables = self.resolve(variables)

        def replace(match: re.Match) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            logical_id, _, attribute = name.partition(".") if not name.startswith("AWS::") else (name, "", "")
            return str(self._table.resolve_symbols(logical_id, attribute or IntrinsicResolver.REF))

        return _SUB.sub(replace, text)


# ------------------------------------------------------------------ order and record


def references_in(value: Any) -> set[str]:
    """Names an expression refers to (Ref, Fn::GetAtt, Fn::Sub), for the creation order."""
    if isinstance(value, list):
        return set().union(*map(references_in, value))
    if not isinstance(value, dict):
        return set()
    if len(value) == 1:
        ((key, argument),) = value.items()
        if key == "Ref" and isinstance(argument, str):
            return {argument}
        if key == "Fn::GetAtt":
            return {argument.split(".")[0] if isinstance(argument, str) else argument[0]}
        if key == "Fn::Sub":
            text, variables = (argument, {}) if isinstance(argument, str) else argument
            names = {m.split(".")[0] for m in _SUB.findall(text) if not m.startswith("!")}
            return (names - set(variables)) | references_in(variables)
    return set().union(*map(references_in, value.values()))


def creation_order(resources: dict[str, dict[str, Any]]) -> list[str]:
    """Logical ids, each after everything it references or DependsOn (graphlib.CycleError on a cycle)."""
    graph = TopologicalSorter()
    for logical_id, declaration in resources.items():
        depends = declaration.get("DependsOn", [])
        found = references_in(declaration.get("Properties", {})) | set(
            [depends] if isinstance(depends, str) else depends
        )
        graph.add(logical_id, *sorted(found & set(resources)))
    return list(graph.static_order())


@dataclass
class Created:
    logical_id: str
    type: str
    ref: Any
    attributes: dict[str, Any] = field(default_factory=dict)
    local: Any = None  # the in-process stand-in (a LocalFunction), not a template attribute


@dataclass
class Deployment:
    """What a creator needs: the transformed template, intrinsics, clients on the local endpoint."""

    template: dict[str, Any]
    template_dir: Path
    pseudo: PseudoParameters
    intrinsics: Intrinsics
    session: boto3.Session
    endpoint_url: str
    created: dict[str, Created] = field(default_factory=dict)
    _clients: dict[str, Any] = field(default_factory=dict)

    def client(self, service: str):
        if service not in self._clients:
            self._clients[service] = self.session.client(service, endpoint_url=self.endpoint_url)
        return self._clients[service]

    def record(self, created: Created) -> Created:
        self.created[created.logical_id] = created
        self.intrinsics.created(created.logical_id, created.ref, created.attributes)
        return created

    def generated_name(
        self, logical_id: str, max_length: int = 64, lower: bool = False, stack: bool = True
    ) -> str:
        """CloudFormation-style physical name: <stack>-<LogicalId>-<RANDOM>."""
        suffix = "".join(random.choices(string.ascii_uppercase + string.digits, k=12))
        head = f"{self.pseudo.stack_name}-{logical_id}" if stack else logical_id
        name = f"{head[: max_length - len(suffix) - 1]}-{suffix}"
        return name.lower() if lower else name

    def arn(self, service: str, resource: str, region: bool = True) -> str:
        p = self.pseudo
        return f"arn:{p.partition}:{service}:{p.region if region else ''}:{p.account_id}:{resource}"
