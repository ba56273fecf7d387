"""Frame capture (opencv engine) against the ffmpeg CLI, same source, same transport, same run.

Measures, side by side in one run, the time the opencv engine takes to capture 4 frames (500x500,
JPEG 80, the defaults) from a 30-second and a 5-minute 1080p H.264+AAC video, streamed over HTTP
range requests exactly as in Lambda (the engine gets a URL, FFmpeg fetches only what it needs).
ANCHOR: the ffmpeg CLI (imageio-ffmpeg's static build) doing the same job on the same URL: for
each of the 4 times, `ffmpeg -ss T -i URL -frames:v 1 -vf scale=500:500 -q:v 5 out.jpg` (process
start included: that is what running the CLI costs). Like-for-like too: decoding every frame of
the 30-second video over the same HTTP transport, against capturing 4 frames of it. Wall-clock
is the median of 3; CPU is process CPU (this process's threads, the range server included, plus
the ffmpeg children's), each printed with its ratio to the anchor. Two capture plans:
- default: one frame every 5 s, at most 4 -> 0, 5, 10, 15 s in both videos;
- spread:  4 frames over the whole video (interval = duration / 4) -> the seeks go deep.
The videos are served by a small range-capable HTTP server standing in for S3 (moto's server reads
the whole object for every range request, which would measure moto, not the engine); the bytes
it sends are counted. Videos are generated once under .bench/frame_capture/ (the 5-minute one is
the 30-second one repeated by stream copy, so generation stays quick) and reused. "MB sent" is
an upper bound of what FFmpeg fetched: it includes data already in flight when FFmpeg drops a
connection to seek elsewhere.

Run: .venv/bin/python benchmarks/bench_frame_capture.py [--quick: 1 repeat]   (or `make bench`)
"""

from __future__ import annotations

import re
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2

from visionpipe.synthetic_video import ClipSpec, ffmpeg_exe, write_clip
from visionpipe_common.events.s3_events import S3Object
from visionpipe_common.frame_capture.opencv_engine import OpenCvEngine
from visionpipe_common.frame_capture.settings import CaptureSettings, OpenCvSettings

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".bench" / "frame_capture"
REPEATS = 3
_RANGE = re.compile(r"bytes=(\d+)-(\d*)")


def videos() -> dict[str, tuple[Path, float]]:
    CACHE.mkdir(parents=True, exist_ok=True)
    short = CACHE / "1080p_30s.mp4"
    long = CACHE / "1080p_5min.mp4"
    if not short.exists():
        started = time.perf_counter()
        write_clip(
            short, ClipSpec(seconds=30, width=1920, height=1080, fps=30, bitrate="2000k", gop_frames=60)
        )
        print(f"generated {short.name} in {time.perf_counter() - started:.1f} s")
    if not long.exists():
        command = [
            ffmpeg_exe(),
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-stream_loop",
            "9",
            "-i",
            str(short),
            "-c",
            "copy",
            str(long),
        ]
        subprocess.run(command, check=True)
        print(f"generated {long.name} (the 30 s clip x10, stream copy)")
    return {"30 s": (short, 30.0), "5 min": (long, 300.0)}


class RangeServer(ThreadingHTTPServer):
    """Serves files from CACHE with HTTP range requests, like S3; counts the bytes it sends."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), RangeHandler)
        self.bytes_sent = 0
        self.lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/"


class RangeHandler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # quiet
        pass

    def do_HEAD(self):
        self._serve(body=False)

    def do_GET(self):
        self._serve(body=True)

    def _serve(self, body: bool):
        path = CACHE / self.path.lstrip("/").split("?")[0]
        if not path.is_file():
            self.send_error(404)
            return
        size = path.stat().st_size
        start, end = 0, size - 1
        match = _RANGE.fullmatch(self.headers.get("Range", ""))
        if match:
            start = int(match[1])
            end = min(int(match[2]) if match[2] else size - 1, size - 1)
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        else:
            self.send_response(200)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Content-Type", "video/mp4")
        self.end_headers()
        if not body:
            return
        with path.open("rb") as f:
            f.seek(start)
            remaining = end - start + 1
            try:
                while remaining > 0:
                    chunk = f.read(min(remaining, 256 * 1024))
                    self.wfile.write(chunk)
                    remaining -= len(chunk)
                    with self.server.lock:
                        self.server.bytes_sent += len(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass  # FFmpeg closes a connection as soon as it has what it needs, then seeks elsewhere


class UrlAndFrameSink:
    """The two S3 calls the engine makes: a (presigned) URL for the video, put_object for frames."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.frames = 0

    def generate_presigned_url(self, _operation, Params, ExpiresIn):  # noqa: N803 (boto3's names)
        return self.base_url + Params["Key"].rsplit("/", 1)[-1]

    def put_object(self, **kwargs):
        self.frames += 1


