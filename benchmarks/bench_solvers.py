"""Solver suite: every jaxlogreg solver on six problems, against scikit-learn and optax.

Problems (fixed seeds, float64; B models over one shared X, each model a 65% train split
given by 0/1 weights, except where noted):

* ``seed``: the built-in seed data set (n = 1000, d = 6), no penalty.
* ``wide``: n = 5,000, d = 200, L2 ``alpha = 1e-3``, B = 1,000 (issue 3's headline).
* ``tall``: n = 1,000,000, d = 20, B = 4, no penalty.
* ``l1``: n = 2,000, d = 50, 5 nonzero true coefficients, ``l1_ratio = 1``, ``alpha`` a
  third of the full data's ``alpha_max``, B = 1,000.
* ``ill``: n = 2,000, d = 10, nearly collinear columns on scales 1e-2 .. 1e2 (condition
  number of ``[1, X]`` about 1e7), no penalty.
* ``separable``: n = 200, d = 5, one response per model (no splits); 20% of the models
  have completely separated classes by construction, no penalty.

For each problem and each jaxlogreg solver that applies (``l1``: the L1 solvers), one
batched ``jaxlogreg.fit`` at its default settings: iterations (mean / max), warm time per
fit and for the batch (median of ``--repeats`` runs after a first, compiling one; fewer
repeats once they have taken a minute), compile time (first call minus warm), the
objective gap ``f(beta) - f(beta_ref)`` (median / max over the models whose reference
converged) against a float64 Newton fit (proximal Newton for L1) at ``tol = 1e-12``, and
statuses (with how each fitter ended on the models the reference calls separated).
Every objective is evaluated by this script in NumPy from the parameters, the same way for
every fitter. Peers in the same run: scikit-learn
``LogisticRegression`` (lbfgs, newton-cholesky, saga; saga alone for L1) looped over the
first models of the batch (BLAS on one thread or its default threads, whichever fits the
first model faster), and a vmapped ``optax.lbfgs()`` loop (stopped at ``max |g| <=
1e-10`` or 200 iterations; finished models frozen) on the first ``optax_B`` models, with
jaxlogreg's L-BFGS timed on the same subset; glum's GeneralizedLinearRegressor looped
like scikit-learn's solvers.

Convergence traces: on ``wide`` and ``l1`` every solver is rerun on the first 200 models
with ``max_iter`` = 1, 2, 3, 4, 6, 8, ... (``max_iter`` is traced: one compilation) until no
model is left at ``MAX_ITER`` (SGD and Adam: up to 64 epochs); gap against warm time per
fit, plotted (log scale) to ``benchmarks/solver_traces.png`` with the peers as points.

Targets (issue 3; reported, never asserted): on ``wide``, batched L-BFGS at least 20x
faster per fit than the scikit-learn lbfgs loop and faster than the vmapped optax L-BFGS;
on ``l1``, the L1 solver (prox_newton) at least 10x faster per fit than the saga loop.

    # full sizes; writes BENCHMARKS.md and the PNG
    python benchmarks/bench_solvers.py
    # a selection of problems (the section holds only those)
    python benchmarks/bench_solvers.py --problems wide,l1
    # some solvers (the reference and the peers always run)
    python benchmarks/bench_solvers.py --solvers lbfgs,sgd
    # tiny wide + l1, few solvers, prints only (the tests)
    python benchmarks/bench_solvers.py --quick
"""

from __future__ import annotations

import argparse
import datetime
import io
import os
import platform
import statistics
import sys
import textwrap
import time
import warnings
from typing import NamedTuple

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

import jaxlogreg  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_newton import cpu_name, write  # noqa: E402

MARK_BEGIN = "<!-- bench_solvers:begin -->"
MARK_END = "<!-- bench_solvers:end -->"
HERE = os.path.dirname(os.path.abspath(__file__))

REF_TOL, REF_MAX_ITER = 1e-12, 500  # the reference fit
SK_TOL, SAGA_TOL, SK_MAX_ITER = 1e-8, 1e-6, 1000  # scikit-learn (saga's tol is on coef change)
OPTAX_TOL, OPTAX_MAX_ITER = 1e-10, 200  # the vmapped optax L-BFGS loop
TRACE_GRID = (1, 2, 3, 4, 6, 8, 11, 16, 22, 32, 45, 64, 90, 128, 180, 256)
TRACE_EPOCHS = 64  # SGD/Adam traces run to this many epochs (their own bound)
WARM_BUDGET_S = 60.0  # no further warm repeat once the warm runs of one fitter took this
SMOOTH_SOLVERS = ("newton", "lbfgs", "prox_newton", "sgd", "adam")
L1_SOLVERS = ("prox_newton", "sgd")
SOLVERS = SMOOTH_SOLVERS
PROBLEMS = ("seed", "wide", "tall", "l1", "ill", "separable")
TRACED = ("wide", "l1")
# --quick defaults: the traced problems, and per problem the solver its reference fit
# compiles anyway plus L-BFGS (compilation, not fitting, is what a quick run spends its
# time on).
QUICK_PROBLEMS = ("wide", "l1")
QUICK_SOLVERS = {"smooth": ("newton", "lbfgs"), "l1": ("prox_newton",)}

