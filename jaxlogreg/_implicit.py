"""Derivatives of fitted models by implicit differentiation, and the influence function.

Each model minimises ``F(beta; theta) = f(beta; theta) + l1 * sum_j pf_j |beta_j|`` (the
objective of :mod:`jaxlogreg._loss`, ``f`` its smooth part), where ``theta`` is everything
the objective depends on: ``X``, ``y``, ``weights``, ``offset``, ``trials``, ``alpha`` and
the penalty factors ``pf``. A minimiser ``beta*`` satisfies, on its active set
``A = {j : beta*_j != 0 or l1 pf_j = 0}`` (every coefficient when there is no L1 term)::

    G_A(beta*, theta) = 0,     G(beta, theta) = grad f(beta; theta) + l1 pf sign(beta),

and ``beta*_j = 0`` off ``A``. Where ``H_AA`` (the Hessian of ``f`` restricted to ``A``) is
positive definite and the zeros are strict (``|grad_j f| < l1 pf_j`` off ``A``), the
implicit function theorem makes ``beta*`` a smooth function of ``theta`` with::

    d beta*_A = -H_AA^-1 (partial_theta G_A) d theta,     d beta*_j = 0 off A,

one linear solve with the Hessian, never a derivative of the solver's iterations (Blondel
et al., "Efficient and modular implicit differentiation", NeurIPS 2022; for the L1 active
set, Bertrand et al., "Implicit differentiation of Lasso-type models for hyperparameter
optimization", ICML 2020). ``H`` is the observed Hessian ``d grad f / d beta``; for a link
other than the logit it differs from the expected information the solvers use.
The L1 term enters the condition as ``l1 pf_j sign(beta_j)``, so
it carries the dependence on ``alpha`` (``l1 = alpha * l1_ratio``). The reported loss
``F(beta*; theta)`` is differentiable too, by the envelope theorem: ``d F* = (partial_theta
F)(beta*, theta) d theta`` (the subgradient on ``A`` is 0 and ``d beta* = 0`` off ``A``).

:func:`attach` wires this into :func:`jaxlogreg.fit` as a ``jax.custom_jvp`` whose primal
returns the solver's answer unchanged (free when nothing is differentiated) and whose
tangent rule factors ``H_AA`` from primal values only and applies triangular solves to the
tangent, so it is linear in the tangents and JAX transposes it for reverse mode
(``jax.grad``, ``jax.jacrev``) as well as running it forward (``jax.jvp``, ``jax.jacfwd``).
The rule calls the attached function itself for its primal output, so that under a second
differentiation ``H`` moves with ``beta*`` and higher derivatives are right too. Its cost
per model is one Hessian, one ``p x p`` Cholesky factorisation and one JVP of the gradient
(``O(n p^2)``); for a shared ``X`` the Hessians of the batch are one matrix product with
:func:`jaxlogreg._loss.column_products` and ``X`` is never copied per model. ``y`` is
differentiated as a continuous response (a proportion, or a count with ``trials``).

Models whose status is not ``CONVERGED`` (or whose ``H_AA`` is numerically singular) have no
derivative: their tangents are NaN whenever the perturbation reaches them, and in reverse
mode a nonzero cotangent on their coefficients or loss becomes NaN in the gradients of the
inputs they depend on (for a shared ``X`` or ``alpha``, the whole gradient). A model whose
outputs get an exactly zero cotangent (masked out with ``jnp.where(res.converged, ...)``)
contributes zero instead: the solve is a :func:`jax.lax.custom_linear_solve` whose solve
maps a zero right-hand side to zero for such a model and anything else to NaN.

:func:`influence` gives the full Jacobian ``d beta* / d w`` (one column per observation) of
the same condition.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.custom_derivatives import SymbolicZero

from . import _linalg, _loss, _spec, _validate
from ._batch import CORE_AXES, map_models, split_batch
from ._result import FROM_FIT, FitResult, FromFit
from ._status import Status
from ._typing import ArrayLike, ClassWeight, Float, Numeric, Real

Array = jax.Array

__all__ = ["attach", "influence"]

# Trailing (per-model) axes of each entry of theta: the batch's table, where the penalty
# factors are "pf"; leading axes beyond these are batch axes.
_CORE = {**CORE_AXES, "pf": CORE_AXES["penalty_factor"]}


class _Statics(NamedTuple):
    """The static settings of a fit (hashable)."""

    batch_shape: tuple[int, ...]
    fit_intercept: bool
    l1_ratio: float
    class_weight: object  # None, "balanced" or (c0, c1)
    link: str = "logit"


def _problem(theta: dict, st: _Statics, products=None) -> _loss.Problem:
    """One model's :class:`~jaxlogreg._loss.Problem`, built exactly as ``fit`` builds it."""
    X = _loss.add_intercept(theta["X"]) if st.fit_intercept else theta["X"]
    pf = theta["pf"]
    if st.fit_intercept:
        pf = jnp.concatenate([jnp.zeros((1,), pf.dtype), pf])
    return _loss.model_problem(X, theta["y"], theta["weights"], theta["offset"],
                               trials=theta.get("trials"), class_weight=st.class_weight,
                               alpha=theta["alpha"], l1_ratio=st.l1_ratio, penalty_factor=pf,
                               products=products, link=st.link)


