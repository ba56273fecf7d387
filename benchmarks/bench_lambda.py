"""Every function's cold start, warm time and peak memory, each in a Lambda-like process of its own.

    .venv/bin/python benchmarks/bench_lambda.py [--quick] [--baseline REF] [--json .bench/lambda.json]

The local stack (moto's server, resources from template.yaml, the onnx model provisioned) gives
the AWS side; its buckets' notifications are removed so only the measured process handles events. Each
function then runs in a fresh process (benchmarks/lambda_child.py) with exactly the environment
Lambda gives it (template variables resolved, reserved variables, LAMBDA_TASK_ROOT, active
tracing with a trace header per invocation), on representative inputs:

  DetectAnomaly      a small image (sample data, ~320x240) x N warm, then a 12-MP JPEG (real
                     photograph, 4000x3000) x M; the same cold start from --baseline's code
                     (default: the commit before the performance work) side by side
  FrameCapture       a 5-minute 1080p H.264+AAC video (--quick: 30 s), the opencv engine
  TweetDetection     an edge detection record with its image attached (ATTACH_IMAGE=true, dry run)
  CurateRetraining   camera annotations + raw images of real photographs (auto-approve on)
  BuildRetrainingDataset  the round built from those candidates
  FinishRetrainingRound, CaptureJobState  their sample events
  PublishModelComponent  init only (moto has no Greengrass v2)

Printed per function: init (module import, all module-level code) and first invocation, both
against the FLOOR measured in the same run (a fresh interpreter importing only the third-party
packages the function's work needs, and, for DetectAnomaly, creating the model session and
running one inference); warm p50/p95; AWS API calls per invocation (botocore event hook); RSS
after init, peak RSS (VmHWM) and the MemorySize it implies with a 1.5x margin, rounded up to
64 MB, at least 256 MB. Figures go to --json for benchmarks/cost_per_million.py.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
CHILD = HERE / "lambda_child.py"
CACHE = ROOT / ".bench"
MARGIN = 1.5
MIN_MEMORY_MB = 256  # below this Lambda's CPU share makes a Python cold start crawl (Power Tuning shows it)
DEFAULT_BASELINE = "841e9ec"  # "Structure: visionpipe_common by flow": the code before this work

# What the Lambda python3.13 runtime itself provides (the layers ship the rest, --no-deps).
RUNTIME_PACKAGES = ["boto3", "botocore", "s3transfer", "jmespath", "urllib3", "python-dateutil", "six"]
# The floor of each function: only the third-party imports its work cannot do without, plus (for
# DetectAnomaly) the model session and one inference, the least a cold start must do.
FLOORS = {
    "DetectAnomalyFunction": (
        "boto3+numpy+Pillow+onnxruntime",
        "import boto3, numpy, PIL.Image, onnxruntime",
    ),
    "FrameCaptureFunction": ("boto3+numpy+cv2", "import boto3, numpy, cv2"),
}
# One intra-op thread, as the function runs it (the cheaper way on less than one vCPU).
INFERENCE = """
import numpy, onnxruntime
options = onnxruntime.SessionOptions()
options.intra_op_num_threads = 1
session = onnxruntime.InferenceSession({model!r}, options, providers=["CPUExecutionProvider"])
feed = {{i.name: numpy.zeros([d if isinstance(d, int) else 1 for d in i.shape], numpy.float32)
        for i in session.get_inputs()}}