# Sizes per mode. B: models; loop: models fitted by each scikit-learn solver; optax_B: models
# of the optax peer (0: none); trace_B: models of the convergence traces.
SIZES = {
    "full": {
        "seed": dict(n=1000, B=1000, loop=100, optax_B=50),
        "wide": dict(n=5000, d=200, B=1000, loop=20, optax_B=100, trace_B=200),
        "tall": dict(n=1_000_000, d=20, B=4, loop=2, optax_B=4),
        "l1": dict(n=2000, d=50, B=1000, loop=50, optax_B=0, trace_B=200),
        "ill": dict(n=2000, d=10, B=1000, loop=100, optax_B=50),
        "separable": dict(n=200, d=5, B=1000, loop=100, optax_B=200),
    },
    "quick": {
        "seed": dict(n=300, B=32, loop=3, optax_B=8),
        "wide": dict(n=400, d=20, B=32, loop=2, optax_B=32, trace_B=32),
        "tall": dict(n=20_000, d=5, B=2, loop=1, optax_B=2),
        "l1": dict(n=300, d=10, B=32, loop=3, optax_B=0, trace_B=32),
        "ill": dict(n=250, d=6, B=32, loop=3, optax_B=8),
        "separable": dict(n=60, d=3, B=32, loop=3, optax_B=8),
    },
}


# --- problems ----------------------------------------------------------------------------


