"""Local IAM enforcement: what checking one call costs, next to what the call itself costs.

    .venv/bin/python benchmarks/bench_iam.py [--calls 2000] [--quick: 500 calls]

Starts the local stack (no model), then, side by side in this run:
- the check alone: Authorizer.authorize() for DetectAnomalyFunction's PutItem on the results table
  (its role's real policies, from the template), p50/p95;
- the anchor: a HeadObject round trip to moto's server with the function role's credentials
  (the check included), p50/p95, and the check's share of it.
Process CPU for each part is printed too.
"""

from __future__ import annotations

import argparse
import statistics
import time

from visionpipe.local.stack import OfflineStack


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[int(0.95 * (len(ordered) - 1))]


def timed(call, n: int) -> tuple[list[float], float]:
    cpu = time.process_time()
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1e6)
    return samples, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--quick", action="store_true", help="500 calls (make bench QUICK=1)")
    args = parser.parse_args()
    if args.quick:
        args.calls = 500
    with OfflineStack(provision_model=False) as stack:
        function = stack.functions["DetectAnomalyFunction"]
        session = stack.role_session(function.role_arn, "lambda.amazonaws.com", "bench")
        principal = next(p for p in stack.authorizer.principals.values() if p.name == "bench")
        table = stack.outputs()["ResultsTableName"]
        params = {"TableName": table, "Item": {"RequestID": {"S": "x"}}}
        check, check_cpu = timed(
            lambda: stack.authorizer.authorize("dynamodb", "PutItem", params, principal), args.calls
        )
        s3 = session.client("s3", endpoint_url=stack.endpoint_url)
        bucket = stack.outputs()["ImageBucketName"]
        admin = stack.client("s3")
        # The object only needs to exist: no event, so DetectAnomaly (no model here) does not judge it.
        admin.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
        admin.put_object(Bucket=bucket, Key="image_inputs/bench.jpg", Body=b"x")
        calls = max(50, args.calls // 10)
        head, head_cpu = timed(lambda: s3.head_object(Bucket=bucket, Key="image_inputs/bench.jpg"), calls)
    c50, c95 = percentiles(check)
    h50, h95 = percentiles(head)
    print(
        f"IAM check (DynamoDB PutItem, real role policies): p50 {c50:.1f} us, p95 {c95:.1f} us, "
        f"CPU {check_cpu / args.calls * 1e6:.1f} us/call over {args.calls} calls"
    )
    print(
        f"anchor, S3 HeadObject round trip to moto: p50 {h50:.0f} us, p95 {h95:.0f} us, "
        f"CPU {head_cpu / calls * 1e6:.0f} us/call over {calls} calls"
    )
    print(f"ratio check/round trip (p50): {c50 / h50:.3%}")


if __name__ == "__main__":
    main()
