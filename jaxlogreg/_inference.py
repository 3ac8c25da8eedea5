"""Statsmodels-style inference for every model of a batch at once.

Given fitted models (a :class:`~jaxlogreg.FitResult`) and the data they were fitted to,
:func:`inference` computes what statsmodels' ``Logit(...).fit()`` results report: standard
errors under several covariance types, Wald z statistics, p-values and confidence intervals,
the log-likelihood and that of the intercept-only model, pseudo R-squared, information
criteria, residuals, leverage and Cook's distance. It is batched exactly like
:func:`jaxlogreg.fit`: a shared design ``X (n, d)`` with per-model ``y``/``weights``/``offset``
of shape ``(..., n)``, or per-model designs ``X (..., n, d)``; every result has the batch
shape ``(...)`` in front.

Conventions (the model's are those of :mod:`jaxlogreg._loss`)
--------------------------------------------------------------
For one model with parameters ``beta`` (``k = d + fit_intercept`` of them, the intercept
first, statsmodels' ``add_constant`` order), design ``X`` (with its column of ones),
frequency weights ``w``, offset ``o``::

    eta_i = x_i^T beta + o_i,  mu_i = sigmoid(eta_i),  v_i = mu_i (1 - mu_i)
    l_i   = y_i log mu_i + (1 - y_i) log(1 - mu_i)        (row log-likelihood)
    llf   = sum_i w_i l_i                                   (a weight of 2 = the row twice)
    I     = X^T diag(w v) X                                 (Fisher information)
    nobs  = sum_i w_i,  df_model = k - 1,  df_resid = nobs - k

These equal statsmodels' ``Logit`` on the data with every row repeated ``w_i`` times, and
``GLM(family=Binomial(), freq_weights=w)``. ``df_model = k - 1`` also when
``fit_intercept=False``: statsmodels' Logit assumes a constant is among the columns (fit
``add_constant(X)`` with ``fit_intercept=False`` and every number here is statsmodels'),
and ``llnull`` is always the model with an intercept (plus the offset) and nothing else,
as statsmodels computes it.

Covariance types (``cov_type``), with ``r_i = y_i - mu_i`` and ``u_g = sum_{i in g} w_i r_i x_i``::

    "nonrobust"  V = I^-1
    "HC0"        V = I^-1 M I^-1,      M = X^T diag(w r^2) X
    "HC1"        V = nobs / (nobs - k) * HC0
    "cluster"    V = G / (G - 1) * (nobs - 1) / (nobs - k) * I^-1 (sum_g u_g u_g^T) I^-1

``G`` is the number of groups with positive total weight in the model (a bootstrap resample
that drops a whole group has one group fewer). These are statsmodels' conventions for
``Logit(...).fit(cov_type="HC0")``, for ``cov_type="cluster"`` with its default
``use_correction=True``, and for ``sandwich_covariance.cov_white_simple(res,
use_correction=True)`` (HC1). Two statsmodels differences worth knowing: its Logit
``cov_type="HC1"`` applies no small-sample factor at all (it returns HC0); and with GLM
``freq_weights`` its cluster correction, its ``nobs`` and so its Cox-Snell pseudo R-squared
count rows (``n``) rather than ``sum w`` (and its HC0 is NaN when a weight is 0). Here
frequency weights always mean repeated rows.

Models that cannot be inferred on
---------------------------------
A model whose fit did not converge (``status != CONVERGED``: separated, singular, ...) or
whose information matrix is numerically singular (:func:`jaxlogreg._linalg.factor`) gets
NaN for everything that rests on the covariance or on the estimate being a maximum:
``cov_params``, ``bse``, ``tvalues``, ``pvalues``, ``conf_int``, ``odds_ratios_conf_int``,
``llr_pvalue``, ``hat_matrix_diag``, ``cooks_distance`` and the tests built on them;
``valid`` is False for it. Quantities that are plain functions of the reported parameters
(``params``, ``odds_ratios``, ``llf``, ``deviance``, residuals, ...) are still reported.
Nothing raises inside a batch.

Computation and compilation
---------------------------
The work of :func:`inference` is one jitted function; ``cov_type`` and ``alpha`` are traced
values, so changing them does not recompile (the covariance is chosen by a ``lax.switch``
that stays a real branch under ``vmap``: only the chosen type is computed). Everything works
inside a user's ``jax.jit`` (cluster labels may then be traced). Shared designs are never
copied per model: ``I``, ``M`` and the leverage use
:func:`jaxlogreg._loss.column_products` (``(B, n) @ (n, k (k + 1) / 2)`` products), and models
are processed in chunks as in :func:`jaxlogreg.fit`. Per-observation results (residuals,
leverage, Cook's distance) are ``(..., n)``. The cluster covariance forms a
``(chunk, n, k)`` array of score rows per chunk.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import math
import statistics
from typing import NamedTuple, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import gammaincc, ndtr, xlogy

from . import _linalg, _loss, _validate
from ._batch import default_chunk, map_models, shared_design, split_batch
from ._status import Status

Array = jax.Array

__all__ = [
    "InferenceResult",
    "Chi2TestResult",
    "LRTestResult",
    "inference",
    "wald_test",
    "lr_test",
    "score_test",
    "variance_inflation_factors",
    "summary",
    "to_dict",
    "to_csv",
    "csv_columns",
    "COV_TYPES",
]

COV_TYPES = ("nonrobust", "HC0", "HC1", "cluster")

# Bound on the safeguarded scalar Newton steps for the intercept-only model (see
# `_null_loglik`): each step is Newton's or, when that leaves the bracket, a bisection, so this
# many reach the root to rounding from any bracket of width below 2**40.
_NULL_NEWTON_ITERS = 100


# --------------------------------------------------------------------------------------------
# Result types
# --------------------------------------------------------------------------------------------


def _static(default):
    return dataclasses.field(default=default, metadata=dict(static=True))


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class InferenceResult:
    """Inference for a batch of models, batch shape ``(...)`` in front of every array.

    ``k`` is the number of parameters (intercept first when fitted), ``n`` the number of rows.
    Names and meanings are statsmodels' (``LogitResults`` / ``GLMResults``); formulas are in
    the module docstring and below.

    Attributes:
      params: ``(..., k)`` estimates.
      cov_params: ``(..., k, k)`` covariance of the estimates under ``cov_type``.
      bse: ``(..., k)`` standard errors ``sqrt(diag(cov_params))``.
      tvalues: ``(..., k)`` Wald z statistics ``params / bse``.
      pvalues: ``(..., k)`` two-sided normal p-values ``2 Phi(-|z|)``.
      conf_int: ``(..., k, 2)`` ``params -/+ Phi^-1(1 - alpha/2) bse``.
      odds_ratios: ``(..., k)`` ``exp(params)``.
      odds_ratios_conf_int: ``(..., k, 2)`` ``exp(conf_int)``.
      llf: ``(...)`` log-likelihood ``sum_i w_i l_i``.
      llnull: ``(...)`` log-likelihood of the intercept-only model (with the offset).
      llr: ``(...)`` ``2 (llf - llnull)``.
      llr_pvalue: ``(...)`` ``P(chi2_{df_model} > llr)``.
      prsquared: ``(...)`` McFadden's ``1 - llf / llnull``.
      prsquared_cox_snell: ``(...)`` ``1 - exp(2 (llnull - llf) / nobs)``.
      prsquared_nagelkerke: ``(...)`` Cox-Snell divided by its maximum
        ``1 - exp(2 llnull / nobs)``.
      aic: ``(...)`` ``-2 llf + 2 k``.
      bic: ``(...)`` ``-2 llf + log(nobs) k``.
      deviance: ``(...)`` ``2 sum_i w_i (l_i^sat - l_i)`` (``-2 llf`` for 0/1 labels).
      pearson_chi2: ``(...)`` ``sum_i w_i resid_pearson_i^2``.
      df_model: ``(...)`` ``k - 1``.
      df_resid: ``(...)`` ``nobs - k``.
      nobs: ``(...)`` ``sum_i w_i``.
      resid_response: ``(..., n)`` ``y - mu``.
      resid_pearson: ``(..., n)`` ``(y - mu) / sqrt(mu (1 - mu))`` (unweighted, as
        statsmodels GLM reports it with ``freq_weights``).
      resid_dev: ``(..., n)`` ``sign(y - mu) sqrt(2 (l_i^sat - l_i))`` (unweighted).
      hat_matrix_diag: ``(..., n)`` leverage ``h_i = s_i x_i^T I^-1 x_i``,
        ``s_i = w_i mu_i (1 - mu_i)`` (the leverage of all ``w_i`` copies of row ``i``;
        statsmodels GLM ``get_hat_matrix_diag()``).
      cooks_distance: ``(..., n)`` ``resid_pearson_i^2 h_i / (k (1 - h_i)^2)``, statsmodels
        ``GLMInfluence.cooks_distance[0]`` (scale 1). It does not depend on ``cov_type``.
      status: ``(...)`` int32 :class:`~jaxlogreg.Status` of each fit.
      valid: ``(...)`` bool: the fit converged and its information matrix is nonsingular;
        where False, covariance-based fields are NaN (module docstring).
      alpha: level of the intervals is ``1 - alpha`` (static).
      cov_type: ``"nonrobust"``, ``"HC0"``, ``"HC1"`` or ``"cluster"`` (static).
      fit_intercept: whether ``params[..., 0]`` is an intercept (static).

    ``inf[i]`` or ``inf[mask]`` indexes every array along the batch axes.
    """

    params: Array
    cov_params: Array
    bse: Array
    tvalues: Array
    pvalues: Array
    conf_int: Array
    odds_ratios: Array
    odds_ratios_conf_int: Array
    llf: Array
    llnull: Array
    llr: Array
    llr_pvalue: Array
    prsquared: Array
    prsquared_cox_snell: Array
    prsquared_nagelkerke: Array
    aic: Array
    bic: Array
    deviance: Array
    pearson_chi2: Array
    df_model: Array
    df_resid: Array
    nobs: Array
    resid_response: Array
    resid_pearson: Array
    resid_dev: Array
    hat_matrix_diag: Array
    cooks_distance: Array
    status: Array
    valid: Array
    alpha: float = _static(0.05)
    cov_type: str = _static("nonrobust")
    fit_intercept: bool = _static(True)

    @property
    def batch_shape(self) -> tuple[int, ...]:
        return tuple(self.llf.shape)

    def __getitem__(self, index) -> "InferenceResult":
        return jax.tree_util.tree_map(lambda a: a[index], self)


_SCALAR_FIELDS = (
    "llf", "llnull", "llr", "llr_pvalue", "prsquared", "prsquared_cox_snell",
    "prsquared_nagelkerke", "aic", "bic", "deviance", "pearson_chi2", "df_model",
    "df_resid", "nobs",
)
_ARRAY_FIELDS = tuple(
    f.name for f in dataclasses.fields(InferenceResult) if not f.metadata.get("static")
)


class Chi2TestResult(NamedTuple):
    """A chi-squared test per model: ``statistic (...)``, ``df (...)``, ``pvalue (...)``."""

    statistic: Array
    df: Array
    pvalue: Array


class LRTestResult(NamedTuple):
    """A likelihood-ratio test per model: ``statistic (...)``, ``df_diff (...)``,
    ``pvalue (...)``."""

    statistic: Array
    df_diff: Array
    pvalue: Array


# --------------------------------------------------------------------------------------------
# Shared pieces
# --------------------------------------------------------------------------------------------


def _chi2_sf(x: Array, df: Array) -> Array:
    """``P(chi2_df > x)`` as ``Q(df / 2, x / 2)``; NaN for ``df <= 0`` or NaN ``x``."""
    safe_df = jnp.where(df > 0, df, 1.0)
    p = gammaincc(0.5 * safe_df, 0.5 * jnp.maximum(x, 0.0))
    return jnp.where((df > 0) & ~jnp.isnan(x), p, jnp.nan)


def _model_problem(a: dict, per_model: dict, fit_intercept: bool, products) -> _loss.Problem:
    """One model's :class:`~jaxlogreg._loss.Problem` (no penalty) from mapped/shared arrays.
    A shared ``X`` already carries its column of ones; a per-model one gets it here."""
    X = a["X"]
    if "X" in per_model:
        products = None
        if fit_intercept:
            X = _loss.add_intercept(X)
    k = X.shape[-1]
    zero = jnp.zeros((), X.dtype)
    no_penalty = jnp.zeros((k,), X.dtype)
    return _loss.Problem(X, a["y"], a["weights"], a["offset"], zero, no_penalty, products)


def _quadratic_rows(problem: _loss.Problem, A: Array) -> Array:
    """``(n,)``: ``x_i^T A x_i`` for a symmetric ``(k, k)`` ``A``; with column products
    ``Z @ a`` (no per-model copy of a shared ``X``)."""
    if problem.products is not None:
        i, j = np.triu_indices(A.shape[-1])
        coeffs = A[i, j] * jnp.asarray(np.where(i == j, 1.0, 2.0), A.dtype)
        return problem.products @ coeffs
    return jnp.sum((problem.X @ A) * problem.X, axis=-1)


def _null_loglik(y: Array, w: Array, o: Array) -> Array:
    """Log-likelihood of the intercept-only model ``eta = a + o``, maximised over ``a``.

    ``a`` solves ``g(a) = sum w (y - sigmoid(a + o)) = 0``. ``g`` decreases in ``a`` and
    changes sign on ``[logit(ybar) - max o, logit(ybar) - min o]`` (``ybar = sum w y / sum w``,
    extremes over rows with ``w > 0``), so a bracketed Newton iteration -- bisection whenever
    a Newton step leaves the bracket -- converges from anywhere in it; it stops when the step
    is below ``8 eps (1 + |a|)`` or after :data:`_NULL_NEWTON_ITERS` steps. Without an offset
    the start, ``logit(ybar)``, is the solution and one step confirms it (the closed form
    ``sum w [ybar log ybar + (1 - ybar) log(1 - ybar)]``). When ``ybar`` is 0 or 1 the
    supremum, 0, is not attained; 0 is returned.
    """
    dtype = w.dtype
    W = jnp.sum(w)
    ybar = jnp.sum(w * y) / W
    degenerate = (ybar <= 0) | (ybar >= 1)
    tiny = jnp.finfo(dtype).tiny
    yb = jnp.clip(ybar, tiny, 1.0 - jnp.finfo(dtype).epsneg)
    center = jnp.log(yb) - jnp.log1p(-yb)
    pos = w > 0
    lo = center - jnp.max(jnp.where(pos, o, -jnp.inf))
    hi = center - jnp.min(jnp.where(pos, o, jnp.inf))
    start = jnp.clip(center - jnp.sum(w * o) / W, lo, hi)
    tol = 8.0 * jnp.finfo(dtype).eps

    def cond(state):
        _, _, _, it, done = state
        return (it < _NULL_NEWTON_ITERS) & ~done

    def body(state):
        a, lo, hi, it, _ = state
        _, mu, v = _loss.pointwise(a + o, y)
        g = jnp.sum(w * (y - mu))
        h = jnp.sum(w * v)
        lo = jnp.where(g > 0, a, lo)
        hi = jnp.where(g < 0, a, hi)
        step = a + g / jnp.where(h > 0, h, 1.0)
        inside = (h > 0) & (step >= lo) & (step <= hi)
        new = jnp.where(g == 0, a, jnp.where(inside, step, 0.5 * (lo + hi)))
        done = ~(jnp.abs(new - a) > tol * (1.0 + jnp.abs(a)))  # NaN stops too
        return new, lo, hi, it + 1, done

    state = (start, lo, hi, jnp.zeros((), jnp.int32), degenerate)
    a = jax.lax.while_loop(cond, body, state)[0]
    loss, _, _ = _loss.pointwise(a + o, y)
    return jnp.where(degenerate, 0.0, -jnp.sum(w * loss))


def _check_res(res, name: str = "res"):
    if not all(hasattr(res, a) for a in ("params", "status", "fit_intercept", "batch_shape")):
        raise ValueError(f"{name}: expected a jaxlogreg.FitResult, got {type(res).__name__}")


def _check_chunk(chunk_size, n: int) -> int:
    if chunk_size is None:
        return default_chunk(n)
    if int(chunk_size) < 1:
        raise ValueError(f"chunk_size: must be a positive integer, got {chunk_size}")
    return int(chunk_size)


def _data_for(res, X, y, weights, offset, name: str = "res"):
    """Validated data and the batch shape; ``res``'s batch shape must be the data's."""
    _check_res(res, name)
    fit_intercept = bool(res.fit_intercept)
    data = _validate.fit_inputs(X, y, weights, offset, fit_intercept=fit_intercept)
    res_batch = tuple(res.batch_shape)
    try:
        batch = tuple(np.broadcast_shapes(data.batch_shape, res_batch))
    except ValueError:
        batch = None
    if batch != res_batch:
        raise ValueError(
            f"{name}: batch shape {res_batch} does not match the data's batch shape "
            f"{data.batch_shape} (X, y, weights, offset must be those the models were fitted to)"
        )
    return data, fit_intercept, res_batch


# --------------------------------------------------------------------------------------------
# inference
# --------------------------------------------------------------------------------------------


def inference(
    res,
    X,
    y,
    *,
    weights=None,
    offset=None,
    cov_type: str = "nonrobust",
    groups=None,
    alpha: float = 0.05,
    chunk_size: Optional[int] = None,
) -> InferenceResult:
    """Statsmodels-style inference for every model of a batch.

    Args:
      res: the :class:`~jaxlogreg.FitResult` of ``fit(X, y, weights=weights, offset=offset)``
        (or any FitResult whose batch shape is that of the data, or larger: data without
        batch axes broadcast over a stack of fits of one data set).
      X: ``(..., n, d)`` design, shared by the batch when ``(n, d)``.
      y: ``(..., n)`` labels in {0, 1}.
      weights: ``(..., n)`` frequency weights, or None for ones.
      offset: ``(..., n)`` offset, or None.
      cov_type: ``"nonrobust"`` (inverse Fisher information), ``"HC0"``, ``"HC1"`` (HC0 times
        ``nobs / (nobs - k)``) or ``"cluster"`` (CRV1 with statsmodels' default correction
        ``G / (G - 1) * (nobs - 1) / (nobs - k)``); see the module docstring.
      groups: ``(n,)`` integer cluster labels, shared by the batch; only with
        ``cov_type="cluster"`` (required there). Any integers; they need not be consecutive.
      alpha: intervals are at level ``1 - alpha``, ``0 < alpha < 1``; a Python number (it
        is stored as static metadata). Changing it does not recompile.
      chunk_size: models computed together at a time (default: as :func:`jaxlogreg.fit`).

    Returns:
      :class:`InferenceResult` with the batch shape of ``res``. Models that did not converge
      or have a singular information matrix get NaN covariance-based fields (``valid`` False).

    Raises:
      ValueError: at the Python boundary, naming the argument: bad data (as
        :func:`jaxlogreg.fit`), an unknown ``cov_type``, ``groups`` missing, misplaced or of
        the wrong length, ``alpha`` outside (0, 1), or ``res`` not matching the data.
    """
    if cov_type not in COV_TYPES:
        raise ValueError(f"cov_type: must be one of {COV_TYPES}, got {cov_type!r}")
    numeric = (int, float, np.floating, np.integer)
    if isinstance(alpha, (bool, np.bool_)) or not isinstance(alpha, numeric):
        raise ValueError(f"alpha: must be a number in (0, 1), got {alpha!r}")
    alpha = float(alpha)
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha: must be in (0, 1), got {alpha}")
    data, fit_intercept, batch = _data_for(res, X, y, weights, offset)
    n, d = data.X.shape[-2:]
    k = d + int(fit_intercept)
    if res.params.shape[-1] != k:
        raise ValueError(
            f"res: has {res.params.shape[-1]} parameters but X has d = {d} columns "
            f"(expected {k} with fit_intercept={fit_intercept})"
        )
    if cov_type == "cluster":
        if groups is None:
            raise ValueError("groups: required with cov_type='cluster'")
        try:
            groups = jnp.asarray(groups)
        except (TypeError, ValueError) as e:
            raise ValueError(f"groups: cannot be read as an integer array ({e})") from None
        if groups.shape != (n,):
            raise ValueError(f"groups: expected shape (n,) = ({n},), got {groups.shape}")
        if not (jnp.issubdtype(groups.dtype, jnp.integer) or groups.dtype == jnp.bool_):
            raise ValueError(f"groups: expected integer labels, got dtype {groups.dtype}")
        groups = _group_ids(groups)
    elif groups is not None:
        raise ValueError(f"groups: only used with cov_type='cluster', got cov_type={cov_type!r}")
    else:
        groups = jnp.zeros((n,), jnp.int32)  # unused; keeps one compilation for all cov types
    chunk = _check_chunk(chunk_size, n)
    dtype = data.X.dtype
    out = _inference(
        data.X,
        data.y,
        data.weights,
        data.offset,
        jnp.asarray(res.params, dtype),
        jnp.asarray(res.status, jnp.int32),
        groups,
        jnp.asarray(COV_TYPES.index(cov_type), jnp.int32),
        jnp.asarray(_normal_quantile(1.0 - alpha / 2.0), dtype),
        batch_shape=batch,
        fit_intercept=fit_intercept,
        chunk_size=chunk,
    )
    # The chi-squared tail is a separate small compiled function, shared by every data shape
    # with the same number of models.
    flat = lambda a: a.reshape(-1)  # noqa: E731
    out["llr_pvalue"] = _chi2_sf_jit(
        flat(out["llr"]), flat(out["df_model"]), flat(out["valid"])
    ).reshape(batch)
    return InferenceResult(**out, alpha=alpha, cov_type=cov_type, fit_intercept=fit_intercept)


def _group_ids(groups: Array) -> Array:
    """``(n,)`` labels -> ``(n,)`` int32 ids in ``[0, n)``, equal ids for equal labels."""
    n = groups.shape[0]
    if _validate._is_concrete(groups):
        ids = np.unique(np.asarray(groups), return_inverse=True)[1]
        return jnp.asarray(ids.reshape(n), jnp.int32)
    _, ids = jnp.unique(groups, return_inverse=True, size=n, fill_value=0)
    return ids.reshape((n,)).astype(jnp.int32)


def _normal_quantile(p: float) -> float:
    """``Phi^-1(p)`` in double precision (Wichura's AS241, via the standard library)."""
    return statistics.NormalDist().inv_cdf(p)


@jax.jit
def _chi2_sf_jit(x, df, valid):
    return jnp.where(valid, _chi2_sf(x, df), jnp.nan)


@functools.partial(
    jax.jit, static_argnames=("batch_shape", "fit_intercept", "chunk_size")
)
def _inference(X, y, weights, offset, params, status, groups, cov_code, crit, *, batch_shape,
               fit_intercept, chunk_size):
    """The per-model statistics as a dict of arrays.

    ``cov_code`` indexes :data:`COV_TYPES`. It is traced and shared by all models, so under
    ``vmap`` the ``lax.switch`` on it stays a real branch: every covariance type shares one
    compilation and only the chosen one runs. ``groups`` are ``(n,)`` ids in ``[0, n)`` (unused
    unless clustering); ``crit = Phi^-1(1 - alpha / 2)``.
    """
    dtype = X.dtype
    n = X.shape[-2]
    inputs = dict(X=X, y=y, weights=weights, offset=offset, params=params, status=status)
    core = {"X": 2, "y": 1, "weights": 1, "offset": 1, "params": 1, "status": 0}
    mapped, shared = split_batch(inputs, core, batch_shape)
    products = None
    if "X" in shared:
        shared["X"], products = shared_design(shared["X"], fit_intercept, batch_shape)
    group_ids = groups

    def one(per_model, axis_name=None):
        a = {**shared, **per_model}
        problem = _model_problem(a, per_model, fit_intercept, products)
        beta, w, yy, o = a["params"], problem.weights, problem.y, problem.offset
        k = beta.shape[-1]
        eta = _loss.linear_predictor(beta, problem)
        loss, mu, v = _loss.pointwise(eta, yy)
        # Saturated model's loss per row: the binary entropy of y (0 for 0/1 labels).
        sat = -(xlogy(yy, yy) + xlogy(1.0 - yy, 1.0 - yy))
        unit_dev = jnp.maximum(2.0 * (loss - sat), 0.0)
        resid = yy - mu

        info = _loss.hessian_from_rows(w * v, problem)
        fac = _linalg.factor(info)
        valid = (a["status"] == int(Status.CONVERGED)) & fac.ok
        info_inv = jnp.where(valid, _linalg.inverse(fac), jnp.nan)

        nobs = jnp.sum(w)
        df_resid = nobs - k

        def hc(small_sample):
            meat = _loss.hessian_from_rows(w * resid * resid, problem)
            factor = nobs / df_resid if small_sample else jnp.ones((), dtype)
            return info_inv @ meat @ info_inv * factor

        def cluster():
            score_rows = (w * resid)[:, None] * problem.X
            sums = jax.ops.segment_sum(score_rows, group_ids, num_segments=n)
            G = jnp.sum(jax.ops.segment_sum(w, group_ids, num_segments=n) > 0).astype(dtype)
            factor = G / (G - 1.0) * (nobs - 1.0) / df_resid
            return info_inv @ (sums.T @ sums) @ info_inv * jnp.where(G > 1, factor, jnp.nan)

        branches = {
            "nonrobust": lambda: info_inv,
            "HC0": lambda: hc(False),
            "HC1": lambda: hc(True),
            "cluster": cluster,
        }
        cov = jax.lax.switch(cov_code, [branches[c] for c in COV_TYPES])
        cov = 0.5 * (cov + cov.T)
        bse = jnp.sqrt(jnp.diagonal(cov))
        z = beta / bse
        pvalues = 2.0 * ndtr(-jnp.abs(z))
        conf_int = jnp.stack([beta - crit * bse, beta + crit * bse], axis=-1)

        llf = -jnp.sum(w * loss)
        llnull = _null_loglik(yy, w, o)
        llr = 2.0 * (llf - llnull)
        df_model = jnp.asarray(k - 1, dtype)
        cox_snell = -jnp.expm1(2.0 * (llnull - llf) / nobs)
        max_cox_snell = -jnp.expm1(2.0 * llnull / nobs)

        resid_pearson = resid / jnp.sqrt(v)
        hat = w * v * _quadratic_rows(problem, info_inv)
        cooks = resid_pearson**2 * hat / (k * (1.0 - hat) ** 2)
        return dict(
            params=beta,
            cov_params=cov,
            bse=bse,
            tvalues=z,
            pvalues=pvalues,
            conf_int=conf_int,
            odds_ratios=jnp.exp(beta),
            odds_ratios_conf_int=jnp.exp(conf_int),
            llf=llf,
            llnull=llnull,
            llr=llr,
            prsquared=1.0 - llf / llnull,
            prsquared_cox_snell=cox_snell,
            prsquared_nagelkerke=cox_snell / max_cox_snell,
            aic=-2.0 * llf + 2.0 * k,
            bic=-2.0 * llf + jnp.log(nobs) * k,
            deviance=jnp.sum(w * unit_dev),
            pearson_chi2=jnp.sum(w * resid_pearson**2),
            df_model=df_model,
            df_resid=df_resid,
            nobs=nobs,
            resid_response=resid,
            resid_pearson=resid_pearson,
            resid_dev=jnp.sign(resid) * jnp.sqrt(unit_dev),
            hat_matrix_diag=hat,
            cooks_distance=cooks,
            status=a["status"],
            valid=valid,
        )

    return map_models(one, mapped, batch_shape, chunk_size)


# --------------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------------


def _check_inference(inf, name: str):
    if not isinstance(inf, InferenceResult):
        raise ValueError(f"{name}: expected an InferenceResult, got {type(inf).__name__}")


def wald_test(inf: InferenceResult, R, q=None) -> Chi2TestResult:
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

    ``statistic = -2 (llf_restricted - llf_full)``, ``df_diff = df_resid_restricted -
    df_resid_full`` (the difference in number of parameters), ``pvalue = P(chi2_df_diff >
    statistic)``: statsmodels' ``compare_lr_test``. Both must be fitted to the same
    observations; their batch shapes broadcast. NaN where either model is not ``valid`` or
    ``df_diff <= 0``.
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
    res_restricted,
    X_full,
    y,
    *,
    restricted_columns: Sequence[int],
    weights=None,
    offset=None,
    chunk_size: Optional[int] = None,
) -> Chi2TestResult:
    """Score (Lagrange multiplier) test of a restricted fit against the full model.

    The restricted model is the full model ``X_full (..., n, d)`` with some columns dropped:
    ``restricted_columns`` lists the columns of ``X_full`` that the restricted fit used, in
    the order of ``res_restricted.coef`` (so ``res_restricted = fit(X_full[..., cols], y,
    ...)``); the intercept follows ``res_restricted.fit_intercept``. The test embeds the
    restricted estimate in the full parameter vector (zeros for the dropped columns) and
    evaluates the full model's score and Fisher information there::

        g = X^T (w (y - mu)),   I = X^T diag(w mu (1 - mu)) X,
        statistic = g^T I^-1 g,   df = d - len(restricted_columns),

    ``pvalue = P(chi2_df > statistic)``; statsmodels' ``res.score_test(exog_extra=...)`` on
    the restricted Logit fit (nonrobust). ``weights`` and ``offset`` are those of the fit.

    Returns:
      :class:`Chi2TestResult` of the batch shape; NaN where the restricted fit did not converge
      or the full information matrix is singular.
    """
    _check_res(res_restricted, "res_restricted")
    data, fit_intercept, batch = _data_for(
        res_restricted, X_full, y, weights, offset, "res_restricted"
    )
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
    chunk = _check_chunk(chunk_size, n)
    dtype = data.X.dtype
    shift = int(fit_intercept)
    full = jnp.zeros(batch + (d + shift,), dtype)
    full = full.at[..., cols + shift].set(jnp.asarray(res_restricted.coef, dtype))
    if fit_intercept:
        full = full.at[..., 0].set(jnp.asarray(res_restricted.intercept, dtype))
    stat = _score(
        data.X, data.y, data.weights, data.offset, full,
        jnp.asarray(res_restricted.status, jnp.int32),
        batch_shape=batch, fit_intercept=fit_intercept, chunk_size=chunk,
    )
    df = jnp.full(batch, d - cols.size, dtype)
    pvalue = _chi2_sf_jit(stat.reshape(-1), df.reshape(-1), jnp.ones(stat.size, bool))
    return Chi2TestResult(stat, df, pvalue.reshape(batch))