class Spec(NamedTuple):
    """One benchmark problem: ``X (n, d)``; ``y (n,)`` with ``W (B, n)`` 0/1 split weights,
    or ``y (B, n)`` with ``W`` None; penalty; solvers and peers that apply."""

    name: str
    what: str
    X: np.ndarray
    y: np.ndarray
    W: np.ndarray | None
    alpha: float
    l1_ratio: float
    loop: int
    optax_B: int
    trace_B: int = 0  # models of the convergence traces
    separable: np.ndarray | None = None  # (B,) models built completely separated
    chosen: tuple[str, ...] = SOLVERS  # jaxlogreg solvers selected (command line)

    @property
    def B(self) -> int:
        return self.W.shape[0] if self.W is not None else self.y.shape[0]

    @property
    def solvers(self) -> tuple[str, ...]:
        """The selected jaxlogreg solvers that handle this problem's penalty."""
        ok = L1_SOLVERS if self.l1_ratio > 0 else SMOOTH_SOLVERS
        return tuple(s for s in ok if s in self.chosen)

    @property
    def sk_solvers(self) -> tuple[str, ...]:
        return ("saga",) if self.l1_ratio > 0 else ("lbfgs", "newton-cholesky", "saga")

    def model(self, b: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows of model ``b`` (those with weight 1) and its response."""
        if self.W is None:
            return self.X, self.y[b]
        m = self.W[b] > 0
        return self.X[m], self.y[m]


def split_weights(num: int, n: int, frac: float, seed: int) -> np.ndarray:
    """``(num, n)`` 0/1 weights: each row marks a random training subset of ``round(frac n)``."""
    rng = np.random.default_rng(seed)
    k = int(round(frac * n))
    return (np.argsort(rng.random((num, n)), axis=1) < k).astype(np.float64)


def _draw(rng, eta):
    return (rng.random(eta.shape) < 1.0 / (1.0 + np.exp(-eta))).astype(np.float64)


def make_seed(s) -> Spec:
    data = jaxlogreg.make_seed_data(n=s["n"], seed=0)
    W = split_weights(s["B"], s["n"], 0.65, 1)
    what = f"seed data, n = {s['n']:,}, d = 6, {s['B']:,} train splits, no penalty"
    return Spec("seed", what, data.X, data.y, W, 0.0, 0.0, s["loop"], s["optax_B"])


def make_wide(s) -> Spec:
    rng = np.random.default_rng(10)
    n, d = s["n"], s["d"]
    X = rng.standard_normal((n, d))
    y = _draw(rng, -0.5 + X @ rng.normal(0.0, 1.5 / np.sqrt(d), d))
    W = split_weights(s["B"], n, 0.65, 11)
    what = f"n = {n:,}, d = {d}, {s['B']:,} train splits, L2 alpha = 1e-3"
    return Spec("wide", what, X, y, W, 1e-3, 0.0, s["loop"], s["optax_B"], s["trace_B"])


def make_tall(s) -> Spec:
    rng = np.random.default_rng(20)
    n, d = s["n"], s["d"]
    X = rng.standard_normal((n, d))
    y = _draw(rng, 0.3 + X @ rng.normal(0.0, 1.0 / np.sqrt(d), d))
    W = split_weights(s["B"], n, 0.65, 21)
    what = f"n = {n:,}, d = {d}, {s['B']} train splits, no penalty"
    return Spec("tall", what, X, y, W, 0.0, 0.0, s["loop"], s["optax_B"])


def make_l1(s) -> Spec:
    rng = np.random.default_rng(30)
    n, d = s["n"], s["d"]
    X = rng.standard_normal((n, d))
    coef = np.zeros(d)
    coef[:5] = [1.0, -1.0, 0.8, -0.6, 0.5]
    y = _draw(rng, -0.5 + X @ coef)
    W = split_weights(s["B"], n, 0.65, 31)
    alpha_max = np.max(np.abs(X.T @ (y - y.mean()))) / n  # smallest alpha giving coef = 0
    what = (f"n = {n:,}, d = {d}, 5 nonzero true coefficients, {s['B']:,} train splits, "
            f"lasso (l1_ratio = 1), alpha = alpha_max / 3 = {alpha_max / 3:.4f}")
    return Spec("l1", what, X, y, W, alpha_max / 3, 1.0, s["loop"], s["optax_B"], s["trace_B"])


def make_ill(s) -> Spec:
    rng = np.random.default_rng(40)
    n, d = s["n"], s["d"]
    u = rng.standard_normal(n)
    # Columns: a shared factor plus 1e-3 of their own noise, on scales 1e-2 .. 1e2.
    Z = u[:, None] + 1e-3 * rng.standard_normal((n, d))
    scale = 10.0 ** np.linspace(-2, 2, d)
    X = Z * scale
    eta = 1.0 * u + 300.0 * (Z[:, 0] - Z[:, 1])  # a factor and one near-cancelling contrast
    y = _draw(rng, -0.3 + eta)
    W = split_weights(s["B"], n, 0.65, 41)
    cond = np.linalg.cond(np.column_stack([np.ones(n), X]))
    what = (f"n = {n:,}, d = {d}, columns one factor plus 1e-3 noise on scales 1e-2 .. 1e2 "
            f"(condition number of [1, X] {cond:.1e}), {s['B']:,} train splits, no penalty")
    return Spec("ill", what, X, y, W, 0.0, 0.0, s["loop"], s["optax_B"])


def make_separable(s) -> Spec:
    rng = np.random.default_rng(50)
    n, d, B = s["n"], s["d"], s["B"]
    X = rng.standard_normal((n, d))
    coefs = rng.normal(0.0, 1.0 / np.sqrt(d), (B, d))
    eta = X @ coefs.T  # (n, B)
    sep = rng.random(B) < 0.2
    y = np.where(sep[None, :], (eta > 0).astype(np.float64), _draw(rng, eta)).T.copy()
    what = (f"n = {n}, d = {d}, {B:,} models over one X, each with its own response; "
            f"{int(sep.sum())} of them completely separated by construction, no penalty")
    return Spec("separable", what, X, y, None, 0.0, 0.0, s["loop"], s["optax_B"], separable=sep)


BUILDERS = {"seed": make_seed, "wide": make_wide, "tall": make_tall, "l1": make_l1,
            "ill": make_ill, "separable": make_separable}


# --- objective and timing ----------------------------------------------------------------


def objective(spec: Spec, params: np.ndarray) -> np.ndarray:
    """jaxlogreg's objective (README) at the ``(k, d + 1)`` parameters (intercept first) of
    the first ``k`` models, in NumPy: ``(k,)``."""
    params = np.asarray(params, np.float64)
    k = params.shape[0]
    eta = spec.X @ params[:, 1:].T + params[:, 0]  # (n, k)
    y = spec.y[:k].T if spec.W is None else spec.y[:, None]
    w = np.ones_like(eta) if spec.W is None else spec.W[:k].T
    with np.errstate(over="ignore", invalid="ignore"):
        rows = (np.log1p(np.exp(-np.abs(eta))) + y * np.maximum(-eta, 0)
                + (1 - y) * np.maximum(eta, 0))
    data = np.sum(w * rows, axis=0) / np.sum(w, axis=0)
    coef = params[:, 1:]
    a, r = spec.alpha, spec.l1_ratio
    return data + a * (r * np.abs(coef).sum(1) + 0.5 * (1 - r) * (coef**2).sum(1))


def timed(call, repeats: int):
    """``(result, first, warm)``: a first (compiling) call, then the median of ``repeats``
    warm calls (fewer once the warm calls have taken ``WARM_BUDGET_S``)."""
    t0 = time.perf_counter()
    res = jax.block_until_ready(call())
    first = time.perf_counter() - t0
    warm = []
    while len(warm) < max(repeats, 1) and sum(warm) < WARM_BUDGET_S:
        t0 = time.perf_counter()
        res = jax.block_until_ready(call())
        warm.append(time.perf_counter() - t0)
    return res, first, statistics.median(warm)


def fit_call(spec: Spec, Xj, yj, Wj, solver, B: int | None = None, **kw):
    """A closure fitting the first ``B`` models (default all) with ``solver``."""
    if B is not None and B < spec.B:
        yj = yj if spec.W is not None else yj[:B]
        Wj = Wj[:B] if Wj is not None else None
    return lambda: jaxlogreg.fit(Xj, yj, weights=Wj, solver=solver, alpha=spec.alpha,
                                 l1_ratio=spec.l1_ratio, **kw)


def status_names(codes) -> dict[str, int]:
    return {k: v for k, v in jaxlogreg.Status.counts(codes).items() if v}


def gap_stats(gap: np.ndarray, ok: np.ndarray) -> tuple[float, float]:
    g = gap[ok]
    return (float(np.median(g)), float(np.max(g))) if g.size else (float("nan"), float("nan"))


class Ref(NamedTuple):
    """The reference fit, per model: objective, converged, separated."""

    obj: np.ndarray
    ok: np.ndarray
    sep: np.ndarray


class Row(NamedTuple):
    label: str
    models: int
    iters: tuple[float, int]
    per_fit_s: float
    batch_s: float | None
    compile_s: float | None
    gap: tuple[float, float]
    status: dict
    note: str = ""


def separation_note(codes: np.ndarray, ref_sep: np.ndarray) -> str:
    """How a fitter ended on the models the reference found separated, and how many others
    it called separated (empty when neither occurs)."""
    sep = ref_sep[: codes.size]
    flagged = codes == int(jaxlogreg.Status.SEPARATED)
    parts = []
    if sep.any():
        on = ", ".join(f"{k} {v}" for k, v in status_names(codes[sep]).items())
        parts.append(f"on the {int(sep.sum())} the reference calls SEPARATED: {on}")
    if (flagged & ~sep).any():
        parts.append(f"{int((flagged & ~sep).sum())} others SEPARATED")
    return "; ".join(parts)


# --- peers -------------------------------------------------------------------------------


def peer_loop(spec: Spec, label: str, fit_one, ref: Ref) -> Row:
    """A peer's ``fit_one(b) -> (params, iterations, seconds)`` looped over the first
    ``spec.loop`` models, with its BLAS on one thread or on its default threads, whichever
    fitted model 0 faster (OpenBLAS's threads can cost scipy's L-BFGS-B 10-25x on small
    problems). A fit that raises counts as ``NONFINITE`` with NaN parameters."""
    from threadpoolctl import threadpool_limits

    def guarded(b):
        try:
            return fit_one(b)
        except Exception:  # a peer giving up (e.g. on separated data)
            return np.full(spec.X.shape[1] + 1, np.nan), -1, 0.0

    loop = min(spec.loop, spec.B)
    params, iters = [], []
    total = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the peers' convergence and line-search warnings
        guarded(0)  # untimed: imports, thread pools
        probe = {}
        for limit in (None, 1):
            with threadpool_limits(limits=limit):
                probe[limit] = guarded(0)[2]
        limit = min(probe, key=probe.get)
        with threadpool_limits(limits=limit):
            for b in range(loop):
                beta, n_iter, secs = guarded(b)
                total += secs
                params.append(beta)
                iters.append(n_iter)
    iters = np.array(iters)
    codes = np.where(iters < 0, int(jaxlogreg.Status.NONFINITE),
                     np.where(iters >= SK_MAX_ITER, int(jaxlogreg.Status.MAX_ITER),
                              int(jaxlogreg.Status.CONVERGED)))
    gap = objective(spec, np.array(params)) - ref.obj[:loop]
    threads = "1 BLAS thread" if limit == 1 else "default BLAS threads"
    done = iters[iters >= 0]
    stats = (float(done.mean()), int(done.max())) if done.size else (float("nan"), 0)
    return Row(label, loop, stats, total / loop, None, None, gap_stats(gap, ref.ok[:loop]),
               status_names(codes),
               "; ".join(x for x in (threads, separation_note(codes, ref.sep)) if x))


def sklearn_loop(spec: Spec, solver: str, ref: Ref) -> Row:
    """scikit-learn's ``LogisticRegression(solver=solver)`` at the problem's penalty
    (``C = 1 / (alpha n)``)."""
    from sklearn.linear_model import LogisticRegression

    def fit_one(b):
        Xb, yb = spec.model(b)
        C = np.inf if spec.alpha == 0 else 1.0 / (spec.alpha * Xb.shape[0])
        est = LogisticRegression(C=C, l1_ratio=spec.l1_ratio, solver=solver,
                                 tol=SAGA_TOL if solver == "saga" else SK_TOL,
                                 max_iter=SK_MAX_ITER)
        t0 = time.perf_counter()
        est.fit(Xb, yb)
        secs = time.perf_counter() - t0
        return np.concatenate([est.intercept_, est.coef_[0]]), int(np.max(est.n_iter_)), secs

    return peer_loop(spec, f"scikit-learn {solver} (loop)", fit_one, ref)


def glum_loop(spec: Spec, ref: Ref) -> Row:
    """glum's ``GeneralizedLinearRegressor(family="binomial")`` at the problem's ``alpha``
    and ``l1_ratio``: its objective is this library's (the glmnet convention), so no
    conversion. Its default solver (IRLS with coordinate descent), ``gradient_tol`` as
    scikit-learn's ``tol``."""
    from glum import GeneralizedLinearRegressor

    def fit_one(b):
        Xb, yb = spec.model(b)
        est = GeneralizedLinearRegressor(family="binomial", alpha=spec.alpha,
                                         l1_ratio=spec.l1_ratio, gradient_tol=SK_TOL,
                                         max_iter=SK_MAX_ITER)
        t0 = time.perf_counter()
        est.fit(Xb, yb)
        secs = time.perf_counter() - t0
        return np.concatenate([[est.intercept_], est.coef_]), int(est.n_iter_), secs

    return peer_loop(spec, "glum (loop)", fit_one, ref)


def optax_lbfgs(spec: Spec, Xj, yj, Wj, B: int):
    """A jitted function fitting the first ``B`` models with ``optax.lbfgs()`` under vmap:
    each model stops at ``max |g| <= OPTAX_TOL`` or ``OPTAX_MAX_ITER`` updates and is then
    frozen. Starts as jaxlogreg's L-BFGS does: zero slopes, intercept at the logit of the
    mean response. Returns ``(params (B, p), iterations (B,), converged (B,))``."""
    n, d = spec.X.shape
    X1 = jnp.concatenate([jnp.ones((n, 1)), Xj], axis=1)
    pf = jnp.concatenate([jnp.zeros(1), jnp.ones(d)])
    Y = jnp.broadcast_to(yj, (B, n)) if spec.W is not None else yj[:B]
    Wm = Wj[:B] if Wj is not None else jnp.ones((B, n))
    alpha = spec.alpha
    opt = optax.lbfgs()

    def one(yb, wb):
        def f(beta):
            eta = X1 @ beta
            rows = jnp.logaddexp(0.0, eta) - yb * eta
            return jnp.sum(wb * rows) / jnp.sum(wb) + 0.5 * alpha * jnp.sum(pf * beta**2)

        vg = optax.value_and_grad_from_state(f)
        ybar = jnp.clip(jnp.sum(wb * yb) / jnp.sum(wb), 1e-6, 1 - 1e-6)
        beta0 = jnp.zeros(d + 1).at[0].set(jnp.log(ybar / (1 - ybar)))

        def done(c):
            return c[3] | (c[2] >= OPTAX_MAX_ITER)

        def body(c):
            beta, state, k, conv = c
            value, grad = vg(beta, state=state)
            conv_now = jnp.max(jnp.abs(grad)) <= OPTAX_TOL
            updates, new_state = opt.update(grad, state, beta, value=value, grad=grad, value_fn=f)
            new = (optax.apply_updates(beta, updates), new_state, k + 1, conv_now)
            new = jax.tree_util.tree_map(lambda a, b: jnp.where(conv_now, a, b),
                                         (beta, state, k, conv_now), new)
            return jax.tree_util.tree_map(lambda a, b: jnp.where(done(c), a, b), c, new)

        c = (beta0, opt.init(beta0), jnp.zeros((), jnp.int32), jnp.zeros((), bool))
        beta, _, k, conv = jax.lax.while_loop(lambda c: ~done(c), body, c)
        return beta, k, conv

    run = jax.jit(jax.vmap(one))
    return lambda: run(Y, Wm)


def optax_rows(spec: Spec, Xj, yj, Wj, ref: Ref, repeats: int) -> list[Row]:
    B = min(spec.optax_B, spec.B)
    (params, k, conv), first, warm = timed(optax_lbfgs(spec, Xj, yj, Wj, B), repeats)
    params, k, conv = np.asarray(params), np.asarray(k), np.asarray(conv)
    codes = np.where(conv, 0, 1)
    codes = np.where(np.all(np.isfinite(params), axis=1), codes, int(jaxlogreg.Status.NONFINITE))
    gap = objective(spec, params) - ref.obj[:B]
    out = [Row("optax lbfgs (vmap)", B, (float(k.mean()), int(k.max())), warm / B, warm,
               first - warm, gap_stats(gap, ref.ok[:B]), status_names(codes),
               separation_note(codes, ref.sep))]
    if B == spec.B:
        return out  # the batch's own L-BFGS row compares like for like
    # jaxlogreg's L-BFGS on the same subset, for a like-for-like ratio.
    res, first, warm = timed(fit_call(spec, Xj, yj, Wj, "lbfgs", B), repeats)
    out.append(jax_row(spec, "jaxlogreg lbfgs, same subset", res, first, warm, ref))
    return out


# --- jaxlogreg ---------------------------------------------------------------------------


def jax_row(spec: Spec, label: str, res, first, warm, ref: Ref) -> Row:
    B = res.status.shape[0]
    codes = np.asarray(res.status)
    gap = objective(spec, np.asarray(res.params)) - ref.obj[:B]
    it = np.asarray(res.n_iter)
    return Row(label, B, (float(it.mean()), int(it.max())), warm / B, warm, first - warm,
               gap_stats(gap, ref.ok[:B]), status_names(codes), separation_note(codes, ref.sep))


def trace_solver(spec: Spec, Xj, yj, Wj, solver, ref: Ref, grid):
    """``[(max_iter, seconds per fit, median gap, max gap)]`` on the first ``trace_B``
    models, until none is at ``MAX_ITER`` (every point one warm run; the first point is
    run twice to compile)."""
    cfg = solver
    if solver in ("sgd", "adam"):
        cfg = (jaxlogreg.SGD(epochs=TRACE_EPOCHS) if solver == "sgd"
               else jaxlogreg.solvers.adam(epochs=TRACE_EPOCHS))
        grid = [m for m in grid if m <= TRACE_EPOCHS]
    B = min(spec.trace_B, spec.B)
    points = []
    jax.block_until_ready(fit_call(spec, Xj, yj, Wj, cfg, B, max_iter=grid[0])())
    for m in grid:
        t0 = time.perf_counter()
        res = jax.block_until_ready(fit_call(spec, Xj, yj, Wj, cfg, B, max_iter=m)())
        secs = time.perf_counter() - t0
        gap = objective(spec, np.asarray(res.params)) - ref.obj[:B]
        med, mx = gap_stats(gap, ref.ok[:B])
        points.append((m, secs / B, med, mx))
        if not np.any(np.asarray(res.status) == int(jaxlogreg.Status.MAX_ITER)):
            break
    return points


def run_problem(spec: Spec, repeats: int, traces: bool, log) -> dict:
    Xj, yj = jnp.asarray(spec.X), jnp.asarray(spec.y)
    Wj = None if spec.W is None else jnp.asarray(spec.W)
    ref_solver = "prox_newton" if spec.l1_ratio > 0 else "newton"
    # The reference's solver is timed first, so its first call is the one that compiles.
    timings = {}
    for s in sorted(spec.solvers, key=lambda s: s != ref_solver):
        timings[s] = timed(fit_call(spec, Xj, yj, Wj, s), repeats)
        log(f"[{spec.name}] {s}: first {timings[s][1]:.2f} s, warm {timings[s][2]:.2f} s")
        if s == ref_solver:  # a slow solver saves iterations from its fit (not a compile)
            init = timings[s][0] if timings[s][2] > 10.0 else None
            ref_res = _reference(spec, Xj, yj, Wj, ref_solver, log, init=init)
    if ref_solver not in timings:
        ref_res = _reference(spec, Xj, yj, Wj, ref_solver, log)
    codes = np.asarray(ref_res.status)
    ref = Ref(objective(spec, np.asarray(ref_res.params)),
              codes == int(jaxlogreg.Status.CONVERGED), codes == int(jaxlogreg.Status.SEPARATED))
    note = ", ".join(f"{k} {v}" for k, v in status_names(codes).items())
    if spec.separable is not None:
        differ = int(np.sum(ref.sep != spec.separable))
        note += (f"; it calls SEPARATED exactly the {int(spec.separable.sum())} models built "
                 "separated" if not differ else f"; {differ} models differ from the construction")
    rows = [jax_row(spec, f"jaxlogreg {s}", *timings[s], ref) for s in spec.solvers]
    if spec.optax_B:
        rows += optax_rows(spec, Xj, yj, Wj, ref, repeats)
        log(f"[{spec.name}] optax done")
    for s in spec.sk_solvers:
        rows.append(sklearn_loop(spec, s, ref))
        log(f"[{spec.name}] scikit-learn {s} done")
    rows.append(glum_loop(spec, ref))
    log(f"[{spec.name}] glum done")
    trace = {}
    if traces:
        for s in spec.solvers:
            trace[s] = trace_solver(spec, Xj, yj, Wj, s, ref, TRACE_GRID)
            log(f"[{spec.name}] trace {s}: {len(trace[s])} points")
    return dict(spec=spec, rows=rows, trace=trace, ref_solver=ref_solver, ref_note=note)


def _reference(spec: Spec, Xj, yj, Wj, solver: str, log, init=None):
    """The reference fit at ``REF_TOL``; from ``init`` (the same solver's fit at its default
    tolerance) when given, which saves all but the last iterations at the cost of a
    compilation."""
    t0 = time.perf_counter()
    res = jax.block_until_ready(
        fit_call(spec, Xj, yj, Wj, solver, tol=REF_TOL, max_iter=REF_MAX_ITER, init=init)())
    log(f"[{spec.name}] reference {solver}: {time.perf_counter() - t0:.1f} s")
    return res


# --- report ------------------------------------------------------------------------------


def fmt_time(s: float | None) -> str:
    if s is None:
        return "-"
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.1f} ms"
    return f"{s * 1e6:.0f} us"


