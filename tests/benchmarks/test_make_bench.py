"""`make bench QUICK=1` passes --quick to every benchmark: each must accept it (two once did not)."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCHMARKS = sorted((ROOT / "benchmarks").glob("bench_*.py"))


def test_make_bench_passes_quick_to_every_benchmark():
    makefile = (ROOT / "Makefile").read_text()
    assert "for bench in benchmarks/bench_*.py" in makefile and "$(if $(QUICK),--quick)" in makefile


@pytest.mark.parametrize("bench", BENCHMARKS, ids=lambda p: p.name)
def test_every_benchmark_accepts_quick(bench):
    source = bench.read_text()
    if "argparse" not in source:  # parses sys.argv itself
        assert '"--quick" in sys.argv' in source
        return
    # argparse: --help lists the options without running the benchmark.
    shown = subprocess.run(
        [sys.executable, str(bench), "--help"], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert shown.returncode == 0, shown.stderr
    assert "--quick" in shown.stdout