@functools.partial(jax.jit, static_argnames=("batch_shape", "fit_intercept", "chunk_size"))
def _score(X, y, weights, offset, params, status, *, batch_shape, fit_intercept, chunk_size):
    inputs = dict(X=X, y=y, weights=weights, offset=offset, params=params, status=status)
    core = {"X": 2, "y": 1, "weights": 1, "offset": 1, "params": 1, "status": 0}
    mapped, shared = split_batch(inputs, core, batch_shape)
    products = None
    if "X" in shared:
        shared["X"], products = shared_design(shared["X"], fit_intercept, batch_shape)

    def one(per_model, axis_name=None):
        a = {**shared, **per_model}
        problem = _model_problem(a, per_model, fit_intercept, products)
        _, mu, v = _loss.pointwise(_loss.linear_predictor(a["params"], problem), problem.y)
        g = problem.X.T @ (problem.weights * (problem.y - mu))
        fac = _linalg.factor(_loss.hessian_from_rows(problem.weights * v, problem))
        stat = g @ _linalg.solve(fac, g)
        ok = fac.ok & (a["status"] == int(Status.CONVERGED))
        return jnp.where(ok, stat, jnp.nan)

    return map_models(one, mapped, batch_shape, chunk_size)


# --------------------------------------------------------------------------------------------
# Variance inflation factors
# --------------------------------------------------------------------------------------------


