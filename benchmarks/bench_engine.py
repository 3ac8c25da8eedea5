"""The engine against the bare arithmetic: the seed batch beside the Newton yardstick and a
statsmodels loop, and what a first fit costs to compile.

* **Warm.** 10,000 seed splits (the built-in data set, n = 1000, d = 6 + intercept, 65%
  train splits given as a ``(B, n)`` weights array), float64, the default solver.
  ``jaxlogreg.fit``, the yardstick ``../shared/yardsticks/bare_newton.py`` (a fixed number
  of undamped Newton steps from the same pooled start, evaluating objective, gradient and
  Hessian every step, and nothing else) at the two whole step counts around the fit's mean
  number of passes over the rows, and a loop of statsmodels ``Logit(...).fit(method=
  "newton")`` over the first splits, interleaved in rounds in one process. A fit's passes
  are its evaluations: ``n_iter + 1`` (the start's, by products or by a pass, and one per
  step). The yardstick's time at that mean is interpolated between its two step counts; the
  fit's ratio to it is taken within each round (each round starts at another run) and the
  median of the rounds' ratios is reported with their range. The
  yardstick also runs in float32, so that the difference of its two step counts prices one
  float32 step against one float64 step, and mixed: its float32 steps followed by one
  float64 step, the cheapest bare route to float64 answers (its largest relative difference
  from statsmodels is printed beside it).
* **First fits.** Each in a fresh process (the best of three): the first fit of one model
  and the first batch of 1,000 seed splits, from the call to the result, beside the
  yardstick's first call on the same 1,000 splits (5 steps) and its warm call.

    python benchmarks/bench_engine.py            # writes its section of BENCHMARKS.md
    python benchmarks/bench_engine.py --quick    # B = 400, fewer rounds, prints only
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import subprocess
import sys
import textwrap
import time

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import jaxlogreg  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
YARDSTICKS = os.path.join(HERE, "..", "..", "shared", "yardsticks")
sys.path.insert(0, YARDSTICKS)
from bench_newton import cpu_name, fastest, loop_statsmodels, write  # noqa: E402

MARK_BEGIN = "<!-- bench_engine:begin -->"
MARK_END = "<!-- bench_engine:end -->"


def seed_batch(B: int, seed: int = 0):
    data = jaxlogreg.make_seed_data(n=1000)
    X, y = jnp.asarray(data.X), jnp.asarray(data.y)
    W = jaxlogreg.Splits(jax.random.key(seed), num=B, train_fraction=0.65).materialize(y)
    return X, y, W


def timed(f) -> float:
    t0 = time.perf_counter()
    jax.block_until_ready(f())
    return time.perf_counter() - t0


def warm(B: int, rounds: int, loop: int) -> dict:
    from bare_newton import bare_newton

    X, y, W = seed_batch(B)
    res = jax.block_until_ready(jaxlogreg.fit(X, y, weights=W))
    passes = float(np.mean(np.asarray(res.n_iter))) + 1.0
    lo = int(np.floor(passes))
    pooled = jaxlogreg.fit(X, y).params
    beta0 = jnp.tile(pooled, (B, 1))
    # The yardstick in float32 too: what a float32 pass would save over a float64 one.
    X32, y32, W32, beta32 = (a.astype(jnp.float32) for a in (X, y, W, beta0))
    runs = {
        "fit": lambda: jaxlogreg.fit(X, y, weights=W),
        lo: lambda: bare_newton(X, y, W, lo, beta0),
        lo + 1: lambda: bare_newton(X, y, W, lo + 1, beta0),
        "f32 lo": lambda: bare_newton(X32, y32, W32, lo, beta32),
        "f32 hi": lambda: bare_newton(X32, y32, W32, lo + 1, beta32),
        # The cheapest bare route to float64 answers: float32 steps, then one float64 step
        # from where they end (Newton's quadratic convergence squares their error).
        "mixed": lambda: bare_newton(X, y, W, 1, bare_newton(X32, y32, W32, lo, beta32)[0]
                                     .astype(X.dtype)),
    }
    for f in runs.values():
        jax.block_until_ready(f())
    times: dict = {k: [] for k in runs}
    Xn, yn, Wn = np.asarray(X), np.asarray(y), np.asarray(W[:loop])
    sm_times = []
    order = list(runs)
    for r in range(rounds):
        # Each round starts at another run, so that none is always first (or last).
        for k in order[r % len(order):] + order[:r % len(order)]:
            times[k].append(timed(runs[k]))
        params, ok, seconds = fastest(lambda: loop_statsmodels(Xn, yn, Wn))
        sm_times.append(seconds / loop)
    med = {k: statistics.median(v) for k, v in times.items()}
    frac = passes - lo
    bare = med[lo] + frac * (med[lo + 1] - med[lo])
    # The ratio within each round (the machine's speed drifts between rounds more than
    # within one): the fit against the yardstick interpolated from that round's two times.
    ratios = [f / (a + frac * (b - a)) for f, a, b in zip(times["fit"], times[lo], times[lo + 1],
                                                          strict=True)]
    ours = np.asarray(res.params)[:loop]
    good = ok & (np.asarray(res.status)[:loop] == int(jaxlogreg.Status.CONVERGED))

    def rel_to_statsmodels(values):
        scale = np.maximum(np.abs(params[good]), 1e-300)
        return np.max(np.abs(values[good] - params[good]) / scale)

    rel = rel_to_statsmodels(ours)
    mixed_rel = rel_to_statsmodels(np.asarray(runs["mixed"]()[0])[:loop])
    return dict(
        B=B, passes=passes, fit=med["fit"], fit_best=min(times["fit"]), bare=bare,
        ratio=statistics.median(ratios), ratio_range=(min(ratios), max(ratios)),
        bare_lo=med[lo], bare_hi=med[lo + 1], lo=lo, rounds=rounds,
        step64=med[lo + 1] - med[lo], step32=med["f32 hi"] - med["f32 lo"],
        mixed=med["mixed"], mixed_rel=mixed_rel,
        statsmodels=statistics.median(sm_times), loop=loop, rel=rel, looped=int(good.sum()),
        counts=jaxlogreg.Status.counts(res.status),
    )


_FIRST = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {yardsticks!r})
    import jax
    jax.config.update("jax_enable_x64", True)
    import numpy as np
    import jaxlogreg
    data = np.load({data!r})
    X, y, W = data["X"], data["y"], data["W"]
    which = {which!r}
    t0 = time.perf_counter()
    if which == "single":
        jax.block_until_ready(jaxlogreg.fit(X, y).coef)
    elif which == "batch":
        jax.block_until_ready(jaxlogreg.fit(X, y, weights=W).coef)
    else:
        from bare_newton import bare_newton
        jax.block_until_ready(bare_newton(X, y, W, 5))
        t1 = time.perf_counter()
        jax.block_until_ready(bare_newton(X, y, W, 5))
        print("warm", time.perf_counter() - t1)
    print("first", time.perf_counter() - t0)
""")