def fmt_compile(s: float | None) -> str:
    """Compile time; below 10 ms it is within timing noise (a cached compilation)."""
    return fmt_time(s) if s is None or s >= 0.01 else "< 10 ms"


def fmt_gap(g: tuple[float, float]) -> str:
    return "n/a" if np.isnan(g[0]) else f"{g[0]:.1e} / {g[1]:.1e}"


def row_line(r: Row) -> str:
    status = ", ".join(f"{k} {v}" for k, v in r.status.items())
    if r.note:
        status += f" ({r.note})"
    return (f"| {r.label} | {r.models:,} | {r.iters[0]:.1f} / {r.iters[1]} "
            f"| {fmt_time(r.per_fit_s)} | {fmt_time(r.batch_s)} | {fmt_compile(r.compile_s)} "
            f"| {fmt_gap(r.gap)} | {status} |")


def find(result: dict | None, label: str) -> Row | None:
    if result is None:
        return None
    return next((r for r in result["rows"] if r.label == label), None)


def targets(results: dict) -> list[str]:
    def verdict(ok):
        return "met" if ok else "missed"

    lines = []
    wide = results.get("wide")
    lb, sk = find(wide, "jaxlogreg lbfgs"), find(wide, "scikit-learn lbfgs (loop)")
    ox = find(wide, "optax lbfgs (vmap)")
    lb_sub = find(wide, "jaxlogreg lbfgs, same subset") or lb
    if lb and sk:
        x = sk.per_fit_s / lb.per_fit_s
        lines.append(f"- wide: batched L-BFGS vs scikit-learn lbfgs loop, per fit: {x:.1f}x "
                     f"(target >= 20x): {verdict(x >= 20)}.")
    else:
        lines.append("- wide, L-BFGS vs scikit-learn lbfgs: not measured in this run.")
    if lb and ox and lb_sub:
        x, y = ox.per_fit_s / lb_sub.per_fit_s, ox.per_fit_s / lb.per_fit_s
        lines.append(f"- wide: batched L-BFGS vs vmapped optax L-BFGS, per fit: {x:.1f}x on the "
                     f"same {ox.models} models, {y:.1f}x for the whole batch (target > 1x): "
                     f"{verdict(x > 1)}.")
    else:
        lines.append("- wide, L-BFGS vs optax: not measured in this run.")
    l1 = results.get("l1")
    pn, saga = find(l1, "jaxlogreg prox_newton"), find(l1, "scikit-learn saga (loop)")
    if pn and saga:
        x = saga.per_fit_s / pn.per_fit_s
        lines.append(f"- l1: prox_newton vs scikit-learn saga loop, per fit: {x:.1f}x "
                     f"(target >= 10x): {verdict(x >= 10)}.")
    else:
        lines.append("- l1, prox_newton vs saga: not measured in this run.")
    return lines