def variance_inflation_factors(X, *, standardize: bool = True) -> Array:
    """Variance inflation factor of every column of ``X (..., n, d)``: ``(..., d)``.

    statsmodels' ``variance_inflation_factor(X, j, standardize=...)`` for every ``j`` at once::

        VIF_j = 1 / (1 - R_j^2),   R_j^2 clipped to [0, 1 - 1e-15]

    with ``R_j^2`` from the least-squares regression of column ``j`` on the other columns *as
    given* -- no intercept is added. As in statsmodels' OLS, ``R_j^2`` is centered when the
    other columns span a constant (an explicit column of ones, or an implicit one such as a
    full set of dummies) and uncentered otherwise, so pass ``add_constant(X)`` (the column of
    ones first) for the usual VIFs of a model with an intercept, as statsmodels users do.

    Args:
      X: ``(..., n, d)`` design, ``d >= 2``; leading axes are a batch of designs.
      standardize: first center and scale every column whose standard deviation exceeds
        1e-10 (constant columns are left as they are), as statsmodels >= 0.15 does by default.
        This changes nothing for the non-constant columns of ``add_constant(X)``; the VIF of
        the constant column itself becomes 1, and for an ``X`` without a constant the VIFs
        become those of the model with an intercept. ``standardize=False`` regresses the raw
        columns (statsmodels 0.14 and ``standardize=False``).

    Returns:
      ``(..., d)``; ``1e15`` (the clip) where a column is in the span of the others, NaN for a
      constant column when the others span a constant.
    """
    dtype = _validate.float_dtype(X)
    try:
        X = jnp.asarray(X, dtype)
    except (TypeError, ValueError) as e:
        raise ValueError(f"X: cannot be read as a numeric array ({e})") from None
    if X.ndim < 2 or X.shape[-1] < 2 or X.shape[-2] == 0:
        raise ValueError(f"X: expected shape (..., n, d) with n >= 1 and d >= 2, got {X.shape}")
    if _validate._is_concrete(X) and not bool(jnp.all(jnp.isfinite(X))):
        idx = _validate._first(~np.isfinite(np.asarray(X)))
        raise ValueError(f"X: non-finite value at index {idx}")
    return _vif(X, standardize=bool(standardize))


