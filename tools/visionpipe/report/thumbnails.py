"""Thumbnails for the page: detections with their boxes, anomalies with their box or heatmap.

Pictures are read with GetObject and embedded (base64 PNG), never linked: the page stays readable
offline and carries no presigned URL that would expire or leak access.
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageDraw

from visionpipe.report.detections import Record
from visionpipe.report.verdicts import Verdict

MAX_IMAGE_BYTES = 20 * 1024 * 1024
THUMB_SIZE = (260, 200)
BOX_COLOURS = ("#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#46f0f0", "#f032e6")


@dataclass
class Thumbnail:
    data_uri: str | None
    caption: list[str]
    css: str = ""
    heatmap_uri: str | None = None


def data_uri(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _read(s3, bucket: str, key: str) -> bytes | None:
    if not bucket or not key:
        return None
    try:
        response = s3.get_object(Bucket=bucket, Key=key)
        if response.get("ContentLength", 0) > MAX_IMAGE_BYTES:
            response["Body"].close()
            return None
        return response["Body"].read()
    except Exception:  # a deleted or unreadable picture still gets its caption
        return None


def _open(data: bytes | None) -> Image.Image | None:
    if not data:
        return None
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
        return image.convert("RGB")
    except Exception:
        return None


def raw_key_for(image_key: str) -> str:
    """images/image_<D>_<T>.jpg (annotated) -> raw_images/raw_<D>_<T>.jpg (unannotated)."""
    if image_key.startswith("images/image_"):
        return "raw_images/raw_" + image_key[len("images/image_") :]
    return ""


def _draw_detection_boxes(
    image: Image.Image, objects: tuple[dict, ...], highlight: int | None
) -> Image.Image:
    draw = ImageDraw.Draw(image)
    line = max(2, image.width // 200)
    for i, obj in enumerate(objects):
        box = obj.get("box")
        if not isinstance(box, dict) or not {"xmin", "ymin", "xmax", "ymax"} <= box.keys():
            continue
        colour = BOX_COLOURS[i % len(BOX_COLOURS)]
        width = line * 2 if highlight == obj.get("index", i) else line
        draw.rectangle([box["xmin"], box["ymin"], box["xmax"], box["ymax"]], outline=colour, width=width)
        draw.text((box["xmin"] + 4, box["ymin"] + 3), f"{obj['object']} {obj['confidence']:.2f}", fill=colour)
    return image


def detection_thumbnail(s3, bucket: str, record: Record, highlight: dict | None = None) -> Thumbnail:
    """The raw frame with the record's boxes drawn here (the annotated frame when there is no raw one)."""
    image = _open(_read(s3, bucket, raw_key_for(record.image_key)))
    drawn = image is not None
    if image is None:
        image = _open(_read(s3, bucket, record.image_key))
    if image is not None and drawn:
        image = _draw_detection_boxes(image, record.objects, highlight.get("index") if highlight else None)
    e = html.escape
    labels = ", ".join(f"{e(o['object'])} {o['confidence']:.2f}" for o in record.objects[:4])
    caption = [
        f"<b>{e(record.device)}</b> · {record.time:%Y-%m-%d %H:%M:%S} UTC",
        (f"<b>{e(highlight['object'])} {highlight['confidence']:.3f}</b>" if highlight else labels),
        f"<code>{e(record.key)}</code>",
    ]
    if image is None:
        return Thumbnail(None, caption, "missing")
    image.thumbnail(THUMB_SIZE)
    return Thumbnail(data_uri(image), caption)


def _box_corners(box: Any) -> tuple[float, float, float, float] | None:
    """AnomalyBox as x0, y0, x1, y1: a list of four numbers or a map with those names."""
    if isinstance(box, list | tuple) and len(box) == 4:
        values = box
    elif isinstance(box, dict) and {"x0", "y0", "x1", "y1"} <= box.keys():
        values = [box["x0"], box["y0"], box["x1"], box["y1"]]
    else:
        return None
    try:
        x0, y0, x1, y1 = (float(v) for v in values)
    except (TypeError, ValueError):
        return None
    return x0, y0, x1, y1


def anomaly_thumbnail(s3, verdict: Verdict, results_bucket: str | None) -> Thumbnail:
    """The judged image with AnomalyBox drawn when the item has one, and the heatmap overlay PNG
    (results bucket, HeatmapKey) beside it when the item has one; items without either still show."""
    image = _open(_read(s3, verdict.bucket, verdict.key))
    corners = _box_corners(verdict.anomaly_box)
    if image is not None and corners:
        draw = ImageDraw.Draw(image)
        draw.rectangle(corners, outline="#ff2d2d", width=max(2, image.width // 120))
    heatmap = _open(_read(s3, results_bucket or "", verdict.heatmap_key)) if verdict.heatmap_key else None
    caption = [
        f"<b>{html.escape(verdict.image)}</b> · {verdict.source}",
        f"anomalous, confidence <b>{verdict.confidence:.3f}</b>"
        + (
            f" · area {verdict.anomaly_area_percent:.1f}%" if verdict.anomaly_area_percent is not None else ""
        ),
        html.escape(verdict.date),
    ]
    if verdict.heatmap_key and heatmap is None:
        caption.append("heatmap not readable")
    heatmap_uri = None
    if heatmap is not None:
        heatmap.thumbnail(THUMB_SIZE)
        heatmap_uri = data_uri(heatmap)
    if image is None:
        return Thumbnail(None, caption, "missing anomaly", heatmap_uri)
    image.thumbnail(THUMB_SIZE)
    return Thumbnail(data_uri(image), caption, "anomaly", heatmap_uri)
