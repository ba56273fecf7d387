"""CloudFormation intrinsic functions, conditions, parameters and pseudo parameters, resolved locally.

The template stays the single source of wiring: every value local mode needs (bucket names,
environment variables, outputs) is computed here from the template's own expressions.
"""

from __future__ import annotations

import base64
import json
import re
import shlex
import tomllib
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
PARTITION = "aws"
LOCAL_STACK_NAME = "visionpipe-local"


class NoValue:
    """AWS::NoValue: the enclosing key or list item disappears."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = NoValue()


class TemplateError(Exception):
    """The template asks for something local mode cannot resolve (with the reason)."""


class UnresolvedReference(TemplateError):
    """A Ref/GetAtt names a resource that does not exist (yet)."""

    def __init__(self, logical_id: str, attribute: str | None = None):
        self.logical_id = logical_id
        self.attribute = attribute
        what = f"{logical_id}.{attribute}" if attribute else logical_id
        super().__init__(f"unresolved reference to {what}")


@dataclass(frozen=True)
class PseudoParameters:
    stack_name: str = LOCAL_STACK_NAME
    region: str = REGION
    account_id: str = ACCOUNT_ID
    partition: str = PARTITION
    stack_uuid: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def stack_id(self) -> str:
        return (
            f"arn:{self.partition}:cloudformation:{self.region}:{self.account_id}:"
            f"stack/{self.stack_name}/{self.stack_uuid}"
        )

    def as_refs(self) -> dict[str, Any]:
        return {
            "AWS::StackName": self.stack_name,
            "AWS::StackId": self.stack_id,
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::Partition": self.partition,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NotificationARNs": [],
            "AWS::NoValue": NO_VALUE,
        }


# ------------------------------------------------------------------ parameters


def parse_parameter_overrides(text: str) -> dict[str, str]:
    """`Key="value" Other=value` (sam's parameter_overrides syntax) -> {"Key": "value", ...}."""
    overrides = {}
    for token in shlex.split(text or ""):
        if "=" not in token:
            raise TemplateError(f"parameter override {token!r} is not Key=Value")
        key, value = token.split("=", 1)
        if key.startswith("ParameterKey"):  # ParameterKey=K,ParameterValue=V form
            parts = dict(p.split("=", 1) for p in token.split(","))
            key, value = parts["ParameterKey"], parts.get("ParameterValue", "")
        overrides[key] = value
    return overrides


def samconfig_overrides(samconfig: Path, environment: str = "local") -> dict[str, str]:
    """parameter_overrides of [<environment>.deploy.parameters] in samconfig.toml ({} if absent)."""
    if not samconfig.exists():
        return {}
    config = tomllib.loads(samconfig.read_text())
    raw = config.get(environment, {}).get("deploy", {}).get("parameters", {}).get("parameter_overrides", "")
    if isinstance(raw, list):
        raw = " ".join(raw)
    return parse_parameter_overrides(raw)


def samconfig_stack_name(samconfig: Path, environment: str = "local") -> str | None:
    if not samconfig.exists():
        return None
    config = tomllib.loads(samconfig.read_text())
    return config.get(environment, {}).get("global", {}).get("parameters", {}).get("stack_name")


def parameter_values(
    template: Mapping[str, Any], overrides: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Each declared parameter's value: the override, else its Default; typed like CloudFormation."""
    overrides = dict(overrides or {})
    declared = template.get("Parameters", {}) or {}
    unknown = set(overrides) - set(declared)
    if unknown:
        raise TemplateError(f"overrides for parameters the template does not declare: {sorted(unknown)}")
    values: dict[str, Any] = {}
    for name, spec in declared.items():
        if name in overrides:
            raw = overrides[name]
        elif "Default" in spec:
            raw = spec["Default"]
        else:
            raise TemplateError(f"parameter {name} has no Default and no override")
        kind = str(spec.get("Type", "String"))
        if kind.startswith("AWS::SSM::Parameter::Value"):
            raise TemplateError(f"parameter {name}: SSM-backed parameter types are not supported locally")
        text = ",".join(str(v) for v in raw) if isinstance(raw, list) else str(raw)
        allowed = spec.get("AllowedValues")
        if allowed is not None and text not in [str(a) for a in allowed]:
            raise TemplateError(f"parameter {name}={text!r} is not one of {allowed}")
        pattern = spec.get("AllowedPattern")
        if pattern is not None and not re.fullmatch(pattern, text):
            raise TemplateError(f"parameter {name}={text!r} does not match {pattern}")
        if kind == "CommaDelimitedList" or kind.startswith("List<"):
            values[name] = [part.strip() for part in text.split(",")] if text else []
        else:
            values[name] = text
    return values


# ------------------------------------------------------------------ resolver

_SUB_PATTERN = re.compile(r"\$\{([^}]*)\}")


def sub_references(text: str) -> list[str]:
    """Names a Fn::Sub string refers to ("Bucket", "Bucket.Arn"); ${!Literal} is not a reference."""
    return [m.group(1).strip() for m in _SUB_PATTERN.finditer(text) if not m.group(1).startswith("!")]


def references_in(value: Any) -> set[str]:
    """Logical ids (and pseudo/parameter names) an expression refers to, for dependency ordering."""
    found: set[str] = set()

    def walk(node: Any, local_vars: frozenset[str] = frozenset()) -> None:
        if isinstance(node, dict):
            if len(node) == 1:
                ((key, arg),) = node.items()
                if key == "Ref" and isinstance(arg, str):
                    found.add(arg)
                    return
                if key == "Fn::GetAtt":
                    target = arg.split(".", 1)[0] if isinstance(arg, str) else arg[0]
                    if isinstance(target, str):
                        found.add(target)
                    return
                if key == "Fn::Sub":
                    text, variables = (
                        (arg, {}) if isinstance(arg, str) else (arg[0], arg[1] if len(arg) > 1 else {})
                    )
                    for name in sub_references(text):
                        base = name.split(".", 1)[0]
                        if base not in variables:
                            found.add(base)
                    walk(variables)
                    return
            for item in node.values():
                walk(item)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(value)
    return found


class Resolver:
    """Evaluates intrinsic functions against parameters, conditions and created resources.

    ref_of(logical_id) and attribute_of(logical_id, name) come from the resource layer; they raise
    UnresolvedReference for resources not (yet) created.
    """

    def __init__(
        self,
        template: Mapping[str, Any],
        parameters: Mapping[str, Any],
        pseudo: PseudoParameters,
        ref_of: Callable[[str], Any] | None = None,
        attribute_of: Callable[[str, str], Any] | None = None,
    ):
        self.template = template
        self.parameters = dict(parameters)
        self.pseudo = pseudo
        self._pseudo_refs = pseudo.as_refs()
        self._ref_of = ref_of or (lambda logical_id: (_ for _ in ()).throw(UnresolvedReference(logical_id)))
        self._attribute_of = attribute_of or (
            lambda logical_id, name: (_ for _ in ()).throw(UnresolvedReference(logical_id, name))
        )
        self._conditions: dict[str, bool] = {}

    # -- conditions
    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            declared = self.template.get("Conditions", {}) or {}
            if name not in declared:
                raise TemplateError(f"unknown condition {name}")
            self._conditions[name] = bool(self._evaluate_condition(declared[name]))
        return self._conditions[name]

    def _evaluate_condition(self, expression: Any) -> bool:
        if isinstance(expression, dict) and len(expression) == 1:
            ((key, arg),) = expression.items()
            if key == "Condition":
                return self.condition(arg)
            if key == "Fn::Equals":
                left, right = (self.resolve(arg[0]), self.resolve(arg[1]))
                return _as_text(left) == _as_text(right)
            if key == "Fn::Not":
                return not self._evaluate_condition(arg[0])
            if key == "Fn::And":
                return all(self._evaluate_condition(item) for item in arg)
            if key == "Fn::Or":
                return any(self._evaluate_condition(item) for item in arg)
        value = self.resolve(expression)
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise TemplateError(f"not a condition: {expression!r}")

    def is_active(self, declaration: Mapping[str, Any]) -> bool:
        """A resource or output exists unless its Condition is false."""
        name = declaration.get("Condition")
        return True if name is None else self.condition(name)

    # -- values
    def ref(self, name: str) -> Any:
        if name in self._pseudo_refs:
            return self._pseudo_refs[name]
        if name in self.parameters:
            return self.parameters[name]
        return self._ref_of(name)

    def get_att(self, logical_id: str, attribute: str) -> Any:
        return self._attribute_of(logical_id, attribute)

    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict):
            if len(value) == 1:
                ((key, arg),) = value.items()
                handler = self._FUNCTIONS.get(key)
                if handler is not None:
                    return handler(self, arg)
            resolved = {k: self.resolve(v) for k, v in value.items()}
            return {k: v for k, v in resolved.items() if v is not NO_VALUE}
        if isinstance(value, list):
            return [item for item in (self.resolve(v) for v in value) if item is not NO_VALUE]
        return value

    def resolve_text(self, value: Any) -> str:
        return _as_text(self.resolve(value))

    # -- functions
    def _fn_ref(self, arg: Any) -> Any:
        return self.ref(self.resolve(arg) if not isinstance(arg, str) else arg)

    def _fn_get_att(self, arg: Any) -> Any:
        if isinstance(arg, str):
            logical_id, attribute = arg.split(".", 1)
        else:
            logical_id, attribute = arg[0], self.resolve(arg[1])
        return self.get_att(logical_id, attribute)

    def _fn_sub(self, arg: Any) -> str:
        if isinstance(arg, str):
            text, variables = arg, {}
        else:
            text, variables = arg[0], self.resolve(arg[1]) if len(arg) > 1 else {}

        def replace(match: re.Match) -> str:
            name = match.group(1).strip()
            if match.group(1).startswith("!"):
                return "${" + match.group(1)[1:] + "}"
            if name in variables:
                return _as_text(variables[name])
            if "." in name and name.split(".", 1)[0] not in self._pseudo_refs:
                logical_id, attribute = name.split(".", 1)
                return _as_text(self.get_att(logical_id, attribute))
            return _as_text(self.ref(name))

        return _SUB_PATTERN.sub(replace, text)

    def _fn_join(self, arg: Any) -> str:
        delimiter, items = arg[0], self.resolve(arg[1])
        return str(delimiter).join(_as_text(item) for item in items)

    def _fn_split(self, arg: Any) -> list[str]:
        delimiter, text = arg[0], self.resolve_text(arg[1])
        return text.split(delimiter)

    def _fn_select(self, arg: Any) -> Any:
        index, items = int(self.resolve(arg[0])), self.resolve(arg[1])
        if not isinstance(items, list) or not 0 <= index < len(items):
            raise TemplateError(f"Fn::Select index {index} out of range for {items!r}")
        return items[index]

    def _fn_if(self, arg: Any) -> Any:
        name, when_true, when_false = arg
        return self.resolve(when_true if self.condition(name) else when_false)

    def _fn_find_in_map(self, arg: Any) -> Any:
        name, top, second = (self.resolve(part) for part in arg[:3])
        mappings = self.template.get("Mappings", {}) or {}
        try:
            return mappings[name][top][second]
        except KeyError:
            if len(arg) > 3 and isinstance(arg[3], dict) and "DefaultValue" in arg[3]:
                return self.resolve(arg[3]["DefaultValue"])
            raise TemplateError(f"Fn::FindInMap: no {name}/{top}/{second} in Mappings") from None

    def _fn_import_value(self, arg: Any) -> Any:
        raise TemplateError(f"Fn::ImportValue {self.resolve(arg)!r}: local mode runs one stack (no exports)")

    def _fn_base64(self, arg: Any) -> str:
        return base64.b64encode(self.resolve_text(arg).encode()).decode()

    def _fn_get_azs(self, arg: Any) -> list[str]:
        region = self.resolve(arg) or self.pseudo.region
        return [f"{region}{zone}" for zone in "abc"]

    def _fn_to_json_string(self, arg: Any) -> str:
        return json.dumps(self.resolve(arg), separators=(",", ":"))

    def _fn_length(self, arg: Any) -> int:
        return len(self.resolve(arg))

    def _fn_equals(self, arg: Any) -> bool:
        return self._evaluate_condition({"Fn::Equals": arg})

    def _fn_not(self, arg: Any) -> bool:
        return self._evaluate_condition({"Fn::Not": arg})

    def _fn_and(self, arg: Any) -> bool:
        return self._evaluate_condition({"Fn::And": arg})

    def _fn_or(self, arg: Any) -> bool:
        return self._evaluate_condition({"Fn::Or": arg})

    _FUNCTIONS: dict[str, Callable[[Resolver, Any], Any]] = {
        "Ref": _fn_ref,
        "Fn::GetAtt": _fn_get_att,
        "Fn::Sub": _fn_sub,
        "Fn::Join": _fn_join,
        "Fn::Split": _fn_split,
        "Fn::Select": _fn_select,
        "Fn::If": _fn_if,
        "Fn::FindInMap": _fn_find_in_map,
        "Fn::ImportValue": _fn_import_value,
        "Fn::Base64": _fn_base64,
        "Fn::GetAZs": _fn_get_azs,
        "Fn::ToJsonString": _fn_to_json_string,
        "Fn::Length": _fn_length,
        "Fn::Equals": _fn_equals,
        "Fn::Not": _fn_not,
        "Fn::And": _fn_and,
        "Fn::Or": _fn_or,
    }


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_as_text(v) for v in value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