def versions() -> str:
    import sklearn

    dev = jax.devices()[0]
    return (f"Python {platform.python_version()}, jax {jax.__version__} ({dev.platform}: "
            f"{getattr(dev, 'device_kind', dev.platform)}), numpy {np.__version__}, "
            f"scikit-learn {sklearn.__version__}, optax {optax.__version__}")


def section(results: dict, repeats: int, png: str | None) -> str:
    today = datetime.date.today().isoformat()
    lines = [
        MARK_BEGIN,
        "## Solvers: every solver on six problems (`benchmarks/bench_solvers.py`)",
        "",
        f"Measured {today} on {cpu_name()}, {os.cpu_count()} cores, {versions()}; float64. "
        f"Warm times are the median of {repeats} runs after a first (compiling) one (fewer "
        f"once they took {WARM_BUDGET_S:.0f} s); compile = first minus warm. Gap: objective "
        "minus that of the reference fit (Newton, or prox_newton for L1, at tol = "
        f"{REF_TOL:g}), median / max over the models whose reference converged; every "
        "objective evaluated by the script from the parameters. jaxlogreg at its default "
        "settings (tol 1e-10, max_iter 100; sgd/adam 20 epochs). scikit-learn: tol "
        f"{SK_TOL:g} (saga {SAGA_TOL:g}), max_iter {SK_MAX_ITER}, looped over the first "
        "models, its BLAS on 1 thread or on its default threads, whichever fitted the first "
        "model faster (noted per row). optax: `optax.lbfgs()` vmapped, stopped at max |g| <= "
        f"{OPTAX_TOL:g} or {OPTAX_MAX_ITER} iterations. glum: "
        f"`GeneralizedLinearRegressor(family=\"binomial\")`, gradient_tol {SK_TOL:g}, looped "
        "like scikit-learn.",
    ]
    for name, r in results.items():
        spec = r["spec"]
        lines += [
            "",
            f"### {name}: {spec.what}",
            "",
            f"Reference {r['ref_solver']} (tol {REF_TOL:g}): {r['ref_note']}.",
            "",
            "| solver | models | iters mean / max | per fit | batch warm | compile "
            "| gap median / max | statuses |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
        ] + [row_line(row) for row in r["rows"]]
        if r["trace"]:
            lines += ["", f"Traces on the first {min(spec.trace_B, spec.B)} models (max_iter: "
                      "warm time per fit, median gap):", ""]
        for s, pts in r["trace"].items():
            txt = "; ".join(f"{m}: {fmt_time(t)}, {g:.0e}" for m, t, g, _ in pts)
            lines.append(f"- {s}: {txt}")
    lines += ["", "Targets (issue 3):"] + targets(results)
    if png:
        lines += ["", "Convergence traces (objective gap against warm time per fit):", "",
                  f"![solver convergence traces]({png})"]
    lines.append(MARK_END)
    return "\n".join(lines)


