"""The onnx backend's model in local mode: trained here, uploaded where the template points.

Functions whose environment says DETECTOR_BACKEND=onnx read <prefix>model.onnx and
<prefix>metadata.json from MODEL_BUCKET, prefix from the SSM parameter MODEL_PREFIX_PARAMETER.
Local mode uploads a model there; without a cached one (.demo/model) it generates sample data
and trains one with `visionpipe train-anomaly` first.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from pathlib import Path

from visionpipe.template import REPO_ROOT

log = logging.getLogger("visionpipe.local")

DEMO_DIR = REPO_ROOT / ".demo"
DEFAULT_MODEL_DIR = DEMO_DIR / "model"
DEFAULT_DATA_DIR = DEMO_DIR / "data"
MODEL_FILES = ("model.onnx", "metadata.json")


def has_model(model_dir: Path) -> bool:
    return all((Path(model_dir) / name).is_file() for name in MODEL_FILES)


def generate_sample_data(data_dir: Path, normal: int = 200, anomalous: int = 60, video: bool = True) -> Path:
    from visionpipe.cli import main

    if not (Path(data_dir) / "manifest.json").exists():
        args = ["sample-data", str(data_dir), "--normal", str(normal), "--anomalous", str(anomalous)]
        code = main(args + ([] if video else ["--no-video"]))
        if code:
            raise RuntimeError(f"visionpipe sample-data failed ({code})")
    return Path(data_dir)


def train_model(data_dir: Path, model_dir: Path) -> Path:
    """`visionpipe train-anomaly` on the sample data (its metrics go to stdout)."""
    from visionpipe.cli import main

    code = main(
        [
            "train-anomaly",
            str(Path(data_dir) / "normal"),
            "--anomalous",
            str(Path(data_dir) / "anomalous"),
            "--out",
            str(model_dir),
        ]
    )
    if code or not has_model(model_dir):
        raise RuntimeError(f"visionpipe train-anomaly failed ({code})")
    return Path(model_dir)


def ensure_model(
    model_dir: Path = DEFAULT_MODEL_DIR, data_dir: Path = DEFAULT_DATA_DIR, quiet: bool = False
) -> Path:
    """A trained model in model_dir (cached: trained only when missing)."""
    model_dir = Path(model_dir)
    if has_model(model_dir):
        return model_dir
    log.info("no model in %s: generating sample data and training one", model_dir)
    redirect = contextlib.redirect_stdout(sys.stderr) if quiet else contextlib.nullcontext()
    with redirect:
        generate_sample_data(data_dir)
        return train_model(data_dir, model_dir)


def onnx_model_locations(functions) -> set[tuple[str, str]]:
    """(model bucket, prefix parameter name) for every function using the onnx backend."""
    locations = set()
    for function in functions:
        variables = function.variables
        if variables.get("DETECTOR_BACKEND") == "onnx" and variables.get("MODEL_BUCKET"):
            locations.add((variables["MODEL_BUCKET"], variables.get("MODEL_PREFIX_PARAMETER", "")))
    return locations


def upload_model(session, endpoint_url: str, model_dir: Path, bucket: str, prefix_parameter: str) -> str:
    """Upload model.onnx + metadata.json under the active prefix; returns the prefix."""
    prefix = ""
    if prefix_parameter:
        ssm = session.client("ssm", endpoint_url=endpoint_url)
        prefix = ssm.get_parameter(Name=prefix_parameter)["Parameter"]["Value"]
    s3 = session.client("s3", endpoint_url=endpoint_url)
    for name in MODEL_FILES:
        s3.put_object(Bucket=bucket, Key=prefix + name, Body=(Path(model_dir) / name).read_bytes())
    log.info("model %s uploaded to s3://%s/%s", model_dir, bucket, prefix)
    return prefix
