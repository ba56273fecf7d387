"""`visionpipe report` on 100,000 detection records (30 days, 5 cameras) plus verdict items, in
local mode: time, process CPU and peak memory of the report, against an anchor measured in the same
run on the same objects.

    .venv/bin/python benchmarks/bench_report.py [--records 100000] [--verdicts 20000] [--workers 16]

1. moto's server runs in its own process (so the reader and the server each have a core, as a
   reader and S3 would); it is seeded there: records straight into moto's S3 backend (100,000
   PUTs over HTTP would take minutes and are not what is measured), verdict items by BatchWriteItem.
2. report: `visionpipe report` as a child process over the 30 days; wall time, the child's CPU
   (user+sys) and peak RSS (ru_maxrss); its figures are checked against the generator's tally.
3. baseline: the same command with no record to read (a --prefix nothing is under; the same verdict
   Scan, charts and page): the memory any report needs, whatever the number of records.
4. anchor: ListObjectsV2 + GetObject of the same keys with the same number of threads and nothing
   else (no parsing, no aggregation, no output) = what moto's server can serve; ratio = report/anchor.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

START = datetime(2026, 10, 20, tzinfo=UTC)
DAYS = 30
BUCKET, TABLE = "bench-detections", "bench-results"
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def serve(records: int, verdicts: int, ready: multiprocessing.Queue, stop: multiprocessing.Event) -> None:
    """The server process: moto's server, seeded, until `stop`."""
    import logging

    import boto3
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends
    from moto.server import ThreadedMotoServer
    from support import report_data

    os.environ.update(CREDENTIALS)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{server.get_host_and_port()[1]}"
    s3, dynamodb = boto3.client("s3", endpoint_url=endpoint), boto3.client("dynamodb", endpoint_url=endpoint)
    s3.create_bucket(Bucket=BUCKET)
    dynamodb.create_table(
        TableName=TABLE,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "RequestID", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "RequestID", "KeyType": "HASH"}],
    )
    backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
    started = time.perf_counter()
    tally = report_data.seed_stack(
        s3,
        dynamodb,
        BUCKET,
        TABLE,
        records,
        verdicts,
        START,
        DAYS,
        direct_put=lambda bucket, key, body: backend.put_object(bucket, key, body),
    )
    until = START + timedelta(days=DAYS)
    expected = tally.expected_detections(START, until, 0.8)
    expected_verdicts = tally.expected_verdicts(START.isoformat()[:19], until.isoformat()[:19])
    ready.put(
        {
            "endpoint": endpoint,
            "seed_s": time.perf_counter() - started,
            "objects": records + len(tally.malformed_keys),
            "detections": expected["detections"],
            "records": expected["records"],
            "per_label": dict(expected["per_label"]),
            "processed": expected_verdicts["processed"],
            "anomalies": expected_verdicts["anomalies"],
            "failures": expected_verdicts["failures"],
        }
    )
    stop.wait()
    server.stop()


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a live process (Linux /proc): the server's share of each phase."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


CHILD = (
    "import resource, sys; from visionpipe.cli import main; code = main(sys.argv[1:]); "
    "print('MAXRSS_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr); sys.exit(code)"
)


