"""The tweet text for one detection record, from a configurable template.

The default reproduces the original tweeting Lambda:
    Botchitecture report at 08:31 (UTC): Coffee Time! #botchitecture #office_cam_1
with the original's three messages. Differences, on purpose: the time is the detection's time from
the record (not the Lambda's clock) and is zero-padded HH:MM; the device comes from the record (the
original listed the bucket's latest/ folder, which names whichever device wrote last); hashtags are
made valid (X ends a hashtag at '-', so office-cam-1 becomes #office_cam_1; Seattle01 stays as is).

The message is picked from the list by a hash of the record's identity: as varied as random.choice
across records, but the same text on every retry of one record (X refuses a duplicate text, which
is then recognised as "already posted").

Template placeholders: {time} HH:MM UTC, {date} YYYY-MM-DD, {device}, {message}, {hashtags},
{object} (most confident detection), {confidence} (its confidence, e.g. 93%), {detected}
(every detection, e.g. "thumbs-up 93%, cup 71%"), {count}, {model}.
"""

from __future__ import annotations

import hashlib
import re
import string
import unicodedata
from dataclasses import dataclass

from visionpipe_common.tweets.record import DetectionRecord

DEFAULT_TEMPLATE = "Botchitecture report at {time} (UTC): {message} {hashtags}"
DEFAULT_MESSAGES = (
    "Coffee Time!",
    "Having a great day, enjoying some great coffee!",
    "This coffee deserves a thumbs up!",
)
DEFAULT_HASHTAGS = ("botchitecture", "{device}")
MESSAGE_SEPARATOR = "|"  # messages contain commas ("Having a great day, enjoying ...")
HASHTAG_SEPARATOR = ","

PLACEHOLDERS = frozenset(
    {"time", "date", "device", "message", "hashtags", "object", "confidence", "detected", "count", "model"}
)
MAX_TWEET_WEIGHT = 280  # X counts most Latin/punctuation as 1 and CJK/emoji as 2
_LIGHT_RANGES = ((0x0000, 0x10FF), (0x2000, 0x200D), (0x2010, 0x201F), (0x2032, 0x2037))
_NOT_HASHTAG = re.compile(r"[^\w]+", re.UNICODE)


class TemplateError(ValueError):
    """The configured template, messages or hashtags cannot make a tweet (a deployment mistake)."""


def tweet_weight(text: str) -> int:
    """The length X counts for a text without URLs (twitter-text's weighted length)."""
    return sum(1 if any(lo <= ord(ch) <= hi for lo, hi in _LIGHT_RANGES) else 2 for ch in text)


def hashtag(text: str) -> str:
    """'office-cam-1' -> '#office_cam_1': letters, digits and underscores only, never all digits."""
    tag = _NOT_HASHTAG.sub("_", unicodedata.normalize("NFC", text)).strip("_")
    if not tag:
        return ""
    return f"#{tag}" if not tag.isdigit() else f"#_{tag}"


def split_list(value: str, separator: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(separator) if part.strip())


@dataclass(frozen=True)
class TweetComposer:
    template: str = DEFAULT_TEMPLATE
    messages: tuple[str, ...] = DEFAULT_MESSAGES
    hashtags: tuple[str, ...] = DEFAULT_HASHTAGS

    def __post_init__(self):
        if not self.messages:
            raise TemplateError("the message list is empty: give at least one message")
        for text in (self.template, *self.hashtags):
            _check_placeholders(text)

    @classmethod
    def from_settings(cls, template: str, messages: str, hashtags: str) -> TweetComposer:
        return cls(
            template=template or DEFAULT_TEMPLATE,
            messages=split_list(messages, MESSAGE_SEPARATOR) if messages else DEFAULT_MESSAGES,
            hashtags=split_list(hashtags, HASHTAG_SEPARATOR),
        )

    def pick_message(self, identity: str) -> str:
        digest = hashlib.sha256(identity.encode()).digest()
        return self.messages[int.from_bytes(digest[:8], "big") % len(self.messages)]

    def compose(self, record: DetectionRecord, identity: str) -> str:
        fields = {
            "time": record.detected_at.strftime("%H:%M"),
            "date": record.detected_at.strftime("%Y-%m-%d"),
            "device": record.device_id,
            "message": self.pick_message(identity),
            "object": record.best.name,
            "confidence": percent(record.best.confidence),
            "detected": ", ".join(
                f"{o.name} {percent(o.confidence)}"
                for o in sorted(record.objects, key=lambda o: o.confidence, reverse=True)
            ),
            "count": str(len(record.objects)),
            "model": " ".join(
                p for p in (record.model_name, record.model_version and f"v{record.model_version}") if p
            ),
        }
        tags = [hashtag(tag.format(**fields)) for tag in self.hashtags]
        fields["hashtags"] = " ".join(dict.fromkeys(t for t in tags if t))
        text = " ".join(self.template.format(**fields).split())  # no doubled spaces from empty fields
        return shorten(text, MAX_TWEET_WEIGHT)


def percent(confidence: float) -> str:
    return f"{confidence * 100:.0f}%"


def shorten(text: str, limit: int, ellipsis: str = "…") -> str:
    if tweet_weight(text) <= limit:
        return text
    budget = limit - tweet_weight(ellipsis)
    while text and tweet_weight(text) > budget:
        text = text[:-1]
    return text.rstrip() + ellipsis


def _check_placeholders(text: str) -> None:
    known = ", ".join("{" + p + "}" for p in sorted(PLACEHOLDERS))
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
    except ValueError as exc:
        raise TemplateError(
            f"template {text!r} is not valid: {exc}; write a literal brace as {{{{ or }}}}; "
            f"placeholders: {known}"
        ) from exc
    unknown = sorted({f for f in fields if f not in PLACEHOLDERS})
    if unknown:
        names = ", ".join("{" + f + "}" for f in unknown)
        raise TemplateError(f"template {text!r} uses unknown placeholder(s) {names}; known: {known}")
