"""Parsers for SSD-style detector outputs.

Two row layouts, coordinates normalised to [0, 1] of the model input:
- `ssd`: OpenCV's DetectionOutput layer (Caffe/TensorFlow/ONNX SSDs), shape (1, 1, N, 7):
  [image_id, class, score, xmin, ymin, xmax, ymax]
- `sagemaker`: the SageMaker built-in object-detection algorithm, shape (N, 6) or (1, N, 6):
  [class, score, xmin, ymin, xmax, ymax]; class -1 marks padding rows.
`auto` picks the layout from the last dimension.
- `boxes_scores`: visionpipe's ssd export (train_ssd.py): two outputs, boxes 1xNx4 normalised
  xyxy and scores 1xNxC softmax (class 0 background); per class threshold, then NMS here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from visionpipe_edge.detections import Detection, clip_box

ROW_WIDTH = {"ssd": 7, "sagemaker": 6}


def output_rows(output: np.ndarray | Sequence, output_format: str = "auto") -> tuple[np.ndarray, str]:
    """The output as a 2-D array of rows, and the layout it was read as."""
    rows = np.asarray(output, dtype=np.float64)
    if rows.ndim == 0 or rows.size == 0:
        return np.zeros((0, ROW_WIDTH.get(output_format, 6))), output_format
    width = rows.shape[-1]
    if output_format == "auto":
        by_width = {w: name for name, w in ROW_WIDTH.items()}
        if width not in by_width:
            raise ValueError(f"cannot tell the output layout from rows of width {width}")
        output_format = by_width[width]
    elif width != ROW_WIDTH[output_format]:
        raise ValueError(f"{output_format} rows have {ROW_WIDTH[output_format]} values, got {width}")
    return rows.reshape(-1, width), output_format


def parse_detections(
    output: np.ndarray | Sequence,
    labels: Sequence[str],
    threshold: float,
    input_size: tuple[int, int],
    output_format: str = "auto",
    class_id_offset: int = 0,
) -> list[Detection]:
    """Detections above `threshold` with boxes in model-input pixels (input_size = (w, h)).

    The model's class id minus `class_id_offset` indexes `labels` (offset 1 for SSDs whose class 0
    is the background). Rows of unknown classes are skipped; scores equal to the threshold pass.
    """
    rows, layout = output_rows(output, output_format)
    if layout == "ssd":
        rows = rows[:, 1:]  # drop image_id: [class, score, xmin, ymin, xmax, ymax]
    width, height = input_size
    detections = []
    for class_value, score, xmin, ymin, xmax, ymax in rows:
        class_id = int(round(class_value)) - class_id_offset
        if class_value < 0 or not 0 <= class_id < len(labels) or not np.isfinite(score) or score < threshold:
            continue
        box = clip_box(xmin * width, ymin * height, xmax * width, ymax * height, width, height)
        if box.width <= 0 or box.height <= 0:
            continue
        detections.append(Detection(class_id=class_id, label=labels[class_id], score=float(score), box=box))
    detections.sort(key=lambda d: d.score, reverse=True)
    return detections


def parse_boxes_scores(
    boxes: np.ndarray,
    scores: np.ndarray,
    labels: Sequence[str],
    threshold: float,
    input_size: tuple[int, int],
    class_id_offset: int = 1,
    nms_threshold: float = 0.45,
) -> list[Detection]:
    """Per class: anchors scoring >= threshold, non-maximum suppression (OpenCV), boxes in input pixels."""
    import cv2

    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    scores = np.asarray(scores, np.float64).reshape(boxes.shape[0], -1)
    width, height = input_size
    pixels = boxes * np.array([width, height, width, height])
    detections = []
    for column in range(class_id_offset, scores.shape[1]):
        class_id = column - class_id_offset
        if class_id >= len(labels):
            continue
        keep = np.flatnonzero(scores[:, column] >= threshold)
        if keep.size == 0:
            continue
        rects = [[float(x0), float(y0), float(x1 - x0), float(y1 - y0)] for x0, y0, x1, y1 in pixels[keep]]
        chosen = cv2.dnn.NMSBoxes(rects, scores[keep, column].tolist(), threshold, nms_threshold)
        for index in np.asarray(chosen, dtype=int).reshape(-1):
            x0, y0, x1, y1 = pixels[keep[index]]
            box = clip_box(x0, y0, x1, y1, width, height)
            if box.width > 0 and box.height > 0:
                score = float(scores[keep[index], column])
                detections.append(Detection(class_id=class_id, label=labels[class_id], score=score, box=box))
    detections.sort(key=lambda d: d.score, reverse=True)
    return detections
