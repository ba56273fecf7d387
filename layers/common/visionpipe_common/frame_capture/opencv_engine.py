"""The OpenCV engine: frames captured inside the function, named and sized like MediaConvert's.

The video is not held in memory: FFmpeg (OpenCV's backend) reads it through a short-lived
presigned URL with range requests, so only the parts around each capture time are fetched and
decoded (it seeks to the keyframe before each time and decodes forward from there, never the
whole video). If streaming fails, the engine copies the video to a private temporary directory
(always removed) and tries again there before blaming the file; that copy also lets it say *why*
a file is unusable (truncated, zero duration...).

Frames go to <image bucket>/video_inputs/<video path>/<stem>_frame.NNNNNNN.jpg, stretched to
width x height like MediaConvert's DEFAULT scaling, JPEG at the configured quality, with the
source bucket/key and frame time as object metadata.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from visionpipe_common.anomaly.frames import META_FRAME_TIME, META_SOURCE_BUCKET, META_SOURCE_KEY, frame_key
from visionpipe_common.errors import RejectedInput
from visionpipe_common.events.s3_events import S3Object
from visionpipe_common.frame_capture.container_check import GENERIC, unopenable_reason
from visionpipe_common.frame_capture.plan import FrameTarget, capture_plan
from visionpipe_common.frame_capture.settings import CaptureSettings, OpenCvSettings
from visionpipe_common.frame_capture.video_inputs import MISSING_OBJECT_CODES, sniff_container

logger = Logger(child=True)

# A capture time this close to the end that cannot be read is the end of the stream, not damage
# (container durations are estimates; the last frame starts one frame period before the end).
END_TOLERANCE_SECONDS = 0.5
# A frame this far from the time asked for is another time's frame (a stated bound: at 1 s a seek
# within one GOP of the usual 0.5-1 s GOPs still passes; a truncated file landing seconds off does not).
SEEK_TOLERANCE_SECONDS = 1.0


class PartialCapture(RejectedInput):
    """Some frames were captured and written, others could not be decoded (a damaged file)."""

    def __init__(self, reason: str, summary: dict[str, Any]):
        super().__init__(reason)
        self.summary = summary


@dataclass(frozen=True)
class VideoProbe:
    width: int
    height: int
    fps: float
    frame_count: int

    @property
    def duration_seconds(self) -> float | None:
        """None when the container does not say (some live-recorded WebM/MKV)."""
        if self.fps > 0 and self.frame_count > 0:
            return self.frame_count / self.fps
        return None


@dataclass
class Captured:
    frames: list[tuple[FrameTarget, bytes]] = field(default_factory=list)
    missing: list[FrameTarget] = field(default_factory=list)
    planned: int = 0


def _cv2():
    import cv2  # from the cv2 layer; imported on first use so the MediaConvert engine never loads it

    return cv2


def _ascii(value: str) -> bool:
    return value.isascii() and value.isprintable()


class OpenCvEngine:
    name = "opencv"

    def __init__(self, s3_client, image_bucket: str, capture: CaptureSettings, settings: OpenCvSettings):
        self._s3 = s3_client
        self._image_bucket = image_bucket
        self._capture = capture
        self._settings = settings

    # ------------------------------------------------------------------ public
    def capture(self, obj: S3Object) -> dict[str, Any]:
        started = time.perf_counter()
        container = ""
        via = ""
        result: Captured | None = None
        probe: VideoProbe | None = None
        if self._settings.read_mode == "url":
            with self._streamed(obj) as video:
                if video is not None:
                    via = "url"
                    probe = self._probe(video)
                    result = self._capture_from(video, obj, probe)
        if result is None or result.missing or not result.frames:
            if via:
                logger.info("streamed capture incomplete: checking a local copy", extra={"s3_uri": obj.uri})
            with self._downloaded(obj) as (video, container):
                via = "tmp"
                probe = self._probe(video)
                result = self._capture_from(video, obj, probe)
        written = [self._write_frame(obj, target, jpeg) for target, jpeg in result.frames]
        summary = {
            "engine": self.name,
            "read_via": via,
            "container": container,
            "source": {
                "width": probe.width,
                "height": probe.height,
                "fps": probe.fps,
                "frame_count": probe.frame_count,
                "duration_seconds": probe.duration_seconds,
            },
            "frames": written,
            "capture_ms": round((time.perf_counter() - started) * 1000.0, 1),
        }
        if result.missing:
            times = ", ".join(f"{t.time_seconds:g}s" for t in result.missing)
            raise PartialCapture(
                f"truncated or damaged: {len(result.frames)} of {result.planned} frames captured; "
                f"no decodable frame at {times}",
                summary,
            )
        return summary

    # ------------------------------------------------------------------ reading
    def _open(self, source: str):
        cv2 = _cv2()
        params = [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
            self._settings.open_timeout_ms,
            cv2.CAP_PROP_READ_TIMEOUT_MSEC,
            self._settings.open_timeout_ms,
        ]
        return cv2.VideoCapture(source, cv2.CAP_FFMPEG, params)

    @contextmanager
    def _streamed(self, obj: S3Object) -> Iterator[Any | None]:
        params = {"Bucket": obj.bucket, "Key": obj.key}
        if obj.version_id:
            params["VersionId"] = obj.version_id
        url = self._s3.generate_presigned_url(
            "get_object", Params=params, ExpiresIn=self._settings.url_expiry_seconds
        )
        video = self._open(url)  # the URL carries a signature: never logged
        try:
            yield video if video.isOpened() else None
        finally:
            video.release()

    @contextmanager
    def _downloaded(self, obj: S3Object) -> Iterator[tuple[Any, str]]:
        if obj.size > self._settings.max_download_bytes:
            raise RejectedInput(
                f"video could not be streamed and at {obj.size} bytes is over the "
                f"{self._settings.max_download_bytes}-byte limit for a local copy"
            )
        suffix = PurePosixPath(obj.key).suffix.lower()
        with tempfile.TemporaryDirectory(prefix="frame-capture-") as folder:
            path = Path(folder) / f"video{suffix}"
            extra = {"VersionId": obj.version_id} if obj.version_id else None
            try:
                self._s3.download_file(obj.bucket, obj.key, str(path), ExtraArgs=extra)
            except ClientError as exc:
                if exc.response["Error"]["Code"] in MISSING_OBJECT_CODES:
                    raise RejectedInput(f"object no longer exists: {obj.uri}") from exc
                raise
            with path.open("rb") as f:
                container = sniff_container(f.read(64)) or ""
            video = self._open(str(path))
            try:
                if not video.isOpened():
                    raise RejectedInput(unopenable_reason(path, container) if container else GENERIC)
                yield video, container
            finally:
                video.release()

    def _probe(self, video) -> VideoProbe:
        cv2 = _cv2()
        probe = VideoProbe(
            width=int(video.get(cv2.CAP_PROP_FRAME_WIDTH)),
            height=int(video.get(cv2.CAP_PROP_FRAME_HEIGHT)),
            fps=float(video.get(cv2.CAP_PROP_FPS)),
            frame_count=int(video.get(cv2.CAP_PROP_FRAME_COUNT)),
        )
        if probe.width <= 0 or probe.height <= 0:
            raise RejectedInput(f"no decodable video stream (frame size {probe.width}x{probe.height})")
        if probe.width * probe.height > self._settings.max_video_pixels:
            raise RejectedInput(
                f"resolution {probe.width}x{probe.height} is over the limit of "
                f"{self._settings.max_video_pixels} pixels per frame"
            )
        return probe

    def _capture_from(self, video, obj: S3Object, probe: VideoProbe) -> Captured:
        duration = probe.duration_seconds
        if duration is None:
            return self._capture_sequentially(video, obj, probe)
        plan = capture_plan(obj.key, duration, self._capture.interval_seconds, self._capture.max_captures)
        captured = Captured(planned=len(plan))
        for target in plan:
            frame = self._read_at(video, target.time_seconds)
            if frame is None and target.index > 0 and target.time_seconds >= duration - END_TOLERANCE_SECONDS:
                captured.planned -= 1  # the stream ends a little before the container says
                continue
            if frame is None:
                captured.missing.append(target)
            else:
                captured.frames.append((target, self._encode(frame)))
        return captured

    def _capture_sequentially(self, video, obj: S3Object, probe: VideoProbe) -> Captured:
        """No duration in the container: read forward, keeping the first frame at or after each time."""
        cv2 = _cv2()
        captured = Captured()
        index, frame_number = 0, 0
        while index < self._capture.max_captures:
            ok, frame = video.read()
            if not ok:
                break
            seconds = frame_number / probe.fps if probe.fps > 0 else video.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
            frame_number += 1
            wanted = index * self._capture.interval_seconds
            if seconds + 1e-6 >= wanted:
                target = FrameTarget(
                    index=index, time_seconds=round(wanted, 6), key=frame_key(obj.key, index)
                )
                captured.frames.append((target, self._encode(frame)))
                index += 1
        captured.planned = len(captured.frames)
        if not captured.frames:
            raise RejectedInput("zero duration: the video stream has no decodable frames")
        return captured

    def _read_at(self, video, seconds: float):
        """The frame at `seconds`, or None when the decoder cannot reach it.

        A damaged or truncated file makes the seek land elsewhere (e.g. on the last decodable
        frame): a frame more than SEEK_TOLERANCE_SECONDS from the time asked for is not that
        time's frame, and is never stored under its name.
        """
        cv2 = _cv2()
        if seconds > 0 or video.get(cv2.CAP_PROP_POS_FRAMES) > 0:
            video.set(cv2.CAP_PROP_POS_MSEC, seconds * 1000.0)  # seek: keyframe, then decode forward
        ok, frame = video.read()
        if not ok or frame is None:
            return None
        landed = video.get(cv2.CAP_PROP_POS_MSEC) / 1000.0  # the timestamp of the frame just read
        if abs(landed - seconds) > SEEK_TOLERANCE_SECONDS:
            logger.warning("seek landed elsewhere", extra={"wanted_s": seconds, "landed_s": round(landed, 3)})
            return None
        return frame

    def _encode(self, frame) -> bytes:
        cv2 = _cv2()
        size = (self._capture.width, self._capture.height)
        shrinking = frame.shape[1] >= size[0] and frame.shape[0] >= size[1]
        resized = cv2.resize(frame, size, interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
        ok, jpeg = cv2.imencode(".jpg", resized, [cv2.IMWRITE_JPEG_QUALITY, self._capture.jpeg_quality])
        if not ok:
            raise RuntimeError("JPEG encoding failed")
        return jpeg.tobytes()

    # ------------------------------------------------------------------ writing
    def _write_frame(self, obj: S3Object, target: FrameTarget, jpeg: bytes) -> dict[str, Any]:
        metadata = {META_SOURCE_BUCKET: obj.bucket, META_FRAME_TIME: f"{target.time_seconds:g}"}
        if _ascii(obj.key):
            # S3 metadata is ASCII only; without it detect_anomaly maps the frame back from its key.
            metadata[META_SOURCE_KEY] = obj.key
        try:
            # Written once: a duplicate delivery or a retry finds the frame and adds no new version
            # (which detect_anomaly would judge again). S3 conditional writes:
            # https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html
            self._s3.put_object(
                Bucket=self._image_bucket,
                Key=target.key,
                Body=jpeg,
                ContentType="image/jpeg",
                Metadata=metadata,
                IfNoneMatch="*",
            )
            written = True
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "PreconditionFailed":
                raise  # 409 ConditionalRequestConflict (a concurrent writer): retried
            written = False
        return {
            "index": target.index,
            "time_seconds": target.time_seconds,
            "key": target.key,
            "bytes": len(jpeg),
            "written": written,
        }
