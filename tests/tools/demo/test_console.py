"""The demo's printer: a heading per step and the step's own time, kept for the summary."""

import io
import re

from visionpipe.demo.console import Printer


def test_each_step_prints_and_keeps_its_time_even_when_it_raises():
    out = io.StringIO()
    say = Printer(out)
    with say.step("1. first"):
        say("working")
    try:
        with say.step("2. second"):
            raise ValueError("boom")
    except ValueError:
        pass
    printed = out.getvalue()
    assert printed.startswith("\n== 1. first\nworking\n   (")
    assert "== 2. second" in printed and list(say.timings) == ["1. first", "2. second"]
    table = say.timing_table().splitlines()
    assert [re.split(r"\s{2,}", line.strip())[0] for line in table] == ["1. first", "2. second", "total"]
    assert table[-1].endswith(f"{sum(say.timings.values()):6.1f} s")
