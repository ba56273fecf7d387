"""Reading what users and devices upload: anything the input can cause is a RejectedInput.

A JSON document can be malformed in more ways than json.JSONDecodeError: not UTF-8, NaN or
Infinity, numbers too large for a float (1e999), nesting deep enough to exhaust the parser's
recursion. Each becomes a RejectedInput that names the document, never an exception a retry would
meet again.
"""

from __future__ import annotations

import json
import math
from typing import Any

from visionpipe_common.errors import RejectedInput


def _reject_constant(name: str):
    raise ValueError(f"{name} is not allowed")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text} is out of range")
    return value


def parse_json_document(body: bytes | str, source: str, max_bytes: int) -> Any:
    """The parsed document, or RejectedInput saying why `source` is not a usable JSON document."""
    if len(body) > max_bytes:
        raise RejectedInput(f"{source} is {len(body)} bytes, over the limit of {max_bytes}")
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
    except UnicodeDecodeError as exc:
        raise RejectedInput(f"{source} is not UTF-8 text: {exc}") from exc
    try:
        return json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    # JSONDecodeError is a ValueError; deep nesting ([[[[...) exhausts the parser's recursion.
    except (ValueError, RecursionError) as exc:
        raise RejectedInput(f"{source} is not valid JSON: {exc}") from exc


def finite_number(value: Any) -> bool:
    """A JSON number we can compute with: int or float, not bool, not NaN or infinite."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
