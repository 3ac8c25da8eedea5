"""Statsmodels-style inference for every model of a batch at once.

Given fitted models (a :class:`~jaxlogreg.FitResult`) and the data they were fitted to,
:func:`inference` computes what statsmodels' ``Logit(...).fit()`` (and, for every link,
``GLM(family=Binomial(link=...), freq_weights=w)``) results report: standard errors under
several covariance types, Wald z statistics, p-values and confidence intervals, the
log-likelihood and that of the intercept-only model, pseudo R-squared, information criteria,
residuals, leverage and Cook's distance. :func:`laplace` gives the Laplace approximation to
the posterior of a ridge-penalised fit. It is batched exactly like :func:`jaxlogreg.fit`: a
shared design ``X (n, d)`` with per-model ``y``/``weights``/``offset``/``trials`` of shape
``(..., n)``, or per-model designs ``X (..., n, d)``; every result has the batch shape
``(...)`` in front.

Conventions (the model's are those of :mod:`jaxlogreg._loss`)
--------------------------------------------------------------
For one model with parameters ``beta`` (``k = d + fit_intercept`` of them, the intercept
first, statsmodels' ``add_constant`` order), design ``X`` (with its column of ones) and
offset ``o``, the rows are first put in the loss's convention exactly as :func:`jaxlogreg.fit`
puts them (:func:`jaxlogreg._loss.response_weights`): from the frequency weights ``f_i``
(``weights``), binomial trials ``t_i`` (``trials``; 1 without) and class weights, each row
gets a response ``y_i`` in [0, 1] (the proportion of successes) and a weight
``w_i = f_i m_i``, ``m_i`` the row's multiplicity: ``t_i`` times its class weight
(``t_i (c1 y_i + c0 (1 - y_i))``; 1 for a plain 0/1 row). With ``F`` the inverse link of
``res.link`` and, from :func:`jaxlogreg._loss.row_terms`, ``s_i = d l_i / d eta_i`` the row
score and ``c_i`` the row's information weight::

    eta_i = x_i^T beta + o_i,  mu_i = F(eta_i),  v_i = mu_i (1 - mu_i)
    l_i   = y_i log mu_i + (1 - y_i) log(1 - mu_i)        (row log-likelihood)
    llf   = sum_i w_i l_i                                   (a weight of 2 = the row twice)
    I     = X^T diag(w c) X                                 (information)
    nobs  = sum_i f_i t_i,  df_model = k - 1,  df_resid = nobs - k

``information="expected"`` (the default, statsmodels GLM's for the nonrobust covariance)
uses the Fisher weight ``c_i = F'(eta_i)^2 / v_i``; ``information="observed"`` the observed
``c_i = d^2 (-l_i) / d eta_i^2`` (statsmodels' ``Probit``, and GLM with ``method="newton"``
or ``cov_type="oim"``). For the logit, the canonical link, both are ``v_i`` and
``s_i = mu_i - y_i``. For a non-canonical link they differ by ``(y_i - mu_i)`` times a
function of ``eta_i``, so at the maximum their inverses are asymptotically equal.

These equal statsmodels' ``Logit`` on the data with every row repeated ``f_i`` times, and
``GLM(family=Binomial(link=...), freq_weights=f)``. ``df_model = k - 1`` also when
``fit_intercept=False``: statsmodels' Logit assumes a constant is among the columns (fit
``add_constant(X)`` with ``fit_intercept=False`` and every number here is statsmodels'),
and ``llnull`` is always the model with an intercept (plus the offset) and nothing else,
with the same link and weights, as statsmodels computes it.

Binomial counts (``trials``): ``llf`` is the log-likelihood of the expanded 0/1 data
(``t_i y_i`` successes and ``t_i (1 - y_i)`` failures as separate rows); statsmodels' GLM on
``endog = [successes, failures]`` adds the log binomial coefficients ``sum_i f_i log C(t_i,
t_i y_i)`` to its ``llf`` and ``llnull``. Parameters, standard errors, ``deviance`` and
``pearson_chi2`` are statsmodels'; ``nobs`` counts trials (statsmodels counts rows), which
changes ``df_resid``, ``bic`` and the pseudo R-squared of Cox-Snell and Nagelkerke. Per-row
residuals are those of the count: the response residual ``t (y - mu)``, Pearson's
``sqrt(t) (y - mu) / sqrt(v)`` and the deviance residual ``sign(y - mu) sqrt(t d_i)`` (as
statsmodels and R report them).

Class weights multiply each row's log-likelihood, as statsmodels' GLM ``var_weights`` do for
the binomial family: with ``class_weight`` and 0/1 labels every number is that of
``GLM(freq_weights=f, var_weights=c_y)``. The estimates, ``llf``, ``deviance`` and the
nonrobust covariance are also those of the rows repeated ``f_i c_{y_i}`` times, but ``nobs``
does not count class weights and the robust covariances keep a row one observation (its
score multiplied by its class weight, below). The nonrobust covariance is the inverse Hessian
of the weighted log-likelihood, not a sampling covariance: use ``"HC0"`` for the sandwich.

Covariance types (``cov_type``). An observation is a row, and its frequency weight ``f_i``
counts copies of it; its score is ``u_i = m_i s_i x_i`` (the derivative of its weighted
log-likelihood), and ``u_g = sum_{i in g} f_i u_i = sum_{i in g} w_i s_i x_i``::

    "nonrobust"  V = I^-1
    "HC0"        V = I^-1 M I^-1,      M = sum_i f_i u_i u_i^T = X^T diag(w m s^2) X
    "HC1"        V = N / (N - k) * HC0
    "cluster"    V = G / (G - 1) * (N - 1) / (N - k) * I^-1 (sum_g u_g u_g^T) I^-1

``N = sum_i f_i`` is the number of observations (``nobs`` unless there are trials: a row of
``t_i`` trials is one observation here, as in statsmodels' GLM on counts). ``G`` is the
number of groups with positive total weight in the model (a bootstrap resample that drops a
whole group has one group fewer). The bread ``I`` follows ``information``.
These are statsmodels' conventions for ``Logit(...).fit(cov_type="HC0")``, for
``cov_type="cluster"`` with its default ``use_correction=True``, and for
``sandwich_covariance.cov_white_simple(res, use_correction=True)`` (HC1). Differences worth
knowing: statsmodels' GLM robust covariances always use the observed information in the bread
(``information="observed"`` here; ``"expected"`` is R's ``sandwich::vcovHC(glm)``); its
Logit ``cov_type="HC1"`` applies no small-sample factor at all (it returns HC0); and with GLM
``freq_weights`` its cluster correction, its ``nobs`` and so its Cox-Snell pseudo R-squared
count rows (``n``) rather than ``sum f`` (and its HC0 is NaN when a weight is 0). Here
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
Nothing raises inside a batch. (The observed information of a cauchit model can be
indefinite far from the data; the factorisation then refuses it too.)

Computation and compilation
---------------------------
The work of :func:`inference` is one jitted function; ``cov_type`` and ``alpha`` are traced
values, so changing them does not recompile (the covariance is chosen by a ``lax.switch``
that stays a real branch under ``vmap``: only the chosen type is computed); ``link``,
``information`` and ``class_weight`` are static, as in :func:`jaxlogreg.fit`. Everything
works inside a user's ``jax.jit`` (cluster labels may then be traced). Shared designs are
never copied per model: ``I``, ``M`` and the leverage use
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
from collections.abc import Sequence
from typing import NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import gammaincc, ndtr, xlogy

from . import _linalg, _links, _loss, _resample, _validate
from ._batch import chunk_of, map_models, shared_design, split_models
from ._result import FitResult, _join
from ._status import Status
from ._typing import ArrayLike, Bool, ClassWeight, Float, Int32, Integer, Numeric, Real

Array = jax.Array

__all__ = [
    "InferenceResult",
    "Chi2TestResult",
    "LRTestResult",
    "LaplaceResult",
    "inference",
    "wald_test",
    "lr_test",
    "score_test",
    "laplace",
    "predictive",
    "variance_inflation_factors",
    "summary",
    "to_dict",
    "to_csv",
    "csv_columns",
    "COV_TYPES",
    "INFORMATION",
]

COV_TYPES = ("nonrobust", "HC0", "HC1", "cluster")
INFORMATION = ("expected", "observed")

# Bound on the safeguarded scalar Newton steps for the intercept-only model (see
# `_null_loglik`): each step is Newton's, a bisection or a doubling step outward, so this many
# reach the root to rounding from any start within 2**40 of it.
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
    the module docstring and below (``w`` the response weights, ``f`` the frequency weights,
    ``t`` the trials, ``c`` the information weights of ``information``).

    Attributes:
      params: ``(..., k)`` estimates.
      cov_params: ``(..., k, k)`` covariance of the estimates under ``cov_type``.
      bse: ``(..., k)`` standard errors ``sqrt(diag(cov_params))``.
      tvalues: ``(..., k)`` Wald z statistics ``params / bse``.
      pvalues: ``(..., k)`` two-sided normal p-values ``2 Phi(-|z|)``.
      conf_int: ``(..., k, 2)`` ``params -/+ Phi^-1(1 - alpha/2) bse``.
      odds_ratios: ``(..., k)`` ``exp(params)`` (odds ratios for the logit link; for
        cloglog, hazard ratios of the grouped proportional hazards model).
      odds_ratios_conf_int: ``(..., k, 2)`` ``exp(conf_int)``.
      llf: ``(...)`` log-likelihood ``sum_i w_i l_i`` (of the expanded 0/1 data with
        ``trials``; module docstring).
      llnull: ``(...)`` log-likelihood of the intercept-only model (with the offset, the
        link and the weights of the model).
      llr: ``(...)`` ``2 (llf - llnull)``.
      llr_pvalue: ``(...)`` ``P(chi2_{df_model} > llr)``.
      prsquared: ``(...)`` McFadden's ``1 - llf / llnull``.
      prsquared_cox_snell: ``(...)`` ``1 - exp(2 (llnull - llf) / nobs)``.
      prsquared_nagelkerke: ``(...)`` Cox-Snell divided by its maximum
        ``1 - exp(2 llnull / nobs)``.
      aic: ``(...)`` ``-2 llf + 2 k``.
      bic: ``(...)`` ``-2 llf + log(nobs) k``.
      deviance: ``(...)`` ``sum_i w_i d_i``, ``d_i = 2 (l_i^sat - l_i)`` the unit deviance
        (``-2 llf`` for 0/1 labels).
      pearson_chi2: ``(...)`` ``sum_i w_i (y_i - mu_i)^2 / v_i``.
      df_model: ``(...)`` ``k - 1``.
      df_resid: ``(...)`` ``nobs - k``.
      nobs: ``(...)`` ``sum_i f_i t_i`` (frequency weights times trials; class weights are
        not counted).
      resid_response: ``(..., n)`` ``t (y - mu)``.
      resid_pearson: ``(..., n)`` ``sqrt(t) (y - mu) / sqrt(v)`` (not weighted by the
        frequency or class weights, as statsmodels GLM reports it with ``freq_weights``).
      resid_dev: ``(..., n)`` ``sign(y - mu) sqrt(t d_i)`` (likewise).
      hat_matrix_diag: ``(..., n)`` leverage ``h_i = w_i c_i x_i^T I^-1 x_i`` with ``c`` and
        ``I`` of ``information`` (the leverage of all copies of row ``i``; statsmodels GLM
        ``get_hat_matrix_diag(observed=information == "observed")``).
      cooks_distance: ``(..., n)`` ``resid_pearson_i^2 h_i / (k (1 - h_i)^2)``, statsmodels
        ``GLMInfluence.cooks_distance[0]`` (scale 1) of ``get_influence(observed=...)``
        likewise. It does not depend on ``cov_type``.
      status: ``(...)`` int32 :class:`~jaxlogreg.Status` of each fit.
      valid: ``(...)`` bool: the fit converged, its information matrix is nonsingular and
        its covariance finite (the cluster covariance needs two clusters or more); where
        False, covariance-based fields are NaN (module docstring).
      alpha: level of the intervals is ``1 - alpha`` (static).
      cov_type: ``"nonrobust"``, ``"HC0"``, ``"HC1"`` or ``"cluster"`` (static).
      fit_intercept: whether ``params[..., 0]`` is an intercept (static).
      link: the fitted link, ``res.link`` (static).
      information: ``"expected"`` or ``"observed"``: the information in ``cov_params``
        and the leverage (static).
      names: the ``d`` column names of the design, when :func:`inference` was given a
        pandas DataFrame ``X`` (else None): :func:`summary`, :func:`to_dict` and
        :func:`to_csv` name the parameters by them (static).
      yname: the name of the response, when :func:`inference` was given a named pandas
        Series ``y`` (else None) (static).

    ``inf[i]`` or ``inf[mask]`` indexes every array along the batch axes.
    """

    params: Float[Array, "*batch k"]
    cov_params: Float[Array, "*batch k k"]
    bse: Float[Array, "*batch k"]
    tvalues: Float[Array, "*batch k"]
    pvalues: Float[Array, "*batch k"]
    conf_int: Float[Array, "*batch k 2"]
    odds_ratios: Float[Array, "*batch k"]
    odds_ratios_conf_int: Float[Array, "*batch k 2"]
    llf: Float[Array, "*batch"]
    llnull: Float[Array, "*batch"]
    llr: Float[Array, "*batch"]
    llr_pvalue: Float[Array, "*batch"]
    prsquared: Float[Array, "*batch"]
    prsquared_cox_snell: Float[Array, "*batch"]
    prsquared_nagelkerke: Float[Array, "*batch"]
    aic: Float[Array, "*batch"]
    bic: Float[Array, "*batch"]
    deviance: Float[Array, "*batch"]
    pearson_chi2: Float[Array, "*batch"]
    df_model: Float[Array, "*batch"]
    df_resid: Float[Array, "*batch"]
    nobs: Float[Array, "*batch"]
    resid_response: Float[Array, "*batch n"]
    resid_pearson: Float[Array, "*batch n"]
    resid_dev: Float[Array, "*batch n"]
    hat_matrix_diag: Float[Array, "*batch n"]
    cooks_distance: Float[Array, "*batch n"]
    status: Int32[Array, "*batch"]
    valid: Bool[Array, "*batch"]
    alpha: float = _static(0.05)
    cov_type: str = _static("nonrobust")
    fit_intercept: bool = _static(True)
    link: str = _static("logit")
    information: str = _static("expected")
    names: Optional[tuple[str, ...]] = _static(None)
    yname: Optional[str] = _static(None)

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

    statistic: Float[Array, "*batch"]
    df: Float[Array, "*batch"]
    pvalue: Float[Array, "*batch"]


