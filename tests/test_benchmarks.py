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


def run_quick(script: str, *args: str) -> str:
    path = os.path.join(ROOT, "benchmarks", script)
    before = {p: os.path.getmtime(p) for p in _outputs()}
    proc = subprocess.run(
        [sys.executable, path, "--quick", *args],
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


def test_bench_draw_quick():
    rows = section_rows(run_quick("bench_draw.py"), "bench_draw")[2:]  # past the header
    schemes = ("splits (and subsamples)", "stratified splits", "k-fold, k = 5",
               "stratified k-fold, k = 5")
    assert [r.split(" | ")[3] for r in rows] == list(schemes)
    assert all(float(r.strip(" |").split(" | ")[-1]) > 0 for r in rows)


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


def gpu_rows(out: str) -> list[list[str]]:
    """bench_gpu's table: ``[step, what, seconds, result]`` per row."""
    return [[c.strip() for c in r.strip().strip("|").split("|")]
            for r in section_rows(out, "bench_gpu")[2:]]  # past the header and its rule


def number_after(text: str, words: str) -> float:
    """The number that follows ``words`` in ``text``."""
    rest = text[text.index(words) + len(words):].split()[0]
    return float(rest.rstrip(",;").replace(",", ""))


def test_bench_gpu_quick():
    out = run_quick("bench_gpu.py")
    rows = gpu_rows(out)
    # Every step ran, in order, one line each as it went and a row each in the table.
    assert [r[0] for r in rows] == ["1", "2", "3", "4", "5", "5", "5", "6", "7", "8", "8"], rows
    for step, what, _seconds, result in rows:
        assert not result.startswith(("failed", "skipped: deadline")), (step, result)
        assert f"step {step}: {what}: " in out, (step, what)
    by_what = {what: result for _, what, _, result in rows}
    assert "jax " in rows[0][3] and "jaxlib " in rows[0][3]
    smoke = rows[1][3]
    assert (smoke == "skipped: statsmodels not installed"
            or number_after(smoke, "largest parameter difference") < 1e-8), smoke
    # fit(devices=1) and fit_rows_sharded agree with the plain fits.
    devices = rows[2][3]
    assert "statuses agree 1,024/1,024" in devices, devices
    assert number_after(devices, "largest difference") < 1e-10, devices
    assert number_after(devices.split("fit_rows_sharded")[1], ": difference") < 1e-10, devices
    assert "status and steps agree" in devices, devices
    assert "Splits " in rows[3][3] and "Bootstrap " in rows[3][3]
    for what in ("float32 splits, B = 1,024", "float32 bootstrap, B = 1,024",
                 "float64 splits, B = 1,024"):
        result = by_what[what]
        assert float(result.split(" fits/s")[0].replace(",", "")) > 0, result
        assert "CONVERGED" in result and "steps mean" in result, result
        assert "peak device memory so far" in result, result
    stragglers = rows[7][3]
    assert "no user-facing switch" in stragglers and "refilling off" in stragglers, stragglers
    assert "chunk_size=256" in rows[8][1] and "fits/s" in rows[8][3]
    # The same-run baseline: the host CPU's float64 fits are the device's, to rounding (on a
    # GPU, a model on the edge of separation may be called otherwise: 1% may differ).
    cpu = rows[9][3]
    agree, of = map(int, cpu.split("statuses agree ")[1].split()[0].replace(",", "").split("/"))
    assert "the device's float64 splits" in cpu and of == 1024, cpu
    assert agree == of if "platform cpu" in rows[0][3] else agree >= 0.99 * of, cpu
    assert number_after(cpu, "largest difference") < 1e-10, cpu
    sklearn = rows[10][3]
    assert (sklearn == "skipped: scikit-learn not installed"
            or number_after(sklearn, "largest difference") < 1e-6), sklearn
    assert "Skipped for the deadline: none." in out
    assert "CPU check of the script" in out or "platform cpu" not in rows[0][3]


def test_bench_gpu_deadline_skips_the_steps_left():
    out = run_quick("bench_gpu.py", "--deadline", "0")
    rows = gpu_rows(out)
    assert rows[0][0] == "1" and not rows[0][3].startswith("skipped")
    assert len(rows) == 11 and all(r[3].startswith("skipped: deadline") for r in rows[1:]), rows
    skipped = next(line for line in out.splitlines() if line.startswith("Skipped for the deadline"))
    for step in ("2", "3", "4", "5", "6", "7", "8"):
        assert f" {step} (" in skipped, skipped
