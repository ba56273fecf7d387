"""The training code as SageMaker script mode takes it: one sourcedir.tar.gz in S3.

The archive holds the entry points (scripts/train_<algorithm>.py, requirements.txt) at its root,
the packages they import (visionpipe.detector_model, and visionpipe_edge: the device's own HOG
detector, so training evaluates exactly what the camera runs). A round's hyperparameters name it:
sagemaker_program=train_<algorithm>.py, sagemaker_submit_directory=s3://<model bucket>/<key>.
SageMaker's framework container and the local SageMaker engine both unpack it and run the entry
point with the training-toolkit contract (contract.py).
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import visionpipe_edge

from visionpipe.detector_model import contract

SOURCE_KEY = "training/source/sourcedir.tar.gz"
ALGORITHMS = {"hog": "train_hog.py", "ssd": "train_ssd.py"}

_HERE = Path(__file__).resolve().parent
_MODULES = ("__init__.py", "contract.py", "training_job.py", "hog_training.py", "mean_average_precision.py")


def _files() -> dict[str, Path]:
    files = {p.name: p for p in (_HERE / "scripts").iterdir() if p.is_file() and p.suffix in (".py", ".txt")}
    files["visionpipe/__init__.py"] = _HERE.parent / "__init__.py"
    for name in _MODULES:
        files[f"visionpipe/detector_model/{name}"] = _HERE / name
    edge = Path(visionpipe_edge.__file__).resolve().parent
    for path in sorted(edge.rglob("*.py")):
        files[f"visionpipe_edge/{path.relative_to(edge).as_posix()}"] = path
    return files


def sourcedir_archive() -> bytes:
    """Deterministic (sorted names, fixed mtime): the same code gives the same bytes."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, path in sorted(_files().items()):
            data = path.read_bytes()
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def upload_source(s3, bucket: str, key: str = SOURCE_KEY) -> str:
    s3.put_object(Bucket=bucket, Key=key, Body=sourcedir_archive(), ContentType="application/x-gzip")
    return f"s3://{bucket}/{key}"


def program_for(algorithm: str) -> str:
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {algorithm!r} (known: {', '.join(ALGORITHMS)})")
    return ALGORITHMS[algorithm]


__all__ = ["ALGORITHMS", "SOURCE_KEY", "contract", "program_for", "sourcedir_archive", "upload_source"]