class LRTestResult(NamedTuple):
    """A likelihood-ratio test per model: ``statistic (...)``, ``df_diff (...)``,
    ``pvalue (...)``."""

    statistic: Float[Array, "*batch"]
    df_diff: Float[Array, "*batch"]
    pvalue: Float[Array, "*batch"]


# --------------------------------------------------------------------------------------------
# Shared pieces
# --------------------------------------------------------------------------------------------


def _chi2_sf(x: Array, df: Array) -> Array:
    """``P(chi2_df > x)`` as ``Q(df / 2, x / 2)``; NaN for ``df <= 0`` or NaN ``x``."""
    safe_df = jnp.where(df > 0, df, 1.0)
    p = gammaincc(0.5 * safe_df, 0.5 * jnp.maximum(x, 0.0))
    return jnp.where((df > 0) & ~jnp.isnan(x), p, jnp.nan)


class _Rows(NamedTuple):
    """One model's data in the loss's convention (:func:`_model_problem`)."""

    problem: _loss.Problem  # y, weights: after response_weights
    freq: Array  # (n,) frequency weights before response_weights (scheme weights applied)
    trials: Array  # (n,) binomial trials, ones without them


def _model_problem(a: dict, per_model: dict, fit_intercept: bool, products, scheme,
                   link: str, class_weight, l2=None, pf=None) -> _Rows:
    """One model's :class:`~jaxlogreg._loss.Problem` from mapped/shared arrays, its rows put
    in the loss's convention by :func:`jaxlogreg._loss.response_weights` exactly as
    :func:`jaxlogreg.fit` does. A shared ``X`` already carries its column of ones; a
    per-model one gets it here. With a resampling ``scheme`` the weights of model
    ``a["index"]`` are generated here. No penalty unless ``l2`` and ``pf (k,)`` are given."""
    X = a["X"]
    freq = a["weights"]
    if scheme is not None:
        freq = freq * scheme.weights(a["index"], a["y"])
    if "X" in per_model:
        products = None
        if fit_intercept:
            X = _loss.add_intercept(X)
    k = X.shape[-1]
    trials = a.get("trials")
    y, w = _loss.response_weights(a["y"], freq, trials, class_weight)
    if l2 is None:
        l2, pf = jnp.zeros((), X.dtype), jnp.zeros((k,), X.dtype)
    problem = _loss.Problem(X, y, w, a["offset"], l2, pf, products, link=link)
    return _Rows(problem, freq, jnp.ones_like(freq) if trials is None else trials)


