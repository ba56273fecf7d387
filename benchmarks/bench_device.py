"""Edge camera loop: fps and process CPU per frame with uploads on/off vs a bare OpenCV loop; memory.

Runs the real loop (`visionpipe_edge.loop.DetectionLoop`) on a looping video of real photographs
(scikit-image's astronaut, a frontal face, in 1280x960 frames, alternating with photos without
faces) and the cascade detector, exactly as `visionpipe device run` does:

1. fps and CPU per frame, side by side: interleaved rounds of
   - the ANCHOR, a bare OpenCV loop: the same video read with cv2.VideoCapture, the same resize
     and the same cascade detector call per frame, nothing else (no loop machinery, no records);
   - the loop with uploads OFF;
   - the loop with uploads ON (one upload per second to a moto S3 server in its own process on
     127.0.0.1: six objects, three 1280x960/320x240 JPEG encodes).
   CPU per frame is this process's CPU time (time.process_time: every thread, OpenCV's workers
   and the uploader included; moto's server is another process) over the frames. Each figure is
   printed with its ratio to the anchor; uploads on/off shows what uploading costs.
2. memory: uploads ON for --duration seconds (default 120, the issue's 2 minutes); RSS sampled
   every --sample seconds and printed; peak RSS (VmHWM) at the end. Steady = the last samples are
   not above the early ones.

Run: .venv/bin/python benchmarks/bench_device.py [--duration 120] [--round 6] [--rounds 3] [--quick]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import boto3
from visionpipe_edge.config import EdgeSettings
from visionpipe_edge.detectors import build_detector
from visionpipe_edge.loop import DetectionLoop
from visionpipe_edge.uploader import BackgroundUploader

from visionpipe.components import SHIPPED_MODEL_DIR
from visionpipe.face_footage import face_frames, no_face_frames, write_video

BUCKET = "visionpipe-detections-bench"


def rss_mb() -> tuple[float, float]:
    """(current RSS, peak RSS) of this process in MB, from /proc (Linux)."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) / 1024
    return fields.get("VmRSS", 0.0), fields.get("VmHWM", 0.0)