def _condition(beta: Array, theta: dict, st: _Statics) -> tuple[Array, Array]:
    """``(G(beta, theta) (p,), F(beta; theta) ())``: the optimality condition's left-hand
    side on the active set (module docstring) and the objective."""
    problem = _problem(theta, st)
    g = _loss.gradient(beta, problem)
    if problem.l1 is not None:
        g = g + problem.l1 * problem.penalty_factor * jnp.sign(beta)
    return g, _loss.value(beta, problem)


def _active_factor(beta: Array, status: Array, theta: dict, st: _Statics, products):
    """The active set ``(p,)`` bool, ``H_AA`` padded to ``(p, p)`` with the identity off
    ``A``, its :class:`~jaxlogreg._linalg.Factor`, and whether derivatives exist (converged
    and ``H_AA`` safely positive definite)."""
    problem = _problem(theta, st, products)
    p = beta.shape[-1]
    if problem.l1 is None:
        active = jnp.ones((p,), bool)
    else:
        active = (beta != 0) | (problem.l1 * problem.penalty_factor == 0)
    # The observed Hessian, the Jacobian of the gradient (for the logit link it equals the
    # expected one that the solvers use).
    eta = _loss.linear_predictor(beta, problem)
    _, _, curvature = _loss.row_terms(eta, problem.y, problem.link, "observed")
    w = problem.weights
    H = _loss.hessian_from_rows(w * curvature / jnp.sum(w), problem)
    both = active[:, None] & active[None, :]
    HA = jnp.where(both, H, 0.0) + jnp.diag(jnp.where(active, 0.0, 1.0).astype(H.dtype))
    fac = _linalg.factor(HA)
    good = (status == int(Status.CONVERGED)) & fac.ok
    return active, HA, fac, good


def _model_tangents(beta, status, theta, dtheta, st: _Statics, products):
    """One model: ``(d beta* (p,), d F* ())`` for the tangent ``dtheta`` (entries of
    ``theta`` absent from ``dtheta`` are held fixed)."""
    p = beta.shape[-1]
    active, HA, fac, good = _active_factor(beta, status, theta, st, products)
    vary = {k: theta[k] for k in dtheta}
    _, (dG, dF) = jax.jvp(
        lambda v: _condition(beta, {**theta, **v}, st), (vary,), (dtheta,)
    )
    rhs = jnp.concatenate([-jnp.where(active, dG, 0.0), dF[None]])

    # The tangent system diag(H_AA, 1) x = rhs; its solve and transpose use the factor of
    # the primal H_AA. For a model without a derivative the solve returns 0 for rhs = 0 and
    # NaN otherwise (module docstring).
    def matvec(x):
        return jnp.concatenate([HA @ x[:p], x[p:]])

    def solve(_, b):
        x = jnp.concatenate([_linalg.solve(fac, b[:p]), b[p:]])
        return jnp.where(good, x, jnp.where(jnp.all(b == 0), 0.0, jnp.nan))

    x = jax.lax.custom_linear_solve(matvec, rhs, solve, symmetric=True)
    return x[:p], x[p]


def _shared_products(theta: dict, st: _Statics):
    """Column products of a design shared by a batch of models (the Hessians are then one
    matrix product), or None when ``X`` has batch axes or there is one model."""
    if theta["X"].ndim != 2 or not st.batch_shape:
        return None
    X = _loss.add_intercept(theta["X"]) if st.fit_intercept else theta["X"]
    return _loss.column_products(X)