def _split_models(inputs: dict, scheme, batch_shape, fit_intercept):
    """Per-model (mapped) and shared arrays of a batch (``inputs`` named as in
    :data:`jaxlogreg._batch.CORE_AXES`;
    None entries dropped), and the shared design's column products (None unless ``X`` is
    shared); with a scheme, each model's index is mapped."""
    mapped, shared = split_models(inputs, scheme, batch_shape)
    products = None
    if "X" in shared:
        shared["X"], products = shared_design(shared["X"], fit_intercept, batch_shape)
    return mapped, shared, products


def _quadratic_rows(problem: _loss.Problem, A: Array) -> Array:
    """``(n,)``: ``x_i^T A x_i`` for a symmetric ``(k, k)`` ``A``; with column products
    ``Z @ a`` (no per-model copy of a shared ``X``)."""
    if problem.products is not None:
        i, j = np.triu_indices(A.shape[-1])
        coeffs = A[i, j] * jnp.asarray(np.where(i == j, 1.0, 2.0), A.dtype)
        return problem.products @ coeffs
    return jnp.sum((problem.X @ A) * problem.X, axis=-1)


def _null_loglik(y: Array, w: Array, o: Array, link: str = "logit") -> Array:
    """Log-likelihood of the intercept-only model ``eta = a + o``, maximised over ``a``.

    ``a`` solves ``g(a) = -sum_i w_i s_i(a + o_i) = 0``, ``s_i`` the row score of
    :func:`jaxlogreg._loss.row_terms`, with ``g'(a) = -sum_i w_i c_i``, ``c_i`` the observed
    information weight. Without an offset every row has ``mu = F(a)`` and the root is
    ``a = F^-1(ybar)`` (``ybar = sum w y / sum w``, the start), with the closed form
    ``sum w [ybar log ybar + (1 - ybar) log(1 - ybar)]``. With one, a safeguarded Newton
    iteration from ``F^-1(ybar) - sum w o / sum w`` keeps the root in a bracket ``(lo, hi)``
    of points found so far with ``g > 0`` and ``g < 0`` (infinite until found); a Newton step
    that leaves it, or a derivative ``g' >= 0``, is replaced by bisection once both ends are
    known and before that by a step away from the known end, doubled each time. It stops
    when the step is below ``8 eps (1 + |a|)`` or after :data:`_NULL_NEWTON_ITERS` steps.
    For the logit, probit and cloglog ``g`` decreases (their row loss is convex in ``eta``),
    so the root is the maximum; the cauchit's row loss is not convex, and with an offset the
    root found is a stationary point, the maximum unless offsets are extreme. When ``ybar``
    is 0 or 1 the supremum, 0, is not attained; 0 is returned.
    """
    dtype = w.dtype
    W = jnp.sum(w)
    ybar = jnp.sum(w * y) / W
    degenerate = (ybar <= 0) | (ybar >= 1)
    yb = jnp.clip(ybar, jnp.finfo(dtype).tiny, 1.0 - jnp.finfo(dtype).epsneg)
    start = _links.link_function(link, yb) - jnp.sum(w * o) / W
    tol = 8.0 * jnp.finfo(dtype).eps
    inf = jnp.asarray(jnp.inf, dtype)

    def running(state):
        it, done = state[-2:]
        return (it < _NULL_NEWTON_ITERS) & ~done

    def newton(state):
        a, lo, hi, step, _, it, _ = state
        loss, score, observed = _loss.row_terms(a + o, y, link, "observed")
        g, h = -jnp.sum(w * score), jnp.sum(w * observed)
        lo = jnp.where(g > 0, a, lo)
        hi = jnp.where(g < 0, a, hi)
        proposal = a + g / jnp.where(h > 0, h, 1.0)
        # Closed bracket: a proposal that rounds to ``a`` itself (``g`` at rounding level, at
        # the root) is accepted and stops the iteration.
        inside = (h > 0) & (proposal >= lo) & (proposal <= hi)
        known = jnp.isfinite(lo) & jnp.isfinite(hi)
        away = jnp.where(g > 0, a + step, a - step)
        new = jnp.where(inside, proposal, jnp.where(known, 0.5 * (lo + hi), away))
        new = jnp.where(g == 0, a, new)
        step = jnp.where(inside | known, step, 2.0 * step)
        done = ~(jnp.abs(new - a) > tol * (1.0 + jnp.abs(a)))  # NaN stops too
        return new, lo, hi, step, -jnp.sum(w * loss), it + 1, done

    one = jnp.ones((), dtype)
    state = (start, -inf, inf, one, jnp.zeros((), dtype), jnp.zeros((), jnp.int32), degenerate)
    llnull = jax.lax.while_loop(running, newton, state)[4]
    return jnp.where(degenerate, 0.0, llnull)


