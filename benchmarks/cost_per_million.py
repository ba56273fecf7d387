"""Cost per million images, recomputed from bench_lambda.py's output (.bench/lambda.json).

    .venv/bin/python benchmarks/cost_per_million.py [--memory MB] [--large-share 0.1]

What one image costs in the onnx pipeline (DetectAnomalyFunction, warm, as measured):
- Lambda compute: billed duration x MemorySize at the arm64 GB-second price. The duration is
  modelled from the measurement, not copied from this shared machine's wall clock: the process
  CPU of one warm invocation, stretched by the CPU share Lambda gives at that MemorySize (1,769 MB
  = one vCPU), plus one in-region round trip per AWS call the invocation made (S3 ~15 ms,
  DynamoDB/SSM ~5 ms; assumptions, printed). The wall clock measured here is printed beside it.
- Lambda requests, and every S3 and DynamoDB request the invocation made (counted by the
  benchmark's botocore hook: whatever the code does when the benchmark runs), at their prices;
  DynamoDB writes of items under 1 KB = 1 write request unit each.
- X-Ray (Tracing: Active; default sampling 1 request/s + 5 % of the rest) and CloudWatch Logs
  ingestion (assumed 2 KB of log per invocation).
- Not counted: storage, data transfer, the uploader's own PUT (printed separately).
Against: a SageMaker real-time endpoint on one ml.m5.large running all month (plus the same
Lambda, S3 and DynamoDB requests, since the pipeline still records every verdict; the Lambda
compute spent waiting for it is left out, so that column is a lower bound), and the old
Amazon Lookout for Vision price, $4 per inference-unit hour, one unit all month.
At 10,000 and 1,000,000 images a day (30-day month).

Prices: us-east-1 list prices, checked 2026-12 on the pages below (re-check before quoting).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# https://aws.amazon.com/lambda/pricing/ (Arm, first 6 billion GB-s/month tier)
LAMBDA_GB_SECOND_ARM = 0.0000133334
LAMBDA_PER_REQUEST = 0.20 / 1e6
# https://aws.amazon.com/s3/pricing/ (S3 Standard requests)
S3_PUT_COPY_POST_LIST = 0.005 / 1000
S3_GET = 0.0004 / 1000
# https://aws.amazon.com/dynamodb/pricing/on-demand/ (on-demand, after the November 2024 price cut)
DYNAMODB_WRITE_UNIT = 0.625 / 1e6
DYNAMODB_READ_UNIT = 0.125 / 1e6
# https://aws.amazon.com/xray/pricing/ (traces recorded, after 100,000 free per month)
XRAY_PER_TRACE = 5.0 / 1e6
XRAY_FREE_TRACES = 100_000
# https://aws.amazon.com/cloudwatch/pricing/ (Logs, standard ingestion)
LOGS_PER_GB = 0.50
LOG_BYTES_PER_INVOCATION = 2048
# https://aws.amazon.com/sagemaker/pricing/ (real-time inference, ml.m5.large)
SAGEMAKER_ML_M5_LARGE_HOUR = 0.115
# Amazon Lookout for Vision (ended 2025-10-31): $4 per inference-unit hour while a model was hosted.
LOOKOUT_INFERENCE_UNIT_HOUR = 4.0
HOURS_PER_MONTH = 24 * 30
SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600
VCPU_MB = 1769  # Lambda: one full vCPU at 1,769 MB
ROUND_TRIP_S = {"s3": 0.015, "dynamodb": 0.005, "ssm": 0.005}

S3_WRITES = {"PutObject", "CopyObject", "PostObject", "ListObjectsV2", "ListObjects", "CreateMultipartUpload"}
DYNAMODB_WRITES = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}
DYNAMODB_READS = {"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"}


def request_cost(calls: dict[str, float]) -> dict[str, float]:
    costs = {"s3": 0.0, "dynamodb": 0.0, "other": 0.0}
    for name, count in calls.items():
        service, operation = name.split(".", 1)
        if service == "s3":
            costs["s3"] += count * (S3_PUT_COPY_POST_LIST if operation in S3_WRITES else S3_GET)
        elif service == "dynamodb":
            # TransactWriteItems costs 2 WRU per item; the benchmark's flows write one item each.
            units = 2 if operation.startswith("Transact") else 1
            if operation in DYNAMODB_WRITES:
                costs["dynamodb"] += count * units * DYNAMODB_WRITE_UNIT
            elif operation in DYNAMODB_READS:
                costs["dynamodb"] += count * units * DYNAMODB_READ_UNIT
    return costs


def modelled_seconds(cpu_s: float, calls: dict[str, float], memory_mb: int) -> float:
    share = min(1.0, memory_mb / VCPU_MB)
    waits = sum(count * ROUND_TRIP_S.get(name.split(".", 1)[0], 0.01) for name, count in calls.items())
    return cpu_s / share + waits


def xray_traces(images_per_month: float) -> float:
    rate = images_per_month / SECONDS_PER_MONTH
    sampled = min(rate, 1.0) + 0.05 * max(0.0, rate - 1.0)
    return max(0.0, sampled * SECONDS_PER_MONTH - XRAY_FREE_TRACES)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, default=ROOT / ".bench" / "lambda.json")
    parser.add_argument("--memory", type=int, help="MemorySize, MB (default: the benchmark's recommendation)")
    parser.add_argument("--large-share", type=float, default=0.0, help="share of 12-MP images (default 0)")
    args = parser.parse_args()
    if not args.json.exists():
        print(f"{args.json} not found: run benchmarks/bench_lambda.py first")
        return 1
    figures = json.loads(args.json.read_text())
    detect = figures["functions"]["DetectAnomalyFunction"]["current"]
    memory = args.memory or detect["memory_mb_recommended"]
    warm = detect["warm"]
    small = warm["small image"]
    large = warm.get("12-MP image", small)
    share = args.large_share

    def mix(key: str) -> float:
        return (1 - share) * small[key] + share * large[key]

    calls = {
        name: (1 - share) * small["calls_per_invocation"].get(name, 0)
        + share * large["calls_per_invocation"].get(name, 0)
        for name in set(small["calls_per_invocation"]) | set(large["calls_per_invocation"])
    }
    seconds = modelled_seconds(mix("cpu_p50_s"), calls, memory)
    billed = math.ceil(seconds * 1000) / 1000  # billed per 1 ms
    compute = billed * memory / 1024 * LAMBDA_GB_SECOND_ARM
    requests = request_cost(calls)
    per_image = {
        "Lambda compute": compute,
        "Lambda requests": LAMBDA_PER_REQUEST,
        "S3 requests": requests["s3"],
        "DynamoDB requests": requests["dynamodb"],
        "CloudWatch Logs": LOG_BYTES_PER_INVOCATION / 1e9 * LOGS_PER_GB,
    }
    pipeline_per_image = sum(per_image.values())

    print(
        f"DetectAnomalyFunction at {memory} MB ({memory / VCPU_MB:.2f} vCPU), {share:.0%} 12-MP images: "
        f"process CPU {mix('cpu_p50_s') * 1000:.1f} ms + {sum(calls.values()):.1f} AWS calls "
        f"-> modelled duration {seconds * 1000:.0f} ms (wall measured on the benchmark machine: "
        f"{mix('p50_s') * 1000:.0f} ms)"
    )
    print(
        "  assumed round trips: "
        + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in ROUND_TRIP_S.items())
        + "; calls per image: "
        + ", ".join(f"{k} {v:g}" for k, v in sorted(calls.items()))
    )
    print("  per million images:")
    for name, cost in per_image.items():
        print(f"    {name:<20} ${cost * 1e6:9.2f}  ({cost / pipeline_per_image:5.1%})")
    print(f"    {'total':<20} ${pipeline_per_image * 1e6:9.2f}")
    print(f"    (the uploader's own PUT: ${S3_PUT_COPY_POST_LIST * 1e6:.2f} per million, whatever judges it)")
    request_fees = per_image["S3 requests"] + per_image["DynamoDB requests"] + per_image["Lambda requests"]
    print(f"  request fees / Lambda compute: {request_fees / compute:.1f}x")

    endpoint_month = SAGEMAKER_ML_M5_LARGE_HOUR * HOURS_PER_MONTH
    lookout_month = LOOKOUT_INFERENCE_UNIT_HOUR * HOURS_PER_MONTH
    print()
    print(
        f"{'images/day':>12} {'':3}{'onnx in Lambda':>16} {'SageMaker ml.m5.large':>24} "
        f"{'Lookout (1 IU)':>16}"
    )
    for per_day in (10_000, 1_000_000):
        per_month = per_day * 30
        xray = xray_traces(per_month) * XRAY_PER_TRACE
        lambda_month = pipeline_per_image * per_month + xray
        # The endpoint (or Lookout) replaces the model; the requests around it remain. The Lambda
        # compute spent waiting for the endpoint is left out: these two columns are lower bounds.
        around = (pipeline_per_image - compute) * per_month + xray
        rows = {
            "onnx in Lambda": lambda_month,
            "SageMaker": endpoint_month + around,
            "Lookout": lookout_month + around,
        }
        print(
            f"{per_day:>12,} {'/mo':3}"
            + "".join(
                f"{'$' + format(v, ',.0f'):>{w}}" for v, w in zip(rows.values(), (16, 24, 16), strict=True)
            )
        )
        print(
            f"{'':>12} {'/1M':3}"
            + "".join(
                f"{'$' + format(v / per_month * 1e6, ',.0f'):>{w}}"
                for v, w in zip(rows.values(), (16, 24, 16), strict=True)
            )
        )
    print(
        "  (30-day months; X-Ray traces beyond the free tier in every column; the endpoint and Lookout "
        "columns add the requests around the model but no Lambda compute: lower bounds)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
