"""SageMaker object-detection training data: the JSON-per-image annotation and the class map.

One annotation per image (SageMaker "Object Detection - MXNet", image format):
    {"file": "raw_cam_20261121-083114.jpg",
     "image_size": [{"width": 1280, "height": 720, "depth": 3}],
     "annotations": [{"class_id": 0, "left": 10, "top": 20, "width": 100, "height": 80}],
     "categories": [{"class_id": 0, "name": "thumbs-up"}]}

The class map gives every class name a stable id (ids are never reused or renumbered); it is
stored as {"categories": [{"class_id": 0, "name": "thumbs-up"}, ...]}, the annotation's own shape.
"""

from __future__ import annotations

import hashlib
import io
import json
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from PIL import Image

from visionpipe_common.errors import RejectedInput
from visionpipe_common.inputs import finite_number, parse_json_document

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
CLASS_MAP_FILE = "class_map.json"
CHANNELS = ("train", "validation", "train_annotation", "validation_annotation")
# An annotation is a few hundred bytes per box. The candidate item that keeps it must stay under
# DynamoDB's 400 KB item limit, so larger annotations are refused up front (limits.py checks the item).
MAX_ANNOTATION_BYTES = 256 * 1024


class InvalidAnnotation(RejectedInput):
    """An annotation (or its image) that cannot be used for training; the message names the source."""


def is_image_name(name: str) -> bool:
    return name.lower().endswith(IMAGE_SUFFIXES)


@dataclass(frozen=True)
class Box:
    class_id: int
    left: int
    top: int
    width: int
    height: int

    @property
    def right(self) -> int:
        return self.left + self.width

    @property
    def bottom(self) -> int:
        return self.top + self.height

    def as_dict(self) -> dict[str, int]:
        return {
            "class_id": self.class_id,
            "left": self.left,
            "top": self.top,
            "width": self.width,
            "height": self.height,
        }


