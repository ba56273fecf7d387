"""The MediaConvert engine: one CreateJob per video on the regional endpoint.

The Settings document is the original's (FRAME_CAPTURE at 1/5 fps, at most 4 captures, 500x500,
JPEG quality 80; optional H.264 + AAC MP4 proxy), with these deliberate changes:
- frames are named <video stem>_frame.NNNNNNN.jpg in <image bucket>/video_inputs/<video path>/
  (visionpipe_common.anomaly.frames), the same names the OpenCV engine writes;
- the proxy goes to its own output group in the VIDEO bucket under the proxy prefix, so the image
  flow never sees a non-image and no write re-triggers frame capture;
- FileInput is the decoded key (the original passed the URL-encoded one from the event);
- Rotate is AUTO, so portrait phone clips are captured upright (the original's DEGREE_0 ignored
  the rotation metadata; the OpenCV engine applies it too);
- the proxy's H.264 Bitrate is 1 Mbit/s (the original's 1000 is bits per second, the model's minimum,
  surely meant as kbit/s), and the audio selector's Offset is 0 ms (the original shifted audio by 1 ms).
The endpoint is always given (https://mediaconvert.<region>.amazonaws.com by default):
DescribeEndpoints is deprecated and throttled at scale. ClientRequestToken is derived from the
upload's identity, so a retried or duplicate event cannot start a second job.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import PurePosixPath
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from visionpipe_common.anomaly.frames import NAME_MODIFIER, VIDEO_PREFIX, frame_folder
from visionpipe_common.errors import RejectedInput
from visionpipe_common.events.s3_events import S3Object
from visionpipe_common.frame_capture.settings import CaptureSettings, MediaConvertSettings

logger = Logger(child=True)

# UserMetadata keys (MediaConvert echoes them in every job state change event).
META_STACK = "visionpipe-stack"
META_ENGINE = "engine"
META_SOURCE_BUCKET = "source-bucket"
META_SOURCE_KEY = "source-key"
META_SOURCE_SIZE = "source-size"
META_SOURCE_ETAG = "source-etag"
META_SOURCE_VERSION_ID = "source-version-id"
META_SOURCE_SEQUENCER = "source-sequencer"
META_SOURCE_EVENT_TIME = "source-event-time"
META_IMAGE_BUCKET = "image-bucket"
META_FRAME_FOLDER = "frame-folder"

AUDIO_SELECTOR = "Audio Selector 1"


def framerate_for_interval(interval_seconds: float) -> tuple[int, int]:
    """(FramerateNumerator, FramerateDenominator): one capture every Denominator/Numerator seconds."""
    rate = Fraction(1) / Fraction(str(interval_seconds)).limit_denominator(1000)
    return rate.numerator, rate.denominator


def frame_destination(image_bucket: str, video_key: str) -> str:
    """s3://<image bucket>/video_inputs/<video path>/<stem>: the base name is set explicitly."""
    return f"s3://{image_bucket}/{frame_folder(video_key)}{PurePosixPath(video_key).stem}"


def proxy_destination(video_bucket: str, video_key: str, proxy_prefix: str) -> str:
    relative = video_key[len(VIDEO_PREFIX) :] if video_key.startswith(VIDEO_PREFIX) else video_key
    parent = str(PurePosixPath(relative).parent)
    folder = "" if parent == "." else f"{parent}/"
    return f"s3://{video_bucket}/{proxy_prefix}{folder}{PurePosixPath(video_key).stem}"


def frame_capture_output(capture: CaptureSettings) -> dict[str, Any]:
    numerator, denominator = framerate_for_interval(capture.interval_seconds)
    return {
        "ContainerSettings": {"Container": "RAW"},
        "VideoDescription": {
            "Width": capture.width,
            "ScalingBehavior": "DEFAULT",
            "Height": capture.height,
            "TimecodeInsertion": "DISABLED",
            "AntiAlias": "ENABLED",
            "Sharpness": 50,
            "CodecSettings": {
                "Codec": "FRAME_CAPTURE",
                "FrameCaptureSettings": {
                    "FramerateNumerator": numerator,
                    "FramerateDenominator": denominator,
                    "MaxCaptures": capture.max_captures,
                    "Quality": capture.jpeg_quality,
                },
            },
            "DropFrameTimecode": "ENABLED",
            "ColorMetadata": "INSERT",
        },
        "Extension": "jpg",
        "NameModifier": NAME_MODIFIER,
    }


