"""labelImg's Pascal VOC XML, read strictly: every problem names the file it is in."""

from __future__ import annotations

import xml.etree.ElementTree as ET  # noqa: S405 - the user's own annotation files, not untrusted input
from dataclasses import dataclass
from pathlib import Path

from visionpipe_common.retraining.annotations import InvalidAnnotation


@dataclass(frozen=True)
class VocObject:
    name: str
    xmin: float
    ymin: float
    xmax: float
    ymax: float


@dataclass(frozen=True)
class VocAnnotation:
    xml_path: Path
    filename: str  # as labelImg recorded it (may differ in case from the file on disk)
    width: int  # 0 when labelImg did not record a size
    height: int
    depth: int
    objects: tuple[VocObject, ...]


def read_voc(xml_path: Path) -> VocAnnotation:
    source = str(xml_path)
    try:
        root = ET.parse(xml_path).getroot()  # noqa: S314 - see the import
    except ET.ParseError as exc:
        raise InvalidAnnotation(f"{source}: not well-formed XML ({exc})") from exc
    if root.tag != "annotation":
        raise InvalidAnnotation(f"{source}: root element is <{root.tag}>, expected labelImg's <annotation>")
    filename = (root.findtext("filename") or "").strip()
    if not filename:
        path_text = (root.findtext("path") or "").strip()
        filename = Path(path_text.replace("\\", "/")).name if path_text else ""
    if not filename:
        raise InvalidAnnotation(f"{source}: no <filename> (or <path>) names the image")

    size = root.find("size")
    width = _number(size, "width", source, default=0) if size is not None else 0
    height = _number(size, "height", source, default=0) if size is not None else 0
    depth = _number(size, "depth", source, default=3) if size is not None else 3

    objects = []
    for index, element in enumerate(root.findall("object")):
        name = (element.findtext("name") or "").strip()
        if not name:
            raise InvalidAnnotation(f"{source}: object {index} has no <name>")
        box = element.find("bndbox")
        if box is None:
            raise InvalidAnnotation(f"{source}: object {index} ({name}) has no <bndbox>")
        coords = {
            key: _float(box, key, f"{source}: object {index} ({name})")
            for key in ("xmin", "ymin", "xmax", "ymax")
        }
        if coords["xmax"] <= coords["xmin"] or coords["ymax"] <= coords["ymin"]:
            raise InvalidAnnotation(
                f"{source}: object {index} ({name}) has an empty or inverted box "
                f"(xmin={coords['xmin']:g}, xmax={coords['xmax']:g}, "
                f"ymin={coords['ymin']:g}, ymax={coords['ymax']:g})"
            )
        objects.append(VocObject(name=name, **coords))
    return VocAnnotation(xml_path, filename, int(width), int(height), int(depth) or 3, tuple(objects))


def _float(parent: ET.Element, tag: str, where: str) -> float:
    text = parent.findtext(tag)
    if text is None or not text.strip():
        raise InvalidAnnotation(f"{where}: <{tag}> is missing")
    try:
        return float(text)
    except ValueError as exc:
        raise InvalidAnnotation(f"{where}: <{tag}> is {text!r}, not a number") from exc


def _number(parent: ET.Element, tag: str, source: str, default: int) -> float:
    if parent.findtext(tag) is None or not parent.findtext(tag).strip():
        return default
    value = _float(parent, tag, f"{source}: <size>")
    if value < 0:
        raise InvalidAnnotation(f"{source}: <size><{tag}> is negative ({value:g})")
    return value