def start_moto() -> tuple[subprocess.Popen, str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(url + "/moto-api/", timeout=1).close()
            return process, url
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("moto server did not start")


def run_segment(settings: EdgeSettings, s3, seconds: float, sample_every: float | None = None):
    uploader = BackgroundUploader(s3, BUCKET, max_queue=settings.upload_queue_size) if s3 else None
    loop = DetectionLoop(lambda: settings, uploader)
    samples = []
    if sample_every:
        started = time.monotonic()

        def sample():
            while not loop.stop_event.wait(sample_every):
                current, _ = rss_mb()
                samples.append((time.monotonic() - started, current, loop.stats.frames))
                print(
                    f"  t={samples[-1][0]:6.1f}s  RSS {current:7.1f} MB  frames {loop.stats.frames}",
                    flush=True,
                )

        threading.Thread(target=sample, daemon=True).start()
    cpu = time.process_time()
    stats = loop.run(duration=seconds)
    loop.stop()
    upload = None
    if uploader is not None:
        uploader.close(timeout=30)  # its CPU (encodes, requests) belongs to these frames
        upload = uploader.stats
    stats.process_cpu_seconds = time.process_time() - cpu
    return stats, upload, samples


def bare_opencv_loop(settings: EdgeSettings, seconds: float) -> tuple[float, float, int]:
    """The anchor: read, resize, detect, as fast as possible. Returns (fps, CPU s, frames)."""
    import cv2

    detector = build_detector(settings)
    video = cv2.VideoCapture(settings.source)
    frames = 0
    cpu, started = time.process_time(), time.monotonic()
    while time.monotonic() - started < seconds:
        ok, frame = video.read()
        if not ok:
            video.set(cv2.CAP_PROP_POS_FRAMES, 0)
            continue
        resized = cv2.resize(frame, settings.input_size, interpolation=cv2.INTER_AREA)
        detector.detect(resized, settings.threshold)
        frames += 1
    elapsed = time.monotonic() - started
    video.release()
    return frames / elapsed, time.process_time() - cpu, frames


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=120.0, help="memory run length, s (default 120)")
    parser.add_argument("--sample", type=float, default=10.0, help="RSS sample period, s (default 10)")
    parser.add_argument("--round", type=float, default=6.0, help="seconds per fps round (default 6)")
    parser.add_argument("--rounds", type=int, default=3, help="off/on round pairs (default 3)")
    parser.add_argument("--quick", action="store_true", help="2 rounds of 4 s, a 30 s memory run")
    args = parser.parse_args()
    if args.quick:
        args.duration, args.round, args.rounds, args.sample = 30.0, 4.0, 2, 5.0

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    work = Path(tempfile.mkdtemp(prefix="bench-device-"))
    faces, others = face_frames(), no_face_frames()
    video = write_video(work / "photos.avi", [faces[0], others[0], faces[1], others[1], faces[2]], fps=5)
    process, endpoint = start_moto()
    try:
        s3 = boto3.client("s3", endpoint_url=endpoint)
        s3.create_bucket(Bucket=BUCKET)
        settings = EdgeSettings(
            source=str(video),
            loop_source=True,
            model_dir=str(SHIPPED_MODEL_DIR),
            device_name="bench-cam",
            bucket=BUCKET,
            upload_interval=1.0,
        )
        print(
            f"frames 1280x960 -> model input {settings.input_width}x{settings.input_height}, cascade detector"
        )
        print(
            f"uploads: at most 1/s to moto S3 at {endpoint} (own process), queue {settings.upload_queue_size}"
        )
        run_segment(settings, None, 2.0)  # warm-up: imports, cascade parse, codec
        bare_opencv_loop(settings, 1.0)
        fps = {"bare": [], "off": [], "on": []}
        cpu = {"bare": [0.0, 0], "off": [0.0, 0], "on": [0.0, 0]}
        for round_number in range(args.rounds):
            for mode in ("bare", "off", "on"):
                if mode == "bare":
                    rate, seconds, frames = bare_opencv_loop(settings, args.round)
                    extra = ""
                else:
                    stats, upload, _ = run_segment(settings, s3 if mode == "on" else None, args.round)
                    rate, seconds, frames = stats.fps, stats.process_cpu_seconds, stats.frames
                    extra = f", {upload.uploaded} uploads, {upload.dropped} dropped" if upload else ""
                fps[mode].append(rate)
                cpu[mode][0] += seconds
                cpu[mode][1] += frames
                print(
                    f"round {round_number + 1} {mode:4}: {rate:6.2f} fps, "
                    f"{1000 * seconds / max(frames, 1):5.1f} ms CPU/frame ({frames} frames{extra})"
                )
        mean = {mode: sum(v) / len(v) for mode, v in fps.items()}
        per_frame = {mode: 1000 * total / max(frames, 1) for mode, (total, frames) in cpu.items()}
        print(
            f"anchor, bare OpenCV loop: {mean['bare']:.2f} fps, "
            f"{per_frame['bare']:.1f} ms process CPU per frame"
        )
        for mode in ("off", "on"):
            print(
                f"loop, uploads {mode:3}: {mean[mode]:.2f} fps "
                f"({mean[mode] / mean['bare']:.2f}x the anchor), "
                f"{per_frame[mode]:.1f} ms CPU/frame ({per_frame[mode] / per_frame['bare']:.2f}x the anchor)"
            )
        print(
            f"uploads on/off: fps {mean['on'] / mean['off']:.3f} (target >= 0.9), CPU per frame "
            f"{per_frame['on'] / per_frame['off']:.2f}x (load average {os.getloadavg()[0]:.1f} on "
            f"{os.cpu_count()} CPUs; fps is noisy when busy, CPU per frame less so)"
        )

        print(f"memory: uploads on for {args.duration:.0f} s, RSS every {args.sample:.0f} s")
        stats, upload, samples = run_segment(settings, s3, args.duration, sample_every=args.sample)
        current, peak = rss_mb()
        print(
            f"memory run: {stats.frames} frames at {stats.fps:.2f} fps, {upload.uploaded} uploads "
            f"({upload.objects} objects), {upload.dropped} dropped, {upload.failed} failed"
        )
        if len(samples) >= 4:
            early = max(s[1] for s in samples[: len(samples) // 2])
            late = max(s[1] for s in samples[len(samples) // 2 :])
            print(
                f"RSS first half max {early:.1f} MB, second half max {late:.1f} MB "
                f"(growth {late - early:+.1f} MB); peak (VmHWM) {peak:.1f} MB"
            )
        else:
            print(f"RSS now {current:.1f} MB; peak (VmHWM) {peak:.1f} MB")
    finally:
        process.terminate()
        process.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