def cpu_now() -> float:
    """This process's CPU plus its finished children's (the ffmpeg CLI runs)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def decode_every_frame(url: str) -> tuple[float, float, int]:
    started, cpu = time.perf_counter(), cpu_now()
    video = cv2.VideoCapture(url, cv2.CAP_FFMPEG)
    frames = 0
    while video.grab():
        video.retrieve()
        frames += 1
    video.release()
    return time.perf_counter() - started, cpu_now() - cpu, frames


def ffmpeg_cli(url: str, times: list[float], out: Path) -> None:
    for index, seconds in enumerate(times):
        command = [
            ffmpeg_exe(),
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-ss",
            f"{seconds:.3f}",
            "-i",
            url,
            "-frames:v",
            "1",
            "-vf",
            "scale=500:500",
            "-q:v",
            "5",
            str(out / f"frame_{index}.jpg"),
        ]
        subprocess.run(command, check=True)


def main() -> int:
    global REPEATS
    if "--quick" in sys.argv[1:]:
        REPEATS = 1
    clips = videos()
    server = RangeServer()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sink = UrlAndFrameSink(server.base_url)
    results: dict[tuple[str, str], tuple[float, int, float]] = {}
    anchors: dict[tuple[str, str], tuple[float, float]] = {}
    out = Path(tempfile.mkdtemp(prefix="bench-ffmpeg-"))
    try:
        for plan in ("default", "spread"):
            for label, (path, seconds) in clips.items():
                interval = 5.0 if plan == "default" else seconds / 4
                engine = OpenCvEngine(
                    sink,
                    "bench-images",
                    CaptureSettings(interval_seconds=interval),
                    OpenCvSettings(read_mode="url"),
                )
                obj = S3Object(
                    bucket="bench-videos", key=f"video_inputs/{path.name}", size=path.stat().st_size
                )
                times, sent, cpu = [], [], []
                anchor_times, anchor_cpu = [], []
                for _ in range(REPEATS):
                    before = server.bytes_sent
                    started, cpu_started = time.perf_counter(), cpu_now()
                    summary = engine.capture(obj)
                    times.append(time.perf_counter() - started)
                    cpu.append(cpu_now() - cpu_started)
                    sent.append(server.bytes_sent - before)
                    assert summary["read_via"] == "url" and len(summary["frames"]) == 4, summary
                    at = [frame["time_seconds"] for frame in summary["frames"]]
                    started, cpu_started = time.perf_counter(), cpu_now()
                    ffmpeg_cli(server.base_url + path.name, at, out)
                    anchor_times.append(time.perf_counter() - started)
                    anchor_cpu.append(cpu_now() - cpu_started)
                results[(plan, label)] = (
                    statistics.median(times),
                    int(statistics.median(sent)),
                    statistics.median(cpu),
                )
                anchors[(plan, label)] = (statistics.median(anchor_times), statistics.median(anchor_cpu))
        full_seconds, full_cpu, full_frames = decode_every_frame(server.base_url + clips["30 s"][0].name)
    finally:
        server.shutdown()

    sizes = {label: path.stat().st_size / 1e6 for label, (path, _s) in clips.items()}
    print()
    print(
        f"opencv engine: 4 frames of 1080p30 H.264+AAC (keyframe every 2 s) -> 500x500 JPEG q80, streamed "
        f"over HTTP range requests (median of {REPEATS}); video sizes "
        f"{sizes['30 s']:.0f} MB (30 s) and {sizes['5 min']:.0f} MB (5 min)"
    )
    print(
        f"{'plan':8s} {'video':6s} {'engine wall':>11s} {'ffmpeg CLI':>11s} {'ratio':>6s}   "
        f"{'engine CPU':>10s} {'ffmpeg CPU':>10s} {'ratio':>6s}   {'MB sent':>7s}"
    )
    for plan in ("default", "spread"):
        for label in ("30 s", "5 min"):
            wall, sent, cpu = results[(plan, label)]
            anchor_wall, anchor_cpu = anchors[(plan, label)]
            print(
                f"{plan:8s} {label:6s} {wall:10.2f}s {anchor_wall:10.2f}s {wall / anchor_wall:6.2f}   "
                f"{cpu:9.2f}s {anchor_cpu:9.2f}s {cpu / anchor_cpu:6.2f}   {sent / 1e6:7.1f}"
            )
        short, long = results[(plan, "30 s")][0], results[(plan, "5 min")][0]
        print(f"{'':8s} engine 5 min / 30 s: {long / short:.2f}x")
    short_wall, _sent, short_cpu = results[("default", "30 s")]
    print(
        f"decode every frame of the 30 s video over the same HTTP transport ({full_frames} frames): "
        f"{full_seconds:.1f} s wall, {full_cpu:.1f} s CPU = {full_seconds / short_wall:.0f}x the wall and "
        f"{full_cpu / short_cpu:.0f}x the CPU of capturing 4 frames of it"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
