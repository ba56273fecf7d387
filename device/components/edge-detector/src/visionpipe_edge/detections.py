"""Detected objects and the geometry between the model input and the full frame.

Detectors see the frame resized to the model input size and report boxes in those pixels. Boxes
are scaled to the full frame by the two axis ratios only: x * frame_w / input_w and
y * frame_h / input_h (the DeepLens sample also added `(x - input_w / 2)`, which shifted every box).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Box:
    xmin: int
    ymin: int
    xmax: int
    ymax: int

    @property
    def width(self) -> int:
        return self.xmax - self.xmin

    @property
    def height(self) -> int:
        return self.ymax - self.ymin

    def as_dict(self) -> dict[str, int]:
        return {"xmin": self.xmin, "ymin": self.ymin, "xmax": self.xmax, "ymax": self.ymax}


@dataclass(frozen=True)
class Detection:
    """One object above the threshold; `box` in the pixels of the image it was found in."""

    class_id: int  # index into the configured labels
    label: str
    score: float
    box: Box


def clip_box(xmin: float, ymin: float, xmax: float, ymax: float, width: int, height: int) -> Box:
    """Integer box inside a width x height image, corners ordered."""
    x0, x1 = sorted((xmin, xmax))
    y0, y1 = sorted((ymin, ymax))
    return Box(
        xmin=int(round(min(max(x0, 0), width))),
        ymin=int(round(min(max(y0, 0), height))),
        xmax=int(round(min(max(x1, 0), width))),
        ymax=int(round(min(max(y1, 0), height))),
    )


def scale_box(box: Box, from_size: tuple[int, int], to_size: tuple[int, int]) -> Box:
    """A box in a from_size (w, h) image mapped onto a to_size (w, h) image of the same scene."""
    sx, sy = to_size[0] / from_size[0], to_size[1] / from_size[1]
    return clip_box(box.xmin * sx, box.ymin * sy, box.xmax * sx, box.ymax * sy, to_size[0], to_size[1])


def scale_detections(
    detections: list[Detection], from_size: tuple[int, int], to_size: tuple[int, int]
) -> list[Detection]:
    return [Detection(d.class_id, d.label, d.score, scale_box(d.box, from_size, to_size)) for d in detections]