session.run(None, feed)
"""


def s3_event(bucket: str, key: str, size: int, version_id: str = "", etag: str = "") -> dict:
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventTime": "2026-12-02T08:00:00.000Z",
                "eventName": "ObjectCreated:Put",
                "responseElements": {"x-amz-request-id": uuid.uuid4().hex[:16].upper()},
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                    "object": {
                        "key": key,
                        "size": size,
                        "versionId": version_id,
                        "eTag": etag,
                        "sequencer": uuid.uuid4().hex[:18].upper(),
                    },
                },
            }
        ]
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def memory_size(peak_mb: float) -> int:
    return max(MIN_MEMORY_MB, math.ceil(peak_mb * MARGIN / 64) * 64)


class Bench:
    def __init__(self, stack, quick: bool, model_dir: Path):
        from visionpipe.template import TEMPLATE_PATH, load_template

        self.stack = stack
        self.template = load_template(TEMPLATE_PATH)  # as written: layers and their requirements
        self.quick = quick
        self.model_dir = model_dir
        self.floors: dict[str, dict] = {}
        self.outputs = stack.outputs()
        self.s3 = stack.client("s3")
        self.work = Path(tempfile.mkdtemp(prefix="bench-lambda-"))
        self.profile_clock = "cpu"

    def silence_notifications(self) -> None:
        """No S3 event reaches the stack's in-process handlers: the measured process gets them instead."""
        for output in ("ImageBucketName", "VideoBucketName", "DetectionsBucketName"):
            self.s3.put_bucket_notification_configuration(
                Bucket=self.outputs[output], NotificationConfiguration={}
            )

    def put(self, bucket: str, key: str, body: bytes) -> dict:
        response = self.s3.put_object(Bucket=bucket, Key=key, Body=body)
        return s3_event(bucket, key, len(body), response.get("VersionId", ""), response["ETag"].strip('"'))

    def tracer_off_lambda(self) -> tuple[float, float]:
        """Process CPU of Powertools' Tracer() on Lambda vs off it (local mode, tests): best of 3."""
        body = "import boto3, aws_lambda_powertools\nfrom aws_lambda_powertools import Tracer\nTracer()"
        base = "import boto3, aws_lambda_powertools"
        logical_id = "PublishModelComponentFunction"
        figures = []
        for env in ({}, {"LAMBDA_TASK_ROOT": ""}):
            runs = []
            for _ in range(3):
                spec = {"refused": self.refused(logical_id)}
                with_tracer = self._child({**spec, "floor": body}, logical_id, env)["cpu_seconds"]
                without = self._child({**spec, "floor": base}, logical_id, env)["cpu_seconds"]
                runs.append(with_tracer - without)
            figures.append(min(runs))
        return figures[0], figures[1]

    def environment(self, logical_id: str, extra: dict | None = None, pythonpath: str = "") -> dict:
        function = self.stack.functions[logical_id]
        env = {k: v for k, v in function.environment().items() if k != "POWERTOOLS_TRACE_DISABLED"}
        env.update(
            PATH=os.environ["PATH"],
            HOME=os.environ.get("HOME", "/tmp"),
            LANG="C.UTF-8",
            LAMBDA_TASK_ROOT=str(function.code_dir),
            AWS_XRAY_DAEMON_ADDRESS="127.0.0.1:2000",  # UDP: segments are sent and dropped
            AWS_XRAY_CONTEXT_MISSING="LOG_ERROR",
            TZ="UTC",
        )
        if pythonpath:
            env["PYTHONPATH"] = pythonpath
        env.update(extra or {})
        return {k: v for k, v in env.items() if v != ""}  # "" removes a variable

    def refused(self, logical_id: str) -> list[str]:
        """Top-level modules installed here whose distribution the function's package lacks."""
        from importlib.metadata import packages_distributions

        def normal(name: str) -> str:
            return name.lower().replace("_", "-").replace(".", "-")

        allowed = {normal(d) for d in self.allowed(logical_id)}
        return sorted(
            module
            for module, dists in packages_distributions().items()
            if not allowed & {normal(d) for d in dists}
            and module not in sys.stdlib_module_names
            and module not in ("visionpipe_common", "_distutils_hack")
        )

    def allowed(self, logical_id: str) -> list[str]:
        """The distributions the function's package holds: the runtime's and its layers' requirements."""
        template = self.template
        refs = list(template.get("Globals", {}).get("Function", {}).get("Layers") or [])
        refs += template["Resources"][logical_id]["Properties"].get("Layers") or []
        allowed = list(RUNTIME_PACKAGES)
        for ref in refs:
            content = template["Resources"][ref["Ref"]]["Properties"]["ContentUri"]
            for line in (ROOT / content / "requirements.txt").read_text().splitlines():
                line = line.split("#", 1)[0].strip()
                if line:
                    allowed.append(line.split("==")[0].split(">=")[0].strip())
        return allowed

    def floor(self, logical_id: str, body: str, repeats: int = 3) -> dict:
        """The least work of a cold start, in the same kind of process (best of `repeats` by CPU)."""
        return min(
            (
                # numpy's OpenBLAS on one thread, as visionpipe_common sets it on Lambda: the least work.
                self._child(
                    {"refused": self.refused(logical_id), "floor": body},
                    logical_id,
                    {"OPENBLAS_NUM_THREADS": "1"},
                )
                for _ in range(repeats)
            ),
            key=lambda f: f["cpu_seconds"],
        )

    def _child(
        self, spec: dict, logical_id: str, extra_env: dict | None = None, pythonpath: str = ""
    ) -> dict:
        spec_path = self.work / f"{logical_id}-{uuid.uuid4().hex[:6]}.json"
        result_path = spec_path.with_suffix(".result.json")
        spec_path.write_text(json.dumps(spec))
        env = self.environment(logical_id, extra_env, pythonpath)
        if spec.get("profile"):
            env["PYTHONPROFILEIMPORTTIME"] = "1"  # python -X importtime, to stderr
        completed = subprocess.run(
            [sys.executable, str(CHILD), str(spec_path), str(result_path)],
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        if completed.returncode != 0:
            raise RuntimeError(f"{logical_id} child failed:\n{completed.stderr[-3000:]}")
        if spec.get("profile"):
            Path(spec["profile"], "importtime.txt").write_text(completed.stderr)
        return json.loads(result_path.read_text())

    def run(
        self,
        logical_id: str,
        events: list[tuple[str, dict]],
        extra_env: dict | None = None,
        code_dir: Path | None = None,
        pythonpath: str = "",
        profile: Path | None = None,
    ) -> dict:
        function = self.stack.functions[logical_id]
        if profile is not None:
            profile.mkdir(parents=True, exist_ok=True)
        spec = {
            "profile": str(profile) if profile is not None else None,
            "profile_clock": self.profile_clock,
            "code_dir": str(code_dir or function.code_dir),
            "handler": function.handler,
            "refused": self.refused(logical_id),
            "memory_mb": function.memory,
            "timeout_s": function.timeout,
            "events": [{"label": label, "event": event} for label, event in events],
        }
        if logical_id not in self.floors:
            label, body = FLOORS.get(logical_id, ("boto3", "import boto3"))
            floor = self.floor(logical_id, body)
            floor["label"] = label
            if logical_id == "DetectAnomalyFunction":
                inference = INFERENCE.format(model=str(self.model_dir / "model.onnx"))
                cold = self.floor(logical_id, body + inference)
                floor["cold_seconds"], floor["cold_cpu_seconds"] = cold["seconds"], cold["cpu_seconds"]
            self.floors[logical_id] = floor
        floor = self.floors[logical_id]
        result = self._child(spec, logical_id, extra_env, pythonpath)
        result["floor"] = floor
        result["memory_mb_now"] = function.memory
        for invocation in result["invocations"]:
            if invocation["error"]:
                print(f"  ! {logical_id} {invocation['label']}: {invocation['error']}")
        return result


def interpreter_start() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - started


# ---------------------------------------------------------------- inputs
def small_images(count: int) -> list[Path]:
    from visionpipe.local import model as local_model

    data_dir = local_model.generate_sample_data(local_model.DEFAULT_DATA_DIR)
    manifest = json.loads((data_dir / "manifest.json").read_text())["files"]
    paths = [data_dir / name for name, item in sorted(manifest.items()) if item["label"] == "normal"]
    return [paths[i % len(paths)] for i in range(count)]


def twelve_megapixel_jpeg() -> bytes:
    """A real photograph (scikit-image's astronaut) at 4000x3000, as a phone would store it."""
    path = CACHE / "lambda" / "astronaut_4000x3000.jpg"
    if not path.exists():
        from PIL import Image
        from skimage import data

        path.parent.mkdir(parents=True, exist_ok=True)
        photo = Image.fromarray(data.astronaut()).resize((4000, 3000), Image.Resampling.LANCZOS)
        photo.save(path, quality=90)
    return path.read_bytes()


def camera_photos() -> list[tuple[str, bytes, tuple[int, int]]]:
    """640x480 camera frames of real photographs (scikit-image), JPEG."""
    from PIL import Image
    from skimage import data

    photos = []
    for name in ("astronaut", "coffee", "chelsea", "rocket", "camera", "moon"):
        image = Image.fromarray(getattr(data, name)()).convert("RGB").resize((640, 480))
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=85)
        photos.append((name, buffer.getvalue(), image.size))
    return photos