@functools.partial(jax.jit, static_argnames=("standardize",))
def _vif(X, *, standardize):
    batch = X.shape[:-2]
    n, d = X.shape[-2:]
    rtol = _linalg.singular_rtol(X.dtype)

    def one_design(Xm):
        if standardize:
            mean = jnp.mean(Xm, axis=0, keepdims=True)
            sd = jnp.std(Xm, axis=0, keepdims=True)
            safe = sd > 1e-10
            Xm = jnp.where(safe, (Xm - mean) / jnp.where(safe, sd, 1.0), Xm)
        ones = jnp.ones((n,), Xm.dtype)

        def one_column(j):
            others = jnp.where((jnp.arange(d) == j)[None, :], 0.0, Xm)
            x = Xm[:, j]
            targets = jnp.stack([x, ones], axis=1)
            coef = jnp.linalg.lstsq(others, targets)[0]
            resid = targets - others @ coef
            rss = jnp.sum(resid * resid, axis=0)
            has_const = rss[1] <= rtol * n
            tss = jnp.where(has_const, jnp.sum((x - jnp.mean(x)) ** 2), jnp.sum(x * x))
            r2 = jnp.clip(1.0 - rss[0] / tss, 0.0, 1.0 - 1e-15)
            return 1.0 / (1.0 - r2)

        return jax.vmap(one_column)(jnp.arange(d))

    flat = X.reshape((-1, n, d))
    return jax.vmap(one_design)(flat).reshape(batch + (d,))