def _check_res(res, name: str = "res"):
    # Fields only: ``hasattr`` of the ``params`` property would compute it.
    if not all(hasattr(res, a) for a in ("coef", "intercept", "status", "fit_intercept")):
        raise ValueError(f"{name}: expected a jaxlogreg.FitResult, got {type(res).__name__}")


def _check_information(information) -> str:
    if not isinstance(information, str) or information not in INFORMATION:
        raise ValueError(f"information: must be one of {INFORMATION}, got {information!r}")
    return information


def _link_of(res) -> str:
    link = getattr(res, "link", "logit")
    if link not in _links.LINKS:
        raise ValueError(f"res: unknown link {link!r}; expected one of {_links.LINKS}")
    return link


def _data_for(res, X, y, weights, offset, name: str = "res", *, trials=None, extra_batch=(),
              defer=False):
    """Validated data, the resampling scheme (or None) and the batch shape; ``res``'s batch
    shape must be the data's (broadcast with ``extra_batch``, a batched penalty's).
    ``defer``: as :func:`jaxlogreg._validate.fit_inputs`."""
    _check_res(res, name)
    fit_intercept = bool(res.fit_intercept)
    data, scheme = _resample.data_inputs(
        X, y, weights, offset, fit_intercept=fit_intercept, trials=trials,
        extra_batch=extra_batch, defer=defer,
    )
    res_batch = tuple(res.batch_shape)
    try:
        batch = tuple(np.broadcast_shapes(data.batch_shape, res_batch))
    except ValueError:
        batch = None
    if batch != res_batch:
        raise ValueError(
            f"{name}: batch shape {res_batch} does not match the data's batch shape "
            f"{data.batch_shape} (X, y, weights, offset, trials must be those the models were "
            "fitted to)"
        )
    return data, scheme, fit_intercept, res_batch


# --------------------------------------------------------------------------------------------
# inference
# --------------------------------------------------------------------------------------------


def inference(
    res: FitResult,
    X: Numeric[ArrayLike, "*#batch n d"],
    y: Numeric[ArrayLike, "*#batch n"],
    *,
    weights: Numeric[ArrayLike, "*#batch n"] | _resample.Scheme | None = None,
    offset: Numeric[ArrayLike, "*#batch n"] | None = None,
    cov_type: str = "nonrobust",
    groups: Integer[ArrayLike, " n"] | None = None,
    alpha: float = 0.05,
    chunk_size: Optional[int] = None,
    trials: Numeric[ArrayLike, "*#batch n"] | None = None,
    class_weight: ClassWeight = None,
    information: str = "expected",
) -> InferenceResult:
    """Statsmodels-style inference for every model of a batch.

    The link is the fit's (``res.link``). Standard errors come from the inverse of the
    information matrix of ``information``: the expected (Fisher) information by default,
    as statsmodels' ``GLM(family=Binomial(link=...)).fit()`` reports them; pass
    ``information="observed"`` for the observed information (the negative Hessian of the
    log-likelihood), as statsmodels' ``Probit`` or ``GLM.fit(cov_type="oim")`` report them.
    For the logit both are the same. The choice also sets the bread of the robust
    covariances and the weights of the leverage (module docstring).

    Args:
      res: the :class:`~jaxlogreg.FitResult` of ``fit(X, y, weights=weights, offset=offset,
        trials=trials, class_weight=class_weight, link=...)`` (or any FitResult whose batch
        shape is that of the data, or larger: data without batch axes broadcast over a stack
        of fits of one data set).
      X: ``(..., n, d)`` design, shared by the batch when ``(n, d)``. A pandas DataFrame's
        column names are kept (``names``) and name the parameters in :func:`summary`,
        :func:`to_dict` and :func:`to_csv`, as statsmodels names them.
      y: ``(..., n)`` labels in {0, 1} (with ``trials``: success counts). A pandas Series'
        name is kept (``yname``), the summary's "Dep. Variable".
      weights: ``(..., n)`` frequency weights, or None for ones; or the resampling scheme
        the models were fitted with.
      offset: ``(..., n)`` offset, or None.
      cov_type: ``"nonrobust"`` (inverse information), ``"HC0"``, ``"HC1"`` (HC0 times
        ``N / (N - k)``) or ``"cluster"`` (CRV1 with statsmodels' default correction
        ``G / (G - 1) * (N - 1) / (N - k)``), ``N = sum(weights)``; see the module docstring.
      groups: ``(n,)`` integer cluster labels, shared by the batch; only with
        ``cov_type="cluster"`` (required there). Any integers; they need not be consecutive.
      alpha: intervals are at level ``1 - alpha``, ``0 < alpha < 1``; a Python number (it
        is stored as static metadata). Changing it does not recompile.
      chunk_size: models computed together at a time (default: as :func:`jaxlogreg.fit`).
      trials: ``(..., n)`` binomial trials per row (``y`` then counts successes), as given to
        :func:`jaxlogreg.fit`.
      class_weight: None, ``"balanced"`` or ``{0: c0, 1: c1}``, as given to
        :func:`jaxlogreg.fit` (multipliers of each row's log-likelihood, statsmodels'
        ``var_weights``; module docstring).
      information: ``"expected"`` or ``"observed"``.

    Returns:
      :class:`InferenceResult` with the batch shape of ``res``. Models that did not converge
      or have a singular information matrix get NaN covariance-based fields (``valid`` False).

    Raises:
      ValueError: at the Python boundary, naming the argument: bad data (as
        :func:`jaxlogreg.fit`), an unknown ``cov_type`` or ``information``, a bad
        ``class_weight``, ``groups`` missing, misplaced or of the wrong length, ``alpha``
        outside (0, 1), or ``res`` not matching the data.
    """
    _check_res(res)
    key = None
    if groups is None:
        key = _validate.signature(
            (X, y, weights, offset, trials, res.coef, res.intercept), (alpha, chunk_size),
            (cov_type, information, class_weight, res.fit_intercept, getattr(res, "link", None)),
        )
    plan = _PLANS.get(key)
    if plan is None:
        plan = _inference_plan(res, X, y, weights, offset, cov_type, groups, alpha, chunk_size,
                               trials, class_weight, information)
        data = plan.data
        if not data.checked:
            _PLANS.put(key, plan._replace(data=data.bare(weights is not None, offset is not None)))
    else:
        data = plan.data.filled(X, y, weights, offset, trials)
    dtype = data.X.dtype
    arrays = dict(X=data.X, y=data.y, weights=data.weights, offset=data.offset,
                  trials=data.trials, coef=_validate._as_array("res.coef", res.coef, dtype),
                  intercept=_validate._as_array("res.intercept", res.intercept, dtype),
                  status=_validate._as_array("res.status", res.status, jnp.dtype(jnp.int32)))
    out = _inference(
        arrays, plan.groups, plan.cov_code, plan.crit, plan.scheme, batch_shape=plan.batch,
        fit_intercept=plan.fit_intercept, chunk_size=plan.chunk, link=plan.link,
        information=plan.information, class_weight=plan.class_weight,
    )
    ok = out.pop("values_ok")
    if not data.checked:
        _validate.check_values(data.X, data.y, data.weights, data.offset, data.trials, ok=ok)
    # Labels of pandas inputs, kept as static fields: they never enter a compiled program.
    return _inference_result(out, alpha=plan.alpha, cov_type=plan.cov_type,
                             fit_intercept=plan.fit_intercept, link=plan.link,
                             information=plan.information, names=_validate.column_names(X),
                             yname=_validate.series_name(y))


