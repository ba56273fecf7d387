"""Upload the four channel folders (and the class map) under one S3 prefix."""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass, field
from pathlib import Path

from visionpipe.dataset.convert import DatasetError
from visionpipe_common.retraining.annotations import CHANNELS, CLASS_MAP_FILE, TrainingAnnotation


@dataclass
class UploadReport:
    uri: str
    objects: dict[str, int] = field(default_factory=dict)
    boxes: dict[str, int] = field(default_factory=dict)

    def lines(self) -> list[str]:
        lines = [f"{channel}: {self.objects.get(channel, 0)} objects" for channel in CHANNELS]
        lines.append(
            f"boxes: train {self.boxes.get('train', 0)}, validation {self.boxes.get('validation', 0)}"
        )
        lines.append(f"uploaded to {self.uri}")
        return lines


def upload_channels(s3, channels_dir: Path, bucket: str, prefix: str) -> UploadReport:
    channels_dir = Path(channels_dir)
    prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
    missing = [c for c in CHANNELS if not (channels_dir / c).is_dir()]
    if missing:
        raise DatasetError(
            f"{channels_dir}: missing channel folder(s) {', '.join(missing)} "
            "(run `visionpipe dataset split` first)"
        )
    report = UploadReport(uri=f"s3://{bucket}/{prefix}")
    for channel in CHANNELS:
        files = sorted(p for p in (channels_dir / channel).iterdir() if p.is_file())
        for path in files:
            if channel.endswith("_annotation"):
                annotation = TrainingAnnotation.from_json(path.read_bytes(), str(path))
                side = channel.removesuffix("_annotation")
                report.boxes[side] = report.boxes.get(side, 0) + len(annotation.boxes)
            content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            s3.upload_file(
                str(path), bucket, f"{prefix}{channel}/{path.name}", ExtraArgs={"ContentType": content_type}
            )
        report.objects[channel] = len(files)
    if (channels_dir / CLASS_MAP_FILE).is_file():
        s3.upload_file(
            str(channels_dir / CLASS_MAP_FILE),
            bucket,
            f"{prefix}{CLASS_MAP_FILE}",
            ExtraArgs={"ContentType": "application/json"},
        )
    return report
