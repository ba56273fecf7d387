"""The tweet flow: one detection record in, at most one tweet out.

    read json/record_*.json -> parse (bad record: failure entry, nothing posted)
    -> compose the text from the record -> claim the device's cooldown (lost: suppressed)
    -> dry run: outbox/dry-run/ entry | live: [upload image] + create_tweet, outbox/posted/ entry
    -> mark the claim POSTED.  Posting failed: release the claim, then
       transient (429/5xx/network): raise for Lambda's retry, then the failed-events queue;
       configuration (secret, 401/402/403): failure entry naming the cause, raise (parked, replayable);
       X refused the request itself (other 4xx): failure entry, no retry.

Handlers stay thin: they parse the event and call TweetFlow.handle() for each record.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from visionpipe_common import aws
from visionpipe_common.errors import RejectedInput
from visionpipe_common.events.handler import Metric
from visionpipe_common.events.s3_events import S3Object
from visionpipe_common.tweets.cooldown import ClaimResult, DeviceCooldown
from visionpipe_common.tweets.message import TweetComposer
from visionpipe_common.tweets.outbox import DRY_RUN, DUPLICATES, POSTED, SUPPRESSED, Outbox
from visionpipe_common.tweets.record import (
    IMAGE_PREFIX,
    MAX_RECORD_BYTES,
    RECORD_PREFIX,
    RECORD_SUFFIX,
    DetectionRecord,
    is_record_key,
    parse_detection_record,
)
from visionpipe_common.tweets.settings import TweetSettings
from visionpipe_common.tweets.x_api import (
    MAX_IMAGE_BYTES,
    MediaFile,
    XConfigurationError,
    XDuplicateError,
    XPoster,
    XRejectedError,
)

logger = Logger(child=True)

STATUS_DRY_RUN = "DRY_RUN"
STATUS_POSTED = "POSTED"
STATUS_SUPPRESSED = "SUPPRESSED"  # another record of the device tweeted within the cooldown
STATUS_DUPLICATE = "DUPLICATE"  # this record was tweeted already
STATUS_FAILED = "FAILED"
MISSING_OBJECT_CODES = frozenset({"NoSuchKey", "NoSuchVersion", "404"})
METRIC_NAMES = {
    STATUS_POSTED: "TweetsPosted",
    STATUS_DRY_RUN: "TweetsDryRun",
    STATUS_FAILED: "RecordsRejected",
}
IMAGE_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}


def record_identity(obj: S3Object) -> str:
    """One detection record, however often it is delivered or uploaded again unchanged.

    Bucket, key and content (eTag) identify it: a duplicate notification, a replay or a device
    re-uploading the same file all map to the same identity; a changed record gets a new one.
    """
    content = obj.etag or obj.version_id or obj.sequencer
    return uuid.uuid5(uuid.NAMESPACE_URL, f"s3://{obj.bucket}/{obj.key}#{content}").hex


@dataclass(frozen=True)
class TweetOutcome:
    status: str
    record: str
    identity: str
    device_id: str | None = None
    text: str | None = None
    reason: str | None = None
    outbox_key: str | None = None
    tweet_id: str | None = None
    media_ids: tuple[str, ...] | None = None

    def as_dict(self) -> dict:
        return {
            k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items() if v is not None
        }

    def metrics(self) -> list[Metric]:
        if self.status == STATUS_DUPLICATE:  # a record delivered again counts nothing
            return []
        return [Metric(METRIC_NAMES.get(self.status, "TweetsSuppressed"), 1)]


class TweetFlow:
    def __init__(
        self,
        s3_client,
        cooldown: DeviceCooldown,
        composer: TweetComposer,
        poster: XPoster | None,
        attach_image: bool = False,
        fallback_bucket: str = "",
    ):
        self._s3 = s3_client
        self._cooldown = cooldown
        self._composer = composer
        self._poster = poster  # None: dry run
        self._attach_image = attach_image
        self._fallback_bucket = fallback_bucket

    @classmethod
    def from_settings(cls, settings: TweetSettings) -> TweetFlow:
        return cls(
            s3_client=aws.client("s3"),
            cooldown=DeviceCooldown(
                aws.client("dynamodb"), settings.cooldown_table, settings.cooldown_seconds
            ),
            composer=TweetComposer.from_settings(settings.template, settings.messages, settings.hashtags),
            poster=None
            if settings.dry_run
            else XPoster(settings.x_secret_arn, max_age=settings.secret_max_age_seconds),
            attach_image=settings.attach_image,
            fallback_bucket=settings.detections_bucket,
        )

    @property
    def dry_run(self) -> bool:
        return self._poster is None

    def handle(self, obj: S3Object) -> TweetOutcome:
        identity = record_identity(obj)
        if not is_record_key(obj.key):
            return self.reject(obj, f"not a detection record: expected a key {RECORD_PREFIX}*{RECORD_SUFFIX}")
        try:
            record = parse_detection_record(self._read(obj))
        except RejectedInput as rejected:
            return self.reject(obj, rejected.reason)
        text = self._composer.compose(record, identity)

        claim = self._cooldown.claim(record.device_id, identity, obj.key)
        if not claim.won:
            status = STATUS_DUPLICATE if claim.result is ClaimResult.ALREADY_POSTED else STATUS_SUPPRESSED
            reason = (
                "this record was tweeted already"
                if status == STATUS_DUPLICATE
                else f"device {record.device_id} is cooling down (record {claim.holder[:12]} tweeted)"
            )
            logger.info("no tweet: " + reason, extra={"s3_uri": obj.uri, "device_id": record.device_id})
            return self._not_tweeted(obj, identity, record, status, reason, text)

        try:
            return self._send(obj, identity, record, text)
        except XDuplicateError as duplicate:
            self._cooldown.mark_posted(record.device_id, identity)
            logger.warning("X already has this text", extra={"s3_uri": obj.uri, "detail": str(duplicate)})
            return self._not_tweeted(obj, identity, record, STATUS_DUPLICATE, str(duplicate), text)
        except XRejectedError as refused:
            self._release(record.device_id, identity)
            return self.reject(obj, f"X refused the post: {refused}", device_id=record.device_id, text=text)
        except XConfigurationError as misconfigured:
            self._release(record.device_id, identity)
            self.reject(obj, str(misconfigured), device_id=record.device_id, text=text)
            raise
        except BaseException:
            self._release(record.device_id, identity)
            raise

    def _not_tweeted(
        self, obj: S3Object, identity: str, record: DetectionRecord, status: str, reason: str, text: str
    ) -> TweetOutcome:
        """The outbox entry (and outcome) of a record that is suppressed or a duplicate."""
        mode = DUPLICATES if status == STATUS_DUPLICATE else SUPPRESSED
        entry = {
            "status": status,
            "record": obj.uri,
            "record_identity": identity,
            "reason": reason,
            "text": text,
        }
        key = Outbox(self._s3, obj.bucket).save_tweet(
            mode, entry, record.device_id, record.time_token, identity
        )
        return TweetOutcome(
            status, obj.uri, identity, record.device_id, text=text, reason=reason, outbox_key=key
        )

    def reject(
        self, obj: S3Object, reason: str, device_id: str | None = None, text: str | None = None
    ) -> TweetOutcome:
        """Write a failure entry (outbox/failures/) for a record that cannot be tweeted."""
        identity = record_identity(obj)
        outbox = Outbox(self._s3, obj.bucket or self._fallback_bucket)
        details = {k: v for k, v in {"device_id": device_id, "text": text}.items() if v}
        key = outbox.save_failure(obj, identity, reason, **details)
        logger.warning("record not tweeted", extra={"s3_uri": obj.uri, "reason": reason, "failure_key": key})
        return TweetOutcome(
            STATUS_FAILED, obj.uri, identity, device_id, text=text, reason=reason, outbox_key=key
        )

    def _send(self, obj: S3Object, identity: str, record: DetectionRecord, text: str) -> TweetOutcome:
        media, notes = self._media(record, obj.bucket)
        entry = {
            "text": text,
            "record": obj.uri,
            "record_identity": identity,
            "device_id": record.device_id,
            "detected_at": record.detected_at.isoformat().replace("+00:00", "Z"),
            "objects": [{"object": o.name, "confidence": o.confidence} for o in record.objects],
            "image_key": record.image_key if media else None,
            "image_bytes": len(media.data) if media else None,
            "notes": notes,
        }
        outbox = Outbox(self._s3, obj.bucket)
        if self._poster is None:
            key = outbox.save_tweet(DRY_RUN, entry, record.device_id, record.time_token, identity)
            self._cooldown.mark_posted(record.device_id, identity)
            logger.info("dry run: tweet not sent (no XSecretArn)", extra={"text": text, "outbox_key": key})
            return TweetOutcome(
                STATUS_DRY_RUN, obj.uri, identity, record.device_id, text=text, outbox_key=key
            )

        client = self._poster.client()
        media_ids: list[str] = []
        if media is not None:
            try:
                media_ids.append(client.upload_media(media))
            except XRejectedError as refused:  # a bad image must not cost the tweet
                notes.append(f"image not attached: {refused}")
        posted = client.post(text, media_ids)
        self._cooldown.mark_posted(record.device_id, identity, posted.tweet_id)
        entry.update(tweet_id=posted.tweet_id, media_ids=media_ids, notes=notes)
        key = outbox.save_tweet(POSTED, entry, record.device_id, record.time_token, identity)
        logger.info("tweet posted", extra={"tweet_id": posted.tweet_id, "text": text, "media_ids": media_ids})
        return TweetOutcome(
            STATUS_POSTED,
            obj.uri,
            identity,
            record.device_id,
            text=text,
            outbox_key=key,
            tweet_id=posted.tweet_id,
            media_ids=tuple(media_ids),
        )

    def _read(self, obj: S3Object) -> bytes:
        if obj.size > MAX_RECORD_BYTES:
            raise RejectedInput(f"record is {obj.size} bytes, over the limit of {MAX_RECORD_BYTES}")
        try:
            return self._s3.get_object(Bucket=obj.bucket, Key=obj.key)["Body"].read()
        except ClientError as exc:
            if exc.response["Error"]["Code"] in MISSING_OBJECT_CODES:
                raise RejectedInput(f"record no longer exists: {obj.uri}") from exc
            raise

    def _media(self, record: DetectionRecord, bucket: str) -> tuple[MediaFile | None, list[str]]:
        if not self._attach_image:
            return None, []
        key = record.image_key
        if not key:
            return None, ["record has no image_key: tweet without image"]
        suffix = "." + key.rsplit(".", 1)[-1].lower() if "." in key else ""
        if not key.startswith(IMAGE_PREFIX) or ".." in key.split("/") or suffix not in IMAGE_TYPES:
            return None, [f"image_key {key!r} is not a .jpg/.png under {IMAGE_PREFIX}: tweet without image"]
        try:
            response = self._s3.get_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            if exc.response["Error"]["Code"] in MISSING_OBJECT_CODES:
                return None, [f"image {key} not found: tweet without image"]
            raise
        if int(response.get("ContentLength", 0)) > MAX_IMAGE_BYTES:
            response["Body"].close()
            return None, [f"image {key} is over X's {MAX_IMAGE_BYTES}-byte limit: tweet without image"]
        return MediaFile(response["Body"].read(), IMAGE_TYPES[suffix], key.rsplit("/", 1)[-1]), []

    def _release(self, device_id: str, identity: str) -> None:
        try:
            self._cooldown.release(device_id, identity)
        except Exception:  # the original error matters more; the claim then just expires
            logger.exception("could not release the cooldown claim", extra={"device_id": device_id})