def _inference_result(arrays: dict, **statics) -> InferenceResult:
    """``InferenceResult(**arrays, **statics)`` without the frozen dataclass's ``__init__``,
    which sets its fields one ``object.__setattr__`` at a time; the fields are complete and
    already checked by construction here."""
    res = object.__new__(InferenceResult)
    res.__dict__.update(arrays)
    res.__dict__.update(statics)
    return res


class _InferencePlan(NamedTuple):
    """``inference``'s arguments, validated (:func:`_inference_plan`)."""

    data: _validate.FitInputs
    scheme: Optional[_resample.Scheme]
    batch: tuple[int, ...]
    fit_intercept: bool
    link: str
    chunk: int
    class_weight: object
    groups: Array  # (n,) int32 ids
    cov_code: Array  # () int32 index into COV_TYPES
    crit: Array  # () Phi^-1(1 - alpha / 2)
    alpha: float
    cov_type: str
    information: str


# Warm calls with the signature of an earlier one (:class:`jaxlogreg._validate.Plans`): small
# problems with JAX arrays, no resampling scheme and no cluster groups.
_PLANS = _validate.Plans()


def _inference_plan(res, X, y, weights, offset, cov_type, groups, alpha, chunk_size, trials,
                    class_weight, information) -> _InferencePlan:
    """Validate :func:`inference`'s arguments (ValueErrors name the argument); a small
    problem's value checks are left to its compiled program (``data.checked`` False)."""
    if cov_type not in COV_TYPES:
        raise ValueError(f"cov_type: must be one of {COV_TYPES}, got {cov_type!r}")
    information = _check_information(information)
    cw = _validate.class_weight_spec(class_weight)
    numeric = (int, float, np.floating, np.integer)
    if isinstance(alpha, (bool, np.bool_)) or not isinstance(alpha, numeric):
        raise ValueError(f"alpha: must be a number in (0, 1), got {alpha!r}")
    alpha = float(alpha)
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha: must be in (0, 1), got {alpha}")
    data, scheme, fit_intercept, batch = _data_for(res, X, y, weights, offset, trials=trials,
                                                   defer=True)
    link = _link_of(res)
    n, d = data.X.shape[-2:]
    k = d + int(fit_intercept)
    p = res.coef.shape[-1] + int(fit_intercept)
    if p != k:
        raise ValueError(
            f"res: has {p} parameters but X has d = {d} columns "
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
        # Unused; keeps one compilation for all cov types.
        groups = _validate._filled((n,), 0, jnp.dtype(jnp.int32))
    return _InferencePlan(
        data, scheme, batch, fit_intercept, link, chunk_of(chunk_size, data.X, fit_intercept), cw,
        groups,
        _validate._scalar(COV_TYPES.index(cov_type), jnp.int32),
        _validate._scalar(_normal_quantile(1.0 - alpha / 2.0), data.X.dtype), alpha, cov_type,
        information,
    )



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
    jax.jit,
    static_argnames=("batch_shape", "fit_intercept", "chunk_size", "link", "information",
                     "class_weight"),
)
def _inference(arrays, groups, cov_code, crit, scheme, *, batch_shape, fit_intercept,
               chunk_size, link, information, class_weight):
    """The per-model statistics as a dict of arrays.

    ``arrays`` holds ``X, y, weights, offset, trials`` (or None), ``coef, intercept, status``
    (the fit's, ``intercept`` ignored without one). The output's ``values_ok`` is the
    boundary's value check of the data (:func:`jaxlogreg._validate.values_ok`), made here
    so that an eager call needs one dispatch.
    ``cov_code`` indexes :data:`COV_TYPES`. It is traced and shared by all models, so under
    ``vmap`` the ``lax.switch`` on it stays a real branch: every covariance type shares one
    compilation and only the chosen one runs. ``groups`` are ``(n,)`` ids in ``[0, n)``
    (unused unless clustering); ``crit = Phi^-1(1 - alpha / 2)``.
    """
    dtype = arrays["X"].dtype
    n = arrays["X"].shape[-2]
    ok = _validate.values_ok(*(arrays[k] for k in ("X", "y", "weights", "offset", "trials")))
    arrays = dict(arrays)
    coef, intercept = arrays.pop("coef"), arrays.pop("intercept")
    arrays["params"] = _join(intercept, coef) if fit_intercept else coef
    mapped, shared, products = _split_models(arrays, scheme, batch_shape, fit_intercept)
    group_ids = groups

    def one(per_model, axis_name=None):
        a = {**shared, **per_model}
        rows = _model_problem(a, per_model, fit_intercept, products, scheme, link, class_weight)
        problem = rows.problem
        beta, w, yy, o, t = a["params"], problem.weights, problem.y, problem.offset, rows.trials
        k = beta.shape[-1]
        eta = _loss.linear_predictor(beta, problem)
        loss, score, curvature = _loss.row_terms(eta, yy, link, information)
        mu, var = _links.mean_variance(link, eta)
        # Saturated model's loss per row: the binary entropy of y (0 for 0/1 labels).
        sat = -(xlogy(yy, yy) + xlogy(1.0 - yy, 1.0 - yy))
        unit_dev = jnp.maximum(2.0 * (loss - sat), 0.0)
        resid = yy - mu

        info = _loss.hessian_from_rows(w * curvature, problem)
        fac = _linalg.factor(info)
        valid = (a["status"] == int(Status.CONVERGED)) & fac.ok
        info_inv = jnp.where(valid, _linalg.inverse(fac), jnp.nan)

        nobs = jnp.sum(rows.freq * t)
        df_resid = nobs - k
        n_obs = jnp.sum(rows.freq)  # observations of the sandwich: rows, with their copies

        def hc(small_sample):
            # The response weight over the frequency weight: trials times class weight.
            present = rows.freq > 0
            multiplicity = jnp.where(present, w / jnp.where(present, rows.freq, 1.0), 0.0)
            meat = _loss.hessian_from_rows(w * multiplicity * score * score, problem)
            factor = n_obs / (n_obs - k) if small_sample else jnp.ones((), dtype)
            return info_inv @ meat @ info_inv * factor

        def cluster():
            score_rows = (w * score)[:, None] * problem.X
            sums = jax.ops.segment_sum(score_rows, group_ids, num_segments=n)
            G = jnp.sum(jax.ops.segment_sum(w, group_ids, num_segments=n) > 0).astype(dtype)
            factor = G / (G - 1.0) * (n_obs - 1.0) / (n_obs - k)
            return info_inv @ (sums.T @ sums) @ info_inv * jnp.where(G > 1, factor, jnp.nan)

        branches = {
            "nonrobust": lambda: info_inv,
            "HC0": lambda: hc(False),
            "HC1": lambda: hc(True),
            "cluster": cluster,
        }
        cov = jax.lax.switch(cov_code, [branches[c] for c in COV_TYPES])
        cov = 0.5 * (cov + cov.T)
        # A covariance that cannot be formed (the cluster one from a single cluster) makes
        # the model's inference invalid, not NaN standard errors that claim to be valid.
        valid = valid & jnp.all(jnp.isfinite(cov))
        cov = jnp.where(valid, cov, jnp.nan)
        bse = jnp.sqrt(jnp.diagonal(cov))
        z = beta / bse
        pvalues = 2.0 * ndtr(-jnp.abs(z))
        conf_int = jnp.stack([beta - crit * bse, beta + crit * bse], axis=-1)

        llf = -jnp.sum(w * loss)
        llnull = _null_loglik(yy, w, jnp.zeros_like(w) if o is None else o, link)
        llr = 2.0 * (llf - llnull)
        df_model = jnp.asarray(k - 1, dtype)
        cox_snell = -jnp.expm1(2.0 * (llnull - llf) / nobs)
        max_cox_snell = -jnp.expm1(2.0 * llnull / nobs)

        pearson_sq = resid * resid / var  # per trial
        resid_pearson = jnp.sqrt(t) * resid / jnp.sqrt(var)
        hat = w * curvature * _quadratic_rows(problem, info_inv)
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
            pearson_chi2=jnp.sum(w * pearson_sq),
            df_model=df_model,
            df_resid=df_resid,
            nobs=nobs,
            resid_response=t * resid,
            resid_pearson=resid_pearson,
            resid_dev=jnp.sign(resid) * jnp.sqrt(t * unit_dev),
            hat_matrix_diag=hat,
            cooks_distance=cooks,
            status=a["status"],
            valid=valid,
        )

    out = map_models(one, mapped, batch_shape, chunk_size)
    out["llr_pvalue"] = jnp.where(out["valid"], _chi2_sf(out["llr"], out["df_model"]), jnp.nan)
    return {**out, "values_ok": ok}