@dataclass(frozen=True)
class TrainingAnnotation:
    file: str
    width: int
    height: int
    depth: int
    boxes: tuple[Box, ...]
    categories: dict[int, str] = field(default_factory=dict)  # class_id -> name

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "image_size": [{"width": self.width, "height": self.height, "depth": self.depth}],
            "annotations": [box.as_dict() for box in self.boxes],
            "categories": [{"class_id": cid, "name": name} for cid, name in sorted(self.categories.items())],
        }

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=None, separators=(",", ":"))

    def class_names(self) -> list[str]:
        """Names of the classes the boxes use, in box order, without repeats."""
        return list(dict.fromkeys(self.categories[box.class_id] for box in self.boxes))

    def problems_against_image(self, width: int, height: int) -> list[str]:
        """Why this annotation does not fit an image of the given real size (empty: it fits)."""
        problems = []
        if (self.width, self.height) != (width, height):
            problems.append(f"image_size says {self.width}x{self.height} but the image is {width}x{height}")
        for index, box in enumerate(self.boxes):
            if box.left < 0 or box.top < 0 or box.right > width or box.bottom > height:
                problems.append(
                    f"box {index} (left={box.left}, top={box.top}, width={box.width}, height={box.height}) "
                    f"is not inside the {width}x{height} image"
                )
        return problems

    def relabelled(self, class_map: ClassMap, source: str) -> TrainingAnnotation:
        """The same boxes with ids from the class map (matched by name); unknown names are an error."""
        unknown = sorted({self.categories[box.class_id] for box in self.boxes} - set(class_map.names))
        if unknown:
            raise InvalidAnnotation(
                f"{source}: unknown class(es) {', '.join(map(repr, unknown))}; "
                f"known: {', '.join(class_map.names)}"
            )
        boxes = tuple(
            replace(box, class_id=class_map.id_of(self.categories[box.class_id])) for box in self.boxes
        )
        return replace(self, boxes=boxes, categories={class_id: name for name, class_id in class_map.items()})

    @classmethod
    def from_json(
        cls, text: str | bytes, source: str, max_bytes: int = MAX_ANNOTATION_BYTES
    ) -> TrainingAnnotation:
        try:
            document = parse_json_document(text, source, max_bytes)
        except RejectedInput as rejected:
            raise InvalidAnnotation(rejected.reason) from rejected
        return cls.from_dict(document, source)

    @classmethod
    def from_dict(cls, document: Any, source: str) -> TrainingAnnotation:
        """Validate a SageMaker annotation document; every error message starts with `source`."""

        def fail(reason: str) -> InvalidAnnotation:
            return InvalidAnnotation(f"{source}: {reason}")

        if not isinstance(document, dict):
            raise fail("an annotation must be a JSON object")
        file = document.get("file")
        if not isinstance(file, str) or not file.strip() or not is_image_name(file):
            raise fail(f"'file' must name a .jpg, .jpeg or .png image (got {file!r})")
        sizes = document.get("image_size")
        if not isinstance(sizes, list) or len(sizes) != 1 or not isinstance(sizes[0], dict):
            raise fail("'image_size' must be a list holding one {width, height, depth} object")
        width = _positive_int(sizes[0].get("width"), "image_size width", fail)
        height = _positive_int(sizes[0].get("height"), "image_size height", fail)
        depth = _positive_int(sizes[0].get("depth", 3), "image_size depth", fail)

        raw_categories = document.get("categories")
        if not isinstance(raw_categories, list) or not raw_categories:
            raise fail("'categories' must list the class names ({class_id, name})")
        categories: dict[int, str] = {}
        for entry in raw_categories:
            if (
                not isinstance(entry, dict)
                or not isinstance(entry.get("name"), str)
                or not entry["name"].strip()
            ):
                raise fail(f"category {entry!r} needs a class_id and a non-empty name")
            class_id = _int(entry.get("class_id"), "category class_id", fail, minimum=0)
            if categories.get(class_id, entry["name"]) != entry["name"]:
                raise fail(
                    f"class_id {class_id} is named both {categories[class_id]!r} and {entry['name']!r}"
                )
            categories[class_id] = entry["name"].strip()

        raw_boxes = document.get("annotations")
        if not isinstance(raw_boxes, list):
            raise fail("'annotations' must be a list of boxes")
        boxes = []
        for index, raw in enumerate(raw_boxes):
            if not isinstance(raw, dict):
                raise fail(f"box {index} is not an object")
            class_id = _int(raw.get("class_id"), f"box {index} class_id", fail, minimum=0)
            if class_id not in categories:
                raise fail(f"box {index} has class_id {class_id}, which 'categories' does not name")
            boxes.append(
                Box(
                    class_id=class_id,
                    left=_int(raw.get("left"), f"box {index} left", fail),
                    top=_int(raw.get("top"), f"box {index} top", fail),
                    width=_positive_int(raw.get("width"), f"box {index} width", fail),
                    height=_positive_int(raw.get("height"), f"box {index} height", fail),
                )
            )
        return cls(
            file=file, width=width, height=height, depth=depth, boxes=tuple(boxes), categories=categories
        )


def _int(value: Any, what: str, fail, minimum: int | None = None) -> int:
    # JSON numbers like 12.0 are accepted; 12.5, "12", true, NaN, 1e999 are not.
    if not finite_number(value) or int(value) != value:
        raise fail(f"{what} must be a whole number (got {value!r})")
    if minimum is not None and value < minimum:
        raise fail(f"{what} must be >= {minimum} (got {value!r})")
    return int(value)


def _positive_int(value: Any, what: str, fail) -> int:
    number = _int(value, what, fail)
    if number <= 0:
        raise fail(f"{what} must be > 0 (got {value!r})")
    return number


