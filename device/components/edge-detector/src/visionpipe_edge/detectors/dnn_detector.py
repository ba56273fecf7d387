"""SSD-style object detectors through OpenCV DNN: ONNX, Caffe or TensorFlow weights."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from visionpipe_edge.detections import Detection
from visionpipe_edge.detectors.ssd_output import parse_boxes_scores, parse_detections


def load_network(model_path: Path, config_path: Path | None = None) -> cv2.dnn.Net:
    """cv2.dnn.readNet picks the framework from the extensions (.onnx, .caffemodel+.prototxt, .pb+.pbtxt)."""
    if not model_path.is_file():
        raise FileNotFoundError(f"model file not found: {model_path}")
    if config_path is not None and not config_path.is_file():
        raise FileNotFoundError(f"model config file not found: {config_path}")
    return cv2.dnn.readNet(str(model_path), str(config_path) if config_path else "")


class DnnDetector:
    """Runs the network on the model-input-size frame; boxes come back in those pixels."""

    kind = "dnn"

    def __init__(
        self,
        model_path: Path,
        labels: tuple[str, ...],
        input_size: tuple[int, int],
        config_path: Path | None = None,
        output_format: str = "auto",
        class_id_offset: int = 0,
        scale: float = 1.0,
        mean: tuple[float, float, float] = (0.0, 0.0, 0.0),
        swap_rb: bool = True,
        nms_threshold: float = 0.45,
    ):
        self.net = load_network(Path(model_path), Path(config_path) if config_path else None)
        self.labels = labels
        self.input_size = input_size
        self.output_format = output_format
        self.class_id_offset = class_id_offset
        self.scale, self.mean, self.swap_rb = scale, mean, swap_rb
        self.nms_threshold = nms_threshold

    def raw_output(self, resized_bgr: np.ndarray):
        blob = cv2.dnn.blobFromImage(
            resized_bgr, self.scale, self.input_size, self.mean, swapRB=self.swap_rb, crop=False
        )
        self.net.setInput(blob)
        if self.output_format == "boxes_scores":
            boxes, scores = self.net.forward(["boxes", "scores"])
            return np.asarray(boxes), np.asarray(scores)
        return np.asarray(self.net.forward())

    def detect(self, resized_bgr: np.ndarray, threshold: float) -> list[Detection]:
        if self.output_format == "boxes_scores":
            boxes, scores = self.raw_output(resized_bgr)
            return parse_boxes_scores(
                boxes,
                scores,
                self.labels,
                threshold,
                self.input_size,
                self.class_id_offset,
                self.nms_threshold,
            )
        return parse_detections(
            self.raw_output(resized_bgr),
            self.labels,
            threshold,
            self.input_size,
            self.output_format,
            self.class_id_offset,
        )
