"""What the demo prints: headings with a timing per step, and a Tee for captured output."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from contextlib import contextmanager


class Printer:
    """Writes to the real stdout even while handler output is redirected to the log file."""

    def __init__(self, stream):
        self._stream = stream
        self.timings: dict[str, float] = {}

    def __call__(self, text: str) -> None:
        print(text, file=self._stream, flush=True)

    def heading(self, text: str) -> None:
        self(f"\n== {text}")

    @contextmanager
    def step(self, title: str) -> Iterator[None]:
        """A heading, then the step's own time when it ends (also kept in `timings`)."""
        self.heading(title)
        started = time.perf_counter()
        try:
            yield
        finally:
            self.timings[title] = time.perf_counter() - started
            self(f"   ({self.timings[title]:.1f} s)")

    def timing_table(self) -> str:
        width = max((len(title) for title in self.timings), default=4)
        lines = [f"  {title:<{width}}  {seconds:6.1f} s" for title, seconds in self.timings.items()]
        lines.append(f"  {'total':<{width}}  {sum(self.timings.values()):6.1f} s")
        return "\n".join(lines)


class Tee(io.TextIOBase):
    def __init__(self, *streams):
        self._streams = streams

    def write(self, text: str) -> int:
        for stream in self._streams:
            stream.write(text)
        return len(text)

    def flush(self) -> None:
        for stream in self._streams:
            stream.flush()
