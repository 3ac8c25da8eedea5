"""Profile penalised-likelihood confidence intervals and likelihood-ratio tests for Firth's
logistic regression (logistf's defaults), batched over models.

With ``l*`` Firth's penalised log-likelihood (:mod:`jaxlogreg.solvers._firth`) and
``beta_hat`` its maximiser, the profile statistic of coefficient ``j`` at ``b`` is

    D_j(b) = 2 (l*(beta_hat) - max_{beta: beta_j = b} l*(beta)),

where the constrained maximum keeps the penalty of the FULL model, ``1/2 log det I(beta)``
with ``I`` the ``p x p`` information at the constrained ``beta`` (Heinze and Schemper 2002,
as logistf computes it). The ``1 - alpha`` interval is ``{b : D_j(b) <= chi2_1(1 - alpha)}``
and the penalised likelihood-ratio test of ``beta_j = 0`` refers ``D_j(0)`` to ``chi2_1``.

Each end of an interval is a root of ``r(b) = sqrt(D_j(b)) - z`` (``z = Phi^-1(1 -
alpha / 2)``, so ``z^2`` is the chi-square quantile) on one side of ``beta_hat_j``; ``r`` is
nearly linear in ``b``. Distances ``d = |b - beta_hat_j|`` start at the quadratic
approximation ``z sigma_j`` (``sigma_j^2 = (H^-1)_jj / sum w``, ``H`` the Hessian of the
normalised objective at ``params``) and grow by secant extrapolation from 0 (by a factor
between 1.5 and 4) until ``r >= 0`` brackets the root; the bracket is then narrowed by
regula falsi with the Illinois modification (bisection where the secant leaves the
bracket or ``r`` is infinite). The search stops when ``|r| <= root_tol``.

Each ``D_j(b)`` is the better of two constrained Firth fits (the Firth solver with
``beta_j`` held at ``b``): one continued from the constrained solution at the inner end of
the bracket, moved along the estimated profile trace ``H^-1 e_j / (H^-1)_jj``, and one from
``beta_hat`` with only ``beta_j`` moved. Under separation the constrained problem can have
several local optima and a single continuation can follow one that stops being the best;
the profile is the best. A distance where neither fit converges counts as outside the
interval (it narrows the bracket) but never becomes an end.

An end is ``+-inf`` when ``D_j`` stays below the quantile for ``max_expand`` expansions
(not expected for a full-rank design: it signals a numerically flat profile), and
NaN when ``max_root_iter`` distances do not bring ``|r|`` below ``root_tol`` with a
converged fit. A test is NaN when neither of its fits converges. Every end and statistic
of a model is NaN when its own Firth fit (re-run from ``params``) does not converge.

References: G. Heinze and M. Schemper, Statistics in Medicine 21 (2002) 2409-2419;
D. J. Venzon and S. H. Moolgavkar, Applied Statistics 37 (1988) 87-94 (profile
likelihood intervals); G. Heinze and M. Ploner, logistf (R package).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import statistics
from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from . import _linalg, _loss, _validate
from ._batch import chunk_of, chunked_map, shared_design, split_batch
from ._result import Batched, FitResult
from ._status import Status
from ._typing import ArrayLike, Float, Integer, Numeric, Real
from .solvers import Context, _firth

Array = jax.Array

__all__ = ["firth_profile", "firth_profile_intervals", "firth_lr_test", "FirthProfile"]

_DEFAULT_MAX_ITER = 100


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class FirthProfile(Batched):
    """Profile penalised-likelihood inference for the tested coefficients of each model.

    Attributes:
      conf_int: ``(..., k, 2)`` lower and upper ends of the ``1 - alpha`` intervals (None
        from :func:`firth_lr_test`).
      statistic: ``(..., k)`` ``D_j(0) = 2 (l*(beta_hat) - l*(constrained at 0))``.
      pvalue: ``(..., k)`` ``P(chi2_1 > statistic)``.
    """

    conf_int: Float[Array, "*batch k 2"] | None
    statistic: Float[Array, "*batch k"]
    pvalue: Float[Array, "*batch k"]


def _defaults(dtype, tol, root_tol, max_iter):
    f64 = jnp.dtype(dtype) == jnp.float64
    tol = (1e-10 if f64 else 1e-5) if tol is None else tol
    root_tol = (1e-8 if f64 else 1e-3) if root_tol is None else root_tol
    max_iter = _DEFAULT_MAX_ITER if max_iter is None else max_iter
    return tol, root_tol, max_iter


def _inputs(X, y, params, weights, offset, fit_intercept, columns):
    """Validated data, parameters ``(..., p)``, the batch shape and the tested columns."""
    if hasattr(params, "params") and hasattr(params, "fit_intercept"):
        fit_intercept = bool(params.fit_intercept)
        params = params.params
    dtype = _validate.float_dtype(X)
    params = _validate._as_array("params", params, dtype, 1)
    data = _validate.fit_inputs(
        X, y, weights, offset, fit_intercept=fit_intercept, extra_batch=params.shape[:-1]
    )
    p = data.X.shape[-1] + int(fit_intercept)
    if params.shape[-1] != p:
        raise ValueError(
            f"params: last axis has length {params.shape[-1]}, expected p = {p} "
            f"({'intercept first, then ' if fit_intercept else ''}one per column of X)"
        )
    if columns is None:
        columns = tuple(range(p))
    else:
        columns = tuple(int(c) for c in np.atleast_1d(np.asarray(columns)))
        bad = [c for c in columns if not -p <= c < p]
        if bad or not columns:
            raise ValueError(f"columns: expected indices into the {p} parameters, got {columns}")
        columns = tuple(c % p for c in columns)
    return data, params, fit_intercept, columns


def firth_profile(
    X: Numeric[ArrayLike, "*#batch n d"],
    y: Numeric[ArrayLike, "*#batch n"],
    params: FitResult | Real[ArrayLike, "*#batch p"],
    *,
    weights: Numeric[ArrayLike, "*#batch n"] | None = None,
    offset: Numeric[ArrayLike, "*#batch n"] | None = None,
    alpha: float = 0.05,
    columns: int | Sequence[int] | None = None,
    fit_intercept: bool = True,
    tol: Real[ArrayLike, ""] | None = None,
    max_iter: Integer[ArrayLike, ""] | None = None,
    root_tol: Real[ArrayLike, ""] | None = None,
    max_root_iter: int = 60,
    max_expand: int = 12,
    chunk_size: int | None = None,
    config: _firth.Firth = _firth.Firth(),
    intervals: bool = True,
) -> FirthProfile:
    """Profile penalised-likelihood ``1 - alpha`` intervals and penalised likelihood-ratio
    tests of Firth's estimates (logistf's defaults; module docstring), batched over models.

    Args:
      X: ``(..., n, d)`` design, shared by the batch when ``(n, d)``.
      y: ``(..., n)`` labels in {0, 1}.
      params: ``(..., p)`` Firth estimates (intercept first when fitted,
        ``p = d + fit_intercept``), or a :class:`~jaxlogreg.FitResult` (its
        ``fit_intercept`` is then used). The Firth fit is re-run from them (a step or
        none when they are converged Firth estimates).
      weights: ``(..., n)`` frequency weights, or None for ones.
      offset: ``(..., n)`` offset, or None.
      alpha: intervals at level ``1 - alpha``; traced (no recompilation).
      columns: indices of the coefficients to profile (into the ``p`` parameters; default
        all); static.
      tol, max_iter: settings of every Firth fit (defaults 1e-10 / 1e-5 by dtype, and 100).
      root_tol: an end is accepted when ``|sqrt(D) - z| <= root_tol`` (default 1e-8 in
        float64, 1e-3 in float32: ``D`` is a difference of two penalised
        log-likelihoods and carries their rounding error times ``sum w``). The end is then
        within about ``root_tol * sigma_j`` of the exact one.
      max_root_iter: bound on the distances evaluated per end (two fits each).
      max_expand: bound on bracket expansions per end before it is reported infinite.
      chunk_size: models computed together at a time.
      config: Firth solver settings of the fits.
      intervals: False computes the tests only (:func:`firth_lr_test`).

    Returns:
      :class:`FirthProfile` with ``conf_int (..., k, 2)`` (``+-inf`` for an end not
      bracketed, NaN for a failed one), ``statistic (..., k)`` and ``pvalue (..., k)``,
      ``k = len(columns)``.
    """
    data, params, fit_intercept, columns = _inputs(
        X, y, params, weights, offset, fit_intercept, columns
    )
    alpha = float(alpha)
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha: must be in (0, 1), got {alpha}")
    dtype = data.X.dtype
    tol, root_tol, max_iter = _defaults(dtype, tol, root_tol, max_iter)
    z = statistics.NormalDist().inv_cdf(1.0 - alpha / 2.0)
    kinds = (_LOWER, _UPPER, _TEST) if intervals else (_TEST,)
    out = _profile(
        data.X, data.y, data.weights, data.offset, jnp.asarray(params, dtype),
        jnp.asarray(z, dtype), jnp.asarray(tol, dtype), jnp.asarray(root_tol, dtype),
        jnp.asarray(max_iter, jnp.int32), batch_shape=data.batch_shape,
        fit_intercept=fit_intercept, columns=columns, kinds=kinds,
        chunk_size=chunk_of(chunk_size, data.X, fit_intercept),
        config=config, max_root_iter=int(max_root_iter), max_expand=int(max_expand),
    )
    stat = out[..., -1]
    pvalue = jax.scipy.special.erfc(jnp.sqrt(0.5 * stat))  # P(chi2_1 > stat)
    return FirthProfile(out[..., :2] if intervals else None, stat, pvalue)


def firth_profile_intervals(X, y, params, **kwargs) -> Array | None:
    """``(..., k, 2)`` profile penalised-likelihood intervals: ``firth_profile(...).conf_int``
    (same arguments; None with ``intervals=False``)."""
    return firth_profile(X, y, params, **kwargs).conf_int


def firth_lr_test(X, y, params, **kwargs) -> FirthProfile:
    """Penalised likelihood-ratio tests of ``beta_j = 0`` alone (logistf's default test,
    ``D_j(0) ~ chi2_1``): :func:`firth_profile` with ``intervals=False`` (same arguments;
    ``conf_int`` is None)."""
    return firth_profile(X, y, params, intervals=False, **kwargs)


class _Lane(NamedTuple):
    """One search (one coefficient ``j``, one end or the test) as a loop of single Firth
    fits. Distances ``d >= 0`` count from ``beta_hat_j`` towards the end."""

    stage: Array  # () int32: 0 refit from params, 1 first start, 2 second start
    beta_hat: Array  # (p,) the Firth estimate (after stage 0)
    f_hat: Array  # () its objective
    lo: Array  # () inner end of the bracket (r < 0)
    r_lo: Array
    beta_lo: Array  # (p,) constrained solution at lo
    hi: Array  # () outer end (r >= 0), inf until bracketed
    r_hi: Array
    side: Array  # () int32: which end was kept last (-1 lo, +1 hi, 0 none), for Illinois
    d: Array  # () distance being evaluated
    cand_loss: Array  # () first start's objective at d
    cand_beta: Array  # (p,) and solution
    cand_conv: Array  # () bool
    n_eval: Array  # () int32 distances evaluated
    n_expand: Array  # () int32
    result: Array  # () the end (interval lanes) or D_j(0) (test lanes); NaN until found
    done: Array  # () bool


# Lane kinds: the lower end, the upper end, the test of beta_j = 0.
_LOWER, _UPPER, _TEST = 0, 1, 2


@functools.partial(
    jax.jit,
    static_argnames=("batch_shape", "fit_intercept", "columns", "kinds", "chunk_size", "config",
                     "max_root_iter", "max_expand"),
)
def _profile(X, y, weights, offset, params, z, tol, root_tol, max_iter, *, batch_shape,
             fit_intercept, columns, kinds, chunk_size, config, max_root_iter, max_expand):
    """``(..., k, len(kinds))``: for each tested column the lower and upper ends and/or the
    statistic ``D_j(0)``, as ``kinds`` asks.

    Every lane is one ``while_loop`` whose body runs one Firth fit (a single call site, so
    the solver is compiled once): first the unconstrained refit from ``params``, then, for
    each distance ``d`` visited, the constrained fit from two starts (the constrained
    solution at the inner end of the bracket moved along the profile trace, and
    ``beta_hat`` with only ``beta_j`` moved). The lower of the two objectives is taken:
    under separation the constrained problem can have several local optima, and the
    profile is their best.
    """
    dtype = X.dtype
    inputs = dict(X=X, y=y, weights=weights, offset=offset, params=params)
    core = {"X": 2, "y": 1, "weights": 1, "offset": 1, "params": 1}
    mapped, shared = split_batch(inputs, core, batch_shape)
    B = math.prod(batch_shape)
    L = len(columns) * len(kinds)
    out_shape = batch_shape + (len(columns), len(kinds))
    if B == 0:
        return jnp.zeros(out_shape, dtype)
    products = None
    if "X" in shared:
        shared["X"], products = shared_design(shared["X"], fit_intercept, (B * L,))
    # One flat axis of lanes (model, column, kind), vmapped in chunks: a single level of
    # vmap around the loops, and no per-lane copy of a model's data beyond its chunk.
    lane_model = jnp.repeat(jnp.arange(B, dtype=jnp.int32), L)
    lane_j = jnp.tile(jnp.asarray([j for j in columns for _ in kinds], jnp.int32), B)
    lane_kind = jnp.tile(jnp.asarray([k for _ in columns for k in kinds], jnp.int32), B)

    def one(lane_index, axis_name=None):
        m, j, kind = lane_index
        a = {**shared, **{name: v[m] for name, v in mapped.items()}}
        Xm = a["X"]
        if "X" in mapped and fit_intercept:
            Xm = _loss.add_intercept(Xm)
        p = Xm.shape[-1]
        zero = jnp.zeros((), dtype)
        problem = _loss.model_problem(Xm, a["y"], a["weights"], a["offset"],
                                      products=None if "X" in mapped else products)
        total = jnp.sum(problem.weights)
        start = a["params"]
        # Quadratic approximation of the profile at the starting point: H^-1 of the
        # normalised objective (the Fisher information where H is not positive definite).
        fac = _linalg.factor(_firth.hessian(start, problem))
        fisher = _linalg.factor(_loss.hessian(start, problem))
        cov = jnp.where(fac.ok, _linalg.inverse(fac), _linalg.inverse(fisher))
        converged = int(Status.CONVERGED)

        def lane(j, kind):
            sign = jnp.where(kind == _LOWER, -1.0, jnp.where(kind == _UPPER, 1.0, 0.0))
            sign = sign.astype(dtype)
            test = kind == _TEST
            trace = cov[:, j] / cov[j, j]
            sigma = jnp.sqrt(cov[j, j] / total)
            nan = jnp.full((), jnp.nan, dtype)
            inf = jnp.full((), jnp.inf, dtype)
            free = 1.0 - jax.nn.one_hot(j, p, dtype=dtype)
            init = _Lane(
                jnp.int32(0), start, zero, zero, -z, start, inf, inf, jnp.int32(0),
                jnp.where(jnp.isfinite(sigma), z * sigma, nan), zero, start,
                jnp.zeros((), bool), jnp.int32(0), jnp.int32(0), nan, jnp.zeros((), bool),
            )

            def body(e):
                bj = e.beta_hat[j]
                b = jnp.where(test, zero, bj + sign * e.d)
                continued = e.beta_lo + (b - e.beta_lo[j]) * trace
                moved = e.beta_hat.at[j].set(b)
                x0 = jnp.where(e.stage == 0, start, jnp.where(e.stage == 1, continued, moved))
                mask = jnp.where(e.stage == 0, jnp.ones((p,), dtype), free)
                st = config.run(problem, x0, Context(tol, max_iter), free=mask)
                conv = st.status == converged

                # Stage 0: the estimate.
                after0 = e._replace(
                    stage=jnp.int32(1), beta_hat=st.beta, f_hat=st.loss, beta_lo=st.beta,
                    done=~conv | ~jnp.isfinite(e.d),
                )
                # Stage 1: remember the first start's fit.
                after1 = e._replace(stage=jnp.int32(2), cand_loss=st.loss, cand_beta=st.beta,
                                    cand_conv=conv)
                # Stage 2: the better of the two fits gives D at this distance.
                better = conv & (~e.cand_conv | (st.loss < e.cand_loss))
                loss = jnp.where(better, st.loss, e.cand_loss)
                beta_c = jnp.where(better, st.beta, e.cand_beta)
                conv_c = conv | e.cand_conv
                D = jnp.maximum(2.0 * total * (loss - e.f_hat), 0.0)
                r = jnp.sqrt(D) - z
                found = conv_c & (jnp.abs(r) <= root_tol)
                outside = ~conv_c | (r > 0)  # a failed distance narrows the bracket but
                # never defines an end: `found` needs a converged fit.
                bracketed = jnp.isfinite(e.hi) | outside
                lo = jnp.where(outside, e.lo, e.d)
                r_lo = jnp.where(outside, e.r_lo, r)
                beta_lo = jnp.where(outside, e.beta_lo, beta_c)
                hi = jnp.where(outside, e.d, e.hi)
                r_hi = jnp.where(outside, jnp.where(conv_c, r, inf), e.r_hi)
                # Illinois: halve the residual of an end kept twice in a row.
                r_lo = jnp.where(outside & (e.side == -1), 0.5 * r_lo, r_lo)
                r_hi = jnp.where(~outside & (e.side == 1), 0.5 * r_hi, r_hi)
                secant = lo - r_lo * (hi - lo) / (r_hi - r_lo)
                inside = jnp.isfinite(secant) & (secant > lo) & (secant < hi)
                narrow = jnp.where(inside, secant, 0.5 * (lo + hi))
                grow = jnp.clip(lo * z / (r_lo + z), 1.5 * lo, 4.0 * lo)
                n_expand = e.n_expand + jnp.where(bracketed, 0, 1)
                n_eval = e.n_eval + 1
                unbounded = ~bracketed & (n_expand >= max_expand)
                exhausted = n_eval >= max_root_iter
                end = jnp.where(found, bj + sign * e.d, jnp.where(unbounded, sign * inf, nan))
                after2 = e._replace(
                    stage=jnp.int32(1), lo=lo, r_lo=r_lo, beta_lo=beta_lo, hi=hi, r_hi=r_hi,
                    side=jnp.where(outside, jnp.int32(-1), jnp.int32(1)),
                    d=jnp.where(bracketed, narrow, grow), n_eval=n_eval, n_expand=n_expand,
                    result=jnp.where(test, jnp.where(conv_c, D, nan), end),
                    done=test | found | unbounded | exhausted,
                )
                pick = lambda u, v, w: jnp.where(  # noqa: E731
                    e.stage == 0, u, jnp.where(e.stage == 1, v, w)
                )
                return jax.tree_util.tree_map(pick, after0, after1, after2)

            return jax.lax.while_loop(lambda e: ~e.done, body, init).result

        return lane(j, kind)

    out = chunked_map(one, (lane_model, lane_j, lane_kind), chunk_size)
    return out.reshape(out_shape)