# --------------------------------------------------------------------------------------------
# Reports
# --------------------------------------------------------------------------------------------


def _param_names(inf: InferenceResult, names) -> list[str]:
    k = inf.params.shape[-1]
    if names is None:
        if inf.fit_intercept:
            return ["const"] + [f"x{j}" for j in range(1, k)]
        return [f"x{j}" for j in range(1, k + 1)]
    names = [str(s) for s in names]
    if inf.fit_intercept and len(names) == k - 1:
        names = ["const"] + names
    if len(names) != k:
        raise ValueError(
            f"names: expected {k} names (or {k - 1} column names when an intercept is "
            f"fitted), got {len(names)}"
        )
    return names


def _select(inf: InferenceResult, index) -> InferenceResult:
    if index is None:
        if inf.batch_shape:
            raise ValueError(
                f"index: inf holds a batch of shape {inf.batch_shape}; choose one model"
            )
        return inf
    try:
        one = inf[index]
    except (IndexError, TypeError) as e:
        raise ValueError(
            f"index: {index!r} does not select a model of the batch {inf.batch_shape} ({e})"
        ) from None
    if one.batch_shape:
        raise ValueError(f"index: {index!r} selects {one.batch_shape} models, not one")
    return one


def _forg(x: float, prec: int = 3) -> str:
    """statsmodels' number format in coefficient tables."""
    width = 9 if prec == 3 else 10
    if abs(x) >= 1e4 or abs(x) < 1e-4:
        return f"{x:{width}.{prec}g}"
    return f"{x:{width}.{prec}f}"