def _map_models(one, st: _Statics, per_model: dict, *trees: dict):
    """``one(per_model, *trees)`` for every model, walked by :func:`jaxlogreg._batch.map_models`
    in one chunk, with ``per_model`` (``beta (..., p)``, ``status (...)``) and the batch
    axes of each ``tree`` (dicts keyed like ``theta``) mapped, and entries without batch
    axes (a shared ``X``) closed over, never broadcast. Outputs are reshaped to
    ``batch_shape + ...``. One chunk: the walk is then a vmap, which differentiation
    transposes as it is."""
    batch = st.batch_shape
    if not batch:
        return one(per_model, *trees)
    mapped_pm, _ = split_batch(per_model, {"beta": 1, "status": 0}, batch)
    splits = [split_batch(tree, _CORE, batch) for tree in trees]
    # One flat dict for map_models, keyed "model/beta", "0/X", ...: the tree, then the entry.
    mapped = {**{f"model/{k}": v for k, v in mapped_pm.items()},
              **{f"{t}/{k}": v for t, (m, _) in enumerate(splits) for k, v in m.items()}}

    def part(m, tree):
        return {k.split("/", 1)[1]: v for k, v in m.items() if k.split("/", 1)[0] == tree}

    def body(m, _axis):
        return one(part(m, "model"), *({**shared, **part(m, str(t))}
                                       for t, (_, shared) in enumerate(splits)))

    return map_models(body, mapped, batch, max(1, math.prod(batch)))


@functools.partial(jax.jit, static_argnums=(0,))
def _tangents(st: _Statics, params, status, theta: dict, dtheta: dict):
    """``(d params (..., p), d loss (...))`` of every model for the tangents ``dtheta`` (a
    subset of ``theta``'s entries). Jitted so that eager differentiation compiles it once."""
    products = _shared_products(theta, st)

    def one(pm, th, dth):
        return _model_tangents(pm["beta"], pm["status"], th, dth, st, products)

    present = {k: v for k, v in theta.items() if v is not None}
    return _map_models(one, st, {"beta": params, "status": status}, present, dtheta)


@functools.partial(jax.custom_jvp, nondiff_argnums=(0,))
def _solution(st: _Statics, coef, intercept, loss, status, theta):
    """The solver's ``(coef, intercept, loss)``, unchanged; its JVP is the implicit one."""
    return coef, intercept, loss


def _solution_jvp(st: _Statics, primals, tangents):
    coef, intercept, loss, status, theta = primals
    # Calling _solution again (rather than returning the primals) gives the outputs their
    # implicit tangents under an outer differentiation, so higher derivatives are right too.
    out = _solution(st, coef, intercept, loss, status, theta)
    params = jnp.concatenate([out[1][..., None], out[0]], axis=-1) if st.fit_intercept else out[0]
    dtheta = {
        k: t for k, t in tangents[4].items()
        if theta[k] is not None and not isinstance(t, SymbolicZero)
    }
    if dtheta:
        dparams, dloss = _tangents(st, params, status, theta, dtheta)
    else:
        dparams, dloss = jnp.zeros_like(params), jnp.zeros_like(loss)
    if st.fit_intercept:
        dcoef, dintercept = dparams[..., 1:], dparams[..., 0]
    else:
        dcoef, dintercept = dparams, jnp.zeros_like(intercept)
    return out, (dcoef, dintercept, dloss)


_solution.defjvp(_solution_jvp, symbolic_zeros=True)


