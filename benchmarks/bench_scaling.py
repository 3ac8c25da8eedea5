"""Scaling tables: time and memory of a batched fit against B, n and d, one factor at a time.

Issue 6's scaling tables. Around a base point of B = 10,000 models, n = 1,000 rows and
d = 8 columns (plus an intercept), each sweep varies one factor over log-spaced values and
keeps the other two at the base: B from 1,000 to 100,000, n from 250 to 8,000, d from 2 to
64. The problem: one data set drawn by `jaxlogreg.simulate` (iid standard normal features,
slopes ``(-1)^j / sqrt(d)``, so the linear predictor has variance 1 for every d, and the
intercept solved for a 30% positive rate), float64, and B models given by 65% train splits
of its rows from a `jaxlogreg.Splits` scheme passed as ``weights=`` (each model's 0/1
weights are drawn on the device inside its chunk, so memory stays ``O(chunk n)`` for any B;
the draw is part of the timed call). Newton at every d (the default solver would switch
to L-BFGS above 48 parameters), default chunk size.

Every configuration runs in a fresh process of its own (this script re-invoked with the
hidden ``--one B n d``), so that its peak resident memory (``ru_maxrss`` at the end of the
process: imports, compilation and fits) is its own. Reported: the compile time (first call
minus warm), the warm time of the whole batch (median of up to ``--repeats`` calls, fewer
when they would exceed ``--budget`` seconds), the time per fit, the peak RSS, the warm peak
(the peak RSS of the warm calls alone: on Linux, after the first call, the freed heap is
returned by ``malloc_trim`` and the peak reset through ``/proc/self/clear_refs``, which
leaves the compiler's transient memory out) and
the statuses. An "empty" process (jax and jaxlogreg imported, one small array operation, no
fit) gives the memory baseline.

Growth exponents: least squares of log y on log x over each sweep's points (and over its
largest three points, where fixed costs weigh least): for time, the warm time of the whole
batch against B, and the time per fit against n and d (the same as the whole batch when B
is constant); for memory, the peak RSS above the empty process's peak, and the warm peak
above that same baseline.

    python benchmarks/bench_scaling.py          # full sweeps; rewrites BENCHMARKS.md, scaling.png
    python benchmarks/bench_scaling.py --quick  # tiny sizes, prints only (used by the tests)
"""

from __future__ import annotations

import argparse
import ctypes
import datetime
import io
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
MARK_BEGIN = "<!-- bench_scaling:begin -->"
MARK_END = "<!-- bench_scaling:end -->"

TRAIN_FRACTION = 0.65
POSITIVE_RATE = 0.3

# The sweeps: factor -> (base point, values). Full: the log-spaced grid around
# B = 10,000, n = 1,000, d = 8 (B kept at 10,000 for every n and d). Quick: tiny sizes.
SWEEPS = {
    "full": {
        "base": {"B": 10_000, "n": 1_000, "d": 8},
        "B": [1_000, 3_000, 10_000, 30_000, 100_000],
        "n": [250, 500, 1_000, 2_000, 4_000, 8_000],
        "d": [2, 4, 8, 16, 32, 64],
    },
    "quick": {
        "base": {"B": 200, "n": 200, "d": 4},
        "B": [200, 400],
        "n": [100, 200],
        "d": [2, 4],
    },
}
FACTORS = ("B", "n", "d")


# --------------------------------------------------------------------------------------------
# The measured processes
# --------------------------------------------------------------------------------------------


def peak_rss_mib() -> float:
    """This process's peak resident set size so far, in MiB (Linux reports KiB)."""
    scale = 1 if sys.platform == "darwin" else 1024  # macOS reports bytes
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 1024**2


def reset_peak_rss() -> bool:
    """Return the C heap's free pages to the system (glibc ``malloc_trim``: the compiler's
    freed memory would otherwise stay resident), then reset this process's peak RSS to its
    current RSS (Linux ``clear_refs``; this also resets ``ru_maxrss``); False where that is
    not possible."""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def empty_child() -> dict:
    """The memory baseline: the imports and the CPU backend, no fit."""
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    import jaxlogreg  # noqa: F401

    jax.block_until_ready(jnp.ones(8) + 1.0)
    return {"rss_mib": peak_rss_mib()}


