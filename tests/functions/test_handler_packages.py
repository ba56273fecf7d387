"""Every handler's imports resolve with only what its Lambda package holds.

The dev venv has everything installed, so a shared module that pulls numpy into a function without
the onnx layer (CaptureJobState) passes every other test and fails at import on Lambda. Here each
handler's import statements run in a fresh interpreter that refuses every top-level module whose
distribution is neither the python3.13 runtime's (boto3, botocore, ...) nor in its layers'
requirements.txt (benchmarks/bench_lambda.py measures cold starts under the same rule).
"""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import packages_distributions

import pytest

from visionpipe.template import REPO_ROOT, TEMPLATE_PATH, load_template

RUNTIME = {"boto3", "botocore", "s3transfer", "jmespath", "urllib3", "python-dateutil", "six"}
TEMPLATE = load_template(TEMPLATE_PATH)
FUNCTIONS = sorted(
    name for name, res in TEMPLATE["Resources"].items() if res["Type"] == "AWS::Serverless::Function"
)

CHILD = """
import ast, sys
refused = frozenset(sys.argv[2].split(","))
class LambdaPackagesOnly:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in refused:
            raise ModuleNotFoundError(f"No module named {name!r} (not in the Lambda package)", name=name)
sys.meta_path.insert(0, LambdaPackagesOnly())
sys.path.insert(0, sys.argv[1])
tree = ast.parse(open(sys.argv[1] + "/app.py").read())
for node in tree.body:  # the imports only: module-level clients need AWS
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        exec(compile(ast.Module([node], []), "app.py", "exec"), {})
"""


def _normal(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def _package_distributions(logical_id: str) -> set[str]:
    refs = list(TEMPLATE.get("Globals", {}).get("Function", {}).get("Layers") or [])
    refs += TEMPLATE["Resources"][logical_id]["Properties"].get("Layers") or []
    allowed = set(RUNTIME)
    for ref in refs:
        content = TEMPLATE["Resources"][ref["Ref"]]["Properties"]["ContentUri"]
        for line in (REPO_ROOT / content / "requirements.txt").read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                allowed.add(line.split("==")[0].split(">=")[0].strip())
    return {_normal(d) for d in allowed}


def test_there_are_functions():
    assert "DetectAnomalyFunction" in FUNCTIONS and "CaptureJobStateFunction" in FUNCTIONS


@pytest.mark.parametrize("logical_id", FUNCTIONS)
def test_handler_imports_with_only_its_package(logical_id):
    allowed = _package_distributions(logical_id)
    refused = sorted(
        module
        for module, dists in packages_distributions().items()
        if not allowed & {_normal(d) for d in dists}
        and module not in sys.stdlib_module_names
        and module not in ("visionpipe_common", "_distutils_hack")
    )
    layers = str(TEMPLATE["Resources"][logical_id]["Properties"].get("Layers"))
    if "OnnxLayer" not in layers and "Cv2Layer" not in layers:
        assert "numpy" in refused  # the rule bites where it matters: no layer brings numpy
    code_dir = REPO_ROOT / TEMPLATE["Resources"][logical_id]["Properties"]["CodeUri"]
    completed = subprocess.run(
        [sys.executable, "-c", CHILD, str(code_dir), ",".join(refused)],
        env={"PYTHONPATH": str(REPO_ROOT / "layers" / "common"), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
