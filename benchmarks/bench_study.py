"""The seed study at scale: `jaxlogreg.run_study` on 100,000 train splits, stage by stage.

The main job (`jaxlogreg study`) on the built-in data set (n = 1000, d = 6 plus an
intercept, 65% train splits), timed warm (runs of the same study after a first; the median
of three for the whole study) with and without the held-out metrics, and its stages timed
apart on one chunk: drawing the weights, the fits, the inference, gathering the held-out rows,
the held-out AUC and the calibration fits. float64, and the whole study once more in float32.

    python benchmarks/bench_study.py             # 100,000 replicates, writes BENCHMARKS.md
    python benchmarks/bench_study.py --quick     # 2,000 replicates, prints only
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import jaxlogreg  # noqa: E402
from jaxlogreg import _metrics, _study  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from bench_newton import cpu_name, write  # noqa: E402

MARK_BEGIN = "<!-- bench_study:begin -->"
MARK_END = "<!-- bench_study:end -->"


def timed(f):
    t0 = time.perf_counter()
    out = jax.block_until_ready(f())
    return out, time.perf_counter() - t0


def study_times(X, y, true, num, metrics: bool, repeats: int = 1):
    """First run of a whole study (in the dtype of ``X``) and the times of ``repeats`` warm
    runs after it."""
    scheme = jaxlogreg.Splits(jax.random.key(1), num, 0.65)
    _study._run._SCORE_HELD_OUT = metrics  # off: the fits and inference alone
    try:
        result, first = timed(lambda: jaxlogreg.run_study(X, y, true, scheme=scheme))
        warm = []
        for _ in range(repeats):
            result, t = timed(lambda: jaxlogreg.run_study(X, y, true, scheme=scheme))
            warm.append(t)
    finally:
        _study._run._SCORE_HELD_OUT = True
    return result, first, warm


def stages(X, y, size: int) -> dict:
    """Warm time of each stage of one chunk of ``size`` replicates."""
    scheme = jaxlogreg.Splits(jax.random.key(2), size, 0.65)
    window = jaxlogreg._resample.window(scheme, 0, size)
    out = {}

    def stage(name, f):
        jax.block_until_ready(f())
        r, t = timed(f)
        out[name] = t
        return r

    W, H = stage("draw weights (splits)", lambda: _study._draw(window, y, True))
    H_all = H
    res = stage("fit", lambda: jaxlogreg.fit(X, y, weights=W))
    stage("standard errors (inference)",
          lambda: _study._standard_errors(res, X, y, W, cov_type="nonrobust"))
    yb = jnp.asarray(y, res.params.dtype)
    rows = _study._held_out_columns(H)
    if rows is not None:  # as the study does: the metrics see the held-out rows only
        gather = jax.jit(_study._held_out_rows, static_argnames=("rows",))
        yb, index, H = stage("held-out rows", lambda: gather(yb, H, rows=rows))
        predict = jax.jit(_study._held_out._predict_rows, static_argnames=("fit_intercept",))
        eta = stage("predict (held-out rows)",
                    lambda: predict(X, res.params, index, fit_intercept=True))
    else:
        predict = jax.jit(_study._predict, static_argnames=("fit_intercept",))
        eta = stage("predict", lambda: predict(X, res.params, fit_intercept=True))
    p = jax.nn.sigmoid(eta)
    stage("log loss + Brier", lambda: (_metrics.log_loss(yb, p, H), _metrics.brier_score(yb, p, H)))
    stage("ROC AUC", lambda: _metrics.roc_auc(yb, p, H))
    stage("calibration (2 fits)", lambda: _metrics._calibration_logits(yb, eta, H))
    stage("reliability curve", lambda: _metrics.reliability_curve(yb, p, H))
    stage("all held-out metrics (one program, as the study runs them)",
          lambda: _study._held_out_metrics(X, y, res, H_all, size))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--num", type=int, default=100_000)
    ap.add_argument("--quick", action="store_true", help="2,000 replicates, no file written")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "BENCHMARKS.md"))
    args = ap.parse_args(argv)
    num = 2_000 if args.quick else args.num
    data = jaxlogreg.make_seed_data()
    X, y = jnp.asarray(data.X), jnp.asarray(data.y)
    true = np.concatenate([[data.intercept], data.coef])
    # This machine's speed drifts from minute to minute: the whole float64 study is timed
    # three times warm and its median reported with all three.
    full, first_full, warm_runs = study_times(X, y, true, num, metrics=True, repeats=3)
    warm_full = float(np.median(warm_runs))
    _, first_bare, (warm_bare,) = study_times(X, y, true, num, metrics=False)
    X32, y32 = X.astype(jnp.float32), y.astype(jnp.float32)
    single, _, (warm_single,) = study_times(X32, y32, true, num, metrics=True)
    gap = np.max(np.abs(single.summary["mean"] - full.summary["mean"]))
    chunk = min(10_000, num)
    parts = stages(X, y, chunk)
    s = full.summary
    today = datetime.date.today().isoformat()
    lines = [
        MARK_BEGIN,
        "## The seed study at scale (`benchmarks/bench_study.py`)",
        "",
        f"Measured {today} on {cpu_name()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, jax {jax.__version__}, numpy {np.__version__}; "
        "float64 unless said; "
        f"the built-in data set (n = 1000, d = 6 + intercept), {num:,} train splits of 65%, "
        f"chunks of {min(10_000, num):,} replicates.",
        "",
        "| what | value |",
        "| --- | --- |",
        f"| whole study, warm (fits, inference, held-out metrics; median of "
        f"{', '.join(f'{t:.2f}' for t in warm_runs)} s) | {warm_full:.2f} s "
        f"({warm_full / num * 1e6:.0f} us per replicate) |",
        f"| whole study, first run (with compilation) | {first_full:.2f} s |",
        f"| fits and inference only, warm | {warm_bare:.2f} s "
        f"({warm_bare / num * 1e6:.0f} us per replicate) |",
        f"| whole study in float32, warm | {warm_single:.2f} s "
        f"({warm_single / num * 1e6:.0f} us per "
        f"replicate; mean estimates within {gap:.1e} of float64's) |",
        f"| statuses | {', '.join(f'{k} {v}' for k, v in s['status_counts'].items() if v)} |",
        "",
        f"Stages of one chunk of {chunk:,} replicates, warm:",
        "",
        "| stage | time |",
        "| --- | --- |",
    ]
    lines += [f"| {name} | {t:.3f} s |" for name, t in parts.items()]
    lines += [
        "",
        "Target (issue 5): 100,000 replicates of the seed study in under 5 s warm on the "
        "2-core CPU.",
        MARK_END,
    ]
    section = "\n".join(lines)
    print(section)
    if not args.quick:
        write(section, args.out, MARK_BEGIN, MARK_END)
    return 0


if __name__ == "__main__":
    sys.exit(main())