def one_child(B: int, n: int, d: int, repeats: int, budget: float, seed: int, weights: str) -> dict:
    """One configuration: draw the data, fit B splits once (with compilation), then warm."""
    t_start = time.perf_counter()
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import numpy as np

    import jaxlogreg

    coef = np.array([(-1.0) ** j for j in range(d)]) / math.sqrt(d)
    sim = jaxlogreg.simulate(jax.random.key(seed), n, coef, positive_rate=POSITIVE_RATE)
    X, y = jax.block_until_ready((sim.X, sim.y))
    if weights == "scheme":
        W = jaxlogreg.Splits(jax.random.key(seed + 1), B, TRAIN_FRACTION)
    else:
        sys.path.insert(0, HERE)
        from bench_newton import split_weights

        W = jnp.asarray(split_weights(B, n, TRAIN_FRACTION, seed + 1))
    setup = time.perf_counter() - t_start

    def call():
        t0 = time.perf_counter()
        res = jax.block_until_ready(jaxlogreg.fit(X, y, weights=W, solver="newton"))
        return res, time.perf_counter() - t0

    res, first = call()
    rss_first = peak_rss_mib()  # imports, data, compilation and the first call
    reset = reset_peak_rss()
    warm: list[float] = []
    while True:  # at least one warm call; more while the budget allows
        res, t = call()
        warm.append(t)
        if len(warm) >= repeats or sum(warm) + statistics.median(warm) > budget:
            break
    warm_s = statistics.median(warm)
    counts = jaxlogreg.Status.counts(res.status)
    return {
        "B": B, "n": n, "d": d,
        "positives": float(jnp.mean(y)),
        "setup_s": setup,
        "first_s": first,
        "warm_s": warm_s,
        "repeats": len(warm),
        "compile_s": first - warm_s,
        "per_fit_us": warm_s / B * 1e6,
        "iters_mean": float(np.mean(np.asarray(res.n_iter))),
        "status": {k: int(v) for k, v in counts.items() if v},
        "rss_mib": max(rss_first, peak_rss_mib()),
        "warm_rss_mib": peak_rss_mib() if reset else float("nan"),
    }


