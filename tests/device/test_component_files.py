"""The GDK layout: gdk-config.json (GDK CLI configuration format) and recipe.yaml (recipe reference)."""

import ast
import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml
from visionpipe_edge.config import CONFIG_KEYS

from visionpipe.components import COMPONENTS_DIR, DETECTOR_MODEL_DIR, EDGE_DETECTOR_DIR

DEVICE = EDGE_DETECTOR_DIR
MODEL = DETECTOR_MODEL_DIR
SEMVER = r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$"

# The GDK CLI configuration file format (docs: "Greengrass Development Kit CLI configuration file").
GDK_CONFIG_SCHEMA = {
    "type": "object",
    "required": ["component", "gdk_version"],
    "properties": {
        "gdk_version": {"type": "string", "pattern": SEMVER},
        "component": {
            "type": "object",
            "minProperties": 1,
            "maxProperties": 1,
            "patternProperties": {
                "^[a-zA-Z0-9-_.]+$": {
                    "type": "object",
                    "required": ["author", "version", "build", "publish"],
                    "properties": {
                        "author": {"type": "string", "minLength": 1},
                        "version": {
                            "anyOf": [{"enum": ["NEXT_PATCH"]}, {"type": "string", "pattern": SEMVER}]
                        },
                        "build": {
                            "type": "object",
                            "required": ["build_system"],
                            "properties": {
                                "build_system": {"enum": ["zip", "maven", "gradle", "gradlew", "custom"]},
                                "options": {
                                    "type": "object",
                                    "properties": {
                                        "excludes": {"type": "array", "items": {"type": "string"}}
                                    },
                                    "additionalProperties": False,
                                },
                            },
                        },
                        "publish": {
                            "type": "object",
                            "required": ["bucket", "region"],
                            "properties": {"bucket": {"type": "string"}, "region": {"type": "string"}},
                        },
                    },
                    "additionalProperties": False,
                }
            },
            "additionalProperties": False,
        },
    },
}

RECIPE_KEYS = {
    "RecipeFormatVersion",
    "ComponentName",
    "ComponentVersion",
    "ComponentDescription",
    "ComponentPublisher",
    "ComponentConfiguration",
    "ComponentDependencies",
    "ComponentType",
    "ComponentSource",
    "Manifests",
    "Lifecycle",
}
LIFECYCLE_KEYS = {"Setenv", "Bootstrap", "Install", "Startup", "Run", "Shutdown", "Recover"}


def load_recipe(folder: Path) -> dict:
    return yaml.safe_load((folder / "recipe.yaml").read_text())


def load_gdk(folder: Path) -> tuple[str, dict]:
    config = json.loads((folder / "gdk-config.json").read_text())
    jsonschema.validate(config, GDK_CONFIG_SCHEMA)
    ((name, component),) = config["component"].items()
    return name, component