def attach(res: FitResult, X, y, weights, offset, trials, alpha, pf_cols, **statics) -> FitResult:
    """``res`` with the implicit derivatives of ``coef``, ``intercept`` and ``loss`` attached.

    Called by :func:`jaxlogreg.fit` with the solver's result (computed on
    ``stop_gradient`` copies of the data) and the validated arrays that may carry tangents:
    ``X (..., n, d)`` or shared ``(n, d)``; ``y``, ``weights``, ``offset``, ``trials`` (or
    None) ``(..., n)``; ``alpha (...)``; ``pf_cols (d,)`` the penalty factors of ``X``'s
    columns; the leading axes broadcast to ``res.batch_shape``. The static settings are
    ``res``'s: ``fit_intercept``, ``l1_ratio``, ``class_weight`` and ``link`` (the
    condition uses the link's gradient and observed Hessian). ``statics``, a caller's own
    copies of them (``batch_shape``, ``fit_intercept``, ``l1_ratio``, ``class_weight``,
    ``link``), are optional and must agree with ``res``'s.

    The returned values equal ``res``'s; ``jax.jvp`` / ``jax.grad`` through them give
    ``d beta*`` and ``d F*`` of the module docstring. ``res.alpha`` and
    ``res.penalty_factor`` (when recorded) become ``alpha`` and ``pf_cols`` broadcast to the
    batch, so they carry the tangents of the arguments. ``status``, ``n_iter`` and
    ``grad_norm`` carry no derivatives.
    """
    st = _statics_of(res)
    given = _Statics(**{**st._asdict(), **statics})
    if given._replace(batch_shape=tuple(given.batch_shape)) != st:
        raise ValueError(f"statics: {given} disagree with the result's {st}")
    theta = dict(X=X, y=y, weights=weights, offset=offset, trials=trials, alpha=alpha,
                 pf=pf_cols)
    coef, intercept, loss = _solution(st, res.coef, res.intercept, res.loss, res.status, theta)
    own_alpha, own_pf = res.alpha, res.penalty_factor
    return dataclasses.replace(
        res, coef=coef, intercept=intercept, loss=loss,
        alpha=None if own_alpha is None else jnp.broadcast_to(alpha, own_alpha.shape),
        penalty_factor=None if own_pf is None else jnp.broadcast_to(pf_cols, own_pf.shape),
    )


def _statics_of(res: FitResult) -> _Statics:
    """The static settings of the fit ``res`` (its batch shape and recorded specification)."""
    return _Statics(tuple(res.batch_shape), bool(res.fit_intercept), float(res.l1_ratio),
                    _spec.class_weight(res, _spec.FROM_FIT), str(res.link))


# --------------------------------------------------------------------------------------------
# The influence function
# --------------------------------------------------------------------------------------------


def _model_influence(beta, status, theta, st: _Statics, products) -> Array:
    """One model's ``(n, p)`` matrix ``d beta* / d w_i`` (row ``i``)."""
    p = beta.shape[-1]
    active, _, fac, good = _active_factor(beta, status, theta, st, products)
    _, pullback = jax.vjp(
        lambda w: _condition(beta, {**theta, "weights": w}, st)[0], theta["weights"]
    )
    (J,) = jax.vmap(pullback)(jnp.eye(p, dtype=beta.dtype))  # (p, n): d G_j / d w_i
    D = -(_linalg.inverse(fac) @ jnp.where(active[:, None], J, 0.0))
    return jnp.where(good, D.T, jnp.nan)


@functools.partial(jax.jit, static_argnums=(0,))
def _influence(st: _Statics, params, status, theta: dict) -> Array:
    products = _shared_products(theta, st)

    def one(pm, th):
        return _model_influence(pm["beta"], pm["status"], th, st, products)

    present = {k: v for k, v in theta.items() if v is not None}
    return _map_models(one, st, {"beta": params, "status": status}, present)