def _d_or_f(x: float) -> str:
    if np.isnan(x):
        return "   NaN"
    if x // 1 == x:
        return f"{int(x):#6d}"
    return f"{x:#8.2f}"


def summary(inf: InferenceResult, index=None, names=None, *, yname: str = "y") -> str:
    """A text table in the layout of statsmodels' ``LogitResults.summary()`` for one model.

    Args:
      inf: an :class:`InferenceResult`.
      index: which model of a batch (an int or a tuple of ints); None for a single model.
      names: the ``k`` parameter names, or the ``d`` column names (``"const"`` is then
        prepended when an intercept was fitted); default ``const, x1, x2, ...``.
      yname: the response's name.

    The header reports nobs, df, pseudo R-squared (McFadden), llf, llnull and the LLR p-value;
    the table coef / std err / z / P>|z| / confidence limits at level ``1 - inf.alpha``,
    formatted as statsmodels formats them.
    """
    _check_inference(inf, "inf")
    one = _select(inf, index)
    xnames = _param_names(inf, names)
    g = {f: np.asarray(getattr(one, f)) for f in _ARRAY_FIELDS}
    converged = int(g["status"]) == int(Status.CONVERGED)
    width = 78
    left = [
        ("Dep. Variable:", yname),
        ("Model:", "Logit"),
        ("Method:", "MLE"),
        ("converged:", str(converged)),
        ("Covariance Type:", one.cov_type),
        ("Status:", Status(int(g["status"])).name),
        ("", ""),
    ]
    right = [
        ("No. Observations:", _d_or_f(float(g["nobs"])).strip()),
        ("Df Residuals:", _d_or_f(float(g["df_resid"])).strip()),
        ("Df Model:", _d_or_f(float(g["df_model"])).strip()),
        ("Pseudo R-squ.:", f"{float(g['prsquared']):#6.4g}".strip()),
        ("Log-Likelihood:", f"{float(g['llf']):#8.5g}".strip()),
        ("LL-Null:", f"{float(g['llnull']):#8.5g}".strip()),
        ("LLR p-value:", f"{float(g['llr_pvalue']):#6.4g}".strip()),
    ]
    lines = ["Logit Regression Results".center(width), "=" * width]
    for (ll, lv), (rl, rv) in zip(left, right):
        lpart = f"{ll}{lv:>{37 - len(ll)}}" if ll else " " * 37
        lines.append(f"{lpart}   {rl}{rv:>{38 - len(rl)}}")
    a = one.alpha
    header = ["coef", "std err", "z", "P>|z|", f"[{a / 2}", f"{1 - a / 2}]"]
    # statsmodels' column widths: a stub of at least 10, then 11 * 4 + 12 * 2.
    stub = max(10, max(len(s) for s in xnames))
    cols = (11, 11, 11, 11, 12, 12)
    table_width = stub + sum(cols)
    lines.append("=" * table_width)
    lines.append(" " * stub + "".join(h.rjust(c) for h, c in zip(header, cols)))
    lines.append("-" * table_width)
    ci = g["conf_int"]
    for j, name in enumerate(xnames):
        cells = [
            _forg(float(g["params"][j]), 4),
            _forg(float(g["bse"][j])),
            _forg(float(g["tvalues"][j])),
            f"{float(g['pvalues'][j]):#6.3f}",
            _forg(float(ci[j, 0])),
            _forg(float(ci[j, 1])),
        ]
        lines.append(name.ljust(stub) + "".join(v.strip().rjust(c) for v, c in zip(cells, cols)))
    lines.append("=" * table_width)
    if not bool(g["valid"]):
        lines.append(
            "Warning: the fit did not converge or its information matrix is singular "
            f"(status {Status(int(g['status'])).name}); standard errors and tests are NaN."
        )
    return "\n".join(lines)


