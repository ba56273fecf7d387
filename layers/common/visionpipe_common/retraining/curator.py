"""Check one camera annotation (training_annotation/*.json) and its raw image; record a candidate.

Valid: the JSON is a SageMaker object-detection annotation, its raw image raw_images/<file> exists,
the image's real size (read from its header only) matches image_size, every box lies inside the
image and every class is known. Valid annotations become pending candidates (approved directly when
auto-approve is on); anything else becomes a rejected candidate whose reason says what is wrong.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from visionpipe_common import aws
from visionpipe_common.errors import RejectedInput, is_transient
from visionpipe_common.events.s3_events import S3Object
from visionpipe_common.retraining.annotations import (
    ClassMap,
    InvalidAnnotation,
    TrainingAnnotation,
    image_header_size,
    is_image_name,
)
from visionpipe_common.retraining.candidates import (
    PENDING,
    REJECTED,
    Candidate,
    CandidateStore,
    Transition,
)
from visionpipe_common.retraining.settings import CuratorSettings

logger = Logger(child=True)

ANNOTATION_PREFIX = "training_annotation/"
RAW_IMAGE_PREFIX = "raw_images/"
HEADER_BYTES = 64 * 1024


def candidate_id_for(key: str) -> str:
    return PurePosixPath(key).stem


class Curator:
    def __init__(self, s3, store: CandidateStore, class_map: ClassMap, auto_approve: bool = False):
        self.s3 = s3
        self.store = store
        self.class_map = class_map
        self.auto_approve = auto_approve

    @classmethod
    def from_settings(cls, settings: CuratorSettings) -> Curator:
        store = CandidateStore(aws.table(settings.candidates_table))
        class_map = ClassMap.from_names(settings.class_names)
        return cls(aws.client("s3"), store, class_map, auto_approve=settings.auto_approve)

    def curate(self, obj: S3Object) -> Transition:
        outcome = self._curate(obj)
        logger.info(
            "candidate recorded",
            extra={
                "candidate": outcome.candidate_id,
                "status": outcome.status,
                "ok": outcome.ok,
                "detail": outcome.message,
            },
        )
        return outcome

    @staticmethod
    def ignore_event(obj: S3Object, reason: str) -> None:
        """An event that names no annotation (see events.handler): nothing to record."""
        logger.warning("event names no annotation; nothing recorded", extra={"reason": reason})

    def _curate(self, obj: S3Object) -> Transition:
        candidate_id = candidate_id_for(obj.key)
        base = {"candidate_id": candidate_id, "bucket": obj.bucket, "annotation_key": obj.key}
        try:
            annotation, image_key = self._check(obj)
        except InvalidAnnotation as invalid:
            return self.store.record(Candidate(status=REJECTED, reason=invalid.reason, **base))
        except _Rejected as rejected:
            return self.store.record(
                Candidate(status=REJECTED, reason=rejected.reason, image_key=rejected.image_key, **base)
            )
        try:
            recorded = self.store.record(
                Candidate(
                    status=PENDING,
                    image_key=image_key,
                    annotation=annotation.to_json(),
                    boxes=len(annotation.boxes),
                    classes=tuple(annotation.class_names()),
                    width=annotation.width,
                    height=annotation.height,
                    **base,
                )
            )
        except RejectedInput as too_large:  # the annotation does not fit in a candidate item
            return self.store.record(
                Candidate(
                    status=REJECTED, reason=f"{obj.key}: {too_large.reason}", image_key=image_key, **base
                )
            )
        if recorded.ok and self.auto_approve:
            return self.store.approve(candidate_id, decided_by="auto-approve")
        return recorded

    def _check(self, obj: S3Object) -> tuple[TrainingAnnotation, str]:
        if not obj.key.startswith(ANNOTATION_PREFIX) or not obj.key.lower().endswith(".json"):
            raise _Rejected(f"{obj.key}: not a training annotation (expected {ANNOTATION_PREFIX}*.json)")
        body = self._get(obj.bucket, obj.key, f"annotation {obj.key}")
        annotation = TrainingAnnotation.from_json(body, obj.key)
        file_name = annotation.file
        if "/" in file_name or "\\" in file_name or not is_image_name(file_name):
            raise _Rejected(f"{obj.key}: 'file' must be a bare .jpg/.jpeg/.png name (got {file_name!r})")
        image_key = RAW_IMAGE_PREFIX + file_name
        if not annotation.boxes:
            raise _Rejected(f"{obj.key}: no boxes to train on", image_key)
        width, height = self._image_size(obj.bucket, image_key)
        problems = annotation.problems_against_image(width, height)
        if problems:
            raise _Rejected(f"{obj.key}: " + "; ".join(problems), image_key)
        try:
            return annotation.relabelled(self.class_map, obj.key), image_key
        except InvalidAnnotation as invalid:
            raise _Rejected(invalid.reason, image_key) from invalid

    def _image_size(self, bucket: str, key: str) -> tuple[int, int]:
        head = self._get(bucket, key, f"raw image {key}", byte_range=f"bytes=0-{HEADER_BYTES - 1}")
        try:
            width, height, _ = image_header_size(head, key)
        except InvalidAnnotation:
            if len(head) < HEADER_BYTES:  # the whole object was read: it is not an image
                raise _Rejected(f"raw image {key} is not a readable JPEG or PNG", key) from None
            # a header larger than 64 KiB (big EXIF block): read the whole object once
            width, height, _ = image_header_size(self._get(bucket, key, f"raw image {key}"), key)
        return width, height

    def _get(self, bucket: str, key: str, what: str, byte_range: str | None = None) -> bytes:
        try:
            extra = {"Range": byte_range} if byte_range else {}
            return self.s3.get_object(Bucket=bucket, Key=key, **extra)["Body"].read()
        except ClientError as exc:
            if is_transient(exc):
                raise
            code = exc.response["Error"]["Code"]
            if code in ("NoSuchKey", "404", "NotFound"):
                raise _Rejected(f"{what} not found in s3://{bucket}", key) from exc
            if code == "InvalidRange":  # a 0-byte object
                raise _Rejected(f"{what} is empty", key) from exc
            raise


class _Rejected(Exception):
    def __init__(self, reason: str, image_key: str = ""):
        super().__init__(reason)
        self.reason = reason
        self.image_key = image_key
