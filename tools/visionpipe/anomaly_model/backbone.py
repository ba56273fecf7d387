"""The frozen, pretrained feature extractor PatchCore runs on (ONNX; contract in backbones/BACKBONE.md)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import onnx

BACKBONES_DIR = Path(__file__).parent / "backbones"
DEFAULT_BACKBONE = BACKBONES_DIR / "efficientnet_lite0_s8_s16.onnx"
IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)


def shipped_digests() -> dict[str, str]:
    """file name -> SHA-256 recorded in backbones/SHA256SUMS."""
    lines = (BACKBONES_DIR / "SHA256SUMS").read_text().splitlines()
    pairs = (line.split(maxsplit=1) for line in lines if line.strip())
    return {name.strip(): digest for digest, name in pairs}


def sha256_of(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _triple(text: str | None, default: tuple[float, float, float]) -> tuple[float, float, float]:
    if text is None:
        return default
    values = [float(v) for v in text.split(",")]
    if len(values) == 1:
        values *= 3
    if len(values) != 3:
        raise ValueError(f"backbone mean/std needs 1 or 3 numbers, got {text!r}")
    return (values[0], values[1], values[2])


@dataclass(frozen=True)
class Backbone:
    path: Path
    proto: onnx.ModelProto
    input_name: str
    output_names: tuple[str, ...]
    mean: tuple[float, float, float]  # on 0..255 pixels
    std: tuple[float, float, float]
    sha256: str

    @property
    def name(self) -> str:
        return self.path.name


def load(path: str | Path | None = None) -> Backbone:
    """Read and check a backbone file against the contract (one NCHW input, >= 1 output)."""
    path = Path(path) if path else DEFAULT_BACKBONE
    if not path.is_file():
        raise FileNotFoundError(f"no backbone file at {path}")
    proto = onnx.load(str(path))
    inputs = [i for i in proto.graph.input if i.name not in {t.name for t in proto.graph.initializer}]
    if len(inputs) != 1:
        raise ValueError(f"backbone {path.name} must have exactly one input, has {len(inputs)}")
    dims = inputs[0].type.tensor_type.shape.dim
    if len(dims) != 4 or (dims[1].HasField("dim_value") and dims[1].dim_value != 3):
        raise ValueError(f"backbone {path.name} input must be (N, 3, H, W)")
    outputs = tuple(o.name for o in proto.graph.output)
    if not outputs:
        raise ValueError(f"backbone {path.name} returns no feature map")
    props = {p.key: p.value for p in proto.metadata_props}
    return Backbone(
        path=path,
        proto=proto,
        input_name=inputs[0].name,
        output_names=outputs,
        mean=_triple(props.get("mean"), IMAGENET_MEAN),
        std=_triple(props.get("std"), IMAGENET_STD),
        sha256=sha256_of(path),
    )
