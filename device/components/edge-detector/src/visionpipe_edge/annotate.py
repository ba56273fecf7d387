"""Boxes drawn with label and score; JPEG encoding."""

from __future__ import annotations

import cv2
import numpy as np

from visionpipe_edge.detections import Detection

BOX_COLOUR = (255, 165, 20)  # BGR, the original's colour


def annotate(image: np.ndarray, detections: list[Detection]) -> np.ndarray:
    """A copy of `image` with each detection's box and "label: 93.0%" drawn on it.

    Line and text sizes follow the image size, so the model-size and full frames both stay legible.
    """
    out = image.copy()
    height, width = out.shape[:2]
    thickness = max(1, round(min(width, height) / 240))
    font_scale = max(0.4, min(width, height) / 720)
    for detection in detections:
        box = detection.box
        cv2.rectangle(out, (box.xmin, box.ymin), (box.xmax, box.ymax), BOX_COLOUR, thickness)
        text = f"{detection.label}: {detection.score * 100:.1f}%"
        (text_w, text_h), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, thickness)
        top = box.ymin - text_h - baseline - 2 if box.ymin - text_h - baseline - 2 >= 0 else box.ymax + 2
        cv2.rectangle(
            out, (box.xmin, top), (box.xmin + text_w + 2, top + text_h + baseline + 2), BOX_COLOUR, -1
        )
        cv2.putText(
            out,
            text,
            (box.xmin + 1, top + text_h + 1),
            cv2.FONT_HERSHEY_SIMPLEX,
            font_scale,
            (0, 0, 0),
            thickness,
        )
    return out


def encode_jpeg(image: np.ndarray, quality: int = 90) -> bytes:
    ok, data = cv2.imencode(".jpg", image, [int(cv2.IMWRITE_JPEG_QUALITY), int(quality)])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return data.tobytes()
