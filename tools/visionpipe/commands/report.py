"""`visionpipe report`: what the cameras and the inspection line saw (last 7 days by default).

    visionpipe report [--since 7d] [--until now] [--device D] [--label L] [--prefix P] [--out DIR]
    visionpipe report --json                 figures as JSON on stdout (the page is written too)
    visionpipe report --watch 30             regenerate every 30 s until Ctrl-C (local stack)

Reads the detections bucket (json/record_*.json), the results table (verdicts, failures) and the
retraining state machine's executions of a deployed stack (--stack NAME), an outputs file
(--outputs), explicit --bucket/--table, or by default the running local stack. Writes
DIR/report.html (self-contained), report.json, charts/*.png and CSV extracts.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from pathlib import Path

DEFAULT_OUT = "visionpipe-report"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="HTML page, charts and CSV of what the cameras and inspections saw in a time window",
        description=__doc__.splitlines()[0],
        epilog="Times: 2026-11-21, 2026-11-21T08:00, 2026-11-21T08:00:00Z (UTC unless an offset is given), "
        "or relative: 7d, 36h, 90m, now.",
    )
    window = parser.add_argument_group("window and filters")
    window.add_argument("--since", help="start (inclusive; default: 7 days before --until)")
    window.add_argument("--until", help="end (exclusive; default: now)")
    window.add_argument("--device", help="only this device's detection records")
    window.add_argument("--label", help="only detections with this label")
    window.add_argument("--prefix", help="key prefix of the detection records (default json/record_)")
    window.add_argument(
        "--threshold",
        type=float,
        default=0.8,
        help="curation threshold: the confidence from which detections are worth training on (default 0.8)",
    )
    stack = parser.add_argument_group("where the data is (default: the running local stack)")
    stack.add_argument("--stack", help="a deployed stack's name (reads its CloudFormation Outputs)")
    stack.add_argument("--outputs", type=Path, help="stack outputs JSON (visionpipe local outputs > file)")
    stack.add_argument("--local", action="store_true", help="the running local stack (visionpipe local up)")
    stack.add_argument("--port", type=int, help="the local stack's port (with several running)")
    stack.add_argument(
        "--state-dir", help="where local-<port>.json is (default $VISIONPIPE_STATE_DIR or .demo/)"
    )
    stack.add_argument("--bucket", help="detections bucket (DetectionsBucketName)")
    stack.add_argument("--table", help="results table (ResultsTableName)")
    stack.add_argument("--state-machine-arn", help="retraining state machine (RetrainStateMachineArn)")
    stack.add_argument("--endpoint-url", help="AWS endpoint (local mode)")
    stack.add_argument("--region", help="AWS region (default: the environment's)")
    output = parser.add_argument_group("output")
    output.add_argument(
        "--out", type=Path, default=Path(DEFAULT_OUT), help=f"output folder (default ./{DEFAULT_OUT})"
    )
    output.add_argument("--json", action="store_true", help="print the figures as JSON on stdout")
    output.add_argument("--watch", type=float, metavar="N", help="regenerate every N seconds until Ctrl-C")
    output.add_argument("--max-runs", type=int, help="with --watch: stop after this many runs")
    output.add_argument("--top", type=int, default=6, help="thumbnails per gallery (default 6)")
    output.add_argument("--no-thumbnails", action="store_true", help="a page without the pictures")
    output.add_argument(
        "--no-page", action="store_true", help="figures only: report.json and the CSVs (no charts, no HTML)"
    )
    output.add_argument("--workers", type=int, default=16, help="parallel GetObject calls (default 16)")
    output.add_argument("--segments", type=int, default=4, help="parallel Scan segments (default 4)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from visionpipe.report.build import ReportOptions, run_report
    from visionpipe.report.sources import make_window, resolve

    if args.watch is not None and args.watch <= 0:
        print("error: --watch needs a positive number of seconds", file=sys.stderr)
        return 2
    if not 0 <= args.threshold <= 1:
        print("error: --threshold must be within [0, 1]", file=sys.stderr)
        return 2
    sources = resolve(
        outputs_file=args.outputs,
        stack_name=args.stack,
        local=args.local,
        local_port=args.port,
        state_dir=args.state_dir,
        endpoint_url=args.endpoint_url,
        region=args.region,
        bucket=args.bucket,
        table=args.table,
        state_machine_arn=args.state_machine_arn,
    )
    if not (sources.detections_bucket or sources.results_table or sources.state_machine_arn):
        print("error: no detections bucket, results table or state machine to read", file=sys.stderr)
        return 2

    def once() -> int:
        try:
            window = make_window(args.since, args.until)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        options = ReportOptions(
            window=window,
            device=args.device,
            label=args.label,
            prefix=args.prefix,
            threshold=args.threshold,
            top=args.top,
            workers=max(1, args.workers),
            segments=max(1, args.segments),
            thumbnails=not args.no_thumbnails,
            page=not args.no_page,
            refresh=max(1, round(args.watch)) if args.watch else None,
        )
        result = run_report(sources, options, args.out)
        f = result.figures
        written = args.out / "report.json" if args.no_page else result.page
        if args.json:
            print(json.dumps(f, indent=2, default=str), flush=True)
        print(
            f"{f['detections']['detections']:,} detections in {f['detections']['records']:,} records, "
            f"{f['verdicts']['processed']:,} verdicts ({f['verdicts']['anomalies']:,} anomalous), "
            f"{f['verdicts']['failures']:,} failures, {len(f['retraining']['rounds'])} retraining round(s) "
            f"{window.since_iso} -> {window.until_iso} "
            f"in {f['read']['seconds']['total_s']:.1f} s: {written}",
            file=sys.stderr if args.json else sys.stdout,
            flush=True,
        )
        return 0

    if args.watch is None:
        return once()
    return watch(once, args.watch, args.max_runs)


def watch(once, interval: float, max_runs: int | None) -> int:
    """Run `once` every `interval` seconds until Ctrl-C/SIGTERM (or max_runs); a run is never cut
    in half (files are renamed into place), the wait between runs is."""
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    runs = 0
    try:
        while not stop.is_set():
            started = time.monotonic()
            try:
                code = once()
            except Exception as exc:  # the local stack may be restarting: report and try again
                print(f"report failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
                code = 1
            runs += 1
            if code == 2 or (max_runs and runs >= max_runs):
                return code
            stop.wait(max(0.0, interval - (time.monotonic() - started)))
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print(f"stopped after {runs} run(s)", file=sys.stderr)
    return 0
