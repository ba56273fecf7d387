"""The onnx backend's model contract: model.onnx plus metadata.json under one S3 prefix.

metadata.json (every field but model_version has a default):
{
  "model_version": "2026-11-21-a",     # recorded on every verdict
  "input_name": null,                   # default: the model's first input
  "output_name": null,                  # default: the model's first output
  "input_width": 224, "input_height": 224,
  "layout": "NCHW",                     # or "NHWC"
  "color_order": "RGB",                 # or "BGR"
  "scale": 0.00392156862745098,         # pixel (0..255) * scale, then (x - mean) / std per channel
  "mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0],
  "output_kind": "score",               # "score": one value per image; "map": anomaly map, max taken
  "threshold": 0.5,                     # anomalous when score >= threshold
  "confidence": "logistic",             # "logistic" around the threshold (uses score_spread), or
                                        # "score" when the score already is a probability (anomalib)
  "score_spread": 0.1,
  "map_output_name": null               # optional: an output holding an anomaly map (N, 1, h, w)
                                        # over the input (patch grid): heatmap, box and area
}
The input is a float32 batch of one image, resized (bilinear, aspect not kept) to the input size.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from visionpipe_common.detectors.base import Verdict, verdict_from_score


@dataclass(frozen=True)
class ModelMetadata:
    model_version: str
    input_width: int = 224
    input_height: int = 224
    layout: str = "NCHW"
    color_order: str = "RGB"
    scale: float = 1.0 / 255.0
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    output_kind: str = "score"
    threshold: float = 0.5
    confidence: str = "logistic"
    score_spread: float = 0.1
    input_name: str | None = None
    output_name: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, text: str | bytes) -> ModelMetadata:
        raw = json.loads(text)
        if "model_version" not in raw:
            raise ValueError("metadata.json needs a model_version")
        known = {f for f in cls.__dataclass_fields__ if f != "extra"}
        meta = cls(
            **{k: (tuple(v) if k in ("mean", "std") else v) for k, v in raw.items() if k in known},
            extra={k: v for k, v in raw.items() if k not in known},
        )
        if meta.layout not in ("NCHW", "NHWC"):
            raise ValueError(f"layout must be NCHW or NHWC, not {meta.layout!r}")
        if meta.color_order not in ("RGB", "BGR"):
            raise ValueError(f"color_order must be RGB or BGR, not {meta.color_order!r}")
        if meta.output_kind not in ("score", "map"):
            raise ValueError(f"output_kind must be score or map, not {meta.output_kind!r}")
        if meta.confidence not in ("logistic", "score"):
            raise ValueError(f"confidence must be logistic or score, not {meta.confidence!r}")
        return meta

    def to_json(self) -> str:
        body = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "extra"}
        body.update(self.extra)
        return json.dumps({k: (list(v) if isinstance(v, tuple) else v) for k, v in body.items()}, indent=2)


def preprocess(image: Image.Image, meta: ModelMetadata) -> np.ndarray:
    """RGB PIL image -> the model's float32 input batch of one. Training uses this same function."""
    resized = image.convert("RGB").resize((meta.input_width, meta.input_height), Image.Resampling.BILINEAR)
    pixels = np.asarray(resized, dtype=np.float32)
    if meta.color_order == "BGR":
        pixels = pixels[..., ::-1]
    pixels = (pixels * np.float32(meta.scale) - np.asarray(meta.mean, np.float32)) / np.asarray(
        meta.std, np.float32
    )
    if meta.layout == "NCHW":
        pixels = pixels.transpose(2, 0, 1)
    return np.ascontiguousarray(pixels[np.newaxis])


def score_of(output: np.ndarray, meta: ModelMetadata) -> float:
    """The image's anomaly score from the model's raw output."""
    values = np.asarray(output, dtype=np.float64)
    if values.size == 0:
        raise ValueError("model returned an empty output")
    return (
        float(values.max()) if meta.output_kind == "map" or values.size > 1 else float(values.reshape(-1)[0])
    )


def verdict_of(score: float, meta: ModelMetadata) -> Verdict:
    if meta.confidence == "score":
        probability = min(max(score, 0.0), 1.0)
        anomalous = score >= meta.threshold
        return Verdict(anomalous, probability if anomalous else 1.0 - probability, meta.model_version, score)
    return verdict_from_score(score, meta.threshold, meta.score_spread, meta.model_version)


class OnnxModel:
    """An onnxruntime session plus its metadata; judges one PIL image at a time."""

    def __init__(self, model_bytes: bytes, meta: ModelMetadata):
        import onnxruntime  # imported here so the other backends never pay for it

        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        # One thread: below 1,769 MB a Lambda function has less than one vCPU, where a pool of
        # intra-op threads only spins (measured: session creation ~30 -> ~17 ms CPU, inference no
        # slower; bench_lambda.py).
        options.intra_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])
        self.meta = meta
        self.input_name = meta.input_name or self.session.get_inputs()[0].name
        self.output_name = meta.output_name or self.session.get_outputs()[0].name

        self.map_name = meta.extra.get("map_output_name")
        if self.map_name and self.map_name not in {o.name for o in self.session.get_outputs()}:
            raise ValueError(f"metadata names map output {self.map_name!r}, which the model does not have")

    def score(self, image: Image.Image) -> float:
        (output,) = self.session.run([self.output_name], {self.input_name: preprocess(image, self.meta)})
        return score_of(output, self.meta)

    def score_and_map(self, image: Image.Image) -> tuple[float, np.ndarray | None]:
        """The score and, for models that name one, the anomaly map (h, w); else None (score-only)."""
        if not self.map_name:
            return self.score(image), None
        output, anomaly_map = self.session.run(
            [self.output_name, self.map_name], {self.input_name: preprocess(image, self.meta)}
        )
        grid = np.asarray(anomaly_map, np.float32)
        # (1, 1, h, w) by contract; any leading axes (batch, channels) are reduced by max.
        return score_of(output, self.meta), grid.reshape(-1, *grid.shape[-2:]).max(axis=0)

    def judge(self, image: Image.Image) -> Verdict:
        return verdict_of(self.score(image), self.meta)