def test_components_are_sibling_gdk_projects():
    """device/components/<name>/: one complete GDK project each, none inside another's build root
    (GDK's zip build archives the whole folder it runs in)."""
    folders = sorted(p for p in COMPONENTS_DIR.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    assert folders == sorted([DEVICE, MODEL])
    for folder in folders:
        assert (folder / "gdk-config.json").is_file() and (folder / "recipe.yaml").is_file()
        nested = [p.parent for p in folder.rglob("*") if p.name in ("gdk-config.json", "recipe.yaml")]
        assert set(nested) == {folder}, f"another project inside {folder.name}'s build root: {nested}"
    assert any((DEVICE / "src").rglob("*.py")) and any((MODEL / "model").iterdir())


@pytest.mark.parametrize("folder", [DEVICE, MODEL], ids=["inference", "model"])
def test_a_component_reaches_nothing_outside_its_own_folder(folder):
    """On a core each component is unpacked into its own artifacts folder: a path to a sibling (or
    the checkout) found from __file__ exists only in this repository. Siblings meet through the
    recipe's {<component>:work:path}, which the nucleus fills in."""
    siblings = {p.name for p in COMPONENTS_DIR.iterdir() if p.is_dir()} - {folder.name}
    for path in folder.rglob("*"):
        if not path.is_file() or path.suffix not in (".py", ".yaml", ".json", ".txt"):
            continue
        text = path.read_text()
        for reach in ("__file__", "parents[", "../", *siblings, "model-component", "device/"):
            assert reach not in text, f"{path.relative_to(COMPONENTS_DIR)} mentions {reach!r}"


@pytest.mark.parametrize("folder", [DEVICE, MODEL], ids=["inference", "model"])
def test_gdk_config_follows_the_gdk_format(folder):
    name, component = load_gdk(folder)
    assert name.startswith("com.visionpipe.")
    assert component["build"]["build_system"] == "zip"


@pytest.mark.parametrize("folder", [DEVICE, MODEL], ids=["inference", "model"])
def test_recipe_structure(folder):
    recipe = load_recipe(folder)
    assert set(recipe) <= RECIPE_KEYS
    assert recipe["RecipeFormatVersion"] == "2020-01-25"  # a string, as the reference requires
    assert (
        recipe["ComponentName"] == "{COMPONENT_NAME}" and recipe["ComponentVersion"] == "{COMPONENT_VERSION}"
    )
    assert recipe["ComponentPublisher"] == "{COMPONENT_AUTHOR}"
    (manifest,) = recipe["Manifests"]
    assert manifest["Platform"]["os"] == "linux"
    assert set(manifest["Lifecycle"]) <= LIFECYCLE_KEYS
    (artifact,) = manifest["Artifacts"]
    # GDK's zip build names the archive after the component folder; Greengrass unpacks it into that name.
    assert artifact["URI"] == f"s3://BUCKET_NAME/COMPONENT_NAME/COMPONENT_VERSION/{folder.name}.zip"
    assert artifact["Unarchive"] == "ZIP"


def test_inference_depends_hard_on_token_exchange_and_the_model_component():
    recipe = load_recipe(DEVICE)
    model_name, _ = load_gdk(MODEL)
    dependencies = recipe["ComponentDependencies"]
    assert dependencies["aws.greengrass.TokenExchangeService"]["DependencyType"] == "HARD"
    assert dependencies[model_name]["DependencyType"] == "HARD"
    assert (
        model_name == "com.visionpipe.DetectorModel"
    )  # the name the retraining flow publishes versions under


def test_mqtt_access_is_limited_to_the_components_own_topic():
    recipe = load_recipe(DEVICE)
    name, _ = load_gdk(DEVICE)
    config = recipe["ComponentConfiguration"]["DefaultConfiguration"]
    policies = config["accessControl"]
    assert set(policies) == {"aws.greengrass.ipc.mqttproxy"}
    for policy_id, policy in policies["aws.greengrass.ipc.mqttproxy"].items():
        assert policy_id.startswith(name)
        assert policy["operations"] == ["aws.greengrass#PublishToIoTCore"]
        assert policy["resources"] == [config["topic"]]
        assert not any(ch in resource for resource in policy["resources"] for ch in "*#+")


def test_default_configuration_keys_are_all_understood():
    config = load_recipe(DEVICE)["ComponentConfiguration"]["DefaultConfiguration"]
    assert set(config) - {"accessControl"} == set(CONFIG_KEYS)
    for required in (
        "deviceName",
        "detectionThreshold",
        "uploadIntervalSeconds",
        "bucket",
        "topic",
        "frameSource",
    ):
        assert required in config
    assert config["mjpegBind"] == "127.0.0.1"


def test_lifecycle_installs_into_a_venv_under_the_work_dir_and_runs_the_package():
    lifecycle = load_recipe(DEVICE)["Manifests"][0]["Lifecycle"]
    install = lifecycle["Install"]["Script"]
    assert "python3 -m venv {work:path}/venv" in install
    assert "-r {artifacts:decompressedPath}/edge-detector/requirements.txt" in install
    run = lifecycle["Run"]
    assert run["Script"] == "{work:path}/venv/bin/python -m visionpipe_edge"
    assert run["Setenv"]["PYTHONPATH"] == "{artifacts:decompressedPath}/edge-detector/src"
    assert run["Setenv"]["VISIONPIPE_MODEL_DIR"] == "{com.visionpipe.DetectorModel:work:path}/model"
    assert (DEVICE / "src" / "visionpipe_edge" / "__main__.py").is_file()


def test_model_component_installs_its_files_where_the_inference_component_reads_them():
    lifecycle = load_recipe(MODEL)["Manifests"][0]["Lifecycle"]
    assert "{work:path}/model" in lifecycle["Install"]["Script"]
    assert "{artifacts:decompressedPath}/detector-model/model/" in lifecycle["Install"]["Script"]
    meta = json.loads((MODEL / "model" / "model.json").read_text())
    assert (MODEL / "model" / meta["file"]).is_file()


def test_device_code_needs_no_lambda_layer_or_dev_tooling():
    requirements = (DEVICE / "requirements.txt").read_text()
    assert "visionpipe" not in requirements
    for path in (DEVICE / "src").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            for name in names:
                assert not re.match(r"visionpipe(_common)?(\.|$)", name), f"{path.name} imports {name}"
