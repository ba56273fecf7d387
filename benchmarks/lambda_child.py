"""One Lambda execution environment, as a process of its own: init, then events, measured.

Run by bench_lambda.py (never by hand): `python lambda_child.py SPEC.json RESULT.json`. The parent
gives this process exactly the environment Lambda would (the template's variables, Lambda's
reserved variables, the local endpoint); SPEC names the function's code directory and handler
and the events to send. Like Lambda's runtime, the code directory is the working directory and
the first entry of sys.path, and the handler module is imported by name.

Measured here, written to RESULT as JSON:
- init: wall-clock and process CPU of importing the handler module (all module-level code:
  imports, settings, clients), RSS after it;
- per event: wall-clock and process CPU of each invocation, RSS after it, and the AWS API calls
  it made (service.operation), counted by a botocore `before-call` event hook registered on
  every client the process creates;
- peak RSS of the whole process (VmHWM), which is what Lambda reports as "Max Memory Used" for a
  single-process runtime.

Only what the function's package holds can be imported: the Lambda runtime's own packages
(boto3, botocore, s3transfer, jmespath, urllib3, dateutil, six) and the requirements of the
function's layers; SPEC "refused" lists every other top-level module installed here (awscrt,
pyOpenSSL, moto...): importing one raises ModuleNotFoundError, as on Lambda, where botocore and
s3transfer then do without.
With SPEC "floor" instead of "handler", the process runs that code (the floor) and reports it.
With SPEC "profile" (a directory), init and each event also run under cProfile, written there as
init.prof, event-00.prof, ...: in process CPU time, or wall-clock with SPEC "profile_clock": "wall"
(waiting on AWS included); the timings are then the profiler's, not Lambda's.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
import uuid


def _memory_mb() -> dict[str, float]:
    fields = {}
    with open("/proc/self/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                fields[name] = int(value.split()[0]) / 1024
    return {"rss_mb": fields.get("VmRSS", 0.0), "peak_mb": fields.get("VmHWM", 0.0)}


class CallCounter:
    """Counts AWS API calls through botocore's event system (every client, whichever session)."""

    def __init__(self):
        self.calls: dict[str, int] = {}

    def install(self) -> None:
        import botocore.session

        original = botocore.session.Session.create_client
        counter = self

        def create_client(session, *args, **kwargs):
            client = original(session, *args, **kwargs)
            client.meta.events.register("before-call", counter._count)
            return client

        botocore.session.Session.create_client = create_client

    def _count(self, model, **_kwargs) -> None:
        name = f"{model.service_model.service_name}.{model.name}"
        self.calls[name] = self.calls.get(name, 0) + 1

    def take(self) -> dict[str, int]:
        calls, self.calls = self.calls, {}
        return calls


class LambdaPackagesOnly:
    """A meta-path finder refusing the top-level modules the Lambda package would not have.

    The parent computes the list (importlib.metadata here would be imported before init is timed).
    """

    def __init__(self, refused: list[str]):
        self.refused = frozenset(refused)

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in self.refused:
            raise ModuleNotFoundError(f"No module named {name!r} (not in the Lambda package)", name=name)
        return None


class Context:
    """The context object Lambda passes as the handler's second argument."""

    def __init__(self, memory_mb: int, timeout_s: float):
        name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "bench")
        self.function_name = name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = "bench"
        self._deadline = time.monotonic() + timeout_s
        self.identity = self.client_context = None

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def main(spec_path: str, result_path: str) -> int:
    with open(spec_path) as f:
        spec = json.load(f)
    started_rss = _memory_mb()["rss_mb"]
    sys.meta_path.insert(0, LambdaPackagesOnly(spec["refused"]))
    if "floor" in spec:
        wall, cpu = time.perf_counter(), time.process_time()
        exec(compile(spec["floor"], "<floor>", "exec"), {})  # noqa: S102 (the benchmark's own code)
        result = {"seconds": time.perf_counter() - wall, "cpu_seconds": time.process_time() - cpu}
        with open(result_path, "w") as f:
            json.dump({**result, **_memory_mb()}, f)
        return 0
    module_name, function_name = spec["handler"].rsplit(".", 1)
    os.chdir(spec["code_dir"])
    sys.path.insert(0, spec["code_dir"])

    profile = Profile(spec.get("profile"), spec.get("profile_clock", "cpu"))
    wall, cpu = time.perf_counter(), time.process_time()
    counter = CallCounter()
    counter.install()
    import importlib

    with profile("init"):
        module = importlib.import_module(module_name)
    handler = getattr(module, function_name)
    init = {
        "seconds": time.perf_counter() - wall,
        "cpu_seconds": time.process_time() - cpu,
        "calls": counter.take(),
        "interpreter_rss_mb": started_rss,
        **_memory_mb(),
    }
    invocations = []
    # Lambda prints handler output to CloudWatch; here it would only slow the parent's pipe.
    devnull = open(os.devnull, "w")  # noqa: SIM115 (kept open for the process's life)
    for position, item in enumerate(spec["events"]):
        os.environ["_X_AMZN_TRACE_ID"] = (
            f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Parent={uuid.uuid4().hex[:16]};Sampled=1"
        )
        context = Context(spec.get("memory_mb", 128), spec.get("timeout_s", 60))
        stdout, sys.stdout = sys.stdout, devnull
        wall, cpu = time.perf_counter(), time.process_time()
        error = None
        try:
            with profile(f"event-{position:02d}"):
                response = handler(item["event"], context)
        except Exception as exc:  # noqa: BLE001 (reported, the parent decides)
            response, error = None, f"{type(exc).__name__}: {exc}"
        finally:
            sys.stdout = stdout
        invocations.append(
            {
                "label": item["label"],
                "seconds": time.perf_counter() - wall,
                "cpu_seconds": time.process_time() - cpu,
                "calls": counter.take(),
                "error": error,
                "response": _short(response),
                **_memory_mb(),
            }
        )
    common = sys.modules.get("visionpipe_common")
    init["common_package"] = os.path.dirname(common.__file__) if common else None
    with open(result_path, "w") as f:
        json.dump({"init": init, "invocations": invocations, **_memory_mb()}, f)
    return 0


class Profile:
    """cProfile around a step, dumped to DIRECTORY/<name>.prof; nothing when no directory is given."""

    def __init__(self, directory: str | None, clock: str = "cpu"):
        self.directory = directory
        self.timer = time.process_time if clock == "cpu" else time.perf_counter

    @contextlib.contextmanager
    def __call__(self, name: str):
        if not self.directory:
            yield
            return
        import cProfile

        profiler = cProfile.Profile(self.timer)
        profiler.enable()
        try:
            yield
        finally:
            profiler.disable()
            profiler.dump_stats(os.path.join(self.directory, f"{name}.prof"))


def _short(response) -> str:
    text = json.dumps(response, default=str)
    return text if len(text) <= 400 else text[:400] + "..."


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
