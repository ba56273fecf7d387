"""Image folders for training: listing, decoding, and the train / calibration / test split."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def list_images(folder: str | Path) -> list[Path]:
    """JPEG and PNG files under folder (recursively), sorted by path so splits are reproducible."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"no such folder: {folder}")
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def resolve_folders(data: str | Path, anomalous: str | Path | None) -> tuple[Path, Path | None]:
    """DIR may be a folder of normal images, or a sample-data folder holding normal/ and anomalous/."""
    data = Path(data)
    if (data / "normal").is_dir() and not any(p.suffix.lower() in IMAGE_SUFFIXES for p in data.iterdir()):
        if anomalous is None and (data / "anomalous").is_dir():
            anomalous = data / "anomalous"
        data = data / "normal"
    return data, Path(anomalous) if anomalous is not None else None


def load_rgb(path: Path) -> Image.Image:
    with Image.open(path) as image:
        return image.convert("RGB")


def kind_of(path: Path) -> str:
    """Defect kind from a sample-data style name (`scratch_004.jpg` -> scratch), else the parent folder."""
    stem = path.stem
    return stem.rsplit("_", 1)[0] if "_" in stem else path.parent.name


@dataclass(frozen=True)
class Split:
    train: list[Path]
    calibration: list[Path]
    test: list[Path]


def split_normal(paths: list[Path], rng: np.random.Generator, test: float, calibration: float) -> Split:
    """Shuffle, then hold out test and calibration fractions (at least 2 each, when there are enough)."""
    if len(paths) < 8:
        raise ValueError(f"need at least 8 normal images, found {len(paths)}")
    order = [paths[i] for i in rng.permutation(len(paths))]
    n_test = max(2, int(round(len(order) * test)))
    n_cal = max(2, int(round(len(order) * calibration)))
    return Split(
        train=sorted(order[n_test + n_cal :]),
        calibration=sorted(order[n_test : n_test + n_cal]),
        test=sorted(order[:n_test]),
    )


def split_anomalous(paths: list[Path], rng: np.random.Generator) -> Split:
    """Half for choosing the threshold, half for the test; stratified by kind so both see every kind."""
    calibration, test = [], []
    by_kind: dict[str, list[Path]] = {}
    for path in paths:
        by_kind.setdefault(kind_of(path), []).append(path)
    flip = 0
    for kind in sorted(by_kind):
        group = by_kind[kind]
        shuffled = [group[i] for i in rng.permutation(len(group))]
        half = (len(shuffled) + flip) // 2
        flip ^= len(shuffled) % 2  # alternate which side gets an odd one out
        calibration += shuffled[:half]
        test += shuffled[half:]
    return Split(train=[], calibration=sorted(calibration), test=sorted(test))


@dataclass(frozen=True)
class Splits:
    normal: Split
    anomalous: Split

    @property
    def counts(self) -> dict[str, int]:
        return {
            "train_normal": len(self.normal.train),
            "calibration_normal": len(self.normal.calibration),
            "calibration_anomalous": len(self.anomalous.calibration),
            "test_normal": len(self.normal.test),
            "test_anomalous": len(self.anomalous.test),
        }


def split_folders(
    normal_dir: str | Path,
    anomalous_dir: str | Path | None,
    rng: np.random.Generator,
    test: float,
    calibration: float,
) -> Splits:
    """Both trainers' split: normal images into train/calibration/test, anomalous into calibration/test."""
    normal_dir, anomalous_dir = resolve_folders(normal_dir, anomalous_dir)
    normal = split_normal(list_images(normal_dir), rng, test, calibration)
    anomalous = split_anomalous(list_images(anomalous_dir) if anomalous_dir else [], rng)
    return Splits(normal, anomalous)
