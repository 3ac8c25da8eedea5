"""The benchmark scripts run end to end in their ``--quick`` mode: they exit 0, print their
BENCHMARKS.md section with its table, and write nothing."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

# Slow tier (pytest -m slow): subprocesses, benchmarks, compilation of large programs.
pytestmark = pytest.mark.slow

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_quick(script: str) -> str:
    path = os.path.join(ROOT, "benchmarks", script)
    before = {p: os.path.getmtime(p) for p in _outputs()}
    proc = subprocess.run(
        [sys.executable, path, "--quick"],
        capture_output=True, text=True, timeout=600, cwd=ROOT, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert {p: os.path.getmtime(p) for p in _outputs()} == before, "--quick wrote a file"
    return proc.stdout


def _outputs():
    names = ("BENCHMARKS.md", os.path.join("benchmarks", "solver_traces.png"),
             os.path.join("benchmarks", "scaling.png"))
    return [os.path.join(ROOT, n) for n in names if os.path.exists(os.path.join(ROOT, n))]


def section_rows(out: str, marker: str) -> list[str]:
    begin, end = f"<!-- {marker}:begin -->", f"<!-- {marker}:end -->"
    assert begin in out and end in out
    body = out[out.index(begin) : out.index(end)]
    return [line for line in body.splitlines() if line.startswith("| ")]


def test_bench_newton_quick():
    rows = section_rows(run_quick("bench_newton.py"), "bench_newton")
    assert any(r.startswith("| batched fits (B) | 200 |") for r in rows)
    assert any("statuses" in r and "CONVERGED" in r for r in rows)


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
    assert "Targets (issue 3):" in out


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


def test_bench_gpu_quick():
    out = run_quick("bench_gpu.py")
    rows = section_rows(out, "bench_gpu")
    # One row per dtype and B (quick: 1,000 and 4,000), each with a rate and converged fits.
    for dtype in ("float32", "float64"):
        for B in ("1,000", "4,000"):
            row = [r for r in rows if r.startswith(f"| {dtype} | {B} | ")]
            assert len(row) == 1, (dtype, B, rows)
            cells = [c.strip() for c in row[0].strip("|").split("|")]
            assert not cells[2].startswith("failed"), row
            assert float(cells[5].replace(",", "")) > 0, row  # fits per second
            assert "CONVERGED" in cells[-1], row
    # float32 against float64 at each B: small differences per model.
    for B in ("1,000", "4,000"):
        cmp = [r for r in rows if r.startswith(f"| {B} | ")]
        assert len(cmp) == 1, (B, rows)
        assert float(cmp[0].strip("|").split("|")[-1]) < 1e-3, cmp
    assert "Target (issue 6)" in out and ("CPU check" in out or "Met: " in out)
