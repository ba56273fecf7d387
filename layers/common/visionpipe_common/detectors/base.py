from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # images imports numpy: functions without the onnx layer import this module too
    from visionpipe_common.anomaly.images import DecodedImage


@dataclass(frozen=True)
class Verdict:
    """One image's judgement. confidence is how sure the detector is of is_anomalous (0..1)."""

    is_anomalous: bool
    confidence: float
    model_version: str
    score: float | None = None
    details: dict[str, Any] = field(default_factory=dict)
    # Where: the model's anomaly map (h, w) over the image, when it returns one (onnx, map_output_name).
    anomaly_map: Any = field(default=None, compare=False, repr=False)
    threshold: float | None = None  # the score threshold the map is read against


class Detector(Protocol):
    backend: str

    def detect(self, image: DecodedImage) -> Verdict: ...


def verdict_from_score(score: float, threshold: float, spread: float, model_version: str) -> Verdict:
    """Anomalous when score >= threshold; confidence from a logistic centred on the threshold.

    spread is the score distance that moves the anomaly probability from 0.5 to ~0.73.
    """
    z = (score - threshold) / max(spread, 1e-9)
    probability = 1.0 / (1.0 + math.exp(-max(min(z, 60.0), -60.0)))
    anomalous = score >= threshold
    return Verdict(
        is_anomalous=anomalous,
        confidence=probability if anomalous else 1.0 - probability,
        model_version=model_version,
        score=score,
    )
