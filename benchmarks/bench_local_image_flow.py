"""Local image flow: a burst of uploads through the local stack, per-upload latency distribution,
process CPU and AWS calls per image, against bare inference on the same images in the same run.

    .venv/bin/python benchmarks/bench_local_image_flow.py [--uploads 300] [--json PATH]

1. The local stack starts in-process (moto's server, the handlers, the model from .demo/model,
   trained first when missing); one warm-up image is judged first.
2. N sample images are PUT to image_inputs/ as fast as one client can (a burst). Each upload's
   latency runs from just before its PUT to the end of the DynamoDB PutItem that records its
   verdict, both timestamped in this process (a botocore `after-call` hook on the handlers'
   clients): p50/p95/p99 per upload, and the drain time (first PUT -> last verdict).
3. Process CPU (time.process_time: every thread, moto's server included, since it all runs in
   this process) over the burst, per image.
4. AWS API calls per image, counted by a botocore `before-call` hook registered on every client
   the handler code creates (functions/ and layers/common; local mode's own plumbing is not
   counted): what the flow costs in requests, whatever the flow's code is when this runs.
5. Anchor: bare inference (decode with Pillow + OnnxModel.judge) on the same images, same
   process, per image wall-clock and CPU; each figure above is printed with its ratio to it.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import sys
import threading
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HANDLER_CODE = (str(REPO / "functions"), str(REPO / "layers" / "common"))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, -(-len(ordered) * q // 100) - 1))
    return ordered[int(index)]


class HandlerCalls:
    """botocore event hooks on every client created by handler code: call counts, verdict times."""

    def __init__(self, results_table: str = ""):
        self.results_table = results_table
        self.calls: dict[str, int] = {}
        self.verdict_at: dict[str, float] = {}
        self._lock = threading.Lock()
        self._pending = threading.local()

    def install(self) -> None:
        import botocore.session

        original = botocore.session.Session.create_client
        hooks = self

        def create_client(session, *args, **kwargs):
            client = original(session, *args, **kwargs)
            created_by = [frame.filename for frame in traceback.extract_stack(limit=40)]
            if any(name.startswith(HANDLER_CODE) for name in created_by):
                client.meta.events.register("before-call", hooks._count)
                client.meta.events.register("provide-client-params.dynamodb.PutItem", hooks._put_item)
                client.meta.events.register("after-call.dynamodb.PutItem", hooks._put_item_done)
            return client

        botocore.session.Session.create_client = create_client

    def _count(self, model, **_kwargs) -> None:
        name = f"{model.service_model.service_name}.{model.name}"
        with self._lock:
            self.calls[name] = self.calls.get(name, 0) + 1

    def _put_item(self, params, **_kwargs) -> None:
        key = None
        if params.get("TableName") == self.results_table:
            key = params.get("Item", {}).get("Key")
            key = key.get("S") if isinstance(key, dict) else key
        self._pending.key = key

    def _put_item_done(self, http_response=None, **_kwargs) -> None:
        key = getattr(self._pending, "key", None)
        if key and http_response is not None and http_response.status_code == 200:
            with self._lock:
                self.verdict_at.setdefault(key, time.perf_counter())

    def take_calls(self) -> dict[str, int]:
        with self._lock:
            calls, self.calls = self.calls, {}
        return calls


def sample_images(data_dir: Path) -> list[Path]:
    manifest = json.loads((data_dir / "manifest.json").read_text())["files"]
    return [
        data_dir / name for name, item in sorted(manifest.items()) if item["label"] in ("normal", "anomalous")
    ]


def bare_inference(model_dir: Path, paths: list[Path]) -> tuple[list[float], list[float]]:
    """Decode + judge each image directly: (wall ms, CPU ms) per image."""
    from PIL import Image

    from visionpipe_common.detectors.onnx_model import ModelMetadata, OnnxModel

    meta = ModelMetadata.from_json((model_dir / "metadata.json").read_text())
    model = OnnxModel((model_dir / "model.onnx").read_bytes(), meta)
    model.judge(Image.open(paths[0]).convert("RGB"))  # session warm-up, as the warm container has
    wall, cpu = [], []
    for path in paths:
        data = path.read_bytes()
        t, c = time.perf_counter(), time.process_time()
        image = Image.open(io.BytesIO(data))
        image.load()
        model.judge(image.convert("RGB"))
        wall.append((time.perf_counter() - t) * 1000)
        cpu.append((time.process_time() - c) * 1000)
    return wall, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=300, help="burst size (default 300, as issue 15)")
    parser.add_argument("--quick", action="store_true", help="a burst of 100")
    parser.add_argument("--json", type=Path, default=REPO / ".bench" / "local_image_flow.json")
    args = parser.parse_args()
    if args.quick:
        args.uploads = min(args.uploads, 100)

    hooks = HandlerCalls()
    hooks.install()  # before the stack loads the handlers: their module-level clients get the hooks

    from visionpipe.local import model as local_model
    from visionpipe.local.stack import OfflineStack

    data_dir = local_model.generate_sample_data(local_model.DEFAULT_DATA_DIR)
    model_dir = local_model.ensure_model(quiet=True)
    paths = sample_images(data_dir)
    uploads = [
        (paths[i % len(paths)], f"image_inputs/bench/{i:04d}_{paths[i % len(paths)].name}")
        for i in range(args.uploads)
    ]
    bodies = {path: path.read_bytes() for path in paths}

    with contextlib.redirect_stdout(io.StringIO()), OfflineStack(model_dir=model_dir) as stack:
        outputs = stack.outputs()
        hooks.results_table = outputs["ResultsTableName"]
        s3 = stack.client("s3")
        bucket = outputs["ImageBucketName"]
        s3.put_object(Bucket=bucket, Key="image_inputs/warmup.jpg", Body=bodies[paths[0]])
        stack.wait_until(lambda: "image_inputs/warmup.jpg" in hooks.verdict_at, timeout=120)
        stack.wait_idle()
        hooks.take_calls()

        put_at: dict[str, float] = {}
        cpu_started = time.process_time()
        started = time.perf_counter()
        for path, key in uploads:
            put_at[key] = time.perf_counter()
            s3.put_object(Bucket=bucket, Key=key, Body=bodies[path])
        put_seconds = time.perf_counter() - started
        stack.wait_until(lambda: all(k in hooks.verdict_at for k in put_at), timeout=900, interval=0.05)
        drained = max(hooks.verdict_at[k] for k in put_at) - started
        cpu = time.process_time() - cpu_started
        calls = hooks.take_calls()
        stack.wait_idle()
        table = stack.session.resource("dynamodb", endpoint_url=stack.endpoint_url).Table(
            outputs["ResultsTableName"]
        )
        items = [i for i in _scan_all(table) if i["Key"].startswith("image_inputs/bench/")]

    latency = [(hooks.verdict_at[k] - put_at[k]) * 1000 for k in put_at]
    handler_ms = [float(i["LatencyMs"]) for i in items if i.get("Status") == "OK"]
    bare_wall, bare_cpu = bare_inference(model_dir, [path for path, _ in uploads])
    n = args.uploads
    bare_p50, bare_cpu_mean = statistics.median(bare_wall), statistics.fmean(bare_cpu)
    cpu_per_image = cpu / n * 1000
    calls_per_image = {k: v / n for k, v in sorted(calls.items())}

    print(
        f"local image flow: burst of {n} uploads ({len(handler_ms)} OK verdicts, "
        f"{len(items) - len(handler_ms)} other; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f})"
    )
    print(
        f"  anchor, bare inference (Pillow decode + OnnxModel.judge, same images, same process): "
        f"p50 {bare_p50:.1f} ms wall, {bare_cpu_mean:.1f} ms CPU per image"
    )
    print(
        f"  PUTs took {put_seconds:.1f} s; drain (first PUT -> last verdict) {drained:.1f} s "
        f"= {n / drained:.1f} images/s"
    )
    print(
        f"  per-upload latency (PUT -> verdict recorded): p50 {percentile(latency, 50):.0f} ms, "
        f"p95 {percentile(latency, 95):.0f} ms, p99 {percentile(latency, 99):.0f} ms -> p50 "
        f"{percentile(latency, 50) / bare_p50:.0f}x bare inference"
    )
    handler_p50 = percentile(handler_ms, 50)
    print(
        f"  handler time per image (LatencyMs: GET, decode, detect): p50 {handler_p50:.1f} ms, "
        f"p95 {percentile(handler_ms, 95):.1f} ms -> p50 {handler_p50 / bare_p50:.2f}x bare inference"
    )
    print(
        f"  process CPU per image (handlers + moto's server + local plumbing, all threads): "
        f"{cpu_per_image:.1f} ms -> {cpu_per_image / bare_cpu_mean:.1f}x bare inference CPU"
    )
    print(
        f"  AWS calls per image made by the handler code: {sum(calls_per_image.values()):.2f} ("
        + ", ".join(f"{k} {v:.2f}" for k, v in calls_per_image.items())
        + ")"
    )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                "uploads": n,
                "drain_s": drained,
                "latency_ms": {q: percentile(latency, q) for q in (50, 95, 99)},
                "handler_ms": {q: percentile(handler_ms, q) for q in (50, 95)},
                "cpu_per_image_ms": cpu_per_image,
                "bare_inference": {"p50_ms": bare_p50, "cpu_ms": bare_cpu_mean},
                "calls_per_image": calls_per_image,
            },
            indent=2,
        )
    )
    return 0


def _scan_all(table) -> list[dict]:
    items, kwargs = [], {}
    while True:
        page = table.scan(**kwargs)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


if __name__ == "__main__":
    sys.exit(main())
