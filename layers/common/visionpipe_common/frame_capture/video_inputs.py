"""Checks every uploaded video passes before any engine spends time on it.

The notification filters on the video_inputs/ prefix only (S3 suffix filters are case-sensitive),
so names are checked here, case-insensitively, and anything unsupported becomes a failure item.
The first bytes are sniffed so a renamed image or text file is refused with a clear reason
instead of failing deep inside a decoder (or a billed MediaConvert job).
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from visionpipe_common.anomaly.frames import VIDEO_PREFIX
from visionpipe_common.anomaly.images import sniff_content_type
from visionpipe_common.errors import RejectedInput
from visionpipe_common.events.s3_events import S3Object
from visionpipe_common.frame_capture.settings import SUPPORTED_VIDEO_SUFFIXES

SNIFF_BYTES = 64
MISSING_OBJECT_CODES = frozenset({"NoSuchKey", "NoSuchVersion", "404", "InvalidRange"})
_ISO_BMFF_BOXES = {b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip", b"pnot", b"uuid"}


def sniff_container(head: bytes) -> str | None:
    """'iso-bmff' (MP4/MOV/M4V), 'matroska' (MKV/WebM), 'avi', or None when it is not a video container."""
    if len(head) >= 8 and head[4:8] in _ISO_BMFF_BOXES:
        return "iso-bmff"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "matroska"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "avi"
    return None


def check_name_and_size(obj: S3Object) -> None:
    if not obj.key.startswith(VIDEO_PREFIX):
        raise RejectedInput(f"not under {VIDEO_PREFIX}: {obj.key}")
    name = obj.file_name
    suffix = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if suffix not in SUPPORTED_VIDEO_SUFFIXES:
        shown = suffix or "(none)"
        raise RejectedInput(
            f"unsupported video type {shown!r}: upload {' '.join(SUPPORTED_VIDEO_SUFFIXES)} (any letter case)"
        )
    if obj.size == 0:
        raise RejectedInput("empty object (0 bytes)")


def read_head(s3_client, obj: S3Object) -> bytes:
    """The first bytes of the uploaded version (a ranged GET: the video itself is not downloaded)."""
    request = {"Bucket": obj.bucket, "Key": obj.key, "Range": f"bytes=0-{SNIFF_BYTES - 1}"}
    if obj.version_id:
        request["VersionId"] = obj.version_id
    try:
        return s3_client.get_object(**request)["Body"].read()
    except ClientError as exc:
        if exc.response["Error"]["Code"] in MISSING_OBJECT_CODES:
            raise RejectedInput(f"object no longer exists (or is empty): {obj.uri}") from exc
        raise


def check_video_upload(s3_client, obj: S3Object) -> str:
    """Raise RejectedInput unless obj looks like a video we can capture; return its container kind."""
    check_name_and_size(obj)
    head = read_head(s3_client, obj)
    if not head:
        raise RejectedInput("empty object (0 bytes)")
    container = sniff_container(head)
    if container is None:
        sniffed = sniff_content_type(head)
        what = sniffed if sniffed != "application/octet-stream" else "not a known video container"
        raise RejectedInput(f"content is not a video ({what}): expected MP4/MOV, Matroska/WebM or AVI data")
    return container
