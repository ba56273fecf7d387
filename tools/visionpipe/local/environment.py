"""Per-thread environment overlays, so several handlers can share one process.

Lambda gives each function its own environment variables. In local mode every handler runs in
this one process, so os.environ is extended (in place, same object) with a thread-local overlay:
a thread that runs a handler sees the process environment plus that function's variables, and
its writes stay in its overlay. Threads without an overlay see the plain process environment.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

_local = threading.local()
_DELETED = object()
_installs = 0
_install_lock = threading.Lock()
_original_class = type(os.environ)


def _overlay() -> dict | None:
    return getattr(_local, "overlay", None)


class _OverlaidEnviron(_original_class):  # type: ignore[misc, valid-type]
    def __getitem__(self, key):
        overlay = _overlay()
        if overlay is not None and key in overlay:
            value = overlay[key]
            if value is _DELETED:
                raise KeyError(key)
            return value
        return super().__getitem__(key)

    def __setitem__(self, key, value):
        overlay = _overlay()
        if overlay is not None:
            overlay[key] = str(value)
            return
        super().__setitem__(key, value)

    def __delitem__(self, key):
        overlay = _overlay()
        if overlay is not None:
            if key not in self:
                raise KeyError(key)
            overlay[key] = _DELETED
            return
        super().__delitem__(key)

    def __iter__(self) -> Iterator[str]:
        overlay = _overlay()
        if overlay is None:
            yield from super().__iter__()
            return
        base = [k for k in super().__iter__() if k not in overlay]
        yield from base
        yield from (k for k, v in list(overlay.items()) if v is not _DELETED)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def copy(self):
        return dict(self)


@contextmanager
def installed() -> Iterator[None]:
    """Within the block os.environ is overlaid (reference counted: stacks may nest)."""
    global _installs
    with _install_lock:
        _installs += 1
        os.environ.__class__ = _OverlaidEnviron
    try:
        yield
    finally:
        with _install_lock:
            _installs -= 1
            if _installs == 0:
                os.environ.__class__ = _original_class


@contextmanager
def overlaid(variables: Mapping[str, str]):
    """Within the block, this thread sees os.environ plus `variables` (nested blocks stack)."""
    previous = _overlay()
    _local.overlay = {**(previous or {}), **{k: str(v) for k, v in variables.items()}}
    try:
        yield
    finally:
        _local.overlay = previous
