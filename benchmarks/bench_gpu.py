"""The GPU check: one script that measures what a GPU (an H100 or H200) does with jaxlogreg,
in under eight minutes, step by step, with a deadline.

Issue 22's check. Every step prints one line as it finishes; a table of all of them ends the
run, and a full run on a GPU writes it into BENCHMARKS.md between its markers. Where no GPU
is at hand the same steps run on the CPU as a check of the script itself: the output says
so, and such a run is never written into BENCHMARKS.md (its figures are not GPU figures).

The data are the built-in data set's (``jaxlogreg.make_seed_data()``: n = 1000, d = 6 plus
an intercept); the models are 65% train splits (``jaxlogreg.Splits``) or bootstrap
resamples (``jaxlogreg.Bootstrap``) of its rows, passed as ``fit(X, y, weights=scheme)``,
so each model's weights are drawn on the device inside its chunk (part of the timed call)
and model ``b`` is the same model in every step that fits it, whatever ``B``, chunk or
device. float32 fits take X and y as float32 arrays; float64 fits have ``jax_enable_x64``.
"Warm" is the median of up to three calls after the first (one in a quick run); compile =
first call - warm.
A model's difference from another fit of it is ``max_j |a_j - b_j| / max_j |b_j|`` over
its parameters, on the models both fits converged.

Steps, in order (sizes of a full run; ``--quick`` in brackets):

1. environment and versions: jax, jaxlib, the device's kind and memory, CUDA where found;
2. a float64 smoke test against statsmodels: one fit of the built-in data, the largest
   parameter difference from statsmodels' ``Logit`` (skipped when statsmodels is not
   installed);
3. ``fit(..., devices=1)`` on 16,384 [1,024] splits and ``fit_rows_sharded(..., devices=1)``
   on the built-in data, float64, against the plain fit of the same models;
4. the draw alone: the weights of 16,384 [1,024] models of ``Splits`` and of ``Bootstrap``
   (``vmap`` of ``scheme.weights`` under ``jit``), warm;
5. B = 2^20 [2^10] fits: float32 splits, float32 bootstrap, float64 splits: fits per
   second warm, compile, mean and largest Newton steps (``n_iter``), statuses, and the
   process's peak device memory so far (``memory_stats()["peak_bytes_in_use"]``; n/a on a
   backend without it);
6. stragglers: ``fit`` has no user-facing switch for them. Its lanes are refilled from a
   queue as models finish (``jaxlogreg.solvers._lanes.run_batch``), so a slow model costs
   its own steps, not its chunk's. This step reports the distribution of ``n_iter`` of
   step 5's float32 splits, and times the same fits with that refilling off (a Newton
   whose lanes are refilled only when every lane is done, the driver's ``synchronized``
   mode: each chunk runs as long as its slowest model);
7. ``chunk_size=65,536`` [256] for the float32 splits;
8. a same-run baseline: the first 10,000 [1,024] splits fitted on the host CPU in float64
   (``jax.default_device(jax.devices("cpu")[0])``), and a scikit-learn loop over the first
   200 [20] (``LogisticRegression(C=inf, solver="newton-cholesky")``, when installed):
   times, status agreement and the largest parameter difference from the device's fits of
   the same models (step 5's).

``--deadline`` (seconds from the start, default 420) skips a step when the time left is
less than it is expected to take (a fixed estimate per step, or the longest B-sized fit
measured so far for the steps that fit B models); the skipped steps are named in the table
and in a line after it. A step that raises is reported as ``failed: ...`` and the run goes
on.

    python benchmarks/bench_gpu.py                    # the GPU check; writes BENCHMARKS.md on a GPU
    python benchmarks/bench_gpu.py --out copy.md      # the section into another copy of the file
    python benchmarks/bench_gpu.py --quick            # small sizes, prints only (used by the tests)

``--quick`` also compiles with most XLA optimisations off (``jax_disable_most_optimizations``,
as the test suite does): compilation is most of its time, and its figures check the script,
not the speed.
"""

