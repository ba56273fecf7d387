"""Local MediaConvert engine: moto has no MediaConvert, so local mode runs the jobs here.

A botocore `before-send.mediaconvert` hook (like the Greengrass engine) answers the calls of the
stack's own credentials (local role credentials never reach AWS) and of clients pointed at the
local endpoint. botocore has already validated each request against MediaConvert's API model; the
engine then refuses what MediaConvert documents it refuses, with MediaConvert's error shape
(400 BadRequestException, {"message": ...}):
- userMetadata: at most 10 tags, keys <= 128 and values <= 256 characters of letters, digits, space
  and _ . : / = + - @ (visionpipe_common.limits, citing the MediaConvert User Guide);
- the job role: MediaConvert must be able to assume it (its trust policy names
  mediaconvert.amazonaws.com; MediaConvert documents no SourceAccount/SourceArn it would send);
- FRAME_CAPTURE outputs only (what visionpipe submits; anything else is 501, not a pretend job).
CreateJob answers 201 SUBMITTED; the job then runs in a thread with the ROLE's credentials (its S3
reads and writes are IAM-checked like everything else): the OpenCV capture code of the opencv
engine reads the input and writes the frames with MediaConvert's naming, <destination><NameModifier>
.NNNNNNN.<Extension> (checked equal to the opencv engine's, or the job ends in ERROR), and the
job-state events (PROGRESSING, then COMPLETE or ERROR) go to the targets of the stack's EventBridge
rules whose pattern matches, as EventBridge would deliver them (moto records rules, delivers none
to Lambda). GetJob reports the job. https://docs.aws.amazon.com/mediaconvert/latest/ug/ev_status_change.html
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any

from botocore import handlers as botocore_handlers
from botocore.awsrequest import AWSResponse

from visionpipe_common.events.s3_events import S3Object
from visionpipe_common.frame_capture.opencv_engine import OpenCvEngine
from visionpipe_common.frame_capture.settings import CaptureSettings, OpenCvSettings
from visionpipe_common.limits import mediaconvert_metadata_problems

log = logging.getLogger("visionpipe.local")

EVENT = "before-send.mediaconvert"
SERVICE_PRINCIPAL = "mediaconvert.amazonaws.com"


class _Body:
    def __init__(self, body: bytes):
        self._body = body

    def stream(self, **_kwargs):
        yield self._body


class MediaConvertError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _bad(message: str) -> MediaConvertError:
    return MediaConvertError(400, "BadRequestException", message)


def _split_s3(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise _bad(f"{uri!r} is not an s3:// location")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


def pattern_matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    """EventBridge content matching for the patterns the template uses (exact values, nested)."""
    for name, expected in pattern.items():
        if name not in event:
            return False
        actual = event[name]
        if isinstance(expected, dict):
            if not isinstance(actual, dict) or not pattern_matches(expected, actual):
                return False
            continue
        if any(isinstance(e, dict) for e in expected):
            raise NotImplementedError(f"content filter {expected} (only exact values are matched locally)")
        values = actual if isinstance(actual, list) else [actual]
        if not any(v in expected for v in values):
            return False
    return True


@dataclass
class Job:
    id: str
    arn: str
    request: dict[str, Any]
    status: str = "SUBMITTED"
    created: float = field(default_factory=time.time)
    error_code: int | None = None
    error_message: str = ""
    output_paths: list[str] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        job = {
            "id": self.id,
            "arn": self.arn,
            "role": self.request["role"],
            "settings": self.request["settings"],
            "userMetadata": self.request.get("userMetadata", {}),
            "queue": self.request.get("queue", ""),
            "status": self.status,
            "createdAt": self.created,
            "priority": self.request.get("priority", 0),
        }
        if self.error_code is not None:
            job["errorCode"], job["errorMessage"] = self.error_code, self.error_message
        return job


class MediaConvertEngine:
    def __init__(
        self,
        endpoint_url: str,
        region: str,
        account_id: str,
        role_session: Callable[[str], Any],  # role ARN -> boto3 session with MediaConvert's credentials
        deliver: Callable[[dict[str, Any]], int],  # an EventBridge event -> targets it reached
        is_local_key: Callable[[str], bool],
    ):
        self.endpoint_url = endpoint_url.rstrip("/")
        self.region, self.account_id = region, account_id
        self._role_session = role_session
        self._deliver = deliver
        self._is_local_key = is_local_key
        self.jobs: dict[str, Job] = {}
        self.tokens: dict[str, str] = {}  # ClientRequestToken -> job id
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self.active = False

    # ------------------------------------------------------------ operations
    def create_job(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        problems = mediaconvert_metadata_problems(body.get("userMetadata") or {})
        if problems:
            raise _bad("; ".join(problems))
        token = body.get("clientRequestToken")
        with self._lock:
            if token and token in self.tokens:  # the same request again: the same job
                return 201, {"job": self.jobs[self.tokens[token]].describe()}
        session = self._role_session(body.get("role", ""))  # raises BadRequest when it cannot be assumed
        groups = body.get("settings", {}).get("outputGroups", [])
        outputs = [o for g in groups for o in g.get("outputs", [])]
        codecs = {o.get("videoDescription", {}).get("codecSettings", {}).get("codec") for o in outputs}
        if "FRAME_CAPTURE" not in codecs:
            raise MediaConvertError(501, "NotImplemented", "the local engine runs FRAME_CAPTURE jobs only")
        job_id = f"{int(time.time() * 1000)}-{random.randbytes(3).hex()}"
        job = Job(job_id, f"arn:aws:mediaconvert:{self.region}:{self.account_id}:jobs/{job_id}", body)
        with self._lock:
            self.jobs[job_id] = job
            if token:
                self.tokens[token] = job_id
        thread = threading.Thread(
            target=self._run, args=(job, session), name=f"mediaconvert-{job_id}", daemon=True
        )
        self._threads.append(thread)
        thread.start()
        return 201, {"job": job.describe()}

    def get_job(self, job_id: str) -> tuple[int, dict[str, Any]]:
        job = self.jobs.get(job_id)
        if job is None:
            raise MediaConvertError(404, "NotFoundException", f"job {job_id} not found")
        return 200, {"job": job.describe()}

    # ------------------------------------------------------------ the job
    def _run(self, job: Job, session) -> None:
        job.status = "PROGRESSING"
        self._emit(job)
        try:
            self._capture(job, session)
            job.status = "COMPLETE"
        except Exception as error:  # what MediaConvert would report as the job's error
            log.warning("local MediaConvert job %s failed: %s", job.id, error)
            job.status, job.error_code, job.error_message = "ERROR", 1999, f"{type(error).__name__}: {error}"
        self._emit(job)

    def _capture(self, job: Job, session) -> None:
        settings = job.request["settings"]
        (job_input,) = settings["inputs"]
        source_bucket, source_key = _split_s3(job_input["fileInput"])
        group = next(
            g
            for g in settings["outputGroups"]
            if any(o["videoDescription"]["codecSettings"]["codec"] == "FRAME_CAPTURE" for o in g["outputs"])
        )
        (output,) = group["outputs"]
        video, frame = (
            output["videoDescription"],
            output["videoDescription"]["codecSettings"]["frameCaptureSettings"],
        )
        destination = group["outputGroupSettings"]["fileGroupSettings"]["destination"]
        image_bucket, base = _split_s3(destination)
        interval = Fraction(frame["framerateDenominator"], frame["framerateNumerator"])
        capture = CaptureSettings(
            interval_seconds=float(interval),
            max_captures=int(frame.get("maxCaptures", 10_000_000)),
            width=int(video.get("width", 0)),
            height=int(video.get("height", 0)),
            jpeg_quality=int(frame.get("quality", 80)),
        )
        s3 = session.client("s3", endpoint_url=self.endpoint_url)
        head = s3.head_object(Bucket=source_bucket, Key=source_key)  # the role reads the input
        obj = S3Object(
            bucket=source_bucket, key=source_key, size=head["ContentLength"], etag=head["ETag"].strip('"')
        )
        engine = OpenCvEngine(s3, image_bucket, capture, OpenCvSettings(read_mode="download"))
        summary = engine.capture(obj)
        written = [f["key"] for f in summary["frames"]]
        extension = output.get("extension", "jpg")
        expected = [
            f"{base}{output.get('nameModifier', '')}.{i:07d}.{extension}" for i in range(len(written))
        ]
        if written != expected:
            raise RuntimeError(f"local engine wrote {written[:1]}, MediaConvert names {expected[:1]}")
        job.output_paths = [f"s3://{image_bucket}/{expected[-1]}"] if expected else []

    def _emit(self, job: Job) -> None:
        """The job state change event MediaConvert sends to EventBridge."""
        detail: dict[str, Any] = {
            "timestamp": int(time.time() * 1000),
            "accountId": self.account_id,
            "queue": job.request.get("queue", ""),
            "jobId": job.id,
            "status": job.status,
            "userMetadata": job.request.get("userMetadata", {}),
        }
        if job.status == "ERROR":
            detail["errorCode"], detail["errorMessage"] = job.error_code, job.error_message
        if job.status == "COMPLETE":
            detail["outputGroupDetails"] = [
                {"outputDetails": [{"outputFilePaths": job.output_paths}], "type": "FILE_GROUP"}
            ]
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "MediaConvert Job State Change",
            "source": "aws.mediaconvert",
            "account": self.account_id,
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": self.region,
            "resources": [job.arn],
            "detail": detail,
        }
        self._deliver(event)

    # ------------------------------------------------------------ HTTP
    def handle(self, operation: str, url: str, body: bytes | None) -> tuple[int, dict[str, Any]]:
        if operation == "CreateJob":
            return self.create_job(json.loads(body or b"{}"))
        if operation == "GetJob":
            return self.get_job(url.rstrip("/").rsplit("/", 1)[-1].split("?")[0])
        raise MediaConvertError(
            501, "NotImplemented", f"{operation} is not emulated by visionpipe's local MediaConvert engine"
        )

    def ours(self, request) -> bool:
        if request.url.startswith(self.endpoint_url + "/"):
            return True
        authorization = request.headers.get("Authorization", b"")
        authorization = authorization.decode() if isinstance(authorization, bytes) else authorization
        key = authorization.partition("Credential=")[2].partition("/")[0]
        return bool(key) and self._is_local_key(key)

    @contextlib.contextmanager
    def installed(self, sessions: list[Any]):
        """Within the block, these sessions' clients, and those of every session created meanwhile
        (botocore's built-in handler list), reach the engine."""
        emitters = list({id(s.events): s.events for s in sessions}.values())
        unique_id = f"visionpipe-local-mediaconvert-{id(self)}"
        for emitter in emitters:
            emitter.register(EVENT, self.before_send, unique_id=unique_id)
        spec = (EVENT, self.before_send)
        botocore_handlers.BUILTIN_HANDLERS.append(spec)
        self.active = True
        try:
            yield self
        finally:
            self.active = False
            botocore_handlers.BUILTIN_HANDLERS.remove(spec)
            for emitter in emitters:
                emitter.unregister(EVENT, self.before_send, unique_id=unique_id)
            for thread in self._threads:
                thread.join(timeout=30)

    def before_send(self, request, event_name: str = "", **_kwargs) -> AWSResponse | None:
        if not self.active or not self.ours(request):
            return None
        operation = event_name.rsplit(".", 1)[-1]
        headers = {"content-type": "application/json", "x-amzn-requestid": f"local-{time.time_ns()}"}
        try:
            status, payload = self.handle(operation, request.url, request.body)
        except MediaConvertError as error:
            status, payload = error.status, {"message": error.message}
            headers["x-amzn-errortype"] = error.code
        return AWSResponse(request.url, status, headers, _Body(json.dumps(payload, default=str).encode()))
