"""Statsmodels-style inference for every model of a batch: :class:`InferenceResult` and
:func:`inference`, which fills it.

:func:`inference` validates its arguments (:func:`_inference_plan`; a warm call with the
signature of an earlier one reuses its plan, :func:`jaxlogreg._dispatch.planned`) and
computes every model's covariance, Wald statistics, likelihoods, residuals and leverage in
one jitted function (:func:`_statistics`; :data:`_INFERENCE` holds its programs).
Formulas, conventions and covariance types: the package docstring of
:mod:`jaxlogreg._inference`.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import ndtr, xlogy

from .. import _dispatch, _linalg, _links, _loss, _resample, _spec, _validate
from .._batch import chunk_of, map_models
from .._result import FROM_FIT, Batched, FitResult, FromFit, _join
from .._status import Status
from .._typing import ArrayLike, Bool, ClassWeight, Float, Int32, Integer, Numeric
from ._common import (
    _check_information,
    _check_res,
    _chi2_sf,
    _data_for,
    _link_of,
    _model_problem,
    _null_loglik,
    _split_models,
    _static,
)

Array = jax.Array


COV_TYPES = ("nonrobust", "HC0", "HC1", "cluster")


# --------------------------------------------------------------------------------------------
# Result type
# --------------------------------------------------------------------------------------------


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class InferenceResult(Batched):
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
      resid_response: ``(..., n)`` ``t (y - mu)``. This and the next four per-row fields are
        computed with ``inference(..., rows=True)`` and are None otherwise (``5 B n``
        values: 40 GB in float64 for a million models of 1,000 rows).
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
    resid_response: Float[Array, "*batch n"] | None
    resid_pearson: Float[Array, "*batch n"] | None
    resid_dev: Float[Array, "*batch n"] | None
    hat_matrix_diag: Float[Array, "*batch n"] | None
    cooks_distance: Float[Array, "*batch n"] | None
    status: Int32[Array, "*batch"]
    valid: Bool[Array, "*batch"]
    alpha: float = _static(0.05)
    cov_type: str = _static("nonrobust")
    fit_intercept: bool = _static(True)
    link: str = _static("logit")
    information: str = _static("expected")
    names: tuple[str, ...] | None = _static(None)
    yname: str | None = _static(None)

    @property
    def batch_shape(self) -> tuple[int, ...]:
        return tuple(self.llf.shape)



_SCALAR_FIELDS = (
    "llf", "llnull", "llr", "llr_pvalue", "prsquared", "prsquared_cox_snell",
    "prsquared_nagelkerke", "aic", "bic", "deviance", "pearson_chi2", "df_model",
    "df_resid", "nobs",
)


_ARRAY_FIELDS = tuple(
    f.name for f in dataclasses.fields(InferenceResult) if not f.metadata.get("static")
)
# The per-row fields, computed only with inference(..., rows=True).
ROW_FIELDS = ("resid_response", "resid_pearson", "resid_dev", "hat_matrix_diag",
              "cooks_distance")


def _check_inference(inf, name: str):
    if not isinstance(inf, InferenceResult):
        raise ValueError(f"{name}: expected an InferenceResult, got {type(inf).__name__}")


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
    chunk_size: int | None = None,
    trials: Numeric[ArrayLike, "*#batch n"] | None = None,
    class_weight: ClassWeight | FromFit = FROM_FIT,
    information: str = "expected",
    rows: bool = False,
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
        trials=trials, ...)`` (or any FitResult whose batch shape is that of the data, or
        larger: data without batch axes broadcast over a stack of fits of one data set). Its
        ``link`` and ``class_weight`` are the fit's.
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
      class_weight: by default (:data:`FROM_FIT`) the fit's, ``res.class_weight``
        (multipliers of each row's log-likelihood, statsmodels' ``var_weights``; module
        docstring). None, ``"balanced"`` or ``{0: c0, 1: c1}`` as given to
        :func:`jaxlogreg.fit` must agree with the one ``res`` records
        (:mod:`jaxlogreg._spec`; a FitResult built by hand records none, and the value is
        then used).
      information: ``"expected"`` or ``"observed"``.
      rows: also compute the per-row residuals, leverage and Cook's distances
        (``resid_response``, ``resid_pearson``, ``resid_dev``, ``hat_matrix_diag``,
        ``cooks_distance``, each ``(..., n)``); None by default, as statsmodels leaves
        influence measures to ``get_influence()``: a batch's per-model results are
        ``O(B k^2)`` values, these ``O(B n)``.

    Returns:
      :class:`InferenceResult` with the batch shape of ``res``. Models that did not converge
      or have a singular information matrix get NaN covariance-based fields (``valid`` False).

    Raises:
      ValueError: at the Python boundary, naming the argument: bad data (as
        :func:`jaxlogreg.fit`), an unknown ``cov_type`` or ``information``, a bad
        ``class_weight`` or one that disagrees with ``res.class_weight``, ``groups``
        missing, misplaced or of the wrong length, ``alpha`` outside (0, 1), or ``res`` not
        matching the data.
    """
    _check_res(res)
    cw = _spec.class_weight(res, class_weight)
    plan = _inference_plan(res, X, y, weights, offset, cov_type, groups, alpha, chunk_size,
                           trials, cw, information)
    data = plan.data
    dtype = data.X.dtype
    arrays = dict(X=data.X, y=data.y, weights=data.weights, offset=data.offset,
                  trials=data.trials, coef=_validate._as_array("res.coef", res.coef, dtype),
                  intercept=_validate._as_array("res.intercept", res.intercept, dtype),
                  status=_validate._as_array("res.status", res.status, jnp.dtype(jnp.int32)))
    if not isinstance(rows, (bool, np.bool_)):
        raise ValueError(f"rows: expected True or False, got {rows!r}")
    program = _INFERENCE.pick(math.prod(plan.batch) * data.X.shape[-2], data.X, arrays)
    out = program(
        arrays, plan.groups, plan.cov_code, plan.crit, plan.scheme, batch_shape=plan.batch,
        fit_intercept=plan.fit_intercept, chunk_size=plan.chunk, link=plan.link,
        information=plan.information, class_weight=plan.class_weight, rows=bool(rows),
    )
    for name in () if rows else ROW_FIELDS:
        out[name] = None
    ok = out.pop("values_ok")
    if not data.checked:
        _validate.check_values(data.X, data.y, data.weights, data.offset, data.trials, ok=ok)
    # Labels of pandas inputs, kept as static fields: they never enter a compiled program.
    return _dispatch.built(InferenceResult, out, alpha=plan.alpha, cov_type=plan.cov_type,
                             fit_intercept=plan.fit_intercept, link=plan.link,
                             information=plan.information, names=_validate.column_names(X),
                             yname=_validate.series_name(y))