def spawn(args: list[str], log) -> dict:
    """Run this script with ``args`` in a fresh process; its RESULT line as a dict, with the
    process's wall time."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), *args],
                          capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit(
            f"bench_scaling: the child {' '.join(args)} failed (exit {proc.returncode})")
    out = json.loads(lines[-1][len("RESULT "):])
    out["wall_s"] = wall
    log(f"  {' '.join(args)}: {wall:.1f} s")
    return out


# --------------------------------------------------------------------------------------------
# The sweeps, their exponents, the table and the plot
# --------------------------------------------------------------------------------------------


def exponent(x, y) -> float:
    """Slope of the least-squares line of log y on log x (NaN with fewer than two positive
    points)."""
    import numpy as np

    pts = [(a, b) for a, b in zip(x, y, strict=True) if a > 0 and b > 0 and math.isfinite(b)]
    if len(pts) < 2 or len({a for a, _ in pts}) < 2:
        return float("nan")
    lx, ly = np.log([a for a, _ in pts]), np.log([b for _, b in pts])
    return float(np.polyfit(lx, ly, 1)[0])


def time_of(factor: str, r: dict) -> float:
    """The timed quantity whose exponent is fitted: the whole batch against B, the time per
    fit against n and d."""
    return r["warm_s"] if factor == "B" else r["per_fit_us"]


def sweep(grid: dict, repeats: int, budget: float, seed: int, weights: str, log) -> dict:
    """Run every configuration once (the base point is shared by the three sweeps)."""
    results: dict[tuple[int, int, int], dict] = {}
    baseline = spawn(["--empty"], log)
    for factor in FACTORS:
        for v in grid[factor]:
            point = dict(grid["base"], **{factor: v})
            key = (point["B"], point["n"], point["d"])
            if key not in results:
                results[key] = spawn(
                    ["--one", *map(str, key), "--repeats", str(repeats), "--budget", str(budget),
                     "--seed", str(seed), "--weights", weights], log)
    sweeps = {}
    for factor in FACTORS:
        rows = [results[tuple(dict(grid["base"], **{factor: v})[f] for f in FACTORS)]
                for v in grid[factor]]
        x = [r[factor] for r in rows]
        t = [time_of(factor, r) for r in rows]
        m = [r["rss_mib"] - baseline["rss_mib"] for r in rows]
        w = [r["warm_rss_mib"] - baseline["rss_mib"] for r in rows]
        sweeps[factor] = {
            "rows": rows, "x": x,
            "time_exp": exponent(x, t), "time_exp_top": exponent(x[-3:], t[-3:]),
            "mem_exp": exponent(x, m), "mem_exp_top": exponent(x[-3:], m[-3:]),
            "warm_mem_exp": exponent(x, w), "warm_mem_exp_top": exponent(x[-3:], w[-3:]),
        }
    return {
        "baseline": baseline,
        "sweeps": sweeps,
        "total_s": sum(r["wall_s"] for r in results.values()) + baseline["wall_s"],
        "configs": len(results),
    }


def fmt_s(s: float) -> str:
    return f"{s:.3f} s" if s < 10 else f"{s:.1f} s"


def fmt_mib(m: float) -> str:
    return "n/a" if not math.isfinite(m) else f"{m:.0f} MiB"


def fmt_exp(a: float) -> str:
    return "n/a" if not math.isfinite(a) else f"{a:.2f}"


def table(res: dict, grid: dict, args, png: str | None) -> str:
    import jax
    import numpy as np

    sys.path.insert(0, HERE)
    from bench_newton import cpu_name

    base = grid["base"]
    base_txt = f"B = {base['B']:,}, n = {base['n']:,}, d = {base['d']}"
    weights_txt = (
        "a `jaxlogreg.Splits` scheme passed as `weights=` (each model's 0/1 weights drawn "
        "on the device inside its chunk, part of the timed call; memory O(chunk n) for any B)"
        if args.weights == "scheme" else
        "a `(B, n)` array of 0/1 weights over the shared X, drawn before the timed calls")
    flags = os.environ.get("JAX_DISABLE_MOST_OPTIMIZATIONS")
    lines = [
        MARK_BEGIN,
        "## Scaling: time and memory against B, n and d (`benchmarks/bench_scaling.py`)",
        "",
        f"Measured {datetime.date.today().isoformat()} on {cpu_name()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, jax {jax.__version__}, numpy {np.__version__}; "
        f"float64; one factor at a time around {base_txt} (+ intercept). Data: "
        f"`jaxlogreg.simulate`, standard normal features, slopes (-1)^j / sqrt(d), intercept "
        f"solved for a {POSITIVE_RATE:.0%} positive rate; B models as {TRAIN_FRACTION:.0%} "
        f"train splits from {weights_txt}. Newton, default chunk size. Each configuration in "
        f"its own process: warm = median of up to {args.repeats} calls (fewer past "
        f"{args.budget:g} s), compile = first call minus warm, peak RSS = the process's "
        f"`ru_maxrss` at its end (imports, compilation, all calls); warm peak = the peak "
        f"RSS over the warm calls alone (after the first call, freed heap returned by "
        f"`malloc_trim` and the peak reset by `/proc/self/clear_refs`), which leaves the "
        f"compiler's transient memory out. An empty process (jax and "
        f"jaxlogreg imported, no fit) peaks at {res['baseline']['rss_mib']:.0f} MiB; "
        f"'above empty' subtracts that."
        + (f" XLA optimisations off (JAX_DISABLE_MOST_OPTIMIZATIONS={flags})." if flags else ""),
        "",
        ("| sweep | B | n | d | warm, whole batch | calls | compile | per fit | peak RSS "
         "| above empty | warm peak | statuses |"),
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for factor in FACTORS:
        for r in res["sweeps"][factor]["rows"]:
            status = ", ".join(f"{k} {v}" for k, v in r["status"].items())
            lines.append(
                f"| {factor} | {r['B']:,} | {r['n']:,} | {r['d']} | {fmt_s(r['warm_s'])} "
                f"| {r['repeats']} | {r['compile_s']:.2f} s | {r['per_fit_us']:.1f} us "
                f"| {r['rss_mib']:.0f} MiB | {r['rss_mib'] - res['baseline']['rss_mib']:.0f} MiB "
                f"| {fmt_mib(r['warm_rss_mib'])} | {status} |")
    lines += [
        "",
        ("Growth exponents (least squares of log y on log x; time: the whole batch against B, "
         "the time per fit against n and d; memory: the peak RSS, and the warm peak, above "
         "the empty process's peak):"),
        "",
        ("| factor | values | time exponent | memory exponent (peak RSS) "
         "| memory exponent (warm peak) | largest three: time / peak RSS / warm peak |"),
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for factor in FACTORS:
        s = res["sweeps"][factor]
        lines.append(
            f"| {factor} | {s['x'][0]:,} to {s['x'][-1]:,} | {fmt_exp(s['time_exp'])} "
            f"| {fmt_exp(s['mem_exp'])} | {fmt_exp(s['warm_mem_exp'])} "
            f"| {fmt_exp(s['time_exp_top'])} / {fmt_exp(s['mem_exp_top'])} / "
            f"{fmt_exp(s['warm_mem_exp_top'])} |")
    lines += [
        "",
        (f"The whole run: {res['configs']} configurations and the empty process, "
         f"{res['total_s']:.0f} s of wall time."),
    ]
    if png:
        lines += ["", "Plot (log-log, time of the whole batch and peak RSS):", "",
                  f"![scaling against B, n and d]({png})"]
    lines.append(MARK_END)
    return "\n".join(lines)


def plot(res: dict, path) -> None:
    """Log-log panels, one column per sweep: warm time of the whole batch (top) and memory
    (bottom: peak RSS, and peak RSS and warm peak above the empty process's); ``path`` a file
    name or a binary file object."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    base = res["baseline"]["rss_mib"]
    fig, axes = plt.subplots(2, 3, figsize=(13, 7.5), squeeze=False)
    for col, factor in enumerate(FACTORS):
        s = res["sweeps"][factor]
        x = s["x"]
        ax = axes[0][col]
        ax.loglog(x, [r["warm_s"] for r in s["rows"]], "o-",
                  label=f"warm (exponent {fmt_exp(s['time_exp'])}"
                  + (")" if factor == "B" else " per fit)"))
        ax.set_xlabel(factor)
        ax.set_ylabel("warm time of the whole batch (s)")
        ax.set_title(f"time against {factor}", fontsize=9)
        ax.legend(fontsize=7)
        ax = axes[1][col]
        ax.loglog(x, [r["rss_mib"] for r in s["rows"]], "o-", label="peak RSS")
        for key, exp, style, label in (("rss_mib", "mem_exp", "s--", "peak RSS above empty"),
                                       ("warm_rss_mib", "warm_mem_exp", "^:",
                                        "warm peak above empty")):
            above = [(a, r[key] - base) for a, r in zip(x, s["rows"], strict=True) if r[key] > base]
            if above:
                ax.loglog([a for a, _ in above], [m for _, m in above], style,
                          label=f"{label} (exponent {fmt_exp(s[exp])})")
        ax.set_xlabel(factor)
        ax.set_ylabel("MiB")
        ax.set_title(f"memory against {factor}", fontsize=9)
        ax.legend(fontsize=7)
        for ax in (axes[0][col], axes[1][col]):  # the swept values as plain tick labels
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.set_xticks(x, [f"{v:,}" for v in x], fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny sizes, one warm call, prints only")
    ap.add_argument("--repeats", type=int, default=3, help="warm calls at most (median)")
    ap.add_argument("--budget", type=float, default=8.0,
                    help="no further warm call once they would take more than this (s)")
    ap.add_argument("--weights", choices=("scheme", "array"), default="scheme",
                    help="a Splits scheme (default) or a materialised (B, n) weight array")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=os.path.join(HERE, "..", "BENCHMARKS.md"))
    ap.add_argument("--png", default=os.path.join(HERE, "scaling.png"))
    ap.add_argument("--one", nargs=3, type=int, metavar=("B", "N", "D"), help=argparse.SUPPRESS)
    ap.add_argument("--empty", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.empty:
        print("RESULT " + json.dumps(empty_child()), flush=True)
        return 0
    if args.one:
        r = one_child(*args.one, args.repeats, args.budget, args.seed, args.weights)
        print("RESULT " + json.dumps(r), flush=True)
        return 0
    if args.quick:
        args.repeats, args.budget = 1, 1.0
    grid = SWEEPS["quick" if args.quick else "full"]

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    res = sweep(grid, args.repeats, args.budget, args.seed, args.weights, log)
    png = None
    if args.quick:
        plot(res, io.BytesIO())  # draw it, write nothing
    else:
        plot(res, args.png)
        png = os.path.relpath(args.png, os.path.dirname(os.path.abspath(args.out)))
    section = table(res, grid, args, png)
    print(section)
    if not args.quick:
        sys.path.insert(0, HERE)
        from bench_newton import write

        write(section, args.out, MARK_BEGIN, MARK_END)
    return 0


if __name__ == "__main__":
    sys.exit(main())