from __future__ import annotations

import time

_START = time.perf_counter()  # the deadline counts from here, imports included

import argparse  # noqa: E402
import contextlib  # noqa: E402
import dataclasses  # noqa: E402
import datetime  # noqa: E402
import functools  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import traceback  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import ClassVar  # noqa: E402

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import jaxlogreg  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from bench_newton import cpu_name, write  # noqa: E402

MARK_BEGIN = "<!-- bench_gpu:begin -->"
MARK_END = "<!-- bench_gpu:end -->"

TRAIN_FRACTION = 0.65
SEED = 1
# Issue 22's targets at B = 2^20 on one H100, in fits per second.
TARGETS = {"float32": 5_000_000, "float64": 1_000_000}


@dataclasses.dataclass(frozen=True)
class Sizes:
    models: int  # B of step 5 (and 6, 7)
    draws: int  # models drawn in step 4
    devices_batch: int  # models of fit(devices=1) in step 3
    cpu_models: int  # the host CPU's baseline in step 8
    sklearn_models: int  # scikit-learn's loop in step 8
    chunk: int  # step 7's chunk_size
    repeats: int  # warm calls at most


FULL = Sizes(2**20, 16_384, 16_384, 10_000, 200, 65_536, 3)
# Quick: step 3's plain fit, step 5's float64 splits and, without a GPU, step 8's host fit
# are one program (same B and dtype): compilation is most of a quick run's time.
QUICK = Sizes(2**10, 1_024, 2**10, 2**10, 20, 256, 1)

# Seconds a measurement is expected to need in a full run on a GPU, compilation included (a
# quick run needs a tenth): the deadline skips it when less time than this is left. For a
# fit of B models, the longest such fit measured so far, when longer.
ESTIMATES = {"statsmodels": 10, "devices": 45, "draws": 20, "fit_B": 45, "cpu": 30,
             "sklearn": 10}
# No further warm call once the warm calls of one measurement have taken this long (s).
WARM_BUDGET = 20.0


# --------------------------------------------------------------------------------------------
# The run: its clock, its lines and its table
# --------------------------------------------------------------------------------------------


class Run:
    """The steps' clock, deadline and rows (one per measurement: a step may have several)."""

    def __init__(self, deadline: float, quick: bool):
        self.deadline = deadline
        self.quick = quick
        self.rows: list[tuple[str, str, str, str]] = []  # step, what, seconds, result
        self.skipped: list[str] = []
        self.failed: list[str] = []
        self.longest_fit = 0.0  # seconds of the longest B-model measurement so far

    def elapsed(self) -> float:
        return time.perf_counter() - _START

    def left(self) -> float:
        return self.deadline - self.elapsed()

    def need(self, kind: str) -> float:
        est = ESTIMATES[kind] / (10 if self.quick else 1)
        return max(est, self.longest_fit) if kind == "fit_B" else est

    def do(self, step: int, what: str, kind: str, f: Callable[[], str]) -> None:
        """Run ``f`` (which returns the row's result) unless the deadline is too close for a
        measurement of ``kind`` (a key of ``ESTIMATES``); one row and one printed line
        either way."""
        label = str(step)
        need = self.need(kind)
        if self.left() < need:
            result = (f"skipped: deadline ({max(0.0, self.left()):.0f} s left of "
                      f"{self.deadline:g} s, about {need:.0f} s needed)")
            self.skipped.append(f"{label} ({what})")
            self.add(label, what, None, result)
            return
        t0 = time.perf_counter()
        try:
            result = f()
        except Exception as e:  # a refused allocation, a missing backend: report, go on
            traceback.print_exc(file=sys.stderr)
            first = (str(e).strip().splitlines() or [""])[0][:160]
            result = f"failed: {type(e).__name__}: {first}"
            self.failed.append(f"{label} ({what})")
        seconds = time.perf_counter() - t0
        if kind == "fit_B":
            self.longest_fit = max(self.longest_fit, seconds)
        self.add(label, what, seconds, result)

    def add(self, step: str, what: str, seconds: float | None, result: str) -> None:
        sec = "" if seconds is None else f"{seconds:.1f}"
        self.rows.append((step, what, sec, result))
        print(f"[{self.elapsed():6.1f} s] step {step}: {what}: {result}"
              + ("" if seconds is None else f" ({seconds:.1f} s)"), flush=True)


