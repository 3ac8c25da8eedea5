"""The benchmark scripts run end to end in their ``--quick`` mode: they exit 0, print their
BENCHMARKS.md section with its table, and write nothing. The engine's and the GPU check's
scripts, the longest, have files of their own (`test_bench_engine.py`, `test_bench_gpu.py`),
so that the test processes share the scripts' time."""

from __future__ import annotations

import pytest

from _bench import run_quick, section_rows

# Slow tier (pytest -m slow): subprocesses, benchmarks, compilation of large programs.
pytestmark = pytest.mark.slow


def test_bench_newton_quick():
    rows = section_rows(run_quick("bench_newton.py"), "bench_newton")
    assert any(r.startswith("| batched fits (B) | 200 |") for r in rows)
    assert any("statuses" in r and "CONVERGED" in r for r in rows)


def test_bench_draw_quick():
    rows = section_rows(run_quick("bench_draw.py"), "bench_draw")[2:]  # past the header
    schemes = ("splits (and subsamples)", "stratified splits", "k-fold, k = 5",
               "stratified k-fold, k = 5")
    assert [r.split(" | ")[3] for r in rows] == list(schemes)
    assert all(float(r.strip(" |").split(" | ")[-1]) > 0 for r in rows)


def test_bench_solvers_quick():
    out = run_quick("bench_solvers.py")
    rows = section_rows(out, "bench_solvers")
    for label in ("jaxlogreg lbfgs", "jaxlogreg prox_newton", "optax lbfgs (vmap)",
                  "scikit-learn lbfgs (loop)", "scikit-learn saga (loop)", "glum (loop)"):
        assert any(r.startswith(f"| {label} |") for r in rows), label
    # Every exact solver reaches the reference optimum on the tiny problems.
    for r in rows:
        if r.startswith(("| jaxlogreg newton", "| jaxlogreg lbfgs", "| jaxlogreg prox_newton")):
            cells = [c.strip() for c in r.strip("|").split("|")]
            assert cells[-1].startswith("CONVERGED") and "," not in cells[-1], r
            assert float(cells[6].split("/")[1]) < 1e-9, r


def test_bench_overhead_quick():
    rows = section_rows(run_quick("bench_overhead.py"), "bench_overhead")
    for label in ("`fit(X, y)`", "`jax.jit(fit)(X, y)`", "Python overhead of `fit`",
                  "`inference(res, X, y)`", "Python overhead of `inference`"):
        assert any(r.startswith(f"| {label}") and r.endswith(" us |") for r in rows), label


def test_bench_scaling_quick():
    out = run_quick("bench_scaling.py")
    rows = section_rows(out, "bench_scaling")
    # One row per point of each sweep (quick: two points each), every fit converged.
    for factor in ("B", "n", "d"):
        points = [r for r in rows if r.startswith(f"| {factor} | ") and " MiB |" in r]
        assert len(points) == 2, (factor, rows)
        for r in points:
            cells = [c.strip() for c in r.strip("|").split("|")]
            assert cells[4].endswith(" s") and float(cells[4].split()[0]) > 0, r
            assert float(cells[8].split()[0]) > 0, r  # peak RSS in MiB
            assert cells[-1].startswith("CONVERGED"), r
    # One growth-exponent row per factor, with a finite time exponent.
    exps = [r for r in rows if r.startswith(("| B | 200 to", "| n | 100 to", "| d | 2 to"))]
    assert len(exps) == 3, rows
    for r in exps:
        float(r.strip("|").split("|")[2])
    assert "Measured" in out and "float64" in out
