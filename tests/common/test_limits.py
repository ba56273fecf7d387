"""Documented limits, each with an input just inside and just outside it."""

from decimal import Decimal

import pytest

from visionpipe_common.errors import RejectedInput
from visionpipe_common.limits import (
    DYNAMODB_ITEM_MAX_BYTES,
    S3_KEY_MAX_BYTES,
    derived_key,
    dynamodb_item_bytes,
    ensure_item_fits,
    s3_key_bytes,
)


def test_derived_keys_stay_within_s3s_key_limit():
    leaf = "0f1e2d3c-0000-4000-8000-123456789abc.json"
    room = S3_KEY_MAX_BYTES - len(f"results//{leaf}")
    fits = "image_inputs/" + "é" * ((room - len("image_inputs/")) // 2)  # 2 bytes per é
    assert s3_key_bytes(derived_key("results", fits, leaf)) <= S3_KEY_MAX_BYTES
    assert derived_key("results", fits, leaf) == f"results/{fits}/{leaf}"
    too_long = fits + "xx"
    key = derived_key("results", too_long, leaf)
    assert key.startswith("results/_long-keys/") and key.endswith(leaf)
    assert s3_key_bytes(key) <= S3_KEY_MAX_BYTES
    assert derived_key("results", too_long + "y", leaf) != key  # different uploads, different folders


def test_item_size_counts_names_and_values_in_utf8():
    assert dynamodb_item_bytes({"Image": "é"}) == len("Image") + 2
    assert dynamodb_item_bytes({"n": Decimal("1.5"), "b": True}) == 1 + 21 + 1 + 1
    assert dynamodb_item_bytes({"l": ["ab", "c"]}) == 1 + 3 + (1 + 2) + (1 + 1)


def test_an_item_just_inside_the_limit_fits_and_one_byte_more_does_not():
    name = "annotation"
    inside = {name: "x" * (DYNAMODB_ITEM_MAX_BYTES - len(name))}
    ensure_item_fits(inside, "candidate")
    with pytest.raises(RejectedInput, match="over the 409600-byte limit"):
        ensure_item_fits({name: inside[name] + "x"}, "candidate")


# ------------------------------------------ MediaConvert, SNS, Step Functions, SageMaker
from visionpipe_common.limits import (  # noqa: E402
    MEDIACONVERT_METADATA_KEY_MAX,
    MEDIACONVERT_METADATA_MAX_ENTRIES,
    MEDIACONVERT_METADATA_VALUE_MAX,
    SNS_MESSAGE_MAX_BYTES,
    STEP_FUNCTIONS_PAYLOAD_MAX_BYTES,
    ensure_fits,
    mediaconvert_metadata_problems,
    sagemaker_name_problem,
)


def test_mediaconvert_metadata_entries_just_inside_and_just_outside():
    inside = {f"k{i}": "v" for i in range(MEDIACONVERT_METADATA_MAX_ENTRIES)}
    assert mediaconvert_metadata_problems(inside) == []
    outside = {**inside, "k10": "v"}
    assert mediaconvert_metadata_problems(outside) == ["11 userMetadata entries, over MediaConvert's 10"]


def test_mediaconvert_metadata_key_and_value_lengths_just_inside_and_just_outside():
    assert (
        mediaconvert_metadata_problems(
            {"k" * MEDIACONVERT_METADATA_KEY_MAX: "v" * MEDIACONVERT_METADATA_VALUE_MAX}
        )
        == []
    )
    (key_problem,) = mediaconvert_metadata_problems({"k" * 129: "v"})
    assert "129 characters, over 128" in key_problem
    (value_problem,) = mediaconvert_metadata_problems({"k": "v" * 257})
    assert "257 characters, over 256" in value_problem


def test_mediaconvert_metadata_characters():
    assert mediaconvert_metadata_problems({"Key_1": "letters é 世 digits 09 space _ . : / = + - @"}) == []
    (problem,) = mediaconvert_metadata_problems({"source-key": "IMG (1)'s clip.mp4"})
    assert "'()" in problem
    assert mediaconvert_metadata_problems({"tab": "a\tb"}) != []


@pytest.mark.parametrize(
    ("limit", "what"),
    [(SNS_MESSAGE_MAX_BYTES, "SNS message"), (STEP_FUNCTIONS_PAYLOAD_MAX_BYTES, "execution input")],
)
def test_256_kib_payloads_just_inside_and_just_outside(limit, what):
    assert limit == 262_144
    ensure_fits("é" * (limit // 2), limit, what)  # UTF-8 bytes, not characters
    with pytest.raises(RejectedInput, match=f"{limit + 1} bytes, over the {limit}-byte limit"):
        ensure_fits("a" * (limit - 1) + "é", limit, what)


def test_sagemaker_names_just_inside_and_just_outside():
    assert sagemaker_name_problem("a" + "-b" * 31) is None  # 63 characters
    assert sagemaker_name_problem("a" * 64) is not None
    assert sagemaker_name_problem("visionpipe-retrain-00001-20261121083114") is None
    for bad in ("", "-starts-with-hyphen", "ends-with-hyphen-", "under_score", "dot.name"):
        assert sagemaker_name_problem(bad) is not None, bad