# --------------------------------------------------------------------------------------------
# Step 1: the environment
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
    return out


def device_memory_limit() -> int | None:
    """Bytes the default device's allocator may use, where it says."""
    return _try(lambda: int(jax.devices()[0].memory_stats()["bytes_limit"]))


def peak_memory() -> str:
    """The process's peak device memory so far, or "n/a" where the backend does not say."""
    peak = _try(lambda: jax.devices()[0].memory_stats()["peak_bytes_in_use"])
    return "n/a" if peak is None else f"{peak / 1024**3:.2f} GiB"


def environment() -> dict:
    devices = jax.devices()
    dev = devices[0]
    return {
        "date": datetime.date.today().isoformat(),
        "kind": dev.device_kind,
        "platform": dev.platform,
        "count": len(devices),
        "memory": device_memory_limit(),
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "jax": jax.__version__,
        "jaxlib": _package_version("jaxlib") or _try(lambda: jax.lib.__version__, "unknown"),
        "numpy": np.__version__,
        "statsmodels": _package_version("statsmodels"),
        "sklearn": _package_version("scikit-learn"),
        "gpu": gpu_details() if dev.platform == "gpu" else [],
    }


def environment_line(env: dict) -> str:
    memory = "memory n/a" if env["memory"] is None else f"{env['memory'] / 1024**3:.1f} GiB"
    line = (f"{env['count']} x {env['kind']} (platform {env['platform']}, {memory}); "
            f"jax {env['jax']}, jaxlib {env['jaxlib']}")
    if env["gpu"]:
        line += "; " + "; ".join(env["gpu"])
    if env["platform"] == "cpu":
        line += "; no GPU: this run checks the script, its figures are not GPU figures"
    return line


# --------------------------------------------------------------------------------------------
# The measurements
# --------------------------------------------------------------------------------------------


class Data:
    """The built-in data set: host copies (float64 NumPy) and the default device's, in both
    dtypes; drawn on first use (none when every step is skipped)."""

    @functools.cached_property
    def host(self) -> tuple[np.ndarray, np.ndarray]:
        seed = jaxlogreg.make_seed_data()
        return np.asarray(seed.X, np.float64), np.asarray(seed.y, np.float64)

    @property
    def X(self) -> np.ndarray:
        return self.host[0]

    @property
    def y(self) -> np.ndarray:
        return self.host[1]

    @property
    def n(self) -> int:
        return self.X.shape[0]

    @functools.cached_property
    def on_device(self) -> dict:
        return {name: jax.block_until_ready((jnp.asarray(self.X, name), jnp.asarray(self.y, name)))
                for name in ("float32", "float64")}


def splits(num: int) -> jaxlogreg.Splits:
    """The first ``num`` models of every splits batch of the run (model b depends only on
    the key and b)."""
    return jaxlogreg.Splits(jax.random.key(SEED), num, TRAIN_FRACTION)


def bootstrap(num: int) -> jaxlogreg.Bootstrap:
    return jaxlogreg.Bootstrap(jax.random.key(SEED), num)


def differences(a: np.ndarray, b: np.ndarray, ok: np.ndarray) -> tuple[int, float]:
    """``(models compared, largest max_j |a_j - b_j| / max_j |b_j|)`` over the models ``ok``
    (nan when none)."""
    a, b = np.asarray(a, np.float64)[ok], np.asarray(b, np.float64)[ok]
    if not len(a):
        return 0, float("nan")
    scale = np.max(np.abs(b), axis=-1)
    return len(a), float(np.max(np.max(np.abs(a - b), axis=-1) / scale))