def influence(
    res: FitResult,
    X: Numeric[ArrayLike, "*#batch n d"],
    y: Numeric[ArrayLike, "*#batch n"],
    *,
    weights: Numeric[ArrayLike, "*#batch n"] | None = None,
    offset: Numeric[ArrayLike, "*#batch n"] | None = None,
    alpha: Real[ArrayLike, "*#batch"] | FromFit = FROM_FIT,
    l1_ratio: float | FromFit = FROM_FIT,
    penalty_factor: Real[ArrayLike, " d"] | None | FromFit = FROM_FIT,
    trials: Numeric[ArrayLike, "*#batch n"] | None = None,
    class_weight: ClassWeight | FromFit = FROM_FIT,
) -> Float[Array, "*batch n p"]:
    """Influence of each observation's weight on every parameter: ``d params / d w_i``.

    For each model of ``res`` (fitted by :func:`jaxlogreg.fit` to the same data, passed here
    with ``fit``'s meanings and shapes; the penalty and class weights are the fit's, read
    from ``res``), the derivative of the fitted parameters
    ``beta*`` (intercept first, as ``res.params``) with respect to the weight ``w_i`` of
    each observation, by implicit differentiation of the optimality condition (module
    docstring)::

        d beta*_A / d w_i = -H_AA^-1 partial G_A / partial w_i,   0 off the active set A.

    Without a penalty, class weights or trials this is ``I^-1 x_i (y_i - mu_i)``, with ``I =
    X^T diag(w mu (1 - mu)) X`` the information matrix (the ``1 / sum w`` scaling of the
    objective cancels at the optimum, where ``sum_k w_k x_k (y_k - mu_k) = 0``).

    Deleting observation ``i`` changes its weight by ``-w_i``, so the one-step (jackknife)
    approximation of the refit without it is::

        beta*_(-i) - beta* ~= -w_i d beta* / d w_i,

    with an error ``O(1 / n^2)`` against a change ``O(1 / n)``. statsmodels'
    ``Logit(...).fit().get_influence()`` (``MLEInfluence``, unit weights, no penalty) adds
    Pregibon's leverage correction (Pregibon, "Logistic regression diagnostics", Ann. Stat.
    9, 1981): its ``d_params = beta* - beta*_(-i)`` is ``d beta*/d w_i / (1 - h_ii)`` with
    ``h_ii`` its ``hat_matrix_diag``, and its ``dfbetas`` is ``d_params / bse``.

    Args:
      res: the :class:`~jaxlogreg.FitResult` of ``fit(X, y, weights=..., ...)``: its
        ``link``, ``fit_intercept`` and specification (``alpha (...)``, ``l1_ratio``,
        ``penalty_factor (..., d)``, ``class_weight``) are used.
      X, y, weights, offset, trials: the data of the fit, as for :func:`jaxlogreg.fit`.
      alpha, l1_ratio, penalty_factor, class_weight: by default (:data:`FROM_FIT`) the
        fit's, from ``res``; a value passed must agree with the one ``res`` records
        (:mod:`jaxlogreg._spec`; a FitResult built by hand records none). With an L1
        term, coefficients at exactly 0 stay at 0 to first order.

    Returns:
      ``(..., n, p)`` array: entry ``[..., i, j]`` is ``d params_j / d w_i`` of the model
      at ``[...]`` (``p = d + fit_intercept``). NaN for every model whose status is not
      ``CONVERGED`` (or whose Hessian on the active set is singular).

    Raises:
      ValueError: bad data or penalty (as :func:`jaxlogreg.fit`), a penalty or class weights
        that disagree with those ``res`` records, or a ``res`` whose batch shape or number
        of parameters does not match the data.
    """
    if not all(hasattr(res, a) for a in ("params", "status", "fit_intercept", "batch_shape")):
        raise ValueError(f"res: expected a jaxlogreg.FitResult, got {type(res).__name__}")
    fit_intercept = bool(res.fit_intercept)
    dtype = _validate.float_dtype(X)
    cw = _spec.class_weight(res, class_weight)
    # The strength's batch axes join the data's (checked and converted by _spec.penalty).
    own_alpha = res.alpha if _spec.recorded(res) else 0.0
    alpha_arr = _validate._as_array("alpha", own_alpha if alpha is FROM_FIT else alpha, dtype)
    data = _validate.fit_inputs(
        X, y, weights, offset, fit_intercept=fit_intercept, trials=trials,
        extra_batch=alpha_arr.shape,
    )
    d = data.X.shape[-1]
    params = jnp.asarray(res.params, dtype)
    if tuple(res.batch_shape) != tuple(data.batch_shape):
        raise ValueError(
            f"res: batch shape {tuple(res.batch_shape)} does not match the data's batch shape "
            f"{tuple(data.batch_shape)} (pass the data and penalty the models were fitted to)"
        )
    if params.shape[-1] != d + int(fit_intercept):
        raise ValueError(
            f"res: has {params.shape[-1]} parameters but X has d = {d} columns"
            f"{' plus the intercept' if fit_intercept else ''}"
        )
    alpha_arr, ratio, pf = _spec.penalty(res, alpha, l1_ratio, penalty_factor, d, dtype)
    st = _Statics(tuple(data.batch_shape), fit_intercept, ratio, cw,
                  str(getattr(res, "link", "logit")))
    theta = dict(X=data.X, y=data.y, weights=data.weights, offset=data.offset,
                 trials=data.trials, alpha=alpha_arr, pf=pf)
    return _influence(st, params, jnp.asarray(res.status), theta)
