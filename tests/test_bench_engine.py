"""`benchmarks/bench_engine.py` runs end to end in its ``--quick`` mode (see
`test_benchmarks.py`)."""

from __future__ import annotations

import pytest

from _bench import run_quick, section_rows

# Slow tier (pytest -m slow): subprocesses, benchmarks, compilation of large programs.
pytestmark = pytest.mark.slow


def test_bench_engine_quick():
    out = run_quick("bench_engine.py")
    rows = section_rows(out, "bench_engine")
    for label in ("`jaxlogreg.fit`, warm", "`fit` / yardstick, same passes",
                  "speed-up per fit over statsmodels", "first fit of one model",
                  "first batch of 1,000 seed splits", "yardstick's first call"):
        assert any(r.startswith(f"| {label}") for r in rows), label
    # The fits agree with statsmodels; the crossing table has both solvers per column count.
    rel = next(r for r in rows if r.startswith("| largest relative difference"))
    assert float(rel.strip("|").split("|")[1]) < 1e-8, rel
    assert any(r.startswith("| 8 |") and r.count(" ms ") == 2 for r in rows), rows
