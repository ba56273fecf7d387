"""Detector quality on held-out real photographs: validation mAP per algorithm and the seed's table.

Data (scikit-image's photographs, never brick/gravel/grass): camera frames of LFW faces placed in
scikit-image scenes, labelled by the device's shipped cascade (visionpipe.face_footage). Training:
people 0-59 (train channel) and 60-79 (validation channel); held out: people 80-99 in new frames,
plus the astronaut photograph (three framings) and two photographs without a face (coffee, chelsea).

Each algorithm is trained by its SageMaker script (train_hog.py; train_ssd.py when the torch venv
exists, `make torch-venv`) under the training-toolkit contract, then the model the device loads
(model.json) runs in the device's own detector on the held-out frames:
- VOC mAP at IoU 0.5;
- the seed's table at threshold 0.3: expected boxes, true, false, missed, average confidence of the
  true and of the false detections.

Run: .venv/bin/python benchmarks/bench_detector_quality.py [--ssd-epochs 10] [--skip-ssd] [--quick]
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from visionpipe_edge.config import EdgeSettings, model_defaults
from visionpipe_edge.detections import scale_detections
from visionpipe_edge.detectors import build_detector

from visionpipe import face_footage
from visionpipe.detector_model.mean_average_precision import ScoredBox, iou, mean_average_precision
from visionpipe.detector_model.source import sourcedir_archive
from visionpipe.local.engines.training import torch_python

FACE_SIZES = (50, 150)


def job_folders(root: Path, train, validation, hyperparameters: dict) -> dict:
    data = root / "input" / "data"
    face_footage.write_channels(data, train, validation)
    (root / "input" / "config").mkdir(parents=True)
    (root / "input" / "config" / "hyperparameters.json").write_text(json.dumps(hyperparameters))
    code = root / "code"
    with tarfile.open(fileobj=io.BytesIO(sourcedir_archive())) as archive:
        archive.extractall(code, filter="data")
    return {
        "SM_INPUT_CONFIG_DIR": str(root / "input" / "config"),
        "SM_INPUT_DATA_DIR": str(data),
        "SM_MODEL_DIR": str(root / "model"),
        "SM_OUTPUT_DIR": str(root / "output"),
        "TRAINING_JOB_NAME": f"bench-{root.name}",
        "PYTHONPATH": str(code),
        "PATH": "/usr/bin:/bin",
    }


def train(
    algorithm: str, python: Path, root: Path, train_frames, validation, hyperparameters
) -> tuple[Path, float]:
    env = job_folders(root, train_frames, validation, hyperparameters)
    started = time.perf_counter()
    done = subprocess.run(
        [str(python), f"train_{algorithm}.py"], cwd=root / "code", env=env, capture_output=True, text=True
    )
    if done.returncode:
        raise SystemExit(f"{algorithm}: {done.stderr[-2000:]}")
    line = [x for x in done.stdout.splitlines() if x.startswith("validation:mAP=")][-1]
    print(f"{algorithm}: trained in {time.perf_counter() - started:.1f} s, {line}")
    return root / "model", float(line.split("=")[1])


def evaluate(model_dir: Path, frames) -> dict:
    settings = EdgeSettings(**model_defaults(model_dir))
    detector = build_detector(settings)
    detections, truth, table = [], {}, {"expected": 0, "true": 0, "false": 0, "missed": 0}
    true_scores, false_scores = [], []
    for index, frame in enumerate(frames):
        resized = cv2.resize(frame.image, settings.input_size, interpolation=cv2.INTER_AREA)
        size = (frame.image.shape[1], frame.image.shape[0])
        found = scale_detections(detector.detect(resized, 0.01), settings.input_size, size)
        boxes = [tuple(map(float, b)) for b in frame.boxes]
        truth[index] = [(0, b) for b in boxes]
        detections += [
            ScoredBox(index, 0, d.score, (d.box.xmin, d.box.ymin, d.box.xmax, d.box.ymax)) for d in found
        ]
        matched = set()
        table["expected"] += len(boxes)
        for d in [d for d in found if d.score >= 0.3]:
            box = (d.box.xmin, d.box.ymin, d.box.xmax, d.box.ymax)
            best = max(range(len(boxes)), key=lambda i: iou(box, boxes[i]), default=None)
            if best is not None and best not in matched and iou(box, boxes[best]) >= 0.5:
                matched.add(best)
                table["true"] += 1
                true_scores.append(d.score)
            else:
                table["false"] += 1
                false_scores.append(d.score)
        table["missed"] += len(boxes) - len(matched)
    table["avg_true_confidence"] = round(float(np.mean(true_scores)), 3) if true_scores else None
    table["avg_false_confidence"] = round(float(np.mean(false_scores)), 3) if false_scores else None
    return {"mAP": round(mean_average_precision(detections, truth, 0.5).mean_ap, 4), "table@0.3": table}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ssd-epochs", type=int, default=10)
    parser.add_argument("--skip-ssd", action="store_true")
    parser.add_argument("--quick", action="store_true", help="hog only, no SSD training (make bench QUICK=1)")
    args = parser.parse_args()
    train_frames = face_footage.camera_frames(
        14, range(60), seed=11, prefix="raw_base-train", sizes=FACE_SIZES
    )
    validation = face_footage.camera_frames(
        8, range(60, 80), seed=12, prefix="raw_base-val", sizes=FACE_SIZES
    )
    held_out = face_footage.camera_frames(20, range(80, 100), seed=21, prefix="raw_held", sizes=FACE_SIZES)
    photos = []
    for name, image in [("astronaut", f) for f in face_footage.face_frames()] + [
        ("no-face", f) for f in face_footage.no_face_frames()
    ]:
        resized = cv2.resize(image, face_footage.MODEL_INPUT, interpolation=cv2.INTER_AREA)
        size = (image.shape[1], image.shape[0])
        found = scale_detections(face_footage.cascade().detect(resized, 0.5), face_footage.MODEL_INPUT, size)
        annotation = {
            "annotations": [
                {"left": d.box.xmin, "top": d.box.ymin, "width": d.box.width, "height": d.box.height}
                for d in found
            ]
        }
        photos.append(face_footage.Frame(f"{name}.jpg", image, annotation))
    runs = [("hog", Path(sys.executable), {"image_shape": "512"})]
    if not (args.skip_ssd or args.quick) and torch_python().is_file():
        runs.append(
            (
                "ssd",
                torch_python(),
                {"epochs": str(args.ssd_epochs), "mini_batch_size": "8", "learning_rate": "0.01"},
            )
        )
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        for algorithm, python, hyper in runs:
            model_dir, validation_map = train(
                algorithm, python, Path(folder) / algorithm, train_frames, validation, hyper
            )
            results[algorithm] = {
                "validation_mAP (people 60-79)": round(validation_map, 4),
                "held-out LFW people 80-99 (20 frames)": evaluate(model_dir, held_out),
                "scikit-image photographs (astronaut x3, coffee, chelsea)": evaluate(model_dir, photos),
            }
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