def plot(results: dict, path) -> None:
    """Gap against warm time per fit, one panel per traced problem; ``path`` a file name
    or a binary file object."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    traced = [r for r in results.values() if r["trace"]]
    fig, axes = plt.subplots(1, len(traced), figsize=(6 * len(traced), 4.5), squeeze=False)
    floor = 1e-17
    for ax, r in zip(axes[0], traced, strict=True):
        for s, pts in r["trace"].items():
            t = [p[1] for p in pts]
            med = [max(p[2], floor) for p in pts]
            mx = [max(p[3], floor) for p in pts]
            line, = ax.loglog(t, med, "o-", ms=3, label=f"jaxlogreg {s}")
            ax.loglog(t, mx, "--", color=line.get_color(), lw=0.8)
        for row in r["rows"]:
            if not row.label.startswith(("scikit", "optax", "glum")) or np.isnan(row.gap[0]):
                continue
            ax.loglog([row.per_fit_s], [max(row.gap[0], floor)], "s", label=row.label)
        ax.set_title(textwrap.fill(f"{r['spec'].name}: {r['spec'].what}", 80), fontsize=7)
        ax.set_xlabel("warm wall time per fit (s)")
        ax.set_ylabel("objective gap (median; dashed: max)")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _names(ap, option: str, text: str | None, allowed: tuple[str, ...]):
    if text is None:
        return None
    names = tuple(p.strip() for p in text.split(",") if p.strip())
    bad = [p for p in names if p not in allowed]
    if bad or not names:
        ap.error(f"{option}: unknown {bad}; choose from {','.join(allowed)}")
    return names


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", help=f"comma-separated subset of {','.join(PROBLEMS)} "
                    f"(default: all; with --quick {','.join(QUICK_PROBLEMS)})")
    ap.add_argument("--solvers", help=f"comma-separated jaxlogreg solvers of {','.join(SOLVERS)} "
                    "(default: all that apply; with --quick the reference's and lbfgs); "
                    "the reference fit and the peers always run")
    ap.add_argument("--repeats", type=int, default=3, help="warm runs timed (median)")
    ap.add_argument("--quick", action="store_true",
                    help="tiny sizes, 1 repeat, fewer solvers, prints only (no file written)")
    ap.add_argument("--out", default=os.path.join(HERE, "..", "BENCHMARKS.md"))
    ap.add_argument("--png", default=os.path.join(HERE, "solver_traces.png"))
    args = ap.parse_args(argv)
    problems = _names(ap, "--problems", args.problems, PROBLEMS) or (
        QUICK_PROBLEMS if args.quick else PROBLEMS)
    solvers = _names(ap, "--solvers", args.solvers, SOLVERS)
    sizes = SIZES["quick" if args.quick else "full"]
    repeats = 1 if args.quick else args.repeats

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    results = {}
    for name in PROBLEMS:
        if name not in problems:
            continue
        spec = BUILDERS[name](sizes[name])
        if solvers is not None:
            spec = spec._replace(chosen=solvers)
        elif args.quick:
            spec = spec._replace(chosen=QUICK_SOLVERS["l1" if spec.l1_ratio > 0 else "smooth"])
        results[name] = run_problem(spec, repeats, name in TRACED, log)
    png = None
    if any(r["trace"] for r in results.values()):
        if args.quick:
            plot(results, io.BytesIO())  # draw it, write nothing
        else:
            plot(results, args.png)
            png = os.path.relpath(args.png, os.path.dirname(os.path.abspath(args.out)))
    text = section(results, repeats, png)
    print(text)
    if not args.quick:
        write(text, args.out, MARK_BEGIN, MARK_END)
    return 0


if __name__ == "__main__":
    sys.exit(main())