def first_fits(tries: int, keep_cache: bool = False) -> dict:
    """Seconds from the call to the result in fresh processes (the best of ``tries``), on
    the seed data and 1,000 splits saved as NumPy arrays (so that nothing else compiles in
    the process first). The processes compile everything: a persistent compilation cache
    named by ``$JAX_COMPILATION_CACHE_DIR`` is not passed on, unless ``keep_cache`` (the
    quick mode's check of the script, whose times are not read)."""
    env = {k: v for k, v in os.environ.items()
           if keep_cache or k != "JAX_COMPILATION_CACHE_DIR"}
    import tempfile

    X, y, W = seed_batch(1000, seed=1)
    data = os.path.join(tempfile.mkdtemp(), "seed.npz")
    np.savez(data, X=np.asarray(X), y=np.asarray(y), W=np.asarray(W))
    out = {}
    for which in ("single", "batch", "yardstick"):
        best: dict = {}
        for _ in range(tries):
            code = _FIRST.format(yardsticks=YARDSTICKS, which=which, data=data)
            proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                  check=True, env={**env, "JAX_PLATFORMS": "cpu"})
            for line in proc.stdout.splitlines():
                key, value = line.split()
                best[key] = min(best.get(key, np.inf), float(value))
        out[which] = best
    return out


def crossover(columns=(16, 32, 48, 64, 96), n: int = 2000, B: int = 500) -> list:
    """Per-fit warm time of Newton and L-BFGS on ``B`` splits of simulated data of ``n`` rows
    and each column count (standard normal columns, L2 ``alpha = 1e-4``): where the rule of
    ``solver="auto"`` should switch."""
    rng = np.random.default_rng(0)
    rows = []
    for d in columns:
        X = rng.normal(size=(n, d))
        coef = rng.normal(size=d) / np.sqrt(d)
        y = (rng.random(n) < 1 / (1 + np.exp(-(X @ coef - 0.5)))).astype(float)
        Xj, yj = jnp.asarray(X), jnp.asarray(y)
        W = jaxlogreg.Splits(jax.random.key(0), num=B, train_fraction=0.65).materialize(yj)
        row = [d]
        for solver in ("newton", "lbfgs"):
            # run is called only within this iteration, so it sees this iteration's data
            run = lambda: jaxlogreg.fit(Xj, yj, weights=W, alpha=1e-4, solver=solver)  # noqa: E731, B023
            res = jax.block_until_ready(run())
            seconds = min(timed(run) for _ in range(3))
            row += [seconds / B, float(np.mean(np.asarray(res.n_iter)))]
        rows.append(row)
    return rows


