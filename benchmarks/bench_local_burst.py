"""Local mode under a burst: how long 300 simultaneous uploads take to drain, by concurrency.

For each concurrency the whole stack starts afresh (moto's server, every resource, the handlers),
300 images are uploaded at once from 8 client threads, and the time until every upload has its
result item is measured, with each upload's latency (upload done -> item written) as p50/p95/p99.
The anchor is concurrency 1 (one worker per function, the previous behaviour), measured in the same
run; the ratio says how much faster the burst drains. Whole-process CPU time is printed too.

    .venv/bin/python benchmarks/bench_local_burst.py [--uploads 300] [--concurrency 1 4]
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from support.images import jpeg_bytes  # noqa: E402

from visionpipe.local import model as local_model  # noqa: E402
from visionpipe.local.stack import OfflineStack  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def burst(concurrency: int, uploads: int, model_dir: Path) -> dict:
    with OfflineStack(model_dir=model_dir, concurrency=concurrency) as stack:
        outputs, s3 = stack.outputs(), stack.client("s3")
        table = stack.session.resource("dynamodb", endpoint_url=stack.endpoint_url).Table(
            outputs["ResultsTableName"]
        )
        bodies = [jpeg_bytes(seed=n % 5, brightness=60 + n % 120) for n in range(uploads)]
        uploaded: dict[str, float] = {}

        def put(n: int) -> None:
            key = f"image_inputs/burst {n:04d}.jpg"
            s3.put_object(Bucket=outputs["ImageBucketName"], Key=key, Body=bodies[n])
            uploaded[key] = time.time()

        cpu0, started = time.process_time(), time.perf_counter()
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(put, range(uploads)))
        stack.wait_idle(timeout=600, settle=0.2)
        drained = time.perf_counter() - started
        cpu = time.process_time() - cpu0
        items = [i for page in table.meta.client.get_paginator("scan").paginate(TableName=table.name)
                 for i in page["Items"]]  # fmt: skip
        latencies = []
        for item in items:
            written = time.mktime(time.strptime(item["Date"][:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
            written += float("0." + item["Date"][20:23])
            latencies.append(max(0.0, written - uploaded.get(item["Key"], written)))
        return {
            "concurrency": concurrency,
            "items": len(items),
            "unique": len({i["Key"] for i in items}),
            "drain_s": drained,
            "cpu_s": cpu,
            "p50": percentile(latencies, 50),
            "p95": percentile(latencies, 95),
            "p99": percentile(latencies, 99),
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=300)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--quick", action="store_true", help="a burst of 100 (make bench QUICK=1)")
    args = parser.parse_args()
    if args.quick:
        args.uploads = min(args.uploads, 100)
    model_dir = local_model.ensure_model(local_model.DEFAULT_MODEL_DIR, quiet=True)
    results = [burst(c, args.uploads, model_dir) for c in args.concurrency]
    anchor = results[0]
    print(f"local burst: {args.uploads} uploads at once (anchor: concurrency {anchor['concurrency']})")
    for r in results:
        print(
            f"  concurrency {r['concurrency']}: drained in {r['drain_s']:.1f} s "
            f"(x{anchor['drain_s'] / r['drain_s']:.2f} vs anchor), process CPU {r['cpu_s']:.1f} s, "
            f"latency p50 {r['p50']:.2f} s p95 {r['p95']:.2f} s p99 {r['p99']:.2f} s, "
            f"{r['items']} items for {r['unique']} uploads"
        )
    return 0 if all(r["items"] == r["unique"] == args.uploads for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
