"""Reads template.yaml: the single source of wiring for tests and local mode."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from cfn_tools import load_yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = REPO_ROOT / "template.yaml"


@lru_cache(maxsize=4)
def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """The template as plain data; intrinsics stay as {"Ref": ...}, {"Fn::Sub": ...} dicts."""
    return load_yaml(Path(path).read_text())


def resources_of_type(resource_type: str, path: Path = TEMPLATE_PATH) -> dict[str, dict[str, Any]]:
    return {
        name: resource
        for name, resource in load_template(path)["Resources"].items()
        if resource["Type"] == resource_type
    }


def table_definition(logical_id: str, path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """CreateTable arguments for a DynamoDB table declared in the template (its own KeySchema)."""
    props = load_template(path)["Resources"][logical_id]["Properties"]
    definition = {
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
    }
    if props.get("GlobalSecondaryIndexes"):
        definition["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
    return definition
