"""EnvironmentSettings: the one way every flow's settings read the function's configuration."""

from dataclasses import dataclass

import pytest

from visionpipe_common.settings import EnvironmentSettings, setting


@dataclass(frozen=True)
class Inner(EnvironmentSettings):
    size: int = setting("SIZE", 7)


@dataclass(frozen=True)
class Example(EnvironmentSettings):
    table: str = setting("TABLE")
    ratio: float = setting("RATIO", 0.5)
    enabled: bool = setting("ENABLED", False)
    names: tuple[str, ...] = setting("NAMES", ("a",))
    region: str = setting(("AWS_REGION", "AWS_DEFAULT_REGION"), "us-east-1")
    shouted: str = setting("SHOUT", "", parse=str.upper)
    inner: Inner = Inner()
    fixed: int = 3  # not configurable


def test_fields_are_read_by_their_type_and_defaults_kept():
    settings = Example.from_environment({"TABLE": "t", "RATIO": "0.25", "ENABLED": "Yes", "NAMES": " x, ,y "})
    assert settings == Example(table="t", ratio=0.25, enabled=True, names=("x", "y"))
    assert settings.inner.size == 7 and settings.fixed == 3


def test_nested_settings_parse_hooks_and_the_first_of_several_names():
    settings = Example.from_environment(
        {"TABLE": "t", "SIZE": "9", "SHOUT": "hey", "AWS_DEFAULT_REGION": "eu-west-1", "ENABLED": "off"}
    )
    assert settings.inner.size == 9 and settings.shouted == "HEY" and not settings.enabled
    assert settings.region == "eu-west-1"
    assert Example.from_environment({"TABLE": "t", "AWS_REGION": "ap-south-1"}).region == "ap-south-1"


def test_a_missing_required_variable_names_itself():
    with pytest.raises(KeyError, match="TABLE is not set"):
        Example.from_environment({})


def test_a_malformed_number_fails_at_cold_start():
    with pytest.raises(ValueError):
        Example.from_environment({"TABLE": "t", "RATIO": "lots"})
