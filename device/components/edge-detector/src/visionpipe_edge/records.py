"""The six objects one detection writes, with the key and JSON formats the cloud side reads.

Keys (T = UTC "%Y%m%d-%H%M%S", D = device name):
  images/image_<D>_<T>.jpg              annotated full frame
  json/record_<D>_<T>.json              detection record
  latest/latest.json                    the same record, overwritten
  frames_resized/resized_<D>_<T>.jpg    annotated model-input-size frame
  raw_images/raw_<D>_<T>.jpg            unannotated full frame (for retraining)
  training_annotation/raw_<D>_<T>.json  SageMaker object-detection annotation of that raw image
The record keeps the original's fields (device_id, timestamp, objects[index, object, confidence])
and adds each object's box in full-frame pixels, the image key (never a public URL), the frame
size and the model. The training annotation's boxes are the record's boxes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone

from visionpipe_edge.detections import Detection

TIME_FORMAT = "%Y%m%d-%H%M%S"


@dataclass(frozen=True)
class DetectionKeys:
    image: str
    record: str
    latest: str
    resized: str
    raw: str
    training_annotation: str

    @classmethod
    def for_detection(cls, device_id: str, timestamp: str) -> DetectionKeys:
        stem = f"{device_id}_{timestamp}"
        return cls(
            image=f"images/image_{stem}.jpg",
            record=f"json/record_{stem}.json",
            latest="latest/latest.json",
            resized=f"frames_resized/resized_{stem}.jpg",
            raw=f"raw_images/raw_{stem}.jpg",
            training_annotation=f"training_annotation/raw_{stem}.json",
        )


def time_tokens(moment: datetime) -> tuple[str, str]:
    """("20261121-083114", "2026-11-21T08:31:14.123Z") for a moment, in UTC."""
    moment = moment.astimezone(timezone.utc)
    return moment.strftime(TIME_FORMAT), moment.strftime(
        "%Y-%m-%dT%H:%M:%S."
    ) + f"{moment.microsecond // 1000:03d}Z"


def build_record(
    device_id: str,
    moment: datetime,
    detections: list[Detection],
    frame_size: tuple[int, int],
    model_name: str,
    model_version: str,
    detector: str = "",
) -> dict:
    """The detection record; `detections` carry full-frame boxes; `model` names what ran (name,
    version: the model component's, and the detector kind)."""
    timestamp, time_utc = time_tokens(moment)
    return {
        "device_id": device_id,
        "timestamp": timestamp,
        "time_utc": time_utc,
        "image_key": DetectionKeys.for_detection(device_id, timestamp).image,
        "objects": [
            {
                "index": index,
                "object": d.label,
                "confidence": round(float(d.score), 4),
                "box": d.box.as_dict(),
            }
            for index, d in enumerate(detections)
        ],
        "frame": {"width": frame_size[0], "height": frame_size[1]},
        "model": {
            "name": model_name,
            "version": str(model_version),
            **({"detector": detector} if detector else {}),
        },
    }


def build_training_annotation(
    raw_file_name: str, detections: list[Detection], image_size: tuple[int, int], labels: tuple[str, ...]
) -> dict:
    """SageMaker object-detection annotation (JSON format) for the raw image, one entry per detection."""
    return {
        "file": raw_file_name,
        "image_size": [{"width": image_size[0], "height": image_size[1], "depth": 3}],
        "annotations": [
            {
                "class_id": d.class_id,
                "left": d.box.xmin,
                "top": d.box.ymin,
                "width": d.box.width,
                "height": d.box.height,
            }
            for d in detections
        ],
        "categories": [{"class_id": class_id, "name": name} for class_id, name in enumerate(labels)],
    }


def to_json_bytes(document: dict) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()