def to_dict(inf: InferenceResult) -> dict[str, np.ndarray]:
    """Every array field of ``inf`` as a numpy array (batch shape in front), plus ``alpha``,
    ``cov_type`` and ``fit_intercept`` as 0-d numpy arrays. No pandas needed."""
    _check_inference(inf, "inf")
    out = {f: np.asarray(getattr(inf, f)) for f in _ARRAY_FIELDS}
    out["alpha"] = np.asarray(inf.alpha)
    out["cov_type"] = np.asarray(inf.cov_type)
    out["fit_intercept"] = np.asarray(inf.fit_intercept)
    return out


def csv_columns(inf: InferenceResult, names=None) -> list[str]:
    """The header of :func:`to_csv` for ``inf`` and ``names``."""
    xnames = _param_names(inf, names)
    per_param = ["coef", "bse", "z", "pvalue", "ci_lower", "ci_upper", "odds_ratio"]
    cols = ["model", "status", "valid"]
    cols += [f"{p}_{x}" for p in per_param for x in xnames]
    return cols + list(_SCALAR_FIELDS)


def to_csv(inf: InferenceResult, path, names=None) -> None:
    """Write one row per model to the CSV file ``path`` (no pandas needed).

    Columns (:func:`csv_columns`): ``model`` (the model's index in the batch flattened in C
    order), ``status`` (its :class:`~jaxlogreg.Status` name), ``valid`` (0/1); then for each
    parameter name ``x`` (``names`` as in :func:`summary`; default ``const, x1, ...``)
    ``coef_x``, ``bse_x``, ``z_x``, ``pvalue_x``, ``ci_lower_x``, ``ci_upper_x``,
    ``odds_ratio_x``; then the per-model scalars ``llf, llnull, llr, llr_pvalue, prsquared,
    prsquared_cox_snell, prsquared_nagelkerke, aic, bic, deviance, pearson_chi2, df_model,
    df_resid, nobs``. Floats are written with ``repr`` (they read back exactly); NaN as
    ``nan``. Per-observation arrays are not written (use :func:`to_dict`).
    """
    _check_inference(inf, "inf")
    cols = csv_columns(inf, names)
    g = to_dict(inf)
    B = int(np.prod(inf.batch_shape))
    k = inf.params.shape[-1]
    flat = {f: g[f].reshape((B,) + g[f].shape[len(inf.batch_shape):]) for f in _ARRAY_FIELDS}
    per_param = [
        flat["params"], flat["bse"], flat["tvalues"], flat["pvalues"],
        flat["conf_int"][..., 0], flat["conf_int"][..., 1], flat["odds_ratios"],
    ]
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(cols)
        for b in range(B):
            row = [str(b), Status(int(flat["status"][b])).name, str(int(flat["valid"][b]))]
            for arr in per_param:
                row += [repr(float(arr[b, j])) for j in range(k)]
            row += [repr(float(flat[f][b])) for f in _SCALAR_FIELDS]
            writer.writerow(row)
