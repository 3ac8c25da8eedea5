"""The Laplace approximation ``N(mode, H^-1)`` to the posterior of a ridge-penalised fit,
for every model of a batch (:func:`laplace`, :class:`LaplaceResult`), and its posterior
predictive for new rows (:func:`predictive`). The prior that makes the fit the posterior
mode is in :func:`laplace`'s docstring.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import ndtr

from .. import _linalg, _loss, _resample, _spec, _validate
from .._batch import chunk_of, map_models
from .._result import FROM_FIT, Batched, FitResult, FromFit
from .._status import Status
from .._typing import ArrayLike, Bool, ClassWeight, Float, Numeric, Real
from ._common import (
    _check_res,
    _data_for,
    _link_of,
    _model_problem,
    _split_models,
    _static,
)

Array = jax.Array


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class LaplaceResult(Batched):
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



def laplace(
    res: FitResult,
    X: Numeric[ArrayLike, "*#batch n d"],
    y: Numeric[ArrayLike, "*#batch n"],
    *,
    weights: Numeric[ArrayLike, "*#batch n"] | _resample.Scheme | None = None,
    offset: Numeric[ArrayLike, "*#batch n"] | None = None,
    alpha: Real[ArrayLike, "*#batch"] | FromFit = FROM_FIT,
    penalty_factor: Real[ArrayLike, " d"] | None | FromFit = FROM_FIT,
    trials: Numeric[ArrayLike, "*#batch n"] | None = None,
    class_weight: ClassWeight | FromFit = FROM_FIT,
    chunk_size: int | None = None,
) -> LaplaceResult:
    """Laplace approximation to the posterior of a Bayesian binary regression with a
    Gaussian prior, for every model of a batch fitted by ``fit(..., alpha=alpha, l1_ratio=0,
    penalty_factor=penalty_factor)`` (a ridge fit, or none; its penalty and class weights
    are read from the result).

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
      res: the :class:`~jaxlogreg.FitResult` of that fit (its ``params`` are the mode; its
        ``alpha (...)``, ``penalty_factor (..., d)`` and ``class_weight`` the prior's and
        the rows').
      X, y, weights, offset, trials: the data of the fit, as in :func:`inference`.
      alpha, penalty_factor, class_weight: by default (:data:`FROM_FIT`) the fit's, from
        ``res``; a value passed (``alpha`` ``(...)`` broadcasting with the batch,
        ``penalty_factor`` ``(d,)`` or None, ``class_weight`` as :func:`jaxlogreg.fit`
        takes it) must agree with the one ``res`` records (:mod:`jaxlogreg._spec`); for a
        FitResult built by hand, which records none, it is used as given.
      chunk_size: models computed together at a time.

    Returns:
      :class:`LaplaceResult` with the batch shape of ``res``; NaN where ``valid`` is False:
      the fit failed, the Hessian is singular (e.g. separation with a flat prior), or
      ``res.params`` is not a stationary point of the objective with this ``alpha`` (max
      ``|grad f|`` above ``10 * res.grad_norm + sqrt(eps)``: a penalty other than the fit's,
      possible only for a result that records none, or under a trace).

    Raises:
      ValueError: at the Python boundary, for bad data, ``alpha`` or ``penalty_factor``,
        or a penalty or class weights that disagree with the fit's, naming the argument;
        ``res`` not matching the data, or fitted with an L1 term (``res.l1_ratio > 0``:
        its posterior is not Gaussian near the mode).
    """
    _check_res(res, "res")
    cw = _spec.class_weight(res, class_weight)
    if float(getattr(res, "l1_ratio", 0.0)) > 0:
        raise ValueError(
            f"res: fitted with an L1 term (l1_ratio = {res.l1_ratio}); the Laplace "
            "approximation is that of a ridge fit (l1_ratio = 0)"
        )
    dtype = _validate.float_dtype(X)
    own_alpha = res.alpha if _spec.recorded(res) else 0.0
    alpha_shape = _validate._as_array(
        "alpha", own_alpha if alpha is FROM_FIT else alpha, dtype, 0).shape
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
    alpha, _, pf = _spec.penalty(res, alpha, FROM_FIT, penalty_factor, d, dtype)
    arrays = dict(X=data.X, y=data.y, weights=data.weights, offset=data.offset,
                  trials=data.trials, params=jnp.asarray(res.params, dtype),
                  status=jnp.asarray(res.status, jnp.int32), alpha=alpha,
                  grad_norm=jnp.asarray(res.grad_norm, dtype), penalty_factor=pf)
    mean, cov, valid = _laplace(
        arrays, scheme, batch_shape=batch, fit_intercept=fit_intercept,
        chunk_size=chunk_of(chunk_size, data.X, fit_intercept), link=link, class_weight=cw,
    )
    sd = jnp.sqrt(jnp.diagonal(cov, axis1=-2, axis2=-1))
    return LaplaceResult(mean, cov, sd, valid, fit_intercept=fit_intercept, link=link)


@functools.partial(
    jax.jit,
    static_argnames=("batch_shape", "fit_intercept", "chunk_size", "link", "class_weight"),
)
def _laplace(arrays, scheme, *, batch_shape, fit_intercept, chunk_size, link, class_weight):
    """``(mean, cov, valid)`` of every model; ``arrays["penalty_factor"]`` is ``(d,)``
    shared or ``(..., d)`` per model."""
    mapped, shared, products = _split_models(arrays, scheme, batch_shape, fit_intercept)
    dtype = arrays["X"].dtype
    floor = math.sqrt(float(jnp.finfo(dtype).eps))

    def one(per_model, axis_name=None):
        a = {**shared, **per_model}
        pf = a["penalty_factor"]
        if fit_intercept:
            pf = jnp.concatenate([jnp.zeros((1,), dtype), pf])
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
