"""Python-level overhead of a warm call: ``fit`` and ``inference`` on a tiny problem against
the compiled computation alone.

One model, n = 50 rows, d = 3 columns plus an intercept, float64, the data already on the
device as JAX arrays (as inside a JAX pipeline). For each function the script times warm
calls (after compilation, each followed by ``jax.block_until_ready``) of the function
itself and of ``jax.jit`` of it with the same arguments: one compiled program, in which the
boundary's checks and conversions are traced away. The overhead is the difference of the
medians; calls of the two alternate so that drift in the machine's speed hits both alike.
The jitted call still pays JAX's own dispatch, so the overhead is what ``jaxlogreg`` adds
on top of a single compiled call. Writes its section of BENCHMARKS.md.

    python benchmarks/bench_overhead.py            # 3 rounds of 5,000 calls; writes BENCHMARKS.md
    python benchmarks/bench_overhead.py --quick    # 1 round of 300 calls each, prints only
    python benchmarks/bench_overhead.py --profile  # also cProfile of the warm fit calls
"""

from __future__ import annotations

import argparse
import cProfile
import datetime
import os
import platform
import pstats
import statistics
import sys
import time

import jax

jax.config.update("jax_enable_x64", True)

import numpy as np  # noqa: E402

import jaxlogreg  # noqa: E402

MARK_BEGIN = "<!-- bench_overhead:begin -->"
MARK_END = "<!-- bench_overhead:end -->"

N, D = 50, 3


def data(seed: int = 0):
    """``X (n, d)``, ``y (n,)`` on the device: a logistic model with moderate slopes."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, D))
    eta = 0.3 + X @ np.array([1.0, -0.5, 0.25])
    y = (rng.random(N) < 1.0 / (1.0 + np.exp(-eta))).astype(float)
    return jax.device_put(X), jax.device_put(y)


def paired_medians(f, g, calls: int, warmup: int = 50) -> tuple[float, float]:
    """Median wall time in microseconds of ``f()`` and of ``g()``, each call followed by
    ``jax.block_until_ready``; calls alternate."""
    for _ in range(warmup):
        jax.block_until_ready(f())
        jax.block_until_ready(g())
    tf, tg = [], []
    for _ in range(calls):
        t0 = time.perf_counter()
        jax.block_until_ready(f())
        t1 = time.perf_counter()
        jax.block_until_ready(g())
        t2 = time.perf_counter()
        tf.append(t1 - t0)
        tg.append(t2 - t1)
    return statistics.median(tf) * 1e6, statistics.median(tg) * 1e6


def run(calls: int, rounds: int) -> list[dict]:
    """``rounds`` rounds of :func:`run_round` in one process (its speed drifts)."""
    return [run_round(calls) for _ in range(rounds)]


def run_round(calls: int) -> dict:
    X, y = data()
    fit_jit = jax.jit(lambda X, y: jaxlogreg.fit(X, y))
    res = jaxlogreg.fit(X, y)
    assert bool(res.converged), jaxlogreg.Status(int(res.status))
    inference_jit = jax.jit(lambda res, X, y: jaxlogreg.inference(res, X, y))
    out = {"calls": calls}
    out["fit_us"], out["fit_jit_us"] = paired_medians(
        lambda: jaxlogreg.fit(X, y), lambda: fit_jit(X, y), calls
    )
    out["inference_us"], out["inference_jit_us"] = paired_medians(
        lambda: jaxlogreg.inference(res, X, y), lambda: inference_jit(res, X, y), calls
    )
    Xn, yn = np.asarray(X), np.asarray(y)
    out["fit_numpy_us"], _ = paired_medians(
        lambda: jaxlogreg.fit(Xn, yn), lambda: fit_jit(X, y), calls
    )
    return out


def profile(calls: int, top: int = 30) -> None:
    """Print cProfile's cumulative view of ``calls`` warm ``fit`` calls."""
    X, y = data()
    for _ in range(50):
        jax.block_until_ready(jaxlogreg.fit(X, y))
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(calls):
        jax.block_until_ready(jaxlogreg.fit(X, y))
    prof.disable()
    pstats.Stats(prof, stream=sys.stdout).sort_stats("cumulative").print_stats(top)


def table(rs: list[dict]) -> str:
    from bench_newton import cpu_name

    lines = [
        MARK_BEGIN,
        "## Python overhead of a warm call (`benchmarks/bench_overhead.py`)",
        "",
        (
            f"Measured {datetime.date.today().isoformat()} on {cpu_name()}, "
            f"{os.cpu_count()} cores, Python {platform.python_version()}, jax {jax.__version__}, "
            f"numpy {np.__version__}, {jax.default_backend()} backend; float64; one model, "
            f"n = {N}, d = {D} + intercept, data on the device as JAX arrays. Each round: "
            f"medians of {rs[0]['calls']:,} warm calls each (calls of a function and of its "
            "`jax.jit` alternate), every call followed by `jax.block_until_ready`; "
            f"{len(rs)} rounds in one process."
        ),
        "",
        "| what | " + " | ".join(f"round {i + 1}" for i in range(len(rs)))
        + " | median of rounds |",
        "| --- |" + " --- |" * (len(rs) + 1),
    ]
    rows = [
        ("`fit(X, y)`", lambda r: r["fit_us"]),
        ("`jax.jit(fit)(X, y)`: the compiled computation alone", lambda r: r["fit_jit_us"]),
        ("Python overhead of `fit` (difference)", lambda r: r["fit_us"] - r["fit_jit_us"]),
        ("`fit(X, y)` with NumPy inputs", lambda r: r["fit_numpy_us"]),
        ("`inference(res, X, y)`", lambda r: r["inference_us"]),
        ("`jax.jit(inference)(res, X, y)`", lambda r: r["inference_jit_us"]),
        ("Python overhead of `inference` (difference)",
         lambda r: r["inference_us"] - r["inference_jit_us"]),
    ]
    for label, value in rows:
        values = [value(r) for r in rs]
        cells = " | ".join(f"{v:.0f} us" for v in values)
        lines.append(f"| {label} | {cells} | {statistics.median(values):.0f} us |")
    lines += [
        "",
        (
            "Target (issue 7): Python-level overhead of a warm call on a small problem under "
            "100 us on the CPU."
        ),
        MARK_END,
    ]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="300 calls, one round, no file written")
    ap.add_argument("--profile", action="store_true", help="also print a cProfile of fit")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "BENCHMARKS.md"))
    args = ap.parse_args(argv)
    if args.quick:
        args.calls, args.rounds = 300, 1
    sys.path.insert(0, os.path.dirname(__file__))
    section = table(run(args.calls, args.rounds))
    print(section)
    if args.profile:
        profile(args.calls)
    if not args.quick:
        from bench_newton import write

        write(section, args.out, MARK_BEGIN, MARK_END)
    return 0


if __name__ == "__main__":
    sys.exit(main())
