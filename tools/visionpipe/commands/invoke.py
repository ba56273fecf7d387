"""`visionpipe invoke <LogicalId> -e events/<file>.json`: `sam local invoke` without Docker.

Runs one function of template.yaml in this process, against the RUNNING local stack (`visionpipe
local up`), with the environment the stack gave it. The event's placeholder names (buckets
visionpipe-<kind>-example, the stack name) become the stack's real ones; an object the event names
(an uploaded image or video, a detection record, a model artifact) is first written with sample
content: a generated part image, a short H.264 clip, a detection the edge loop makes from a real
photograph, the shipped detector model. Those sample writes pause the bucket's notifications for
the one PUT, so, as with `sam local invoke`, only the invoked function sees the event.

The function's log lines go to stderr, its result (or error) as JSON to stdout, like `sam local
invoke`. `sam local invoke` itself needs Docker or Finch (it runs the function in a container).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
import sys
import tarfile
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus, unquote_plus, urlparse

from visionpipe.stack_outputs import (
    ENDPOINT_KEY,
    LOCAL_CREDENTIALS,
    UserError,
    check_reachable,
    read_outputs_file,
)

PLACEHOLDER_BUCKET = re.compile(r"visionpipe-([a-z]+)-example")
EDGE_KEY = re.compile(
    r"^(?:json/record|training_annotation/raw|images/image|raw_images/raw)_(.+)_(\d{8}-\d{6})\."
)
S3_URI = re.compile(r"^s3://([^/]+)/(.+)$")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "invoke",
        help="run one function against the running local stack with a sample event (no Docker)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
        "  visionpipe invoke DetectAnomalyFunction -e events/detect_anomaly_image_upload.json\n"
        "  visionpipe invoke TweetDetectionFunction -e events/tweet_detection.json --outputs outputs.json",
    )
    parser.add_argument("logical_id", metavar="LogicalId", help="the function's logical id in template.yaml")
    parser.add_argument(
        "-e", "--event", type=Path, required=True, help="event JSON file (e.g. events/*.json)"
    )
    parser.add_argument(
        "--outputs", type=Path, help="`visionpipe local outputs > FILE` (default: the newest running stack)"
    )
    parser.add_argument("--state-dir", help="where `local up` wrote local-<port>.json (default .demo/)")
    parser.add_argument("--no-samples", action="store_true", help="send the event as it is; upload nothing")
    parser.set_defaults(func=run)


# ----------------------------------------------------------------------------------- the running stack
def running_stack(outputs: Path | None, state_dir: str | None) -> dict[str, Any]:
    """The state file `local up` wrote for the stack the outputs file (or the newest live one) names."""
    from visionpipe.commands.local import _alive
    from visionpipe.commands.local import state_dir as default_state_dir

    directory = default_state_dir(state_dir)
    if outputs is not None:
        endpoint = read_outputs_file(outputs).get(ENDPOINT_KEY)
        if not endpoint:
            raise UserError(
                f"{outputs} has no EndpointUrl: write it with `visionpipe local outputs > {outputs}`"
            )
        check_reachable(endpoint)
        candidates = [directory / f"local-{urlparse(endpoint).port}.json"]
    else:
        candidates = sorted(directory.glob("local-*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    for path in candidates:
        if path.is_file() and not path.name.endswith("-stopped.json"):  # stop reports share the folder
            state = json.loads(path.read_text())
            if "functions" in state and _alive(state["endpoint_url"]):
                return state
    raise UserError(
        f"no running local stack (no live local-*.json in {directory}): start one with `make local` "
        "(or `.venv/bin/visionpipe local up`), or pass --state-dir"
    )


def session(state: dict[str, Any]):
    import boto3

    return boto3.Session(region_name=state["region"], **LOCAL_CREDENTIALS)  # moto accepts any


# ----------------------------------------------------------------------------------- the event
def localise(event: Any, outputs: dict[str, Any], stack_name: str) -> Any:
    """Placeholder buckets -> the stack's buckets of the same kind (visionpipe-models-example ->
    the ModelBucketName output); the placeholder stack name too."""

    def bucket_for(match: re.Match) -> str:
        kind = match.group(1)
        found = [
            str(value)
            for name, value in outputs.items()
            if name.endswith("BucketName") and name.removesuffix("BucketName").lower() in (kind, kind[:-1])
        ]
        if len(found) != 1:
            raise UserError(f"the running stack has no visionpipe-{kind}-* bucket for {match.group(0)}")
        return found[0]

    def walk(value: Any, key: str = "") -> Any:
        if isinstance(value, dict):
            return {k: walk(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, str):
            if key == "visionpipe-stack":
                return stack_name
            return PLACEHOLDER_BUCKET.sub(bucket_for, value)
        return value

    return walk(event)


def named_objects(event: Any) -> list[tuple[str, str]]:
    """(bucket, key) of each object the event names: S3 records, a capture job's source and frames,
    s3:// URIs."""
    found: list[tuple[str, str]] = []
    for record in event.get("Records", []) if isinstance(event, dict) else []:
        s3 = record.get("s3") or {}
        if s3.get("bucket", {}).get("name") and s3.get("object", {}).get("key"):
            found.append((s3["bucket"]["name"], unquote_plus(s3["object"]["key"])))
    metadata = (event.get("detail") or {}).get("userMetadata") if isinstance(event, dict) else None
    if metadata and metadata.get("source-bucket"):
        found.append((metadata["source-bucket"], metadata["source-key"]))

    def uris(value: Any) -> Iterator[str]:
        if isinstance(value, dict):
            for v in value.values():
                yield from uris(v)
        elif isinstance(value, list):
            for v in value:
                yield from uris(v)
        elif isinstance(value, str) and S3_URI.match(value):
            yield value

    for uri in uris(event):
        bucket, key = S3_URI.match(uri).groups()
        found.append((bucket, key))
    return list(dict.fromkeys(found))


