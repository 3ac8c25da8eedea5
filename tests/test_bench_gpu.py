"""`benchmarks/bench_gpu.py`, the GPU check, runs end to end in its ``--quick`` mode on the
CPU and skips what is left past its deadline (see `test_benchmarks.py`)."""

from __future__ import annotations

import pytest

from _bench import run_quick, section_rows

# Slow tier (pytest -m slow): subprocesses, benchmarks, compilation of large programs.
pytestmark = pytest.mark.slow


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
