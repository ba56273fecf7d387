"""Training data the retraining tests share: labelImg XML, SageMaker annotations, real images."""

from __future__ import annotations

import json
from pathlib import Path

from support.images import encode, textured_rgb


def labelimg_xml(filename: str, width: int, height: int, objects: list[tuple], depth: int = 3) -> str:
    """The XML labelImg writes: objects are (name, xmin, ymin, xmax, ymax)."""
    parts = [
        "<annotation>",
        "  <folder>images</folder>",
        f"  <filename>{filename}</filename>",
        f"  <path>/home/me/images/{filename}</path>",
        "  <source><database>Unknown</database></source>",
        f"  <size><width>{width}</width><height>{height}</height><depth>{depth}</depth></size>",
        "  <segmented>0</segmented>",
    ]
    for name, xmin, ymin, xmax, ymax in objects:
        parts += [
            "  <object>",
            f"    <name>{name}</name><pose>Unspecified</pose>",
            "    <truncated>0</truncated><difficult>0</difficult>",
            f"    <bndbox><xmin>{xmin}</xmin><ymin>{ymin}</ymin>",
            f"      <xmax>{xmax}</xmax><ymax>{ymax}</ymax></bndbox>",
            "  </object>",
        ]
    parts.append("</annotation>")
    return "\n".join(parts) + "\n"


def write_labelled_image(
    folder: Path,
    image_name: str,
    size: tuple[int, int],
    objects: list[tuple],
    xml_name: str | None = None,
    seed=0,
) -> tuple[Path, Path]:
    """A real image (JPEG or PNG by suffix) and its labelImg XML, side by side."""
    width, height = size
    fmt = "PNG" if image_name.lower().endswith(".png") else "JPEG"
    image_path = folder / image_name
    image_path.write_bytes(encode(textured_rgb(width, height, seed=seed), fmt))
    xml_path = folder / (xml_name or f"{Path(image_name).stem}.xml")
    xml_path.write_text(labelimg_xml(image_name, width, height, objects))
    return image_path, xml_path


def sagemaker_annotation(
    file: str, width: int, height: int, boxes: list[tuple], categories: dict[int, str]
) -> dict:
    """boxes are (class_id, left, top, width, height)."""
    return {
        "file": file,
        "image_size": [{"width": width, "height": height, "depth": 3}],
        "annotations": [
            {"class_id": c, "left": x, "top": y, "width": w, "height": h} for c, x, y, w, h in boxes
        ],
        "categories": [{"class_id": cid, "name": name} for cid, name in categories.items()],
    }


def annotation_bytes(*args, **kwargs) -> bytes:
    return json.dumps(sagemaker_annotation(*args, **kwargs)).encode()