def proxy_output() -> dict[str, Any]:
    """The original's MP4 proxy: H.264 1 Mbit/s CBR, AAC 96 kbit/s stereo, progressive download."""
    return {
        "ContainerSettings": {
            "Container": "MP4",
            "Mp4Settings": {
                "CslgAtom": "INCLUDE",
                "CttsVersion": 0,
                "FreeSpaceBox": "EXCLUDE",
                "MoovPlacement": "PROGRESSIVE_DOWNLOAD",
                "AudioDuration": "DEFAULT_CODEC_DURATION",
            },
        },
        "VideoDescription": {
            "ScalingBehavior": "DEFAULT",
            "TimecodeInsertion": "DISABLED",
            "AntiAlias": "ENABLED",
            "Sharpness": 50,
            "CodecSettings": {
                "Codec": "H_264",
                "H264Settings": {
                    "InterlaceMode": "PROGRESSIVE",
                    "ScanTypeConversionMode": "INTERLACED",
                    "NumberReferenceFrames": 3,
                    "Syntax": "DEFAULT",
                    "Softness": 0,
                    "GopClosedCadence": 1,
                    "GopSize": 90,
                    "Slices": 1,
                    "GopBReference": "DISABLED",
                    "SlowPal": "DISABLED",
                    "EntropyEncoding": "CABAC",
                    "Bitrate": 1000000,
                    "FramerateControl": "INITIALIZE_FROM_SOURCE",
                    "RateControlMode": "CBR",
                    "CodecProfile": "MAIN",
                    "Telecine": "NONE",
                    "MinIInterval": 0,
                    "AdaptiveQuantization": "AUTO",
                    "CodecLevel": "AUTO",
                    "FieldEncoding": "PAFF",
                    "SceneChangeDetect": "ENABLED",
                    "QualityTuningLevel": "SINGLE_PASS",
                    "FramerateConversionAlgorithm": "DUPLICATE_DROP",
                    "UnregisteredSeiTimecode": "DISABLED",
                    "GopSizeUnits": "FRAMES",
                    "ParControl": "INITIALIZE_FROM_SOURCE",
                    "NumberBFramesBetweenReferenceFrames": 2,
                    "RepeatPps": "DISABLED",
                    "DynamicSubGop": "STATIC",
                },
            },
            "AfdSignaling": "NONE",
            "DropFrameTimecode": "ENABLED",
            "RespondToAfd": "NONE",
            "ColorMetadata": "INSERT",
        },
        "AudioDescriptions": [
            {
                "AudioTypeControl": "FOLLOW_INPUT",
                "AudioSourceName": AUDIO_SELECTOR,
                "CodecSettings": {
                    "Codec": "AAC",
                    "AacSettings": {
                        "AudioDescriptionBroadcasterMix": "NORMAL",
                        "Bitrate": 96000,
                        "RateControlMode": "CBR",
                        "CodecProfile": "LC",
                        "CodingMode": "CODING_MODE_2_0",
                        "RawFormat": "NONE",
                        "SampleRate": 48000,
                        "Specification": "MPEG4",
                    },
                },
                "LanguageCodeControl": "FOLLOW_INPUT",
            }
        ],
        "NameModifier": "_proxy",
    }


def job_input(obj: S3Object) -> dict[str, Any]:
    return {
        "AudioSelectors": {
            AUDIO_SELECTOR: {
                "Offset": 0,
                "DefaultSelection": "DEFAULT",
                "SelectorType": "TRACK",
                "ProgramSelection": 1,
            }
        },
        "VideoSelector": {"ColorSpace": "FOLLOW", "Rotate": "AUTO", "AlphaBehavior": "DISCARD"},
        "FilterEnable": "AUTO",
        "PsiControl": "USE_PSI",
        "FilterStrength": 0,
        "DeblockFilter": "DISABLED",
        "DenoiseFilter": "DISABLED",
        "InputScanType": "AUTO",
        "TimecodeSource": "ZEROBASED",
        "FileInput": f"s3://{obj.bucket}/{obj.key}",
    }


