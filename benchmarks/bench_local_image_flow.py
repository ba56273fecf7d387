"""Local image flow: end-to-end throughput for 500 uploads, and per-image pipeline time vs. the
model's own inference time on the same images (all measured side by side in this one run).

    .venv/bin/python benchmarks/bench_local_image_flow.py [--uploads 500]

1. The local stack starts in-process (moto server, handlers in-process, the trained model from
   .demo/model, trained first when missing).
2. N sample images are uploaded to image_inputs/; throughput = N / (first PUT -> last verdict).
3. Per image: LatencyMs (the handler's judge(): S3 GET, decode, detect) and DetectLatencyMs
   (detect alone) from the items, the wall-clock per image (total time / N, one warm container),
   and OnnxModel.judge() on the same decoded images directly = the pure inference time.
4. cProfile of 60 handler invocations, grouped by where the time goes.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import pstats
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def sample_images(data_dir: Path) -> list[Path]:
    manifest = json.loads((data_dir / "manifest.json").read_text())["files"]
    return [
        data_dir / name for name, item in sorted(manifest.items()) if item["label"] in ("normal", "anomalous")
    ]


def s3_record(bucket: str, key: str, size: int, version_id: str, sequencer: str) -> dict:
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventTime": "2026-11-21T08:00:00.000Z",
                "eventName": "ObjectCreated:Put",
                "responseElements": {"x-amz-request-id": sequencer},
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                    "object": {"key": key, "size": size, "versionId": version_id, "sequencer": sequencer},
                },
            }
        ]
    }


# Self time (tottime) of every profiled function, grouped by where it lives. Since Python 3.12
# cProfile sees every thread, so the in-process moto server's work shows up too.
GROUPS = (
    (
        "moto server handling the requests (werkzeug, flask, moto backends)",
        ("/moto/", "werkzeug", "flask", "xmltodict", "jinja2"),
    ),
    ("waiting for the local server (socket reads: moto handling the request)", ("recv_into", "recv'")),
    ("onnxruntime inference", ("onnxruntime",)),
    ("Pillow (decode, resize) and numpy (normalise)", ("/PIL/", "numpy", "onnx_model.py")),
    (
        "botocore/urllib3 client side (signing, serialising, parsing)",
        ("botocore", "urllib3", "http/client", "boto3"),
    ),
    ("Powertools (idempotency, logger, metrics)", ("aws_lambda_powertools",)),
)


def profile_handler(stack, outputs, paths: list[Path], count: int) -> list[tuple[str, float]]:
    """Profile handler invocations in this thread (objects uploaded under a prefix nothing routes)."""
    s3 = stack.client("s3")
    bucket = outputs["ImageBucketName"]
    events = []
    for index, path in enumerate(paths[:count]):
        key = f"bench_profile/{index:04d}_{path.name}"
        put = s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
        events.append(s3_record(bucket, key, path.stat().st_size, put.get("VersionId", ""), f"{index:018X}"))
    function = stack.function("DetectAnomalyFunction")
    profiler = cProfile.Profile()
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        profiler.enable()
        for event in events:
            function.invoke(event)
        profiler.disable()
    total = time.perf_counter() - started
    stats = pstats.Stats(profiler)
    totals = dict.fromkeys([label for label, _ in GROUPS] + ["everything else"], 0.0)
    for (filename, _line, name), (_cc, _nc, self_time, _cumulative, _callers) in stats.stats.items():
        where = f"{filename}:{name}"
        label = next(
            (label for label, needles in GROUPS if any(n in where for n in needles)), "everything else"
        )
        totals[label] += self_time
    grouped = [(label, seconds / len(events) * 1000) for label, seconds in totals.items()]
    grouped.append(("handler total (wall-clock, profiler overhead included)", total / len(events) * 1000))
    return grouped


def local_request_ms(stack, outputs, count: int = 40) -> float:
    """Mean time of one small AWS call (S3 PutObject, DynamoDB GetItem) against the local server."""
    s3, dynamodb = stack.client("s3"), stack.client("dynamodb")
    started = time.perf_counter()
    for index in range(count // 2):
        s3.put_object(Bucket=outputs["ResultsBucketName"], Key=f"bench_probe/{index}.json", Body=b"{}")
        dynamodb.get_item(TableName=outputs["ResultsTableName"], Key={"RequestID": {"S": str(index)}})
    return (time.perf_counter() - started) / count * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=500)
    args = parser.parse_args()

    from PIL import Image

    from visionpipe.local import model as local_model
    from visionpipe.local.stack import OfflineStack
    from visionpipe_common.detectors.onnx_model import ModelMetadata, OnnxModel

    data_dir = local_model.generate_sample_data(local_model.DEFAULT_DATA_DIR)
    model_dir = local_model.ensure_model(quiet=True)
    paths = sample_images(data_dir)
    uploads = [(paths[i % len(paths)], i) for i in range(args.uploads)]

    with (
        contextlib.redirect_stdout(io.StringIO()) as handler_output,
        OfflineStack(model_dir=model_dir) as stack,
    ):
        outputs = stack.outputs()
        s3 = stack.client("s3")
        table = stack.session.resource("dynamodb", endpoint_url=stack.endpoint_url).Table(
            outputs["ResultsTableName"]
        )
        # Warm the container (cold start: model download and session creation) before timing.
        s3.put_object(
            Bucket=outputs["ImageBucketName"], Key="image_inputs/warmup.jpg", Body=paths[0].read_bytes()
        )
        stack.wait_until(lambda: table.scan(Select="COUNT")["Count"] >= 1, timeout=60)
        stack.wait_idle()

        started = time.perf_counter()
        for path, index in uploads:
            s3.put_object(
                Bucket=outputs["ImageBucketName"],
                Key=f"image_inputs/bench/{index:04d}_{path.name}",
                Body=path.read_bytes(),
            )
        uploaded = time.perf_counter() - started
        stack.wait_until(
            lambda: table.scan(Select="COUNT")["Count"] >= args.uploads + 1, timeout=600, interval=0.2
        )
        elapsed = time.perf_counter() - started
        items = [i for i in _scan_all(table) if i["Key"].startswith("image_inputs/bench/")]
        profile = profile_handler(stack, outputs, paths, 40)
        request_ms = local_request_ms(stack, outputs)

    ok = [i for i in items if i["Status"] == "OK"]
    latency = [float(i["LatencyMs"]) for i in ok]
    detect = [float(i["DetectLatencyMs"]) for i in ok]

    # Pure model inference on the same images, same decoded pixels, same process.
    meta = ModelMetadata.from_json((model_dir / "metadata.json").read_text())
    model = OnnxModel((model_dir / "model.onnx").read_bytes(), meta)
    pure = []
    for path, _ in uploads:
        image = Image.open(path)
        image.load()
        image = image.convert("RGB")
        t0 = time.perf_counter()
        model.judge(image)
        pure.append((time.perf_counter() - t0) * 1000)

    wall_ms = elapsed / args.uploads * 1000
    pure_mean = statistics.fmean(pure)
    print(f"local image flow, {args.uploads} uploads ({len(ok)} verdicts, {len(items) - len(ok)} failures)")
    print(f"  uploads took {uploaded:.1f} s; first PUT -> last verdict {elapsed:.1f} s")
    print(f"  throughput: {args.uploads / elapsed:.1f} images/s")
    print("  per image (ms)               mean   median    p95")
    for label, values in (
        ("pipeline wall-clock", [wall_ms]),
        ("handler judge (LatencyMs)", latency),
        ("detect (DetectLatencyMs)", detect),
        ("pure OnnxModel.judge", pure),
    ):
        print(
            f"  {label:<28} {statistics.fmean(values):6.1f}  {statistics.median(values):6.1f}  "
            f"{_p95(values):6.1f}"
        )
    print(f"  ratio pipeline wall-clock / pure inference: {wall_ms / pure_mean:.2f}x")
    print(f"  ratio handler LatencyMs / pure inference:   {statistics.fmean(latency) / pure_mean:.2f}x")
    print(f"  ratio DetectLatencyMs / pure inference:     {statistics.fmean(detect) / pure_mean:.2f}x")
    print(
        f"  one AWS call against the local server (idle): {request_ms:.1f} ms; an image makes about 6 "
        "(GetObject, idempotency PutItem + UpdateItem, result PutObject, verdict PutItem, SQS hand-over)"
    )
    print("  where a handler invocation's time goes (cProfile, all threads, self time, ms per invocation):")
    for label, ms in profile:
        print(f"    {label:<66} {ms:6.1f}")
    del handler_output
    return 0


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


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
