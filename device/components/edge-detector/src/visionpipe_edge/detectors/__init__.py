"""Detector backends: `cascade` (OpenCV cascade classifiers, no trained model), `dnn` (SSD via OpenCV DNN)
and `hog` (HOG + linear SVM per class, what local-mode retraining trains).

Every detector has `detect(resized_bgr, threshold) -> list[Detection]`, boxes in model-input pixels.
"""

from __future__ import annotations

from pathlib import Path

from visionpipe_edge.config import EdgeSettings
from visionpipe_edge.detectors.cascade_detector import CascadeDetector, find_cascade
from visionpipe_edge.detectors.dnn_detector import DnnDetector
from visionpipe_edge.detectors.hog_detector import HogDetector


def build_detector(settings: EdgeSettings) -> CascadeDetector | DnnDetector | HogDetector:
    if settings.detector == "cascade":
        return CascadeDetector(
            find_cascade(settings.model_file, settings.model_dir),
            label=settings.labels[0],
            scale_factor=settings.cascade_scale_factor,
            min_neighbours=settings.cascade_min_neighbours,
            min_size=settings.cascade_min_size,
        )
    model_dir = Path(settings.model_dir) if settings.model_dir else Path()
    if settings.detector == "hog":
        return HogDetector(model_dir / settings.model_file, labels=settings.labels)
    config = model_dir / settings.model_config_file if settings.model_config_file else None
    return DnnDetector(
        model_dir / settings.model_file,
        labels=settings.labels,
        input_size=settings.input_size,
        config_path=config,
        output_format=settings.output_format,
        class_id_offset=settings.class_id_offset,
        scale=settings.dnn_scale,
        mean=settings.dnn_mean,
        swap_rb=settings.dnn_swap_rb,
        nms_threshold=settings.nms_threshold,
    )


__all__ = ["CascadeDetector", "DnnDetector", "HogDetector", "build_detector", "find_cascade"]
