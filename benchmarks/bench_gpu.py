"""GPU benchmark: the seed study in float32 and float64 at B from 10,000 to 10,000,000.

Issue 6's GPU run (on an H100 or H200 when one is available; where none is, the same script
runs on the CPU as a check of itself). The study: the built-in data set (n = 1000, d = 6 plus
an intercept, about 9% positives), B models as 65% train splits of its rows from a
`jaxlogreg.Splits` scheme passed as ``fit(X, y, weights=scheme)`` (each model's 0/1 weights
drawn on the device inside its chunk, part of the timed call, so memory stays ``O(chunk n)``
plus the ``(B, p)`` results for any B), Newton (what the default solver picks for seven
parameters), the default chunk size unless ``--chunk-size`` is given. The splits depend
on the key only, not on the dtype, so the float32 and float64 fits at one B are of the same
models.

For each dtype (float64 with ``jax_enable_x64`` on; float32 by giving X and y as float32
arrays, which the fit computes in) and each B: the first call (compilation and run), the
warm time (median of ``--repeats`` calls, fewer once a call takes over ``--budget``
seconds), fits per second (B / warm), the time per fit and the statuses. Where both dtypes
ran at one B: the float32 coefficients against the float64 ones on the first 10,000 models
that both fits converged, as the largest relative difference of any coefficient
(``|b32 - b64| / |b64|``, large where a coefficient is near zero) and per model
(``max_j |b32_j - b64_j| / max_j |b64_j|``). A cell that raises (a device can refuse the
allocation at B = 10,000,000) is reported as ``failed: <ExceptionType>`` and the run goes on.

    python benchmarks/bench_gpu.py                 # B = 10^4 .. 10^7, both dtypes, writes BENCHMARKS.md
    python benchmarks/bench_gpu.py --B 10000 100000 --dtypes float32
    python benchmarks/bench_gpu.py --quick         # B = 1,000 and 4,000, one repeat, prints only
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import subprocess
import sys
import time
import traceback

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import jaxlogreg  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from bench_newton import cpu_name, write  # noqa: E402

MARK_BEGIN = "<!-- bench_gpu:begin -->"
MARK_END = "<!-- bench_gpu:end -->"

FULL_B = [10_000, 100_000, 1_000_000, 10_000_000]
QUICK_B = [1_000, 4_000]
DTYPES = ("float32", "float64")
TRAIN_FRACTION = 0.65
COMPARE = 10_000  # models compared between the dtypes
TARGET = 1_000_000  # fits per second, float32, one H100


# --------------------------------------------------------------------------------------------
# The environment
# --------------------------------------------------------------------------------------------


def _try(f, default=None):
    try:
        return f()
    except Exception:
        return default


def _package_version(name: str):
    from importlib import metadata

    return _try(lambda: metadata.version(name))


def gpu_details() -> list[str]:
    """What can be learnt of the CUDA set-up, each item on its own; nothing that fails."""
    out = []

    def runtime():
        from jax._src.lib import cuda_versions  # private: may move

        v = cuda_versions.cuda_runtime_get_version()
        return f"CUDA runtime {v // 1000}.{v % 1000 // 10}"

    def cudnn():
        from jax._src.lib import cuda_versions

        v = cuda_versions.cudnn_get_version()
        return f"cuDNN {v // 10000}.{v % 10000 // 100}.{v % 100}"

    for f in (runtime, cudnn):
        item = _try(f)
        if item:
            out.append(item)
    from importlib import metadata

    plugins = _try(lambda: sorted(
        f"{d.metadata['Name']} {d.version}" for d in metadata.distributions()
        if (d.metadata["Name"] or "").lower().startswith(("jax-cuda", "jax_cuda"))), [])
    out += plugins

    def smi():
        proc = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,driver_version,memory.total",
             "--format=csv,noheader"],
            capture_output=True, text=True, timeout=20, check=True)
        first = proc.stdout.strip().splitlines()[0]
        name, driver, memory = (s.strip() for s in first.split(","))
        return f"driver {driver} ({name}, {memory})"

    item = _try(smi)
    if item:
        out.append(item)
    platform_version = _try(lambda: " ".join(jax.devices()[0].client.platform_version.split()))
    if platform_version:
        out.append(f"PJRT platform version: {platform_version}")
    limit = _try(lambda: jax.devices()[0].memory_stats()["bytes_limit"])
    if limit:
        out.append(f"JAX memory limit {limit / 1024**3:.1f} GiB")
    return out


def environment() -> dict:
    devices = jax.devices()
    dev = devices[0]
    env = {
        "date": datetime.date.today().isoformat(),
        "kind": dev.device_kind,
        "platform": dev.platform,
        "count": len(devices),
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "jax": jax.__version__,
        "jaxlib": _package_version("jaxlib") or _try(lambda: jax.lib.__version__, "unknown"),
        "numpy": np.__version__,
        "gpu": gpu_details() if dev.platform == "gpu" else [],
    }
    return env


# --------------------------------------------------------------------------------------------
# The measurements
# --------------------------------------------------------------------------------------------


def cell(X, y, B: int, seed: int, repeats: int, budget: float, chunk_size) -> dict:
    """One (dtype, B): the first call, then warm calls; the results of the last."""
    scheme = jaxlogreg.Splits(jax.random.key(seed), B, TRAIN_FRACTION)

    def call():
        t0 = time.perf_counter()
        res = jax.block_until_ready(jaxlogreg.fit(X, y, weights=scheme, chunk_size=chunk_size))
        return res, time.perf_counter() - t0

    res, first = call()
    warm: list[float] = []
    while True:  # at least one warm call; no further one after a call over the budget
        del res  # the next call's results replace these: one set on the device at a time
        res, t = call()
        warm.append(t)
        if len(warm) >= max(1, repeats) or t > budget:
            break
    warm_s = statistics.median(warm)
    counts = jaxlogreg.Status.counts(res.status)
    converged = np.asarray(res.converged[:COMPARE])
    params = np.asarray(res.params[:COMPARE], np.float64)
    iters_mean = float(jnp.mean(res.n_iter.astype(jnp.float32)))
    del res
    return {
        "B": B,
        "first_s": first,
        "warm_s": warm_s,
        "calls": len(warm),
        "fits_per_s": B / warm_s,
        "per_fit_us": warm_s / B * 1e6,
        "iters_mean": iters_mean,
        "status": {k: v for k, v in counts.items() if v},
        "params": params,
        "converged": converged,
    }


def compare(r32: dict, r64: dict) -> dict:
    """float32 against float64 coefficients on the models both fits converged."""
    both = r32["converged"] & r64["converged"]
    a, b = r32["params"][both], r64["params"][both]
    if not both.any():
        return {"compared": 0, "elementwise": float("nan"), "per_model": float("nan")}
    diff = np.abs(a - b)
    with np.errstate(divide="ignore", invalid="ignore"):
        elementwise = float(np.max(diff / np.abs(b)))
        per_model = float(np.max(diff.max(axis=1) / np.abs(b).max(axis=1)))
    return {"compared": int(both.sum()), "elementwise": elementwise, "per_model": per_model}


def run(Bs, dtypes, seed: int, repeats: int, budget: float, chunk_size, log) -> dict:
    data = jaxlogreg.make_seed_data()
    results: dict[tuple[str, int], dict] = {}
    for name in dtypes:
        dtype = jnp.dtype(name)
        X, y = jax.block_until_ready((jnp.asarray(data.X, dtype), jnp.asarray(data.y, dtype)))
        for B in Bs:
            t0 = time.perf_counter()
            try:
                r = cell(X, y, B, seed, repeats, budget, chunk_size)
                log(f"  {name} B = {B:,}: warm {r['warm_s']:.3f} s, "
                    f"{r['fits_per_s']:,.0f} fits/s ({time.perf_counter() - t0:.1f} s)")
            except Exception as e:  # a refused allocation, most likely: report it, go on
                traceback.print_exc(file=sys.stderr)
                r = {"B": B, "failed": type(e).__name__}
                log(f"  {name} B = {B:,}: failed: {type(e).__name__}")
            results[(name, B)] = r
    comparisons = {}
    for B in Bs:
        r32, r64 = results.get(("float32", B)), results.get(("float64", B))
        if r32 and r64 and "failed" not in r32 and "failed" not in r64:
            comparisons[B] = compare(r32, r64)
    return {"cells": results, "comparisons": comparisons}


# --------------------------------------------------------------------------------------------
# The section
# --------------------------------------------------------------------------------------------


def fmt_s(s: float) -> str:
    return f"{s:.3f} s" if s < 10 else f"{s:.1f} s"


def fmt_rel(x: float) -> str:
    return "n/a" if not np.isfinite(x) else f"{x:.1e}"


def target_lines(env: dict, res: dict) -> list[str]:
    lines = ["Target (issue 6): at least 1,000,000 fits per second in float32 on one H100."]
    if env["platform"] != "gpu":
        lines.append(
            f"This run is the CPU check of the script (platform {env['platform']}: no GPU at "
            "hand); its figures are not the issue's GPU measurement.")
        return lines
    f32 = [r for (name, _), r in res["cells"].items() if name == "float32" and "failed" not in r]
    if not f32:
        lines.append("Met: not measured (no float32 size completed).")
        return lines
    best = max(f32, key=lambda r: r["fits_per_s"])
    met = best["fits_per_s"] >= TARGET
    where = f"{best['fits_per_s']:,.0f} fits per second at B = {best['B']:,} on {env['kind']}"
    line = f"Met: {'yes' if met else 'no'}: the best float32 rate is {where}."
    if "H100" not in env["kind"]:
        line += f" (The target names an H100; this device is {env['kind']}.)"
    lines.append(line)
    return lines


def table(env: dict, res: dict, args) -> str:
    chunk = args.chunk_size
    if chunk is None:
        from jaxlogreg._batch import default_chunk

        chunk_txt = f"the default chunk size ({_try(lambda: default_chunk(1000), 'n/a')} models)"
    else:
        chunk_txt = f"chunks of {chunk:,} models"
    warm_txt = ("one call" if args.repeats <= 1 else
                f"median of up to {args.repeats} calls (fewer after a call over {args.budget:g} s)")
    gpu = f" CUDA: {'; '.join(env['gpu']) or 'versions not found'}." if env["gpu"] else ""
    lines = [
        MARK_BEGIN,
        "## GPU: the seed study in float32 and float64 (`benchmarks/bench_gpu.py`)",
        "",
        f"Measured {env['date']} on {env['count']} x {env['kind']} (platform "
        f"{env['platform']}; the fits on one device), host CPU {env['cpu']}, {env['cores']} "
        f"cores, Python {env['python']}, jax {env['jax']}, jaxlib {env['jaxlib']}, numpy "
        f"{env['numpy']}.{gpu}",
        "",
        "The built-in data set (n = 1000, d = 6 + intercept); B models as "
        f"{TRAIN_FRACTION:.0%} train splits from a `jaxlogreg.Splits` scheme passed as "
        "`weights=` (drawn on the device inside each chunk, part of the timed call; the same "
        f"splits in both dtypes); Newton, {chunk_txt}. Warm = {warm_txt}; first call = "
        "compilation and run.",
        "",
        "| dtype | B | first call | warm, whole batch | calls | fits per second | per fit "
        "| mean Newton steps | statuses |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for (name, B), r in res["cells"].items():
        if "failed" in r:
            lines.append(f"| {name} | {B:,} | failed: {r['failed']} | | | | | | |")
            continue
        status = ", ".join(f"{k} {v}" for k, v in r["status"].items())
        lines.append(
            f"| {name} | {B:,} | {fmt_s(r['first_s'])} | {fmt_s(r['warm_s'])} | {r['calls']} "
            f"| {r['fits_per_s']:,.0f} | {r['per_fit_us']:.2f} us | {r['iters_mean']:.2f} "
            f"| {status} |")
    if res["comparisons"]:
        lines += [
            "",
            (f"float32 against float64 on the first {COMPARE:,} models (all of them where B is "
             "smaller), those both fits converged:"),
            "",
            "| B | models compared | max relative difference, any coefficient "
            "| max relative difference, per model (max-norm) |",
            "| --- | --- | --- | --- |",
        ]
        for B, c in res["comparisons"].items():
            lines.append(f"| {B:,} | {c['compared']:,} | {fmt_rel(c['elementwise'])} "
                         f"| {fmt_rel(c['per_model'])} |")
    lines += ["", *target_lines(env, res), MARK_END]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--B", type=int, nargs="+", default=FULL_B, help="numbers of models")
    ap.add_argument("--dtypes", nargs="+", choices=DTYPES, default=list(DTYPES))
    ap.add_argument("--repeats", type=int, default=3, help="warm calls at most (median)")
    ap.add_argument("--budget", type=float, default=30.0,
                    help="no further warm call after one that took longer than this (s)")
    ap.add_argument("--chunk-size", type=int, default=None, help="models per chunk")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--quick", action="store_true",
                    help="B = 1,000 and 4,000, one repeat, no file written")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "BENCHMARKS.md"))
    args = ap.parse_args(argv)
    if args.quick:
        args.B, args.repeats = QUICK_B, 1
    Bs = sorted(set(args.B))
    dtypes = [d for d in DTYPES if d in args.dtypes]

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    env = environment()
    res = run(Bs, dtypes, args.seed, args.repeats, args.budget, args.chunk_size, log)
    section = table(env, res, args)
    print(section)
    if not args.quick:
        write(section, args.out, MARK_BEGIN, MARK_END)
    return 0


if __name__ == "__main__":
    sys.exit(main())