def fmt_e(x: float) -> str:
    return "n/a" if not np.isfinite(x) else f"{x:.1e}"


def fmt_s(s: float) -> str:
    return f"{s * 1e3:.2f} ms" if s < 1 else f"{s:.2f} s"


def compiled(first: float, warm: float) -> str:
    """The compile time of a measurement: its first call less its warm time."""
    return f"compile {max(0.0, first - warm):.1f} s"


def fmt_status(status) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in jaxlogreg.Status.counts(status).items() if v)


def timed(call: Callable, repeats: int, run: Run):
    """``(result, first, warm)``: ``call()`` once (compilation and run), then up to
    ``repeats`` warm calls (fewer once they have taken ``WARM_BUDGET`` seconds or the
    deadline is near), warm = their median. One result is held at a time."""
    t0 = time.perf_counter()
    res = jax.block_until_ready(call())
    first = time.perf_counter() - t0
    warm: list[float] = []
    while True:
        del res  # the next call's result replaces it: one set on the device at a time
        t0 = time.perf_counter()
        res = jax.block_until_ready(call())
        warm.append(time.perf_counter() - t0)
        if (len(warm) >= repeats or sum(warm) > WARM_BUDGET
                or run.left() < 2 * warm[-1] + 1):
            break
    return res, first, statistics.median(warm)


def run_platform() -> str:
    """The platform of the default device, where the run's fits are made."""
    return jax.devices()[0].platform


@dataclasses.dataclass(frozen=True)
class LockstepNewton(jaxlogreg.Newton):
    """Newton whose lanes are refilled only when every lane of the batch is done (the
    driver's ``synchronized`` mode): each chunk of models runs as long as its slowest one,
    i.e. the driver's handling of stragglers switched off. Its models' fits are Newton's."""

    synchronized: ClassVar[bool] = True


def fit_B(run: Run, data: Data, dtype: str, scheme, keep: dict, name: str, *,
          chunk_size=None, solver="auto", sizes: Sizes, target: int | None = None) -> str:
    """One fit of ``scheme.num`` models: its row's result (met or missed against ``target``
    fits per second, on an accelerator in a full run); the first models' parameters and
    statuses and every model's ``n_iter`` kept in ``keep[name]``."""
    X, y = data.on_device[dtype]

    def call():
        return jaxlogreg.fit(X, y, weights=scheme, chunk_size=chunk_size, solver=solver)

    res, first, warm = timed(call, sizes.repeats, run)
    B = scheme.num
    n_iter = np.asarray(res.n_iter)
    head = max(sizes.cpu_models, sizes.sklearn_models)
    keep[name] = dict(params=np.asarray(res.params[:head]), status=np.asarray(res.status[:head]),
                      n_iter=n_iter, fits_per_s=B / warm)
    line = (f"{B / warm:,.0f} fits/s ({fmt_s(warm)} warm, {compiled(first, warm)}); "
            f"steps mean {n_iter.mean():.2f}, max {n_iter.max()}; {fmt_status(res.status)}; "
            f"peak device memory so far {peak_memory()}")
    if target and not run.quick and run_platform() != "cpu":
        line += f"; target {target:,}: {'met' if B / warm >= target else 'missed'}"
    return line


# --------------------------------------------------------------------------------------------
# The steps
# --------------------------------------------------------------------------------------------


def step_statsmodels(data: Data) -> str:
    try:
        import statsmodels.api as sm
    except ImportError:
        return "skipped: statsmodels not installed"
    X, y = data.on_device["float64"]
    res = jaxlogreg.fit(X, y)
    ref = sm.Logit(data.y, sm.add_constant(data.X)).fit(method="newton", disp=0, tol=1e-12,
                                                        maxiter=100)
    ours = np.asarray(res.params)
    diff = float(np.max(np.abs(ours - ref.params)))
    rel = diff / float(np.max(np.abs(ref.params)))
    status = jaxlogreg.Status(int(res.status)).name
    return (f"largest parameter difference {fmt_e(diff)} (relative {fmt_e(rel)}); "
            f"jaxlogreg {status} in {int(res.n_iter)} steps, statsmodels converged "
            f"{bool(ref.mle_retvals['converged'])}")