class _InferencePlan(NamedTuple):
    """``inference``'s arguments, validated (:func:`_inference_plan`)."""

    data: _validate.FitInputs
    scheme: _resample.Scheme | None
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


def _plan_key(res, X, y, weights, offset, cov_type, groups, alpha, chunk_size, trials, cw,
              information):
    """:func:`inference`'s signature for its kept plans (:func:`jaxlogreg._dispatch.planned`),
    or None: small problems with JAX arrays and no cluster groups."""
    if groups is not None:
        return None
    return _dispatch.signature(
        (X, y, weights, offset, trials, res.coef, res.intercept), (alpha, chunk_size),
        (cov_type, information, cw, res.fit_intercept, getattr(res, "link", None)),
    )


def _plan_arrays(res, X, y, weights, offset, cov_type, groups, alpha, chunk_size, trials, *_):
    """:func:`inference`'s data arrays as given: ``(X, y, weights, offset, trials)``."""
    return X, y, weights, offset, trials




@_dispatch.planned(_plan_key, _plan_arrays)
def _inference_plan(res, X, y, weights, offset, cov_type, groups, alpha, chunk_size, trials,
                    cw, information) -> _InferencePlan:
    """Validate :func:`inference`'s arguments (ValueErrors name the argument); a small
    problem's value checks are left to its compiled program (``data.checked`` False).
    ``cw``: the class weights, validated (:func:`jaxlogreg._spec.class_weight`)."""
    if cov_type not in COV_TYPES:
        raise ValueError(f"cov_type: must be one of {COV_TYPES}, got {cov_type!r}")
    information = _check_information(information)
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
        groups = _dispatch._filled((n,), 0, jnp.dtype(jnp.int32))
    return _InferencePlan(
        data, scheme, batch, fit_intercept, link, chunk_of(chunk_size, data.X, fit_intercept), cw,
        groups,
        _dispatch._scalar(COV_TYPES.index(cov_type), jnp.int32),
        _dispatch._scalar(_normal_quantile(1.0 - alpha / 2.0), data.X.dtype), alpha, cov_type,
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


def _statistics(arrays, groups, cov_code, crit, scheme, *, batch_shape, fit_intercept,
               chunk_size, link, information, class_weight, rows=True):
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
        per_row = {}
        if rows:
            resid_pearson = jnp.sqrt(t) * resid / jnp.sqrt(var)
            hat = w * curvature * _loss.quadratic_rows(info_inv, problem)
            per_row = dict(
                resid_response=t * resid,
                resid_pearson=resid_pearson,
                resid_dev=jnp.sign(resid) * jnp.sqrt(t * unit_dev),
                hat_matrix_diag=hat,
                cooks_distance=resid_pearson**2 * hat / (k * (1.0 - hat) ** 2),
            )
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
            **per_row,
            status=a["status"],
            valid=valid,
        )

    out = map_models(one, mapped, batch_shape, chunk_size)
    out["llr_pvalue"] = jnp.where(out["valid"], _chi2_sf(out["llr"], out["df_model"]), jnp.nan)
    return {**out, "values_ok": ok}


# The statistics' programs: a small call's on a CPU compiles quickly
# (jaxlogreg._dispatch.Programs).
_INFERENCE = _dispatch.Programs(
    _statistics, ("batch_shape", "fit_intercept", "chunk_size", "link", "information",
                  "class_weight", "rows"))
_inference = _INFERENCE.default
