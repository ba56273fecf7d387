"""Reading a function's configuration: one way, for every flow.

Each flow's `settings.py` declares a frozen dataclass whose fields name their environment
variable with `setting(...)`; `from_environment()` reads them once per container, converting by
the field's type (str, int, float, bool, tuple[str, ...]) or a `parse` function, and fills
fields that are settings classes themselves from the same environment. Handlers never read
os.environ. A variable without a default that is not set is an error naming it.
"""

from __future__ import annotations

import dataclasses
import os
import typing
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

TRUE_WORDS = frozenset({"1", "true", "yes", "on", "enabled"})
T = TypeVar("T", bound="EnvironmentSettings")


def setting(
    name: str | tuple[str, ...], default: Any = dataclasses.MISSING, parse: Callable[[str], Any] | None = None
) -> Any:
    """A field read from the environment variable `name` (with several names, the first one set)."""
    names = (name,) if isinstance(name, str) else name
    return dataclasses.field(default=default, metadata={"env": names, "parse": parse})


def names_list(value: str) -> tuple[str, ...]:
    """A comma-separated list, blanks dropped."""
    return tuple(n.strip() for n in value.split(",") if n.strip())


def flag(value: str) -> bool:
    return value.strip().lower() in TRUE_WORDS


PARSERS: dict[Any, Callable[[str], Any]] = {
    str: str,
    int: int,
    float: float,
    bool: flag,
    tuple[str, ...]: names_list,
}


class EnvironmentSettings:
    @classmethod
    def from_environment(cls: type[T], env: Mapping[str, str] | None = None) -> T:
        env = os.environ if env is None else env
        hints = typing.get_type_hints(cls)
        values = {}
        for field in dataclasses.fields(cls):  # type: ignore[arg-type]
            hint = hints[field.name]
            if isinstance(hint, type) and issubclass(hint, EnvironmentSettings):
                values[field.name] = hint.from_environment(env)
                continue
            names = field.metadata.get("env")
            if not names:
                continue
            raw = next((env[n] for n in names if n in env), None)
            if raw is None:
                if field.default is dataclasses.MISSING:
                    raise KeyError(f"environment variable {names[0]} is not set (the template sets it)")
                continue
            values[field.name] = (field.metadata["parse"] or PARSERS[hint])(raw)
        return cls(**values)
