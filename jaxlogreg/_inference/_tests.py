"""Hypothesis tests, one per model of a batch.

The Wald test of ``R beta = q`` with the covariance of an :class:`InferenceResult`
(:func:`wald_test`), the likelihood-ratio test of two nested models (:func:`lr_test`), and
the score test of a restricted fit against the full design (:func:`score_test`), which
needs no fit of the full model. Each gives a chi-squared statistic, its degrees of freedom
and its p-value (:class:`Chi2TestResult`, :class:`LRTestResult`); NaN where a model is not
valid.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from .. import _linalg, _loss, _resample, _spec, _validate
from .._batch import chunk_of, map_models
from .._result import FROM_FIT, Batched, FitResult, FromFit
from .._status import Status
from .._typing import ArrayLike, ClassWeight, Float, Numeric, Real
from ._common import (
    _check_information,
    _check_res,
    _chi2_sf,
    _data_for,
    _link_of,
    _model_problem,
    _split_models,
)
from ._results import InferenceResult, _check_inference

Array = jax.Array


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Chi2TestResult(Batched):
    """A chi-squared test per model: ``statistic (...)``, ``df (...)``, ``pvalue (...)``."""

    statistic: Float[Array, "*batch"]
    df: Float[Array, "*batch"]
    pvalue: Float[Array, "*batch"]


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class LRTestResult(Batched):
    """A likelihood-ratio test per model: ``statistic (...)``, ``df (...)`` (the difference
    in number of parameters; also ``df_diff``, statsmodels' name), ``pvalue (...)``."""

    statistic: Float[Array, "*batch"]
    df: Float[Array, "*batch"]
    pvalue: Float[Array, "*batch"]

    @property
    def df_diff(self) -> Float[Array, "*batch"]:
        """``df``, by the name statsmodels' ``compare_lr_test`` gives it."""
        return self.df


@jax.jit
def _chi2_sf_jit(x, df, valid):
    return jnp.where(valid, _chi2_sf(x, df), jnp.nan)


def wald_test(
    inf: InferenceResult,
    R: Real[ArrayLike, " k"] | Real[ArrayLike, "*#batch m k"],
    q: Real[ArrayLike, "*#batch m"] | None = None,
) -> Chi2TestResult:
    """Wald test of ``R beta = q`` for every model, with the covariance of ``inf``.

    ``statistic = (R b - q)^T (R V R^T)^-1 (R b - q)``, ``df = m`` (rows of ``R``),
    ``pvalue = P(chi2_m > statistic)``; statsmodels' ``res.wald_test(R, q, scalar=True,
    use_f=False)`` (which uses the fit's ``cov_type`` likewise). A robust ``inf`` gives a
    robust test.

    Args:
      inf: an :class:`InferenceResult` of batch shape ``(...)``.
      R: ``(m, k)`` restriction matrix, or ``(..., m, k)`` broadcasting against the batch.
      q: ``(m,)`` or ``(..., m)`` right-hand side; None for zeros.

    Returns:
      :class:`Chi2TestResult` of batch shape ``(...)``; NaN where ``inf.valid`` is False or
      ``R V R^T`` is singular (e.g. ``R`` of rank below ``m``).
    """
    _check_inference(inf, "inf")
    k = inf.params.shape[-1]
    dtype = inf.params.dtype
    try:
        R = jnp.asarray(R, dtype)
    except (TypeError, ValueError) as e:
        raise ValueError(f"R: cannot be read as a numeric array ({e})") from None
    if R.ndim == 1:
        R = R[None, :]
    if R.ndim < 2 or R.shape[-1] != k or R.shape[-2] == 0:
        raise ValueError(
            f"R: expected shape (m, k) with k = {k} parameters and m >= 1, got {R.shape}"
        )
    m = R.shape[-2]
    if q is None:
        q = jnp.zeros((m,), dtype)
    else:
        try:
            q = jnp.asarray(q, dtype)
        except (TypeError, ValueError) as e:
            raise ValueError(f"q: cannot be read as a numeric array ({e})") from None
        if q.ndim == 0:
            q = q[None]
        if q.shape[-1] != m:
            raise ValueError(
                f"q: expected last axis of length m = {m} (rows of R), got shape {q.shape}"
            )
    batch = inf.batch_shape
    try:
        full = tuple(np.broadcast_shapes(batch, R.shape[:-2], q.shape[:-1]))
    except ValueError:
        full = None
    if full != batch:
        raise ValueError(
            f"R, q: batch axes {R.shape[:-2]}, {q.shape[:-1]} do not broadcast to the batch {batch}"
        )
    return _wald(inf.params, inf.cov_params, inf.valid, R, q)


@jax.jit
def _wald(params, cov, valid, R, q):
    batch = params.shape[:-1]
    k = params.shape[-1]
    m = R.shape[-2]
    B = math.prod(batch)
    flat = lambda a, core: jnp.broadcast_to(a, batch + core).reshape((B,) + core)  # noqa: E731

    def one(b, V, ok, Rm, qm):
        r = Rm @ b - qm
        fac = _linalg.factor(Rm @ V @ Rm.T)
        stat = r @ _linalg.solve(fac, r)
        return jnp.where(ok & fac.ok, stat, jnp.nan)

    stat = jax.vmap(one)(
        flat(params, (k,)), flat(cov, (k, k)), flat(valid, ()), flat(R, (m, k)), flat(q, (m,))
    ).reshape(batch)
    df = jnp.full(batch, m, params.dtype)
    return Chi2TestResult(stat, df, _chi2_sf(stat, df))


def lr_test(inf_restricted: InferenceResult, inf_full: InferenceResult) -> LRTestResult:
    """Likelihood-ratio test of a restricted model nested in a full one, per model.

    ``statistic = -2 (llf_restricted - llf_full)``, ``df = df_resid_restricted -
    df_resid_full`` (the difference in number of parameters), ``pvalue = P(chi2_df >
    statistic)``: statsmodels' ``compare_lr_test``. Both must be fitted to the same
    observations; their batch shapes broadcast. NaN where either model is not ``valid`` or
    ``df <= 0``.
    """
    _check_inference(inf_restricted, "inf_restricted")
    _check_inference(inf_full, "inf_full")
    try:
        np.broadcast_shapes(inf_restricted.batch_shape, inf_full.batch_shape)
    except ValueError:
        raise ValueError(
            f"inf_restricted, inf_full: batch shapes {inf_restricted.batch_shape} and "
            f"{inf_full.batch_shape} do not broadcast"
        ) from None
    if _validate._is_concrete(inf_full.nobs) and _validate._is_concrete(inf_restricted.nobs):
        a, b = np.asarray(inf_restricted.nobs), np.asarray(inf_full.nobs)
        if not np.allclose(a, b, rtol=1e-12, atol=0, equal_nan=True):
            raise ValueError(
                "inf_full: fitted to a different number of observations (nobs) than "
                "inf_restricted; the models are not nested"
            )
    return _lr(inf_restricted.llf, inf_restricted.df_resid, inf_restricted.valid,
               inf_full.llf, inf_full.df_resid, inf_full.valid)


@jax.jit
def _lr(llf_r, dfr_r, ok_r, llf_f, dfr_f, ok_f):
    ok = ok_r & ok_f
    stat = jnp.where(ok, -2.0 * (llf_r - llf_f), jnp.nan)
    df = dfr_r - dfr_f
    return LRTestResult(stat, df, _chi2_sf(stat, df))


def score_test(
    res_restricted: FitResult,
    X_full: Numeric[ArrayLike, "*#batch n d"],
    y: Numeric[ArrayLike, "*#batch n"],
    *,
    restricted_columns: Sequence[int],
    weights: Numeric[ArrayLike, "*#batch n"] | _resample.Scheme | None = None,
    offset: Numeric[ArrayLike, "*#batch n"] | None = None,
    chunk_size: int | None = None,
    trials: Numeric[ArrayLike, "*#batch n"] | None = None,
    class_weight: ClassWeight | FromFit = FROM_FIT,
    information: str = "expected",
) -> Chi2TestResult:
    """Score (Lagrange multiplier) test of a restricted fit against the full model.

    The restricted model is the full model ``X_full (..., n, d)`` with some columns dropped:
    ``restricted_columns`` lists the columns of ``X_full`` that the restricted fit used, in
    the order of ``res_restricted.coef`` (so ``res_restricted = fit(X_full[..., cols], y,
    ...)``); the intercept and the link follow ``res_restricted``. The test embeds the
    restricted estimate in the full parameter vector (zeros for the dropped columns) and
    evaluates the full model's score and information there (rows, ``s`` and ``c`` as in the
    module docstring)::

        g = -X^T (w s),   I = X^T diag(w c) X,
        statistic = g^T I^-1 g,   df = d - len(restricted_columns),

    ``pvalue = P(chi2_df > statistic)``; statsmodels' ``res.score_test(exog_extra=...)`` on
    the restricted Logit fit (nonrobust), or on a GLM fit with ``observed=information ==
    "observed"``. ``weights``, ``offset`` and ``trials`` are those of the fit;
    ``class_weight`` is by default (:data:`FROM_FIT`) the fit's, ``res_restricted.class_weight``,
    and a value passed must agree with it (:mod:`jaxlogreg._spec`; a FitResult built by hand
    records none, and the value is then used). ``information`` is ``"expected"`` (Fisher)
    or ``"observed"``, the same for the logit.

    Returns:
      :class:`Chi2TestResult` of the batch shape; NaN where the restricted fit did not converge
      or the full information matrix is singular.
    """
    _check_res(res_restricted, "res_restricted")
    information = _check_information(information)
    cw = _spec.class_weight(res_restricted, class_weight, "res_restricted")
    data, scheme, fit_intercept, batch = _data_for(
        res_restricted, X_full, y, weights, offset, "res_restricted", trials=trials
    )
    link = _link_of(res_restricted)
    n, d = data.X.shape[-2:]
    try:
        cols = np.asarray(restricted_columns)
    except (TypeError, ValueError) as e:
        raise ValueError(f"restricted_columns: cannot be read as integers ({e})") from None
    if cols.size == 0:
        cols = cols.astype(np.int64)
    if cols.ndim != 1 or not np.issubdtype(cols.dtype, np.integer):
        raise ValueError(
            "restricted_columns: expected a 1-D sequence of column indices, got "
            f"{restricted_columns!r}"
        )
    if np.any((cols < 0) | (cols >= d)) or len(np.unique(cols)) != cols.size:
        raise ValueError(
            f"restricted_columns: must be distinct indices in [0, {d}), got {cols.tolist()}"
        )
    if cols.size != res_restricted.coef.shape[-1]:
        raise ValueError(
            f"restricted_columns: {cols.size} columns but res_restricted has "
            f"{res_restricted.coef.shape[-1]} coefficients"
        )
    if cols.size == d:
        raise ValueError("restricted_columns: lists every column of X_full; nothing is tested")
    chunk = chunk_of(chunk_size, data.X, fit_intercept)
    dtype = data.X.dtype
    shift = int(fit_intercept)
    full = jnp.zeros(batch + (d + shift,), dtype)
    full = full.at[..., cols + shift].set(jnp.asarray(res_restricted.coef, dtype))
    if fit_intercept:
        full = full.at[..., 0].set(jnp.asarray(res_restricted.intercept, dtype))
    arrays = dict(X=data.X, y=data.y, weights=data.weights, offset=data.offset,
                  trials=data.trials, params=full,
                  status=jnp.asarray(res_restricted.status, jnp.int32))
    stat = _score(
        arrays, scheme, batch_shape=batch, fit_intercept=fit_intercept, chunk_size=chunk,
        link=link, information=information, class_weight=cw,
    )
    df = jnp.full(batch, d - cols.size, dtype)
    pvalue = _chi2_sf_jit(stat.reshape(-1), df.reshape(-1), jnp.ones(stat.size, bool))
    return Chi2TestResult(stat, df, pvalue.reshape(batch))


@functools.partial(
    jax.jit,
    static_argnames=("batch_shape", "fit_intercept", "chunk_size", "link", "information",
                     "class_weight"),
)
def _score(arrays, scheme, *, batch_shape, fit_intercept, chunk_size, link, information,
           class_weight):
    mapped, shared, products = _split_models(arrays, scheme, batch_shape, fit_intercept)

    def one(per_model, axis_name=None):
        a = {**shared, **per_model}
        problem = _model_problem(
            a, per_model, fit_intercept, products, scheme, link, class_weight
        ).problem
        eta = _loss.linear_predictor(a["params"], problem)
        _, score, curvature = _loss.row_terms(eta, problem.y, link, information)
        g = _loss.design_transpose_times(problem.weights * score, problem)
        fac = _linalg.factor(_loss.hessian_from_rows(problem.weights * curvature, problem))
        stat = g @ _linalg.solve(fac, g)
        ok = fac.ok & (a["status"] == int(Status.CONVERGED))
        return jnp.where(ok, stat, jnp.nan)

    return map_models(one, mapped, batch_shape, chunk_size)