def step_devices(data: Data, sizes: Sizes) -> str:
    X, y = data.on_device["float64"]
    scheme = splits(sizes.devices_batch)
    plain = jaxlogreg.fit(X, y, weights=scheme)
    t0 = time.perf_counter()
    sharded = jax.block_until_ready(jaxlogreg.fit(X, y, weights=scheme, devices=1))
    t_sharded = time.perf_counter() - t0
    same = np.asarray(plain.status) == np.asarray(sharded.status)
    ok = same & np.asarray(plain.converged)
    m, d = differences(sharded.params, plain.params, ok)
    one = jaxlogreg.fit(X, y)
    t0 = time.perf_counter()
    rows = jax.block_until_ready(jaxlogreg.fit_rows_sharded(X, y, devices=1))
    t_rows = time.perf_counter() - t0
    _, d_rows = differences(rows.params[None], one.params[None], np.array([True]))
    agree = int(rows.status) == int(one.status) and int(rows.n_iter) == int(one.n_iter)
    return (f"fit(devices=1), {scheme.num:,} float64 splits ({t_sharded:.1f} s, first call): "
            f"statuses agree {int(same.sum()):,}/{scheme.num:,}, largest difference "
            f"{fmt_e(d)} ({m:,} converged); fit_rows_sharded(devices=1), the built-in data "
            f"({t_rows:.1f} s, first call): difference {fmt_e(d_rows)}, status and steps "
            f"{'agree' if agree else 'differ'} ({jaxlogreg.Status(int(rows.status)).name})")


def step_draws(data: Data, sizes: Sizes, run: Run) -> str:
    _, y = data.on_device["float32"]
    parts = []
    for scheme in (splits(sizes.draws), bootstrap(sizes.draws)):
        draw = jax.jit(lambda s, y: jax.vmap(lambda i: s.weights(i, y))(
            jnp.arange(s.num, dtype=jnp.int32)))
        call = functools.partial(draw, scheme, y)
        _, first, warm = timed(call, max(2, 2 * sizes.repeats - 1), run)
        parts.append(f"{type(scheme).__name__} {fmt_s(warm)} warm "
                     f"({warm / scheme.num * 1e6:.2f} us per model; {compiled(first, warm)})")
    return f"{sizes.draws:,} models of {data.n:,} rows, float32: " + "; ".join(parts)


def step_stragglers(run: Run, data: Data, keep: dict, sizes: Sizes) -> str:
    base = keep.get("float32 splits")
    counts = ""
    if base is not None:
        hist = np.bincount(base["n_iter"])
        counts = ("no user-facing switch (lanes are refilled as models finish); n_iter of "
                  "step 5's float32 splits (steps: models): "
                  + ", ".join(f"{k}: {v:,}" for k, v in enumerate(hist) if v) + "; ")
    line = fit_B(run, data, "float32", splits(sizes.models), keep, "lockstep",
                 solver=LockstepNewton(), sizes=sizes)
    off = keep["lockstep"]
    counts += f"refilling off (lockstep lanes): {line}"
    if base is not None:
        same = np.array_equal(off["n_iter"], base["n_iter"])
        counts += (f"; on / off {base['fits_per_s'] / off['fits_per_s']:.2f}x the rate; "
                   f"n_iter {'identical' if same else 'differ'}")
    return counts