# --------------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------------


def _check_inference(inf, name: str):
    if not isinstance(inf, InferenceResult):
        raise ValueError(f"{name}: expected an InferenceResult, got {type(inf).__name__}")


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
    res_restricted: FitResult,
    X_full: Numeric[ArrayLike, "*#batch n d"],
    y: Numeric[ArrayLike, "*#batch n"],
    *,
    restricted_columns: Sequence[int],
    weights: Numeric[ArrayLike, "*#batch n"] | _resample.Scheme | None = None,
    offset: Numeric[ArrayLike, "*#batch n"] | None = None,
    chunk_size: Optional[int] = None,
    trials: Numeric[ArrayLike, "*#batch n"] | None = None,
    class_weight: ClassWeight = None,
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
    "observed"``. ``weights``, ``offset``, ``trials`` and ``class_weight`` are those of the
    fit; ``information`` is ``"expected"`` (Fisher) or ``"observed"``, the same for the logit.

    Returns:
      :class:`Chi2TestResult` of the batch shape; NaN where the restricted fit did not converge
      or the full information matrix is singular.
    """
    _check_res(res_restricted, "res_restricted")
    information = _check_information(information)
    cw = _validate.class_weight_spec(class_weight)
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
        g = problem.X.T @ (problem.weights * score)
        fac = _linalg.factor(_loss.hessian_from_rows(problem.weights * curvature, problem))
        stat = g @ _linalg.solve(fac, g)
        ok = fac.ok & (a["status"] == int(Status.CONVERGED))
        return jnp.where(ok, stat, jnp.nan)

    return map_models(one, mapped, batch_shape, chunk_size)


# --------------------------------------------------------------------------------------------
# Laplace approximation
# --------------------------------------------------------------------------------------------


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class LaplaceResult:
    """Gaussian (Laplace) approximation ``N(mean, cov)`` to the posterior of every model of a
    batch, batch shape ``(...)`` in front of every array (:func:`laplace`).

    Attributes:
      mean: ``(..., p)`` posterior mode, the fit's ``params`` (intercept first).
      cov: ``(..., p, p)`` inverse Hessian of the negative log posterior at the mode.
      sd: ``(..., p)`` ``sqrt(diag(cov))``.
      valid: ``(...)`` bool: the fit converged, its parameters are a stationary point of the
        penalised objective with the given ``alpha`` and ``penalty_factor``, and the Hessian
        is positive definite. Where False, ``mean``, ``cov`` and ``sd`` are NaN.
      fit_intercept: whether ``mean[..., 0]`` is an intercept (static).
      link: the fitted link (static).

    ``lap[i]`` or ``lap[mask]`` indexes every array along the batch axes.
    """

    mean: Float[Array, "*batch p"]
    cov: Float[Array, "*batch p p"]
    sd: Float[Array, "*batch p"]
    valid: Bool[Array, "*batch"]
    fit_intercept: bool = _static(True)
    link: str = _static("logit")

    @property
    def batch_shape(self) -> tuple[int, ...]:
        return tuple(self.valid.shape)

    def __getitem__(self, index) -> "LaplaceResult":
        return jax.tree_util.tree_map(lambda a: a[index], self)


def laplace(
    res: FitResult,
    X: Numeric[ArrayLike, "*#batch n d"],
    y: Numeric[ArrayLike, "*#batch n"],
    *,
    weights: Numeric[ArrayLike, "*#batch n"] | _resample.Scheme | None = None,
    offset: Numeric[ArrayLike, "*#batch n"] | None = None,
    alpha: Real[ArrayLike, "*#batch"] = 0.0,
    penalty_factor: Real[ArrayLike, " d"] | None = None,
    trials: Numeric[ArrayLike, "*#batch n"] | None = None,
    class_weight: ClassWeight = None,
    chunk_size: Optional[int] = None,
) -> LaplaceResult:
    """Laplace approximation to the posterior of a Bayesian binary regression with a
    Gaussian prior, for every model of a batch fitted by ``fit(..., alpha=alpha, l1_ratio=0,
    penalty_factor=penalty_factor)``.

    The model: rows ``y_i | beta ~ Bernoulli(F(x_i^T beta + o_i))`` with frequency weights
    ``w_i`` (after ``trials`` and ``class_weight``, as :func:`jaxlogreg.fit` forms them; for
    the logit, ``F`` the logistic function) and independent priors::

        beta_j ~ N(0, 1 / (alpha * W * pf_j)),   W = sum_i w_i,

    flat (improper) for the intercept and for every ``pf_j = 0`` (and for all of ``beta``
    when ``alpha = 0``). Why: the fit minimises the normalised objective of
    :mod:`jaxlogreg._loss`, ``f(beta) = (1 / W) sum_i w_i l_i + (alpha / 2) sum_j pf_j
    beta_j^2``, and ``W f(beta) = -log p(y | beta) - log p(beta) + const`` is exactly the
    negative log posterior under that prior. So the posterior mode is the fit, and the
    Laplace approximation is ``N(beta_hat, H^-1)`` with ``H`` the Hessian of ``W f``::

        H = W hess f(beta_hat) = X^T diag(w c) X + alpha W diag(pf),

    ``c_i = d^2 l_i / d eta_i^2`` the observed information weight (``mu (1 - mu)`` for the
    logit; :func:`jaxlogreg._loss.row_terms`). With ``alpha = 0`` the covariance is that of
    :func:`inference` with ``information="observed"``. scikit-learn's ``C`` is
    ``alpha = 1 / (C * W)``: a prior variance of ``C`` on every slope.

    Args:
      res: the :class:`~jaxlogreg.FitResult` of that fit (its ``params`` are the mode).
      X, y, weights, offset, trials, class_weight: the data of the fit, as in
        :func:`inference`.
      alpha: ``(...)`` nonnegative penalty strength of the fit, broadcasting with the batch.
      penalty_factor: ``(d,)`` nonnegative per-column penalty factors of the fit, or None.
      chunk_size: models computed together at a time.

    Returns:
      :class:`LaplaceResult` with the batch shape of ``res``; NaN where ``valid`` is False:
      the fit failed, the Hessian is singular (e.g. separation with a flat prior), or
      ``res.params`` is not a stationary point of the objective with this ``alpha`` (max
      ``|grad f|`` above ``10 * res.grad_norm + sqrt(eps)``: a penalty other than the fit's).

    Raises:
      ValueError: at the Python boundary, for bad data, ``alpha`` or ``penalty_factor``,
        naming the argument, or ``res`` not matching the data.
    """
    _check_res(res, "res")
    cw = _validate.class_weight_spec(class_weight)
    dtype = _validate.float_dtype(X)
    alpha_shape = _validate._as_array("alpha", alpha, dtype, 0).shape
    try:
        ok = np.broadcast_shapes(alpha_shape, tuple(res.batch_shape)) == tuple(res.batch_shape)
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(
            f"alpha: batch axes {alpha_shape} do not broadcast to the batch of res "
            f"{tuple(res.batch_shape)}"
        )
    data, scheme, fit_intercept, batch = _data_for(
        res, X, y, weights, offset, trials=trials, extra_batch=alpha_shape
    )
    link = _link_of(res)
    n, d = data.X.shape[-2:]
    if res.params.shape[-1] != d + int(fit_intercept):
        raise ValueError(
            f"res: has {res.params.shape[-1]} parameters but X has d = {d} columns "
            f"(expected {d + int(fit_intercept)} with fit_intercept={fit_intercept})"
        )
    alpha, _, pf = _validate.penalty_inputs(alpha, 0.0, penalty_factor, d, dtype)
    if fit_intercept:
        pf = jnp.concatenate([jnp.zeros((1,), dtype), pf])
    arrays = dict(X=data.X, y=data.y, weights=data.weights, offset=data.offset,
                  trials=data.trials, params=jnp.asarray(res.params, dtype),
                  status=jnp.asarray(res.status, jnp.int32), alpha=alpha,
                  grad_norm=jnp.asarray(res.grad_norm, dtype))
    mean, cov, valid = _laplace(
        arrays, pf, scheme, batch_shape=batch, fit_intercept=fit_intercept,
        chunk_size=chunk_of(chunk_size, data.X, fit_intercept), link=link, class_weight=cw,
    )
    sd = jnp.sqrt(jnp.diagonal(cov, axis1=-2, axis2=-1))
    return LaplaceResult(mean, cov, sd, valid, fit_intercept=fit_intercept, link=link)


@functools.partial(
    jax.jit,
    static_argnames=("batch_shape", "fit_intercept", "chunk_size", "link", "class_weight"),
)
def _laplace(arrays, pf, scheme, *, batch_shape, fit_intercept, chunk_size, link,
             class_weight):
    mapped, shared, products = _split_models(arrays, scheme, batch_shape, fit_intercept)
    dtype = arrays["X"].dtype
    floor = math.sqrt(float(jnp.finfo(dtype).eps))

    def one(per_model, axis_name=None):
        a = {**shared, **per_model}
        problem = _model_problem(
            a, per_model, fit_intercept, products, scheme, link, class_weight, a["alpha"], pf
        ).problem
        beta = a["params"]
        eta = _loss.linear_predictor(beta, problem)
        _, r, _ = _loss.evaluate(eta, beta, problem)
        grad = _loss.gradient_from_rows(r, beta, problem)
        _, _, observed = _loss.row_terms(eta, problem.y, link, "observed")
        total = jnp.sum(problem.weights)
        hess = _loss.hessian_from_rows(problem.weights * observed / total, problem)  # hess f
        fac = _linalg.factor(hess)
        stationary = jnp.max(jnp.abs(grad)) <= 10.0 * a["grad_norm"] + floor
        valid = (a["status"] == int(Status.CONVERGED)) & stationary & fac.ok
        cov = jnp.where(valid, _linalg.inverse(fac) / total, jnp.nan)
        return jnp.where(valid, beta, jnp.nan), 0.5 * (cov + cov.T), valid

    return map_models(one, mapped, batch_shape, chunk_size)


def predictive(
    lap: LaplaceResult,
    X: Numeric[ArrayLike, "*#batch m d"],
    *,
    offset: Numeric[ArrayLike, "*#batch m"] | None = None,
) -> Float[Array, "*#batch m"]:
    """Posterior predictive ``P(y = 1 | x)`` for new rows under a Laplace posterior.

    With ``m = x^T mean + o`` and ``s^2 = x^T cov x`` (the mean and variance of ``eta`` under
    ``N(mean, cov)``), ``E[F(eta)]`` is, for the logit, MacKay's probit approximation
    ``sigmoid(m / sqrt(1 + pi s^2 / 8))`` (D. J. C. MacKay, "The evidence framework applied
    to classification networks", Neural Computation 4, 1992; exact at ``m = 0``, within about
    0.02 elsewhere) and, for the probit, the exact ``Phi(m / sqrt(1 + s^2))``.

    Args:
      lap: a :class:`LaplaceResult` of batch shape ``(...)`` with link ``"logit"`` or
        ``"probit"``.
      X: ``(m, d)`` new rows shared by every model, or ``(..., m, d)`` broadcasting with the
        batch (no column of ones: it is added when the models have an intercept).
      offset: ``(m,)`` or ``(..., m)``, or None.

    Returns:
      ``(..., m)`` probabilities; NaN for models whose ``lap.valid`` is False.
    """
    if not isinstance(lap, LaplaceResult):
        raise ValueError(f"lap: expected a LaplaceResult, got {type(lap).__name__}")
    if lap.link not in ("logit", "probit"):
        raise ValueError(
            f"lap: predictive covers the logit and probit links, got link {lap.link!r}"
        )
    dtype = lap.mean.dtype
    X = _validate._as_array("X", X, dtype, 2)
    p = lap.mean.shape[-1]
    d = p - int(lap.fit_intercept)
    if X.shape[-1] != d:
        raise ValueError(f"X: expected {d} columns (the models' coefficients), got {X.shape}")
    m = X.shape[-2]
    offset = jnp.zeros((m,), dtype) if offset is None else _validate._as_array(
        "offset", offset, dtype, 1)
    if offset.shape[-1] != m:
        raise ValueError(f"offset: last axis must have length m = {m}, got {offset.shape}")
    try:
        batch = np.broadcast_shapes(lap.batch_shape, X.shape[:-2], offset.shape[:-1])
    except ValueError:
        batch = None
    if batch != lap.batch_shape:
        raise ValueError(
            f"X, offset: batch axes {X.shape[:-2]}, {offset.shape[:-1]} do not broadcast to "
            f"the batch {lap.batch_shape}"
        )
    return _predictive(lap, X, offset)


@jax.jit
def _predictive(lap, X, offset):
    if lap.fit_intercept:
        X = _loss.add_intercept(X)
    batch = lap.batch_shape
    B = math.prod(batch)
    m = X.shape[-2]

    def flat(a, core):
        """``(B, *core)`` if ``a`` has batch axes, else ``a`` itself (shared)."""
        if a.ndim == len(core):
            return a, None
        return jnp.broadcast_to(a, batch + core).reshape((B,) + core), 0

    def one(mean, cov, Xm, om):
        eta = Xm @ mean + om
        var = jnp.sum((Xm @ cov) * Xm, axis=-1)
        if lap.link == "logit":
            return jax.nn.sigmoid(eta / jnp.sqrt(1.0 + (math.pi / 8.0) * var))
        return ndtr(eta / jnp.sqrt(1.0 + var))

    (Xf, x_axis), (of, o_axis) = flat(X, X.shape[-2:]), flat(offset, (m,))
    mean = lap.mean.reshape((B,) + lap.mean.shape[len(batch):])
    cov = lap.cov.reshape((B,) + lap.cov.shape[len(batch):])
    out = jax.vmap(one, in_axes=(0, 0, x_axis, o_axis))(mean, cov, Xf, of)
    return out.reshape(batch + (m,))


# --------------------------------------------------------------------------------------------


def variance_inflation_factors(
    X: Numeric[ArrayLike, "*batch n d"], *, standardize: bool = True
) -> Float[Array, "*batch d"]:
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
    """The ``k`` parameter names: ``names`` (``k`` of them, or the ``d`` column names with
    ``"const"`` put first when an intercept was fitted), else the column names of the
    DataFrame :func:`inference` was given (``inf.names``, likewise), else ``const, x1, x2,
    ...`` (statsmodels' names for an array)."""
    k = inf.params.shape[-1]
    if names is None:
        names = inf.names
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


def _prsquared_note(llf: float, llnull: float, status: Status) -> str:
    """Why McFadden's pseudo R-squared ``1 - llf / llnull`` is not a number."""
    if llnull == 0:
        why = ("LL-Null is 0: the intercept alone fits every observation exactly (y holds one "
               "class), and the ratio divides by it")
    elif not math.isfinite(llnull):
        why = f"LL-Null is {llnull}"
    elif not math.isfinite(llf):
        why = f"the Log-Likelihood is {llf} (the fit stopped with status {status.name})"
    else:
        why = "the ratio of the log-likelihoods is not a finite number"
    return f"Note: Pseudo R-squ. is nan: McFadden's 1 - llf / llnull is undefined because {why}."


def summary(inf: InferenceResult, index=None, names=None, *, yname: Optional[str] = None) -> str:
    """A text table in the layout of statsmodels' ``LogitResults.summary()`` for one model
    (``ProbitResults.summary()`` for the probit; the model line names ``inf.link``).

    Args:
      inf: an :class:`InferenceResult`.
      index: which model of a batch (an int or a tuple of ints); None for a single model.
      names: the ``k`` parameter names, or the ``d`` column names (``"const"`` is then
        prepended when an intercept was fitted); default: the column names of the pandas
        DataFrame :func:`inference` was given, else ``const, x1, x2, ...``.
      yname: the response's name; default: the name of the pandas Series :func:`inference`
        was given, else ``"y"``.

    The header reports nobs, df, pseudo R-squared (McFadden), llf, llnull and the LLR p-value;
    the table coef / std err / z / P>|z| / confidence limits at level ``1 - inf.alpha``,
    formatted as statsmodels formats them. A pseudo R-squared that is not a finite number
    (LL-Null 0, or a fit that failed) is printed as ``nan``, with a note below the table
    saying why.
    """
    _check_inference(inf, "inf")
    one = _select(inf, index)
    xnames = _param_names(inf, names)
    yname = (inf.yname or "y") if yname is None else yname
    g = {f: np.asarray(getattr(one, f)) for f in _ARRAY_FIELDS}
    status = Status(int(g["status"]))
    converged = status == Status.CONVERGED
    prsquared = float(g["prsquared"])
    width = 78
    left = [
        ("Dep. Variable:", yname),
        ("Model:", one.link.capitalize()),
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
        ("Pseudo R-squ.:", f"{prsquared:#6.4g}".strip() if math.isfinite(prsquared) else "nan"),
        ("Log-Likelihood:", f"{float(g['llf']):#8.5g}".strip()),
        ("LL-Null:", f"{float(g['llnull']):#8.5g}".strip()),
        ("LLR p-value:", f"{float(g['llr_pvalue']):#6.4g}".strip()),
    ]
    lines = [f"{one.link.capitalize()} Regression Results".center(width), "=" * width]
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
            f"(status {status.name}); standard errors and tests are NaN."
        )
    if not math.isfinite(prsquared):
        lines.append(_prsquared_note(float(g["llf"]), float(g["llnull"]), status))
    return "\n".join(lines)


def to_dict(inf: InferenceResult, names=None) -> dict[str, np.ndarray]:
    """Every array field of ``inf`` as a numpy array (batch shape in front), plus ``alpha``,
    ``cov_type``, ``fit_intercept`` and ``yname`` (as in :func:`summary`) as 0-d numpy
    arrays and ``names``, the ``(k,)`` parameter names (``names`` as in :func:`summary`;
    default: the column names of the pandas DataFrame :func:`inference` was given, else
    ``const, x1, ...``). No pandas needed."""
    _check_inference(inf, "inf")
    out = {f: np.asarray(getattr(inf, f)) for f in _ARRAY_FIELDS}
    out["alpha"] = np.asarray(inf.alpha)
    out["cov_type"] = np.asarray(inf.cov_type)
    out["fit_intercept"] = np.asarray(inf.fit_intercept)
    out["names"] = np.asarray(_param_names(inf, names))
    out["yname"] = np.asarray(inf.yname or "y")
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
    parameter name ``x`` (``names`` as in :func:`summary`; default: the column names of the
    pandas DataFrame :func:`inference` was given, else ``const, x1, ...``)
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