# ----------------------------------------------------------------------------------- sample objects
def part_image() -> bytes:
    """A defect-free part, as `visionpipe sample-data` makes them."""
    from PIL import Image

    from visionpipe.sample_data import render_image

    image, _ = render_image(seed=0, label="normal", index=0)
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def clip() -> bytes:
    """Two seconds of H.264 + AAC, as a phone writes."""
    import tempfile

    from visionpipe.synthetic_video import ClipSpec, write_clip

    with tempfile.TemporaryDirectory() as folder:
        return write_clip(Path(folder) / "clip.mp4", ClipSpec(seconds=2.0)).read_bytes()


def edge_detection(device_id: str, timestamp: str) -> dict[str, bytes]:
    """The six objects the edge loop writes for one detection on a real photograph (a face)."""
    from visionpipe_edge.config import EdgeSettings
    from visionpipe_edge.frame_sources import FrameSource
    from visionpipe_edge.loop import DetectionLoop

    from visionpipe import face_footage

    class OneFrame(FrameSource):
        def __init__(self, frame):
            self.frames = [frame]

        def read(self):
            return self.frames.pop() if self.frames else None

        def close(self):
            pass

    class Collect:
        def __init__(self):
            self.objects: dict[str, bytes] = {}

        def submit(self, batch):
            self.objects.update({key: body for key, body, _ in batch.objects()})

    moment = datetime.strptime(timestamp, "%Y%m%d-%H%M%S").replace(tzinfo=UTC)
    collect = Collect()
    settings = EdgeSettings(device_name=device_id, upload_interval=0.0)
    loop = DetectionLoop(
        lambda: settings,
        uploader=collect,
        clock=lambda: moment,
        source_factory=lambda _s: OneFrame(face_footage.face_frames()[0]),
    )
    loop.run(max_frames=1)
    if not collect.objects:
        raise RuntimeError("the edge detector found no face in the sample photograph")
    return collect.objects


def model_artifact() -> bytes:
    """The shipped detector model's files as a model.tar.gz (what a training job writes)."""
    from visionpipe import components

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path in sorted(Path(components.model_dir()).iterdir()):
            if path.is_file():
                archive.add(path, arcname=path.name)
    return buffer.getvalue()


def samples_for(key: str) -> dict[str, bytes]:
    """Sample content for the object at key, plus any sibling objects it refers to."""
    edge = EDGE_KEY.match(key)
    if edge:
        return edge_detection(edge.group(1), edge.group(2))
    if key.endswith((".mp4", ".mov", ".m4v")):
        return {key: clip()}
    if key.endswith((".jpg", ".jpeg", ".png")):
        return {key: part_image()}
    if key.endswith(".tar.gz"):
        return {key: model_artifact()}
    raise UserError(f"no sample content for {key!r}: pass --no-samples and upload it yourself")


@contextlib.contextmanager
def notifications_paused(s3, bucket: str) -> Iterator[None]:
    """Only the invoked function sees the event: the bucket does not notify during the sample PUT."""
    configuration = s3.get_bucket_notification_configuration(Bucket=bucket)
    configuration.pop("ResponseMetadata", None)
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
    try:
        yield
    finally:
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=configuration)


def upload_samples(s3, event: Any, say: Callable[[str], None]) -> dict[tuple[str, str], dict]:
    """Write every object the event names; returns (bucket, key) -> PutObject response + size."""
    written: dict[tuple[str, str], dict] = {}
    for bucket, key in named_objects(event):
        if (bucket, key) in written:
            continue
        for sample_key, body in samples_for(key).items():
            with notifications_paused(s3, bucket):
                response = s3.put_object(Bucket=bucket, Key=sample_key, Body=body)
            written[(bucket, sample_key)] = {**response, "Size": len(body)}
            say(f"uploaded sample s3://{bucket}/{sample_key} ({len(body)} bytes)")
    return written