def step_cpu(data: Data, keep: dict, sizes: Sizes, run: Run) -> str:
    M = sizes.cpu_models
    # Without a GPU the default device is the host CPU already: no context, whose device
    # would be a new key of jit's cache (the program of step 5's float64 splits serves).
    on_host = (contextlib.nullcontext() if run_platform() == "cpu"
               else jax.default_device(jax.devices("cpu")[0]))
    with on_host:
        X, y = jnp.asarray(data.X, jnp.float64), jnp.asarray(data.y, jnp.float64)
        scheme = splits(M)
        res, first, warm = timed(
            lambda: jaxlogreg.fit(X, y, weights=scheme), sizes.repeats, run)
        params, status = np.asarray(res.params), np.asarray(res.status)
    where = "the same device (no GPU)" if run_platform() == "cpu" else cpu_name()
    line = (f"{M:,} float64 splits on the host CPU, {where}: {M / warm:,.0f} fits/s "
            f"({fmt_s(warm)} warm, {compiled(first, warm)}); {fmt_status(status)}")
    for name in ("float64 splits", "float32 splits"):
        dev = keep.get(name)
        if dev is None:
            line += f"; against the device's {name}: not run"
            continue
        same = dev["status"][:M] == status
        ok = same & (status == jaxlogreg.Status.CONVERGED)
        m, d = differences(dev["params"][:M], params, ok)
        ratio = dev["fits_per_s"] / (M / warm)
        line += (f"; the device's {name} (at {ratio:,.1f}x the host's rate): statuses agree "
                 f"{int(same.sum()):,}/{M:,}, largest difference {fmt_e(d)} ({m:,} converged)")
    return line


def step_sklearn(data: Data, keep: dict, sizes: Sizes) -> str:
    try:
        from sklearn.linear_model import LogisticRegression
    except ImportError:
        return "skipped: scikit-learn not installed"
    K, max_iter = sizes.sklearn_models, 100
    W = np.asarray(splits(K).materialize(data.y))
    params, converged = [], []
    t0 = time.perf_counter()
    for w in W:
        m = w > 0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = LogisticRegression(C=np.inf, solver="newton-cholesky", tol=1e-8,
                                   max_iter=max_iter).fit(data.X[m], data.y[m])
        params.append(np.concatenate([r.intercept_, r.coef_[0]]))
        converged.append(int(r.n_iter_[0]) < max_iter)
    per_fit = (time.perf_counter() - t0) / K
    params, converged = np.array(params), np.array(converged)
    line = f"{K:,} splits, {per_fit * 1e3:.2f} ms per fit"
    dev = keep.get("float64 splits")
    if dev is None:
        return line + "; the device's float64 splits: not run"
    ours = dev["status"][:K] == jaxlogreg.Status.CONVERGED
    same = ours == converged
    m, d = differences(dev["params"][:K], params, ours & converged)
    speed = per_fit * dev["fits_per_s"]
    return (line + f"; the device's float64 splits ({speed:,.0f}x per fit): converged in both "
            f"or neither on {int(same.sum()):,}/{K:,}, largest difference {fmt_e(d)} "
            f"({m:,} converged in both)")


def steps(run: Run, sizes: Sizes) -> dict:
    """Every step in order; the environment (step 1) always runs."""
    t0 = time.perf_counter()
    env = environment()
    run.add("1", "environment and versions", time.perf_counter() - t0, environment_line(env))
    data = Data()
    keep: dict = {}
    B = sizes.models
    run.do(2, "float64 smoke test against statsmodels", "statsmodels",
           lambda: step_statsmodels(data))
    run.do(3, "`fit(devices=1)` and `fit_rows_sharded`", "devices",
           lambda: step_devices(data, sizes))
    run.do(4, "the draw alone", "draws", lambda: step_draws(data, sizes, run))
    for dtype, scheme, name in (("float32", splits, "splits"), ("float32", bootstrap, "bootstrap"),
                                ("float64", splits, "splits")):
        target = TARGETS[dtype] if name == "splits" else None
        run.do(5, f"{dtype} {name}, B = {B:,}", "fit_B",
               functools.partial(fit_B, run, data, dtype, scheme(B), keep, f"{dtype} {name}",
                                 sizes=sizes, target=target))
    run.do(6, f"stragglers, float32 splits, B = {B:,}", "fit_B",
           lambda: step_stragglers(run, data, keep, sizes))
    run.do(7, f"chunk_size={sizes.chunk:,}, float32 splits, B = {B:,}", "fit_B",
           lambda: fit_B(run, data, "float32", splits(B), keep, "chunk", chunk_size=sizes.chunk,
                         sizes=sizes))
    run.do(8, "baseline: the host CPU, float64", "cpu", lambda: step_cpu(data, keep, sizes, run))
    run.do(8, "baseline: scikit-learn loop", "sklearn", lambda: step_sklearn(data, keep, sizes))
    return env