# ---------------------------------------------------------------- per function
def detect_anomaly(bench: Bench, args, baseline: Path | None) -> dict:
    bucket = bench.outputs["ImageBucketName"]
    small = [
        bench.put(bucket, f"bench_lambda/{i:03d}_{path.name}", path.read_bytes())
        for i, path in enumerate(small_images(args.warm + 1))
    ]
    big_bytes = twelve_megapixel_jpeg()
    big = [bench.put(bucket, f"bench_lambda/12mp_{i}.jpg", big_bytes) for i in range(args.large)]
    events = [("first: small image", small[0])]
    events += [("warm: small image", e) for e in small[1:]]
    events += [("warm: 12-MP image", e) for e in big]

    # Current and baseline alternate, `pairs` times, the first of each pair swapping, so both see
    # the same machine load; one discarded run of each first warms the page cache and writes the
    # bytecode (else whichever runs first pays it). Each run gets fresh sequencers (a new upload
    # identity: nothing is answered from an earlier run).
    def run(which: str, pair: int | None) -> dict:
        profile = args.profile / f"pair{pair}" / which if args.profile and pair is not None else None
        if which == "current":
            return bench.run("DetectAnomalyFunction", fresh(events), profile=profile)
        return bench.run(
            "DetectAnomalyFunction",
            fresh(events),
            code_dir=baseline / "functions" / "detect_anomaly",
            pythonpath=str(baseline / "layers" / "common"),
            profile=profile,
        )

    order = ["current", "baseline"] if baseline is not None else ["current"]
    for which in order:
        run(which, None)
    runs: dict[str, list[dict]] = {"current": [], "baseline": []}
    for pair in range(args.pairs):
        for which in order if pair % 2 == 0 else order[::-1]:
            runs[which].append(run(which, pair))
    return {which: results for which, results in runs.items() if results}


