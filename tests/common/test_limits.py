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