def match_objects(event: Any, written: dict[tuple[str, str], dict]) -> Any:
    """S3 records and capture-job metadata describe the objects as they now are."""
    for record in event.get("Records", []) if isinstance(event, dict) else []:
        s3 = record.get("s3") or {}
        bucket, key = s3.get("bucket", {}).get("name"), unquote_plus(s3.get("object", {}).get("key", ""))
        put = written.get((bucket, key))
        if put is None:
            continue
        obj = s3["object"]
        obj.update(key=quote_plus(key, safe="/"), size=put["Size"], eTag=put["ETag"].strip('"'))
        obj["sequencer"] = f"{time.time_ns() // 1000:018X}"
        if put.get("VersionId") and put["VersionId"] != "null":
            obj["versionId"] = put["VersionId"]
        else:
            obj.pop("versionId", None)
    metadata = (event.get("detail") or {}).get("userMetadata") if isinstance(event, dict) else None
    if metadata:
        put = written.get((metadata.get("source-bucket"), metadata.get("source-key")))
        if put is not None:
            metadata.update({"source-size": str(put["Size"]), "source-etag": put["ETag"].strip('"')})
            if put.get("VersionId") and put["VersionId"] != "null":
                metadata["source-version-id"] = put["VersionId"]
            else:
                metadata.pop("source-version-id", None)
    return event


def write_job_record(s3, event: Any, outputs: dict[str, Any], stack_name: str, say) -> None:
    """A MediaConvert job-state event names its upload; capture_job_state reads the job record the
    frame_capture function wrote when it started the job (events/records/ holds the sample)."""
    from visionpipe_common.frame_capture.mediaconvert_job import META_UPLOAD, job_record_key

    metadata = (event.get("detail") or {}).get("userMetadata") or {} if isinstance(event, dict) else {}
    if META_UPLOAD not in metadata:
        return
    from visionpipe.template import REPO_ROOT

    sample = REPO_ROOT / "events" / "records" / "capture_job_record.json"
    record = localise(json.loads(sample.read_text()), outputs, stack_name)
    key = job_record_key(metadata[META_UPLOAD])
    s3.put_object(Bucket=outputs["ResultsBucketName"], Key=key, Body=json.dumps(record).encode())
    say(f"uploaded sample s3://{outputs['ResultsBucketName']}/{key} (the job record)")


# ----------------------------------------------------------------------------------- invoking
def run(args: argparse.Namespace) -> int:
    from visionpipe.local import environment
    from visionpipe.local.functions import LocalFunction, local_credentials

    if not args.event.is_file():
        raise UserError(f"no event file {args.event}: pick one of events/*.json")
    try:
        event = json.loads(args.event.read_text())
    except json.JSONDecodeError as error:
        raise UserError(f"{args.event} is not JSON ({error})") from None
    state = running_stack(args.outputs, args.state_dir)
    spec = state["functions"].get(args.logical_id)
    if spec is None:
        names = ", ".join(sorted(state["functions"]))
        raise UserError(f"no function {args.logical_id!r} in the stack: one of {names}")
    endpoint = state["endpoint_url"]
    aws = session(state)
    s3 = aws.client("s3", endpoint_url=endpoint)
    event = localise(event, state["outputs"], state.get("stack_name", "visionpipe"))

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    if not args.no_samples:
        event = match_objects(event, upload_samples(s3, event, say))
        write_job_record(s3, event, state["outputs"], state.get("stack_name", "visionpipe"), say)

    function = LocalFunction(
        args.logical_id,
        spec["name"],
        spec["arn"],
        Path(spec["code_dir"]),
        spec["handler"],
        spec["variables"],
        int(spec["timeout"]),
        int(spec["memory"]),
    )
    request_id = str(uuid.uuid4())
    with contextlib.ExitStack() as running:
        running.enter_context(environment.installed())
        running.enter_context(greengrass_for(endpoint, state, aws))
        # Handlers log to stdout (Powertools JSON, EMF metrics): here those lines go to stderr, as
        # `sam local invoke` keeps stdout for the result.
        running.enter_context(contextlib.redirect_stdout(sys.stderr))
        say(f"Invoking {spec['handler']} ({args.logical_id}) against the local stack at {endpoint}")
        function.load(local_credentials(endpoint, state["region"]))
        say(f"START RequestId: {request_id} Version: $LATEST")
        started = time.perf_counter()
        try:
            result, failed = function.invoke(event, request_id=request_id), False
        except Exception as error:  # the function's error, reported as Lambda reports it
            traceback.print_exc()
            result, failed = (
                {
                    "errorType": type(error).__name__,
                    "errorMessage": str(error),
                    "requestId": request_id,
                },
                True,
            )
        elapsed = (time.perf_counter() - started) * 1000
        say(f"END RequestId: {request_id}")
        say(f"REPORT RequestId: {request_id}\tDuration: {elapsed:.2f} ms\tMemory Size: {spec['memory']} MB")
    print(json.dumps(result, default=str))
    return 1 if failed else 0


def greengrass_for(endpoint: str, state: dict[str, Any], aws) -> contextlib.AbstractContextManager:
    """moto has no greengrassv2: the engine `local up` uses answers it here too (its components live
    in this process only, so a component published by `invoke` is not seen by the running stack)."""
    import boto3

    from visionpipe.local.engines.greengrass import GreengrassEngine

    def s3():
        return aws.client("s3", endpoint_url=endpoint)

    if boto3.DEFAULT_SESSION is None:
        boto3.setup_default_session()
    engine = GreengrassEngine(endpoint, state["region"], state["account_id"], s3)
    return engine.installed([boto3.DEFAULT_SESSION, aws])