# --------------------------------------------------------------------------------------------
# The section
# --------------------------------------------------------------------------------------------


def section(env: dict, run: Run, sizes: Sizes) -> str:
    gpu = env["platform"] != "cpu"
    versions = ", ".join(f"{k} {env[k]}" for k in ("statsmodels", "sklearn") if env[k])
    lines = [
        MARK_BEGIN,
        "## The GPU check (`benchmarks/bench_gpu.py`)",
        "",
        f"Measured {env['date']} on {environment_line(env)}; host CPU {env['cpu']}, "
        f"{env['cores']} cores, Python {env['python']}, numpy {env['numpy']}"
        + (f", {versions}" if versions else "") + ".",
        "",
        ("Quick run (most XLA optimisations off: a check of the script, not of speed)"
         if run.quick else "Full run") + f": B = {sizes.models:,}; the built-in data "
        f"(n = 1000, d = 6 + intercept), {TRAIN_FRACTION:.0%} train splits or bootstrap "
        "resamples drawn on the device inside the timed call; warm = "
        + ("one call" if sizes.repeats == 1 else f"the median of up to {sizes.repeats} calls")
        + " after the first, compile = first - warm; differences are "
        "per model, `max_j |a_j - b_j| / max_j |b_j|`, on models both fits converged. "
        f"Deadline {run.deadline:g} s; the whole run took {run.elapsed():.0f} s.",
        "",
        "| step | what | seconds | result |",
        "| --- | --- | --- | --- |",
    ]
    for step, what, sec, result in run.rows:
        lines.append(f"| {step} | {what} | {sec} | {result.replace('|', '/')} |")
    lines.append("")
    lines.append("Skipped for the deadline: " + (", ".join(run.skipped) or "none") + "."
                 + (" Failed: " + ", ".join(run.failed) + "." if run.failed else ""))
    targets = ", ".join(f"{dtype} at least {t:,} fits/s" for dtype, t in TARGETS.items())
    lines.append(f"Targets (issue 22), B = {FULL.models:,} on one H100: {targets}"
                 + (" (step 5 says met or missed)." if gpu and not run.quick else "."))
    if not gpu:
        lines.append("This run is the CPU check of the script (no GPU at hand): its figures "
                     "are not GPU measurements.")
    lines.append(MARK_END)
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="small sizes (B = 2^10), most XLA optimisations off, prints only; "
                         "what the tests run")
    ap.add_argument("--deadline", type=float, default=420.0,
                    help="seconds from the start after which no step starts that is "
                         "expected to overrun it (default 420)")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "BENCHMARKS.md"),
                    help="the file whose bench_gpu section a full GPU run rewrites")
    args = ap.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    if args.quick:  # a check of the script, not of speed: compile as the test suite does
        jax.config.update("jax_disable_most_optimizations", True)
    run = Run(args.deadline, args.quick)
    env = steps(run, sizes)
    text = section(env, run, sizes)
    print(text, flush=True)
    if args.quick:
        return 0
    if env["platform"] == "cpu":
        print("Not written to BENCHMARKS.md: no GPU ran it (the CPU check of the script).",
              flush=True)
    else:
        write(text, args.out, MARK_BEGIN, MARK_END)
        print(f"Written to {os.path.abspath(args.out)}.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
