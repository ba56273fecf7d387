"""Deterministic train/validation split into SageMaker's four channel folders."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from visionpipe.dataset.convert import ANNOTATIONS_DIR, IMAGES_DIR, DatasetError
from visionpipe_common.retraining.annotations import (
    CHANNELS,
    CLASS_MAP_FILE,
    TrainingAnnotation,
    assign_splits,
)


@dataclass
class SplitReport:
    images: dict[str, int] = field(default_factory=lambda: {"train": 0, "validation": 0})
    boxes: dict[str, int] = field(default_factory=lambda: {"train": 0, "validation": 0})

    def lines(self) -> list[str]:
        return [
            f"{side}: {self.images[side]} images, {self.boxes[side]} boxes"
            for side in ("train", "validation")
        ]

    @property
    def num_training_samples(self) -> int:
        return self.images["train"]


def split_dataset(
    converted: Path, out: Path, validation_fraction: float = 0.1, seed: str = "visionpipe"
) -> SplitReport:
    """Copy convert's output (images/, annotations/, class_map.json) into out/<channel>/.

    An image's side depends only on its name and the seed, so rerunning after adding images keeps
    every earlier image where it was.
    """
    converted, out = Path(converted), Path(out)
    annotations = sorted((converted / ANNOTATIONS_DIR).glob("*.json"))
    if not annotations:
        raise DatasetError(
            f"{converted / ANNOTATIONS_DIR}: no annotations (run `visionpipe dataset convert` first)"
        )
    documents = {}
    for path in annotations:
        annotation = TrainingAnnotation.from_json(path.read_bytes(), str(path))
        if not (converted / IMAGES_DIR / annotation.file).is_file():
            raise DatasetError(f"{path}: its image {annotation.file} is not in {converted / IMAGES_DIR}")
        documents[annotation.file] = (path, annotation)
    sides = assign_splits(documents, validation_fraction, seed)
    for channel in CHANNELS:
        target = out / channel
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
    report = SplitReport()
    for name, (path, annotation) in sorted(documents.items()):
        side = sides[name]
        shutil.copyfile(converted / IMAGES_DIR / name, out / side / name)
        shutil.copyfile(path, out / f"{side}_annotation" / path.name)
        report.images[side] += 1
        report.boxes[side] += len(annotation.boxes)
    if (converted / CLASS_MAP_FILE).is_file():
        shutil.copyfile(converted / CLASS_MAP_FILE, out / CLASS_MAP_FILE)
    return report