def job_settings(
    obj: S3Object, image_bucket: str, capture: CaptureSettings, mediaconvert: MediaConvertSettings
) -> dict[str, Any]:
    """The full Settings document of one frame-capture job."""
    groups = [
        {
            "Name": "Frame capture",
            "Outputs": [frame_capture_output(capture)],
            "OutputGroupSettings": {
                "Type": "FILE_GROUP_SETTINGS",
                "FileGroupSettings": {"Destination": frame_destination(image_bucket, obj.key)},
            },
        }
    ]
    if mediaconvert.proxy_output:
        groups.append(
            {
                "Name": "MP4 proxy",
                "Outputs": [proxy_output()],
                "OutputGroupSettings": {
                    "Type": "FILE_GROUP_SETTINGS",
                    "FileGroupSettings": {
                        "Destination": proxy_destination(obj.bucket, obj.key, mediaconvert.proxy_prefix)
                    },
                },
            }
        )
    return {
        "TimecodeConfig": {"Source": "ZEROBASED"},
        "OutputGroups": groups,
        "AdAvailOffset": 0,
        "Inputs": [job_input(obj)],
    }


def job_user_metadata(obj: S3Object, image_bucket: str, stack_name: str) -> dict[str, str]:
    metadata = {
        META_STACK: stack_name,
        META_ENGINE: "mediaconvert",
        META_SOURCE_BUCKET: obj.bucket,
        META_SOURCE_KEY: obj.key,
        META_SOURCE_SIZE: str(obj.size),
        META_SOURCE_ETAG: obj.etag,
        META_SOURCE_VERSION_ID: obj.version_id,
        META_SOURCE_SEQUENCER: obj.sequencer,
        META_SOURCE_EVENT_TIME: obj.event_time,
        META_IMAGE_BUCKET: image_bucket,
        META_FRAME_FOLDER: frame_folder(obj.key),
    }
    return {k: v for k, v in metadata.items() if v != ""}


def create_job_request(
    obj: S3Object, image_bucket: str, capture: CaptureSettings, mediaconvert: MediaConvertSettings
) -> dict[str, Any]:
    """Keyword arguments of mediaconvert.create_job for one uploaded video."""
    request: dict[str, Any] = {
        "Role": mediaconvert.role_arn,
        "Settings": job_settings(obj, image_bucket, capture, mediaconvert),
        "AccelerationSettings": {"Mode": "DISABLED"},
        "UserMetadata": job_user_metadata(obj, image_bucket, mediaconvert.stack_name),
        "ClientRequestToken": obj.upload_id,
        "StatusUpdateInterval": "SECONDS_60",
        "Priority": 0,
    }
    if mediaconvert.queue_arn:
        request["Queue"] = mediaconvert.queue_arn
    return request


def source_object(user_metadata: dict[str, str]) -> S3Object | None:
    """The uploaded video a job was started for, rebuilt from its UserMetadata (None: not ours)."""
    if META_SOURCE_KEY not in user_metadata or META_SOURCE_BUCKET not in user_metadata:
        return None
    return S3Object(
        bucket=user_metadata[META_SOURCE_BUCKET],
        key=user_metadata[META_SOURCE_KEY],
        size=int(user_metadata.get(META_SOURCE_SIZE, "0") or 0),
        etag=user_metadata.get(META_SOURCE_ETAG, ""),
        version_id=user_metadata.get(META_SOURCE_VERSION_ID, ""),
        sequencer=user_metadata.get(META_SOURCE_SEQUENCER, ""),
        event_time=user_metadata.get(META_SOURCE_EVENT_TIME, ""),
    )


class MediaConvertEngine:
    name = "mediaconvert"

    def __init__(self, client, image_bucket: str, capture: CaptureSettings, settings: MediaConvertSettings):
        self._client = client
        self._image_bucket = image_bucket
        self._capture = capture
        self._settings = settings

    @property
    def client(self):
        """The MediaConvert client (regional endpoint), e.g. for a botocore Stubber."""
        return self._client

    def capture(self, obj: S3Object) -> dict[str, Any]:
        """Submit the job; frames arrive later, the job-state function records the outcome."""
        request = create_job_request(obj, self._image_bucket, self._capture, self._settings)
        try:
            job = self._client.create_job(**request)["Job"]
        except ClientError as exc:
            # A BadRequest is about this job (its input or settings): record it. Anything else
            # (throttling, 5xx, AccessDenied from a misconfigured role) raises, so the event is
            # retried and then parked in the failed-events queue for replay once fixed.
            if exc.response["Error"]["Code"] in ("BadRequestException", "BadRequest"):
                raise RejectedInput(
                    f"MediaConvert refused the job: {exc.response['Error'].get('Message', '')}"
                ) from exc
            raise
        logger.info("mediaconvert job submitted", extra={"job_id": job.get("Id"), "s3_uri": obj.uri})
        return {
            "engine": self.name,
            "job_id": job.get("Id", ""),
            "status": job.get("Status", "SUBMITTED"),
            "frame_folder": frame_folder(obj.key),
        }
