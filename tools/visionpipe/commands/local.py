"""`visionpipe local up | outputs`: the whole stack on this machine, against moto's server."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

from visionpipe.stack_outputs import ENDPOINT_KEY, UserError
from visionpipe.template import REPO_ROOT

STATE_DIR_ENV = "VISIONPIPE_STATE_DIR"
# Fixed, so docs and outputs files can name it; nothing else here listens on it (moto's own default
# is 5000, LocalStack's 4566, the edge MJPEG stream's 8080). --port 0 takes a free port.
DEFAULT_PORT = 4599
PORT_ENV = "VISIONPIPE_LOCAL_PORT"  # overrides the default (the docs' test runs `make local` on port 0)
MODEL_DIR_ENV = "VISIONPIPE_LOCAL_MODEL_DIR"  # the --model-dir default


def state_dir(explicit: str | None = None) -> Path:
    return Path(explicit or os.environ.get(STATE_DIR_ENV) or REPO_ROOT / ".demo")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "local",
        help="run every flow of template.yaml locally (moto server, in-process handlers)",
        description="`local up` starts moto's server on 127.0.0.1, creates every resource template.yaml "
        "declares, routes S3 notifications to the handlers as the template's S3 events say and runs "
        "the handlers in-process. Point any boto3 client or the AWS CLI at it with "
        "AWS_ENDPOINT_URL=<endpoint>. `local outputs` prints the running stack's resolved Outputs "
        "plus EndpointUrl: save them (`visionpipe local outputs > outputs.json`) and pass "
        "--outputs outputs.json to review, replay, device run and invoke.",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    up = actions.add_parser(
        "up", help="start the local stack; prints `READY <endpoint-url>`; Ctrl-C stops it"
    )
    up.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get(PORT_ENV) or DEFAULT_PORT),
        help=f"port on 127.0.0.1 (default {DEFAULT_PORT} or ${PORT_ENV}; 0: a free port)",
    )
    up.add_argument("--state-dir", help=f"where local-<port>.json goes (default ${STATE_DIR_ENV} or .demo/)")
    up.add_argument(
        "--model-dir",
        default=os.environ.get(MODEL_DIR_ENV),
        help=f"onnx model folder (default ${MODEL_DIR_ENV} or .demo/model, trained when missing)",
    )
    up.add_argument("--parameter-overrides", default="", help='extra overrides: Key="value" Key2=value2')
    up.add_argument(
        "--drain-seconds",
        type=float,
        default=30.0,
        help="on Ctrl-C/SIGTERM: refuse new requests, then let queued events finish for up to this long "
        "(default 30); events still queued are saved in the state dir",
    )
    up.add_argument(
        "--concurrency",
        type=int,
        default=4,
        help="invocations of one function at a time, like Lambda's concurrent containers (default 4)",
    )
    up.add_argument("--verbose", action="store_true", help="debug logs from local mode")
    up.set_defaults(func=run_up)
    outputs = actions.add_parser(
        "outputs", help="print the running local stack's Outputs and EndpointUrl as one JSON object"
    )
    outputs.add_argument("--port", type=int, help="the stack's port (default: the only/newest running one)")
    outputs.add_argument("--state-dir", help=f"default ${STATE_DIR_ENV} or .demo/")
    outputs.set_defaults(func=run_outputs)


def run_up(args: argparse.Namespace) -> int:
    from visionpipe.local.deployment import parse_parameter_overrides
    from visionpipe.local.stack import OfflineStack

    port_free_or_fail(args.port)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("botocore", "boto3", "urllib3", "werkzeug"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    ready_out = sys.stdout
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    # Handlers log (Powertools JSON, EMF metrics) to stdout: keep stdout for the READY line only.
    with contextlib.redirect_stdout(sys.stderr):
        stack = OfflineStack(
            port=args.port,
            model_dir=Path(args.model_dir) if args.model_dir else None,
            parameter_overrides=parse_parameter_overrides(args.parameter_overrides),
            concurrency=args.concurrency,
        )
        directory = state_dir(args.state_dir)
        report_previous_stops(directory)
        state_file = None
        try:
            stack.start()
            state_file = stack.write_outputs(directory / f"local-{stack.port}.json")
            print(f"READY {stack.endpoint_url}", file=ready_out, flush=True)
            print(
                f"outputs: {state_file}\nexport AWS_ENDPOINT_URL={stack.endpoint_url} "
                "AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_DEFAULT_REGION=us-east-1",
                file=sys.stderr,
            )
            while not stop.wait(0.5):
                pass
            print(
                f"stopping: new requests refused; draining {stack.pending()} queued event(s) "
                f"for up to {args.drain_seconds:g} s",
                file=sys.stderr,
            )
        finally:
            report = stack.stop(drain_seconds=args.drain_seconds)
            if state_file is not None:
                state_file.unlink(missing_ok=True)
                stopped = save_stop_report(directory / f"local-{stack.port}-stopped.json", report)
    where = f"; undelivered events saved in {stopped}" if report.dropped and state_file else ""
    print(f"local stack stopped: {report.line()}{where}", file=sys.stderr)
    return 0


def port_free_or_fail(port: int) -> None:
    if not port:
        return
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds: TIME_WAIT is free
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise UserError(
                f"port {port} is in use (another `visionpipe local up`?): stop it, or pass --port 0 "
                "for a free port"
            ) from None


def save_stop_report(path: Path, report) -> Path:
    document = {"stopped_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **vars(report)}
    path.write_text(json.dumps(document, indent=2, default=str))
    return path


def report_previous_stops(directory: Path) -> None:
    """Say what earlier local stacks could not deliver before they stopped (their saved events)."""
    for path in sorted(directory.glob("local-*-stopped.json")):
        dropped = json.loads(path.read_text()).get("dropped") or []
        if dropped:
            print(
                f"note: a local stack stopped with {len(dropped)} undelivered event(s): {path}",
                file=sys.stderr,
            )


def _alive(endpoint_url: str) -> bool:
    parsed = urlparse(endpoint_url)
    try:
        with socket.create_connection((parsed.hostname, parsed.port), timeout=1):
            return True
    except OSError:
        return False


def run_outputs(args: argparse.Namespace) -> int:
    directory = state_dir(args.state_dir)
    if args.port:
        candidates = [directory / f"local-{args.port}.json"]
    else:
        candidates = sorted(directory.glob("local-*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    for path in candidates:
        if not path.exists() or path.name.endswith("-stopped.json"):  # a stop report, not a stack
            continue
        state = json.loads(path.read_text())
        if _alive(state["endpoint_url"]):
            outputs = {**state["outputs"], ENDPOINT_KEY: state["endpoint_url"]}
            print(json.dumps(outputs, indent=2, sort_keys=True))
            return 0
        if args.port is None:
            continue
    where = f"on port {args.port}" if args.port else f"(no live local-*.json in {directory})"
    print(
        f"visionpipe local outputs: error: no running local stack {where}: start one with `make local` "
        "(or `.venv/bin/visionpipe local up`)",
        file=sys.stderr,
    )
    return 1
