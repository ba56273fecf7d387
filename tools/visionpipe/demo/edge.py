"""The edge camera in the demo: `visionpipe device run`'s loop (visionpipe_edge) on a few seconds of
real photographs with faces, writing the six kinds of object to the local detections bucket."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from pathlib import Path

from visionpipe_edge import cli as edge_cli
from visionpipe_edge.publishers import LogPublisher
from visionpipe_edge.uploader import BackgroundUploader

from visionpipe import components

KINDS = ("images/", "json/", "latest/", "frames_resized/", "raw_images/", "training_annotation/")
FPS = 5


def face_footage():
    """visionpipe.face_footage, or a clear error when scikit-image (a dev dependency) is missing."""
    try:
        from visionpipe import face_footage
    except ModuleNotFoundError as missing:
        raise RuntimeError(
            f"{missing.name} is not installed: the face footage comes from scikit-image's bundled "
            "photographs (`make install`, or pip install -e '.[dev]')"
        ) from missing
    return face_footage


def write_footage(path: Path, seconds: int) -> Path:
    """`seconds` of 5 fps video: each second four frames of a face (astronaut, three framings in
    turn) and one without (coffee, chelsea in turn)."""
    footage = face_footage()
    faces, others = footage.face_frames(), footage.no_face_frames()
    frames = []
    for second in range(seconds):
        frames += [faces[second % len(faces)]] * (FPS - 1) + [others[second % len(others)]]
    return footage.write_video(path, frames, fps=FPS)


@dataclass
class EdgeRun:
    device_id: str
    bucket: str
    video: Path
    frames: int = 0
    frames_with_detections: int = 0
    fps: float = 0.0
    uploads_queued: int = 0
    uploaded: int = 0
    objects_written: int = 0
    dropped: int = 0
    failed: int = 0
    counts: dict[str, int] = field(default_factory=dict)  # objects of this device per key prefix
    record_keys: list[str] = field(default_factory=list)
    annotation_keys: list[str] = field(default_factory=list)
    first_record: dict | None = None
    annotated_jpeg: bytes | None = None  # images/... of the first record
    models: list[dict] = field(default_factory=list)  # each record's model (name, version, detector)

    def problems(self) -> list[str]:
        problems = []
        if not self.record_keys:
            problems.append(f"the device wrote no record ({self.frames} frames, none with a face uploaded)")
        missing = [kind for kind in KINDS if not self.counts.get(kind)]
        if missing:
            problems.append(f"no object under {', '.join(missing)}")
        if self.failed or self.dropped:
            problems.append(f"{self.failed} upload(s) failed, {self.dropped} dropped")
        if self.objects_written != 6 * self.uploaded:
            problems.append(f"{self.objects_written} objects written for {self.uploaded} detections (6 each)")
        return problems

    def count_line(self) -> str:
        return ", ".join(f"{kind} {self.counts.get(kind, 0)}" for kind in KINDS)


def run_device(stack, bucket: str, video: Path, device_id: str, interval: float, core=None) -> EdgeRun:
    """The loop `visionpipe device run --source VIDEO --realtime --interval S` runs, uploading
    through the stack's S3 endpoint; then what it wrote, read back from the bucket. With `core`
    (visionpipe.core.LocalCore) the device runs what its Greengrass deployment names."""
    parser = argparse.ArgumentParser()
    edge_cli.add_options(parser, model_dir=components.model_dir())
    args = parser.parse_args(
        ["--source", str(video), "--realtime", "--interval", str(interval), "--device-name", device_id]
    )
    settings = edge_cli.settings_from_args(args, bucket)
    # the camera's own credentials (its token exchange role with the template's device policy)
    device_s3 = stack.device_session().client("s3", endpoint_url=stack.endpoint_url)
    uploader = BackgroundUploader(device_s3, bucket, max_queue=settings.upload_queue_size)
    provider = core.provider(settings) if core is not None else None
    stats = edge_cli.run_loop(
        settings, uploader, LogPublisher(), drain_timeout=args.drain_timeout, settings_provider=provider
    )
    run = EdgeRun(
        device_id=settings.device_id,
        bucket=bucket,
        video=video,
        frames=stats.frames,
        frames_with_detections=stats.frames_with_detections,
        fps=stats.fps,
        uploads_queued=stats.uploads_queued,
        uploaded=uploader.stats.uploaded,
        objects_written=uploader.stats.objects,
        dropped=uploader.stats.dropped,
        failed=uploader.stats.failed,
    )
    read_back(stack.client("s3"), run)
    return run


def read_back(s3, run: EdgeRun) -> None:
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=run.bucket):
        keys += [o["Key"] for o in page.get("Contents", [])]
    latest = "latest/latest.json"
    mine = [k for k in keys if f"_{run.device_id}_" in k]
    if latest in keys:
        record = json.loads(s3.get_object(Bucket=run.bucket, Key=latest)["Body"].read())
        if record.get("device_id") == run.device_id:
            mine.append(latest)
    run.counts = {kind: sum(1 for k in mine if k.startswith(kind)) for kind in KINDS}
    run.record_keys = sorted(k for k in mine if k.startswith("json/"))
    run.annotation_keys = sorted(k for k in mine if k.startswith("training_annotation/"))
    run.models = [
        json.loads(s3.get_object(Bucket=run.bucket, Key=key)["Body"].read()).get("model", {})
        for key in run.record_keys
    ]
    if run.record_keys:
        run.first_record = json.loads(s3.get_object(Bucket=run.bucket, Key=run.record_keys[0])["Body"].read())
        image_key = run.first_record["image_key"]
        if image_key in mine:
            run.annotated_jpeg = s3.get_object(Bucket=run.bucket, Key=image_key)["Body"].read()
