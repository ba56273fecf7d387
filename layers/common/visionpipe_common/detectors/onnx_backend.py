"""onnx backend: the model lives in S3 and runs inside the Lambda (no endpoint, no idle cost)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from visionpipe_common.anomaly.images import DecodedImage
from visionpipe_common.detectors.base import Verdict
from visionpipe_common.detectors.onnx_model import ModelMetadata, OnnxModel, verdict_of

MODEL_FILE = "model.onnx"
METADATA_FILE = "metadata.json"


class OnnxDetector:
    """Loads <prefix>model.onnx and <prefix>metadata.json once per container and per prefix.

    current_prefix is asked on every call (it is cached by Powertools Parameters), so pointing the
    SSM parameter at a new prefix rolls a new model out to warm containers too.
    """

    backend = "onnx"

    def __init__(self, s3_client, bucket: str, current_prefix: Callable[[], str]):
        self._s3 = s3_client
        self._bucket = bucket
        self._current_prefix = current_prefix
        self._loaded: tuple[str, OnnxModel] | None = None
        self._lock = threading.Lock()

    def model(self) -> OnnxModel:
        prefix = self._current_prefix()
        with self._lock:
            if self._loaded is None or self._loaded[0] != prefix:
                self._loaded = (prefix, self._load(prefix))
            return self._loaded[1]

    def _load(self, prefix: str) -> OnnxModel:
        meta = ModelMetadata.from_json(self._read(prefix + METADATA_FILE))
        return OnnxModel(self._read(prefix + MODEL_FILE), meta)

    def _read(self, key: str) -> bytes:
        return self._s3.get_object(Bucket=self._bucket, Key=key)["Body"].read()

    def input_size(self) -> tuple[int, int]:
        """The current model's input (width, height): large JPEGs are decoded no larger than needed."""
        meta = self.model().meta
        return meta.input_width, meta.input_height

    def detect(self, image: DecodedImage) -> Verdict:
        model = self.model()
        score, anomaly_map = model.score_and_map(image.pixels)
        verdict = verdict_of(score, model.meta)
        return Verdict(
            is_anomalous=verdict.is_anomalous,
            confidence=verdict.confidence,
            model_version=verdict.model_version,
            score=verdict.score,
            details={"threshold": model.meta.threshold},
            anomaly_map=anomaly_map,
            threshold=model.meta.threshold,
        )