def run_report(
    endpoint: str, since: datetime, until: datetime, out: Path, workers: int, prefix: str | None = None
) -> dict:
    """`visionpipe report` as a child process: wall time, CPU, peak RSS, its report.json."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    command = [
        sys.executable,
        "-c",
        CHILD,
        "report",
        "--bucket",
        BUCKET,
        "--table",
        TABLE,
        "--endpoint-url",
        endpoint,
        "--since",
        since.isoformat(),
        "--until",
        until.isoformat(),
        "--workers",
        str(workers),
        "--out",
        str(out),
        *(["--prefix", prefix] if prefix else []),
    ]
    completed = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **CREDENTIALS})
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if completed.returncode != 0:
        raise SystemExit(f"report failed:\n{completed.stdout}\n{completed.stderr}")
    return {
        "wall_s": wall,
        "cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        "peak_rss_mb": int(completed.stderr.rsplit("MAXRSS_KB", 1)[1].split()[0]) / 1024,  # its own peak
        "figures": json.loads((out / "report.json").read_text()),
    }


def anchor(endpoint: str, workers: int) -> dict:
    """List + get every key with `workers` threads, nothing else."""
    import boto3
    from botocore.config import Config

    s3 = boto3.client(
        "s3", endpoint_url=endpoint, config=Config(max_pool_connections=workers, retries={"mode": "standard"})
    )
    cpu_before = time.process_time()
    started = time.perf_counter()
    keys = [
        entry["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix="json/record_")
        for entry in page.get("Contents", [])
    ]
    listed = time.perf_counter() - started
    size = threading.local()

    def get(key: str) -> int:
        size.n = len(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
        return size.n

    with ThreadPoolExecutor(workers) as pool:
        total = sum(pool.map(get, keys, chunksize=64))
    wall = time.perf_counter() - started
    return {
        "keys": len(keys),
        "list_s": listed,
        "wall_s": wall,
        "cpu_s": time.process_time() - cpu_before,
        "bytes": total,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--verdicts", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument(
        "--quick", action="store_true", help="5,000 records, 1,000 verdicts (make bench QUICK=1)"
    )
    args = parser.parse_args()
    if args.quick:
        args.records, args.verdicts = 5_000, 1_000
    os.environ.update(CREDENTIALS)
    context = multiprocessing.get_context("spawn")
    ready, stop = context.Queue(), context.Event()
    server = context.Process(target=serve, args=(args.records, args.verdicts, ready, stop), daemon=True)
    server.start()
    try:
        facts = ready.get(timeout=1800)
        endpoint = facts["endpoint"]
        print(
            f"seeded {facts['objects']:,} record objects ({facts['detections']:,} detections) and "
            f"{args.verdicts:,} verdict items in {facts['seed_s']:.1f} s; cores: {os.cpu_count()}, "
            f"load average {os.getloadavg()[0]:.1f}"
        )
        with tempfile.TemporaryDirectory() as work:
            work = Path(work)
            until = START + timedelta(days=DAYS)
            server_cpu = cpu_seconds(server.pid)
            report = run_report(endpoint, START, until, work / "month", args.workers)
            report["server_cpu_s"] = cpu_seconds(server.pid) - server_cpu
            # the same command with no record to read (a prefix nothing is under): imports, the verdict
            # Scan, every chart drawn, the page; what any report needs whatever the number of records
            base = run_report(endpoint, START, until, work / "empty", args.workers, prefix="json/none_")
        figures = report["figures"]
        d, v = figures["detections"], figures["verdicts"]
        checks = {
            "detections": (d["detections"], facts["detections"]),
            "records": (d["records"], facts["records"]),
            "per_label": (d["per_label"], facts["per_label"]),
            "verdicts": (
                (v["processed"], v["anomalies"], v["failures"]),
                (facts["processed"], facts["anomalies"], facts["failures"]),
            ),
        }
        mismatched = [name for name, (got, want) in checks.items() if got != want]
        server_cpu = cpu_seconds(server.pid)
        anchor_run = anchor(endpoint, args.workers)
        anchor_run["server_cpu_s"] = cpu_seconds(server.pid) - server_cpu
    finally:
        stop.set()
        server.join(timeout=30)
    read = figures["read"]
    objects = read["detections"]["get_calls"]
    report_rate = objects / report["wall_s"]
    anchor_rate = anchor_run["keys"] / anchor_run["wall_s"]
    print(f"\nvisionpipe report, {DAYS} days, {objects:,} records, {args.workers} GetObject threads:")
    print(
        f"  wall {report['wall_s']:.1f} s ({report_rate:,.0f} records/s), "
        f"process CPU {report['cpu_s']:.1f} s, "
        f"peak RSS {report['peak_rss_mb']:.0f} MB; moto server CPU meanwhile {report['server_cpu_s']:.1f} s"
    )
    print(f"  phases: {', '.join(f'{k} {s:.1f}' for k, s in read['seconds'].items())}")
    print(
        f"  reads: {read['detections']['list_calls']} ListObjectsV2, "
        f"{read['detections']['get_calls']:,} GetObject, "
        f"{read['verdicts']['scan_calls']} Scan pages ({read['verdicts']['scanned']:,} items)"
    )
    print(
        "  figures match the generator's tally: "
        f"{'yes' if not mismatched else 'NO: ' + ', '.join(mismatched)} "
        f"({d['detections']:,} detections, {v['processed']:,} verdicts)"
    )
    print(
        "baseline (same command, no record under --prefix, the same verdicts): "
        f"wall {base['wall_s']:.1f} s, peak RSS {base['peak_rss_mb']:.0f} MB "
        f"-> the records add {report['peak_rss_mb'] - base['peak_rss_mb']:.0f} MB"
    )
    print(
        f"anchor (ListObjectsV2 + GetObject only, {args.workers} threads): {anchor_run['keys']:,} objects in "
        f"{anchor_run['wall_s']:.1f} s ({anchor_rate:,.0f} objects/s; listing {anchor_run['list_s']:.1f} s), "
        f"process CPU {anchor_run['cpu_s']:.1f} s, moto server CPU {anchor_run['server_cpu_s']:.1f} s"
    )
    # Reader and server each need a core: on 2 idle cores the wall time is about the larger CPU time.
    bound = max(report["cpu_s"], report["server_cpu_s"])
    print(
        f"CPU-bound estimate on 2 idle cores (max of reader CPU and server CPU): report {bound:.0f} s "
        f"({objects / bound:,.0f} records/s), "
        f"anchor {max(anchor_run['cpu_s'], anchor_run['server_cpu_s']):.0f} s"
    )
    print(
        f"ratio report/anchor: {report['wall_s'] / anchor_run['wall_s']:.2f}x wall time "
        f"(targets: < 60 s and < 500 MB on 2 cores)"
    )
    return 1 if mismatched else 0


if __name__ == "__main__":
    sys.exit(main())
