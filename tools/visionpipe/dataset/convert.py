"""labelImg folder -> one SageMaker object-detection JSON per image, plus a stable class map."""

from __future__ import annotations

import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from visionpipe.dataset.voc import VocAnnotation, read_voc
from visionpipe_common.retraining.annotations import (
    CLASS_MAP_FILE,
    Box,
    ClassMap,
    InvalidAnnotation,
    TrainingAnnotation,
    image_header_size,
    is_image_name,
)

IMAGES_DIR = "images"
ANNOTATIONS_DIR = "annotations"


class DatasetError(Exception):
    """One or more input files are malformed; the message lists each file and what is wrong."""


@dataclass
class ConvertReport:
    images: int = 0
    boxes: int = 0
    clipped_boxes: int = 0
    boxes_per_class: Counter = field(default_factory=Counter)
    skipped_without_objects: list[str] = field(default_factory=list)
    images_without_xml: list[str] = field(default_factory=list)
    class_map: ClassMap = field(default_factory=ClassMap)
    class_map_path: Path | None = None

    def lines(self) -> list[str]:
        lines = [
            f"images: {self.images}",
            f"boxes: {self.boxes} ({self.clipped_boxes} clipped to the image)",
            "classes: "
            + ", ".join(
                f"{name}={cid} ({self.boxes_per_class[name]} boxes)" for name, cid in self.class_map.items()
            ),
            f"class map: {self.class_map_path}",
        ]
        if self.skipped_without_objects:
            lines.append(f"skipped (no objects): {len(self.skipped_without_objects)}")
        if self.images_without_xml:
            lines.append(f"images without an XML annotation (ignored): {len(self.images_without_xml)}")
        return lines


@dataclass(frozen=True)
class _Converted:
    image_path: Path
    out_name: str  # image name in the dataset (extension lower-cased)
    annotation: TrainingAnnotation
    clipped: int


def convert_folder(
    source: Path, out: Path, class_map_path: Path | None = None, images_dir: Path | None = None
) -> ConvertReport:
    """Convert every *.xml under `source` (labelImg's output) and copy its image next to it.

    Writes out/images/<name>, out/annotations/<stem>.json and the class map (default
    out/class_map.json; an existing map is read first, so ids stay the same run after run).
    Nothing is written when any file is malformed: the error lists every bad file.
    """
    source, out = Path(source), Path(out)
    class_map_path = Path(class_map_path) if class_map_path else out / CLASS_MAP_FILE
    class_map = (
        ClassMap.from_json(class_map_path.read_text(), str(class_map_path))
        if class_map_path.exists()
        else ClassMap()
    )
    images_dir = Path(images_dir) if images_dir else None

    xml_files = sorted(p for p in source.rglob("*") if p.is_file() and p.suffix.lower() == ".xml")
    if not xml_files:
        raise DatasetError(f"{source}: no labelImg .xml annotations found")
    report = ConvertReport(class_map=class_map, class_map_path=class_map_path)
    converted, errors, stems, used_images = [], [], {}, set()
    for xml_path in xml_files:
        try:
            voc = read_voc(xml_path)
            if not voc.objects:
                report.skipped_without_objects.append(str(xml_path))
                continue
            image_path = find_image(voc, images_dir or xml_path.parent)
            item = _convert_one(voc, image_path, class_map)
        except InvalidAnnotation as exc:
            errors.append(str(exc))
            continue
        stem = Path(item.out_name).stem
        if stem in stems:
            errors.append(
                f"{xml_path}: image {image_path.name} has the same name stem as {stems[stem]} "
                "(SageMaker pairs images and annotations by name)"
            )
            continue
        stems[stem] = image_path.name
        used_images.add(image_path.resolve())
        converted.append(item)
    if errors:
        raise DatasetError(f"{len(errors)} malformed file(s):\n  " + "\n  ".join(errors))

    (out / IMAGES_DIR).mkdir(parents=True, exist_ok=True)
    (out / ANNOTATIONS_DIR).mkdir(parents=True, exist_ok=True)
    for item in converted:
        shutil.copyfile(item.image_path, out / IMAGES_DIR / item.out_name)
        (out / ANNOTATIONS_DIR / f"{Path(item.out_name).stem}.json").write_text(item.annotation.to_json())
        report.images += 1
        report.boxes += len(item.annotation.boxes)
        report.clipped_boxes += item.clipped
        for box in item.annotation.boxes:
            report.boxes_per_class[item.annotation.categories[box.class_id]] += 1
    class_map_path.parent.mkdir(parents=True, exist_ok=True)
    class_map_path.write_text(class_map.to_json())
    search_dirs = {images_dir} if images_dir else {p.parent for p in xml_files}
    report.images_without_xml = sorted(
        str(p)
        for d in search_dirs
        for p in d.iterdir()
        if is_image_name(p.name) and p.resolve() not in used_images
    )
    return report


def find_image(voc: VocAnnotation, directory: Path) -> Path:
    """The image an annotation describes: its <filename>, any letter case, else the XML's own stem."""
    by_lower = {p.name.lower(): p for p in directory.iterdir() if p.is_file() and is_image_name(p.name)}
    wanted = voc.filename.replace("\\", "/").rsplit("/", 1)[-1]
    if wanted.lower() in by_lower:
        return by_lower[wanted.lower()]
    for stem in dict.fromkeys((Path(wanted).stem, voc.xml_path.stem)):
        for suffix in (".jpg", ".jpeg", ".png"):
            if f"{stem}{suffix}".lower() in by_lower:
                return by_lower[f"{stem}{suffix}".lower()]
    raise InvalidAnnotation(
        f"{voc.xml_path}: image {wanted!r} not found in {directory} (.jpg/.jpeg/.png, any case)"
    )


def _convert_one(voc: VocAnnotation, image_path: Path, class_map: ClassMap) -> _Converted:
    source = str(voc.xml_path)
    with image_path.open("rb") as stream:
        width, height, _ = image_header_size(stream, str(image_path))
    if voc.width and voc.height and (voc.width, voc.height) != (width, height):
        raise InvalidAnnotation(
            f"{source}: <size> says {voc.width}x{voc.height} but {image_path.name} is {width}x{height}"
        )
    boxes, names, clipped = [], {}, 0
    for index, obj in enumerate(voc.objects):
        left, top = _clamp(round(obj.xmin), width), _clamp(round(obj.ymin), height)
        right, bottom = _clamp(round(obj.xmax), width), _clamp(round(obj.ymax), height)
        if right - left <= 0 or bottom - top <= 0:
            raise InvalidAnnotation(
                f"{source}: object {index} ({obj.name}) lies outside the {width}x{height} image "
                f"(xmin={obj.xmin:g}, ymin={obj.ymin:g}, xmax={obj.xmax:g}, ymax={obj.ymax:g})"
            )
        clipped += int(obj.xmin < 0 or obj.ymin < 0 or obj.xmax > width or obj.ymax > height)
        class_id = class_map.id_of(obj.name, add=True)
        names[class_id] = obj.name
        boxes.append(Box(class_id, left, top, right - left, bottom - top))
    out_name = image_path.stem + image_path.suffix.lower()
    annotation = TrainingAnnotation(out_name, width, height, 3, tuple(boxes), names)
    return _Converted(image_path, out_name, annotation, clipped)


def _clamp(value: int, limit: int) -> int:
    return max(0, min(value, limit))
