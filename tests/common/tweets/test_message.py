"""TweetComposer: the original's tweet by default, configurable templates, X's length rule."""

import json
import re
from collections import Counter

import pytest
from support.tweets import record

from visionpipe_common.tweets.message import (
    DEFAULT_MESSAGES,
    TemplateError,
    TweetComposer,
    hashtag,
    tweet_weight,
)
from visionpipe_common.tweets.record import parse_detection_record

ORIGINAL_FORM = re.compile(r"^Botchitecture report at (\d\d):(\d\d) \(UTC\): (.+) #botchitecture #(\w+)$")


def parsed(**overrides):
    return parse_detection_record(json.dumps(record(**overrides)).encode())


def test_default_reproduces_the_original_form_with_the_records_time_and_device():
    text = TweetComposer().compose(parsed(device="Seattle01", timestamp="20261121-083114"), identity="r1")

    match = ORIGINAL_FORM.match(text)
    assert match, text
    assert match.group(1, 2) == ("08", "31")
    assert match.group(3) in DEFAULT_MESSAGES
    assert match.group(4) == "Seattle01"


def test_original_messages_are_the_default_list():
    assert DEFAULT_MESSAGES == (
        "Coffee Time!",
        "Having a great day, enjoying some great coffee!",
        "This coffee deserves a thumbs up!",
    )


def test_message_is_stable_per_record_and_varies_across_records():
    composer = TweetComposer()
    assert composer.pick_message("record-a") == composer.pick_message("record-a")
    picks = Counter(composer.pick_message(f"record-{n}") for n in range(300))
    assert set(picks) == set(DEFAULT_MESSAGES)
    assert min(picks.values()) > 60  # roughly uniform, like random.choice


def test_device_names_become_valid_hashtags():
    text = TweetComposer().compose(parsed(device="office-cam-1"), identity="r1")
    assert text.endswith(" #botchitecture #office_cam_1")
    assert hashtag("Chicago 02!") == "#Chicago_02"
    assert hashtag("2026") == "#_2026"
    assert hashtag("---") == ""


def test_template_placeholders_come_from_the_record():
    composer = TweetComposer.from_settings(
        template="{date} {time} UTC {device}: {detected} "
        "(best {object} {confidence}, {count} found, {model}) {hashtags}",
        messages="",
        hashtags="cams,{object}",
    )
    objects = [{"object": "cup", "confidence": 0.714}, {"object": "thumbs-up", "confidence": 0.93}]
    text = composer.compose(parsed(objects=objects), identity="r1")
    assert text == (
        "2026-11-21 08:31 UTC office-cam-1: thumbs-up 93%, cup 71% "
        "(best thumbs-up 93%, 2 found, ssd-thumbs-up v3) #cams #thumbs_up"
    )


def test_configured_messages_and_no_hashtags():
    composer = TweetComposer.from_settings(template="", messages="Hello | Hi, there ", hashtags="")
    text = composer.compose(parsed(), identity="r1")
    assert text.startswith("Botchitecture report at 08:31 (UTC): ")
    assert text.split(": ", 1)[1] in ("Hello", "Hi, there")


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{hour}:{minute}", "unknown placeholder(s) {hour}, {minute}"),
        ("report {", "is not valid"),
        ("report {}", "unknown placeholder(s) {}"),
    ],
)
def test_bad_templates_fail_at_start_with_the_known_placeholders(template, message):
    with pytest.raises(TemplateError) as error:
        TweetComposer.from_settings(template=template, messages="", hashtags="")
    assert message in str(error.value) and "{device}" in str(error.value)


def test_empty_message_list_is_a_configuration_error():
    with pytest.raises(TemplateError):
        TweetComposer(messages=())


def test_long_text_is_shortened_to_what_x_accepts():
    composer = TweetComposer.from_settings(template="{message} {hashtags}", messages="a" * 400, hashtags="")
    text = composer.compose(parsed(), identity="r1")
    assert tweet_weight(text) == 280 and text.endswith("…")


def test_weighted_length_counts_cjk_and_emoji_double():
    assert tweet_weight("abc") == 3
    assert tweet_weight("咖啡") == 4
    assert tweet_weight("☕") == 2