def fresh(events: list[tuple[str, dict]]) -> list[tuple[str, dict]]:
    again = [(label, json.loads(json.dumps(event))) for label, event in events]
    for _label, event in again:
        record = event["Records"][0]
        record["s3"]["object"]["sequencer"] = uuid.uuid4().hex[:18].upper()
        record["responseElements"]["x-amz-request-id"] = uuid.uuid4().hex[:16].upper()
    return again


def frame_capture(bench: Bench, args) -> dict:
    from bench_frame_capture import videos

    label, (path, _seconds) = ("30 s", videos()["30 s"]) if args.quick else ("5 min", videos()["5 min"])
    bucket = bench.outputs["VideoBucketName"]
    event = bench.put(bucket, f"video_inputs/bench_lambda/{uuid.uuid4().hex[:6]}.mp4", path.read_bytes())
    return {"current": [bench.run("FrameCaptureFunction", [(f"first: {label} 1080p video", event)])]}


def tweet_detection(bench: Bench, args) -> dict:
    from tests.support.tweets import record

    bucket = bench.outputs["DetectionsBucketName"]
    photos = camera_photos()
    events = []
    for index in range(1 + args.warm // 4):
        device = f"bench-cam-{index}"  # one device each: the cooldown lets every record through
        document = record(device=device, timestamp="20261202-080000")
        bench.put(bucket, document["image_key"], photos[index % len(photos)][1])
        key = f"json/record_{device}_20261202-080000.json"
        events.append(
            ("first" if index == 0 else "warm", bench.put(bucket, key, json.dumps(document).encode()))
        )
    events = [(f"{label}: record + image", event) for label, event in events]
    return {"current": [bench.run("TweetDetectionFunction", events, {"ATTACH_IMAGE": "true"})]}


def retraining(bench: Bench, args) -> dict:
    bucket = bench.outputs["DetectionsBucketName"]
    env = bench.environment("CurateRetrainingFunction")
    class_name = (env.get("CLASS_NAMES") or "face").split(",")[0]
    events, photos = [], camera_photos()
    for index in range(12 if args.quick else 20):
        _name, jpeg, (width, height) = photos[index % len(photos)]
        stem = f"raw_bench-cam_20261202-08{index // 60:02d}{index % 60:02d}"
        bench.put(bucket, f"raw_images/{stem}.jpg", jpeg)
        annotation = {
            "file": f"{stem}.jpg",
            "image_size": [{"width": width, "height": height, "depth": 3}],
            "annotations": [{"class_id": 0, "left": 200, "top": 120, "width": 180, "height": 200}],
            "categories": [{"class_id": 0, "name": class_name}],
        }
        event = bench.put(bucket, f"training_annotation/{stem}.json", json.dumps(annotation).encode())
        events.append((("first" if index == 0 else "warm") + ": annotation + image (640x480)", event))
    # The local stack's RetrainThreshold (3) would let these approvals start rounds in the stack itself,
    # whose builder then races the measured one for the candidates: keep the round for the measurement.
    overrides = {"AUTO_APPROVE": "true", "RETRAIN_THRESHOLD": str(len(events) + 1)}
    runs = {"CurateRetrainingFunction": bench.run("CurateRetrainingFunction", events, overrides)}
    runs["BuildRetrainingDatasetFunction"] = bench.run(
        "BuildRetrainingDatasetFunction", [("first: round 1 dataset", {"round": 1})]
    )
    runs["FinishRetrainingRoundFunction"] = bench.run(
        "FinishRetrainingRoundFunction",
        [("first: round 1 failed", {"round": 1, "succeeded": False, "result": {"outcome": "failed"}})],
    )
    return runs


def capture_job_state(bench: Bench) -> dict:
    from visionpipe.commands.invoke import localise, write_job_record

    env = bench.environment("CaptureJobStateFunction")
    stack_name = env.get("STACK_NAME", "visionpipe")
    event = json.loads((ROOT / "events" / "capture_job_state_error.json").read_text())
    event = localise(event, bench.outputs, stack_name)
    event["detail"]["userMetadata"]["visionpipe-stack"] = stack_name  # recognised as this stack's job
    # The job record frame_capture wrote when it started the job (as `visionpipe invoke` does).
    write_job_record(bench.s3, event, bench.outputs, stack_name, lambda *_: None)
    return bench.run("CaptureJobStateFunction", [("first: job ERROR", event)])


# ---------------------------------------------------------------- report
def summarise(name: str, result: dict) -> dict:
    init = result["init"]
    invocations = result["invocations"]
    first = invocations[0] if invocations else None
    groups: dict[str, list[dict]] = {}
    for invocation in invocations[1:]:
        groups.setdefault(invocation["label"].split(": ", 1)[1], []).append(invocation)
    summary = {
        "function": name,
        "memory_mb_now": result["memory_mb_now"],
        "init_s": init["seconds"],
        "init_cpu_s": init["cpu_seconds"],
        "rss_after_init_mb": init["rss_mb"],
        "first_s": first["seconds"] if first else None,
        "first_label": first["label"] if first else None,
        "first_calls": first["calls"] if first else {},
        "peak_mb": result["peak_mb"],
        "floor": result["floor"],
        "first_cpu_s": first["cpu_seconds"] if first else None,
        "common_package": init.get("common_package"),
        "warm": {
            label: {
                "n": len(items),
                "p50_s": statistics.median(i["seconds"] for i in items),
                "p95_s": percentile([i["seconds"] for i in items], 95),
                "cpu_p50_s": statistics.median(i["cpu_seconds"] for i in items),
                "peak_mb": max(i["peak_mb"] for i in items),
                "calls_per_invocation": {
                    k: v / len(items) for k, v in _sum_calls(i["calls"] for i in items).items()
                },
            }
            for label, items in groups.items()
        },
        "errors": [i["error"] for i in invocations if i["error"]],
    }
    summary["memory_mb_recommended"] = memory_size(summary["peak_mb"])
    return summary


def side_by_side(current: list[dict], baseline: list[dict], ref: str) -> None:
    """Cold start and warm p50, current vs baseline: medians over the alternating runs."""
    pairs = len(current)

    def cold(runs: list[dict], key: str) -> float:
        return statistics.median(r["init"][key] + r["invocations"][0][key] for r in runs)

    def warm(runs: list[dict], label: str, key: str) -> float:
        values = [i[key] for r in runs for i in r["invocations"][1:] if i["label"].endswith(label)]
        return statistics.median(values)

    def each(runs: list[dict], key: str) -> str:
        return ", ".join(f"{(r['init'][key] + r['invocations'][0][key]) * 1000:.0f}" for r in runs)

    def least(runs: list[dict], key: str) -> float:
        return min(r["init"][key] + r["invocations"][0][key] for r in runs)

    print(f"  side by side with {ref} ({pairs} alternating run pairs, medians):")
    for what, key in (("wall", "seconds"), ("process CPU", "cpu_seconds")):
        a, b = cold(current, key), cold(baseline, key)
        lo_a, lo_b = least(current, key), least(baseline, key)
        print(
            f"    cold start {what}: {a * 1000:.0f} ms now vs {b * 1000:.0f} ms -> {a / b:.2f}x; "
            f"least {lo_a * 1000:.0f} vs {lo_b * 1000:.0f} ms -> {lo_a / lo_b:.2f}x "
            f"(each run: now {each(current, key)}; {ref} {each(baseline, key)})"
        )
    for part, pick in (("init", lambda r: r["init"]), ("first event", lambda r: r["invocations"][0])):
        a_wall, b_wall = (statistics.median(pick(r)["seconds"] for r in runs) for runs in (current, baseline))
        a_cpu, b_cpu = (
            statistics.median(pick(r)["cpu_seconds"] for r in runs) for runs in (current, baseline)
        )
        each_cpu = [
            ", ".join(f"{pick(r)['cpu_seconds'] * 1000:.0f}" for r in runs) for runs in (current, baseline)
        ]
        print(
            f"      of which {part}: wall {a_wall * 1000:.0f} vs {b_wall * 1000:.0f} ms, "
            f"CPU {a_cpu * 1000:.0f} vs {b_cpu * 1000:.0f} ms "
            f"(CPU each run: now {each_cpu[0]}; {ref} {each_cpu[1]})"
        )
    for label in ("small image", "12-MP image"):
        for what, key in (("wall", "seconds"), ("process CPU", "cpu_seconds")):
            a, b = warm(current, label, key), warm(baseline, label, key)
            print(f"    warm {label} {what} p50: {a * 1000:.1f} ms now vs {b * 1000:.1f} ms -> {a / b:.2f}x")


def _sum_calls(calls) -> dict[str, int]:
    total: dict[str, int] = {}
    for c in calls:
        for k, v in c.items():
            total[k] = total.get(k, 0) + v
    return total


def print_summary(s: dict, label: str = "") -> None:
    f = s["floor"]
    print(f"{s['function']}{label}")
    print(
        f"  init: wall {s['init_s'] * 1000:.0f} ms, process CPU {s['init_cpu_s'] * 1000:.0f} ms | floor "
        f"[{f['label']}] wall {f['seconds'] * 1000:.0f} ms, CPU {f['cpu_seconds'] * 1000:.0f} ms | ratio "
        f"(CPU) {s['init_cpu_s'] / f['cpu_seconds']:.2f}x"
    )
    if s["first_s"] is not None:
        cold, cold_cpu = s["init_s"] + s["first_s"], s["init_cpu_s"] + s["first_cpu_s"]
        floor_wall, floor_cpu = (
            f.get("cold_seconds", f["seconds"]),
            f.get("cold_cpu_seconds", f["cpu_seconds"]),
        )
        what = f"[{f['label']} + session + 1 inference] " if "cold_seconds" in f else ""
        print(
            f"  cold start (init + first {s['first_label'].split(': ', 1)[1]}): wall {cold * 1000:.0f} ms, "
            f"CPU {cold_cpu * 1000:.0f} ms | floor {what}wall {floor_wall * 1000:.0f} ms, CPU "
            f"{floor_cpu * 1000:.0f} ms | ratio (CPU) {cold_cpu / floor_cpu:.2f}x"
        )
        calls = ", ".join(f"{k} {v}" for k, v in sorted(s["first_calls"].items()))
        print(f"  AWS calls in the first invocation: {sum(s['first_calls'].values())} ({calls})")
    for name, w in s["warm"].items():
        calls = ", ".join(f"{k} {v:g}" for k, v in sorted(w["calls_per_invocation"].items()))
        print(
            f"  warm {name} x{w['n']}: wall p50 {w['p50_s'] * 1000:.1f} ms, p95 {w['p95_s'] * 1000:.1f} ms; "
            f"process CPU p50 {w['cpu_p50_s'] * 1000:.1f} ms; AWS calls/invocation "
            f"{sum(w['calls_per_invocation'].values()):g} ({calls})"
        )
    print(
        f"  RSS after init {s['rss_after_init_mb']:.0f} MB (floor {f['rss_mb']:.0f} MB); peak "
        f"{s['peak_mb']:.0f} MB -> MemorySize {s['memory_mb_recommended']} (x{MARGIN}, 64 MB steps, "
        f"min {MIN_MEMORY_MB}; template now {s['memory_mb_now']})"
    )
    for error in s["errors"]:
        print(f"  ERROR {error}")


def baseline_tree(ref: str) -> Path | None:
    target = CACHE / "baseline" / ref
    if (target / "functions").exists():
        return target
    target.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", ref, "functions", "layers/common"], capture_output=True
    )
    if archive.returncode != 0:
        print(f"baseline {ref}: {archive.stderr.decode().strip()} (skipped)")
        return None
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    return target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer warm events, the 30 s video")
    parser.add_argument("--baseline", default=DEFAULT_BASELINE, help="git ref run side by side ('' = none)")
    parser.add_argument("--json", type=Path, default=CACHE / "lambda.json")
    parser.add_argument(
        "--only", choices=["DetectAnomaly"], help="only this function (and its side by side); no --json"
    )
    parser.add_argument(
        "--pairs", type=int, help="alternating current/baseline runs of DetectAnomaly (default 5, --quick 2)"
    )
    parser.add_argument(
        "--profile",
        type=Path,
        help="directory: DetectAnomaly's runs under cProfile (init.prof, event-NN.prof) and -X importtime "
        "(importtime.txt); the timings printed are then the profiler's",
    )
    parser.add_argument(
        "--profile-clock",
        choices=["cpu", "wall"],
        default="cpu",
        help="--profile's clock (default: process CPU)",
    )
    args = parser.parse_args()
    args.warm, args.large, args.pairs = (8, 2, args.pairs or 2) if args.quick else (12, 3, args.pairs or 5)

    from visionpipe.local import model as local_model
    from visionpipe.local.stack import OfflineStack

    model_dir = local_model.ensure_model(quiet=True)
    baseline = baseline_tree(args.baseline) if args.baseline else None

    python_start = min(interpreter_start() for _ in range(3))

    with contextlib.redirect_stdout(io.StringIO()), OfflineStack(model_dir=model_dir) as stack:
        bench = Bench(stack, args.quick, model_dir)
        bench.profile_clock = args.profile_clock
        bench.silence_notifications()  # only the measured process handles the events
        results = {"DetectAnomalyFunction": detect_anomaly(bench, args, baseline)}
        if not args.only:
            results["FrameCaptureFunction"] = frame_capture(bench, args)
            results["TweetDetectionFunction"] = tweet_detection(bench, args)
            for logical_id, result in retraining(bench, args).items():
                results[logical_id] = {"current": [result]}
            results["CaptureJobStateFunction"] = {"current": [capture_job_state(bench)]}
            results["PublishModelComponentFunction"] = {
                "current": [bench.run("PublishModelComponentFunction", [])]
            }
            tracer_on, tracer_off = bench.tracer_off_lambda()

    print(
        f"Lambda-like processes on this machine ({os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f}); a bare `python -c pass` starts in {python_start * 1000:.0f} ms "
        "(not included below)"
    )
    summaries = {}
    for logical_id, runs in results.items():
        for which, result_list in runs.items():
            s = summarise(logical_id, result_list[0])
            summaries.setdefault(logical_id, {})[which] = s
            print_summary(s, "" if which == "current" else f" [baseline {args.baseline}]")
        if "baseline" in runs:
            side_by_side(runs["current"], runs["baseline"], args.baseline)
    if args.only:
        return 0
    print(
        f"Powertools Tracer() at init, process CPU: {tracer_on * 1000:.0f} ms on Lambda (LAMBDA_TASK_ROOT "
        f"set: the X-Ray SDK samples locally), {tracer_off * 1000:.0f} ms off Lambda (local mode, tests: "
        "the SDK's "
        "DefaultSampler builds two X-Ray clients when aws_xray_sdk.core is imported, even with tracing "
        "disabled; once per process)"
    )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                "machine": {"cpus": os.cpu_count(), "load_average": os.getloadavg()[0]},
                "python_start_s": python_start,
                "functions": summaries,
                "margin": MARGIN,
            },
            indent=2,
        )
    )
    print(f"figures written to {args.json.relative_to(ROOT)} (benchmarks/cost_per_million.py reads them)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