def table(w: dict, f: dict, cross: list) -> str:
    today = datetime.date.today().isoformat()
    per_fit = w["fit"] / w["B"]
    lines = [
        MARK_BEGIN,
        "## The engine against the bare arithmetic (`benchmarks/bench_engine.py`)",
        "",
        f"Measured {today} on {cpu_name()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, jax {jax.__version__}, numpy {np.__version__}; float64; "
        f"the built-in data set (n = 1000, d = 6 + intercept), {w['B']:,} train splits of 65% "
        f"as a weights array; medians of {w['rounds']} interleaved rounds, each "
        "starting at another run.",
        "",
        "| what | value |",
        "| --- | --- |",
        f"| `jaxlogreg.fit`, warm (best round) | {w['fit']:.3f} s ({w['fit_best']:.3f} s) |",
        f"| passes over the rows per model (evaluations: steps + 1) | {w['passes']:.2f} |",
        f"| yardstick, {w['lo']} and {w['lo'] + 1} steps from the pooled start | "
        f"{w['bare_lo']:.3f} s, {w['bare_hi']:.3f} s |",
        f"| yardstick at {w['passes']:.2f} passes (interpolated) | {w['bare']:.3f} s |",
        f"| `fit` / yardstick, same passes (median of the rounds' ratios; their range) | "
        f"{w['ratio']:.2f}x ({w['ratio_range'][0]:.2f}-{w['ratio_range'][1]:.2f}) |",
        f"| yardstick's step (the difference of its two times): float64, float32 | "
        f"{w['step64'] * 1e3:.1f} ms, {w['step32'] * 1e3:.1f} ms |",
        f"| bare mixed precision: {w['lo']} float32 steps, then one float64 step | "
        f"{w['mixed']:.3f} s, {w['statsmodels'] / (w['mixed'] / w['B']):.0f}x statsmodels, "
        f"{w['mixed_rel']:.1e} from it |",
        f"| statsmodels `Logit` newton, looped over {w['loop']} splits | "
        f"{w['statsmodels'] * 1e3:.2f} ms per fit |",
        f"| speed-up per fit over statsmodels | {w['statsmodels'] / per_fit:.0f}x "
        f"(yardstick {w['statsmodels'] / (w['bare'] / w['B']):.0f}x) |",
        f"| largest relative difference from statsmodels ({w['looped']} converged splits) | "
        f"{w['rel']:.1e} |",
        f"| statuses | {', '.join(f'{k} {v}' for k, v in w['counts'].items() if v)} |",
        "",
        "First fits, each in a fresh process (best of three), from the call to the result:",
        "",
        "| what | seconds |",
        "| --- | --- |",
        f"| first fit of one model (n = 1000, d = 6) | {f['single']['first']:.2f} |",
        f"| first batch of 1,000 seed splits | {f['batch']['first']:.2f} |",
        f"| yardstick's first call on the same 1,000 splits (its warm call) | "
        f"{f['yardstick']['first']:.2f} ({f['yardstick']['warm']:.3f}) |",
        "",
        f"Newton against L-BFGS by column count (the rule of `solver=\"auto\"`: Newton up to "
        f"{jaxlogreg.solvers.AUTO_NEWTON_MAX_COLUMNS} parameters): n = 2,000, 500 splits, "
        "L2 1e-4, warm time per fit (mean steps):",
        "",
        "| columns | Newton | L-BFGS |",
        "| --- | --- | --- |",
        *[f"| {d} | {tn * 1e3:.2f} ms ({sn:.1f}) | {tl * 1e3:.2f} ms ({sl:.1f}) |"
          for d, tn, sn, tl, sl in cross],
        "",
        "Targets (issue 17): `fit` at most 1.15x the yardstick at the same passes and at least "
        "75x statsmodels; the first fit of one model at most 1.0 s, the first batch of 1,000 "
        "splits at most 1.5 s.",
        MARK_END,
    ]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--B", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--loop", type=int, default=200)
    ap.add_argument("--quick", action="store_true", help="B = 400, 2 rounds, prints only")
    ap.add_argument("--out", default=os.path.join(HERE, "..", "BENCHMARKS.md"))
    args = ap.parse_args(argv)
    if args.quick:
        args.B, args.rounds, args.loop = 400, 2, 10
    w = warm(args.B, args.rounds, args.loop)
    f = first_fits(1 if args.quick else 3, keep_cache=args.quick)
    cross = crossover((8, 16) if args.quick else (16, 32, 48, 64, 96), B=50 if args.quick else 500)
    section = table(w, f, cross)
    print(section)
    if not args.quick:
        write(section, args.out, MARK_BEGIN, MARK_END)
    return 0


if __name__ == "__main__":
    sys.exit(main())