class ClassMap:
    """Class name -> stable id. New names get the next free id; existing ids never change."""

    def __init__(self, categories: Iterable[tuple[int, str]] = ()):
        self._ids: dict[str, int] = {}
        for class_id, name in categories:
            self._add(name, class_id)

    def _add(self, name: str, class_id: int) -> None:
        if name in self._ids and self._ids[name] != class_id:
            raise ValueError(f"class {name!r} has two ids: {self._ids[name]} and {class_id}")
        if class_id in self._ids.values() and self._ids.get(name) != class_id:
            raise ValueError(f"class id {class_id} is used by two classes")
        self._ids[name] = class_id

    @classmethod
    def from_names(cls, names: Iterable[str]) -> ClassMap:
        class_map = cls()
        for name in names:
            class_map.id_of(name, add=True)
        return class_map

    @classmethod
    def from_json(cls, text: str | bytes, source: str = CLASS_MAP_FILE) -> ClassMap:
        try:
            document = json.loads(text)
            return cls((int(entry["class_id"]), str(entry["name"])) for entry in document["categories"])
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidAnnotation(f"{source}: not a class map ({exc})") from exc

    def to_json(self) -> str:
        return json.dumps({"categories": self.categories()}, indent=2) + "\n"

    def categories(self) -> list[dict[str, Any]]:
        return [{"class_id": class_id, "name": name} for name, class_id in self.items()]

    def items(self) -> list[tuple[str, int]]:
        return sorted(self._ids.items(), key=lambda item: item[1])

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.items()]

    def id_of(self, name: str, add: bool = False) -> int:
        if name not in self._ids:
            if not add:
                raise KeyError(name)
            self._ids[name] = max(self._ids.values(), default=-1) + 1
        return self._ids[name]

    def merged_with(self, other: ClassMap, source: str) -> ClassMap:
        """This map plus the other's classes; a name with a different id in each is an error."""
        merged = ClassMap((cid, name) for name, cid in self.items())
        for name, class_id in other.items():
            try:
                merged._add(name, class_id)
            except ValueError as exc:
                raise InvalidAnnotation(f"{source}: class maps disagree: {exc}") from exc
        return merged

    @property
    def num_classes(self) -> int:
        """SageMaker's num_classes: ids run 0..max, so it is max id + 1."""
        return max(self._ids.values(), default=-1) + 1

    def __len__(self) -> int:
        return len(self._ids)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ClassMap) and self.items() == other.items()


def image_header_size(data: bytes | io.BufferedIOBase, source: str) -> tuple[int, int, str]:
    """(width, height, format) read from the image header alone (no pixel is decoded)."""
    stream = io.BytesIO(data) if isinstance(data, bytes) else data
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(stream, formats=["JPEG", "PNG"]) as image:
                width, height = image.size
                return width, height, image.format
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise InvalidAnnotation(f"{source}: not a readable JPEG or PNG image ({exc})") from exc


def split_of(name: str, validation_fraction: float, seed: str = "visionpipe") -> str:
    """'train' or 'validation' for one image, from a hash of its name: adding images never moves others."""
    digest = hashlib.sha256(f"{seed}:{name}".encode()).digest()
    return "validation" if int.from_bytes(digest[:8], "big") / 2**64 < validation_fraction else "train"


def assign_splits(
    names: Iterable[str], validation_fraction: float, seed: str = "visionpipe"
) -> dict[str, str]:
    """Deterministic train/validation split; with two or more images each side gets at least one."""
    if not 0 < validation_fraction < 1:
        raise ValueError(f"validation fraction must be between 0 and 1 (got {validation_fraction})")
    names = sorted(set(names))
    splits = {name: split_of(name, validation_fraction, seed) for name in names}
    if len(names) >= 2:
        ranked = sorted(names, key=lambda n: hashlib.sha256(f"{seed}:{n}".encode()).digest())
        if "validation" not in splits.values():
            splits[ranked[0]] = "validation"
        if "train" not in splits.values():
            splits[ranked[-1]] = "train"
    return splits
