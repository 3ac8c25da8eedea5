"""The objective, its derivatives, and every convention they rest on.

This module is the single owner of jaxlogreg's conventions; solvers and statistics call into
it and restate none of them.

Conventions
-----------
* One model's data: design ``X`` of shape ``(n, p)``, response ``y`` ``(n,)`` with entries in
  ``[0, 1]``, nonnegative frequency weights ``w`` ``(n,)`` (a weight of 2 counts the row
  twice), offset ``o`` ``(n,)``.
* Parameters ``beta`` ``(p,)``. When an intercept is fitted it is ``beta[0]`` and ``X[:, 0]``
  is a column of ones (:func:`add_intercept`), the order of statsmodels' ``add_constant``.
* Linear predictor ``eta = X @ beta + o``; mean ``mu = sigmoid(eta)``.
* The objective, stated once::

      f(beta) = (1 / sum_i w_i) * sum_i w_i * l_i  +  (l2 / 2) * sum_j pf_j * beta_j**2
      l_i     = softplus(eta_i) - y_i * eta_i      (the negative log-likelihood of row i)

  ``pf`` is the per-coefficient penalty factor: 0 for the intercept, which is never
  penalised, 1 for every other coefficient unless the caller says otherwise.
* Its derivatives::

      grad f = X^T (w * (mu - y)) / sum w  +  l2 * pf * beta
      hess f = X^T diag(w * mu * (1 - mu)) X / sum w  +  l2 * diag(pf)

Numerics: ``l = log1p(exp(-|eta|)) + y max(-eta, 0) + (1 - y) max(eta, 0)``, a sum of
nonnegative terms equal to ``softplus(eta) - y eta``, and ``mu`` and ``mu * (1 - mu)``
come from the same ``exp(-|eta|)``, so every quantity is finite and accurate to relative
rounding for any finite ``eta`` (``|eta|`` up to 1e4 in float32 and beyond).

Shared design matrices: for a batch of models over one ``X`` the Hessian's data term is
written as ``Z^T s`` with ``Z = column_products(X)`` of shape ``(n, p (p + 1) / 2)`` and
``s = w * mu * (1 - mu) / sum w``. Under ``vmap`` over ``s`` that becomes one
``(B, n) @ (n, p (p + 1) / 2)`` matrix product and never forms ``B`` copies of ``X``.
"""

from __future__ import annotations

from typing import NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array

__all__ = [
    "Problem",
    "add_intercept",
    "column_products",
    "default_penalty_factor",
    "pointwise",
    "linear_predictor",
    "evaluate",
    "value",
    "gradient",
    "gradient_from_rows",
    "hessian",
    "hessian_from_rows",
    "hvp",
    "value_grad_hess",
]


class Problem(NamedTuple):
    """One model's data and penalty, in the conventions of this module.

    Attributes:
      X: ``(n, p)`` design, with the column of ones first when an intercept is fitted.
      y: ``(n,)`` response in ``[0, 1]``.
      weights: ``(n,)`` nonnegative frequency weights, not all zero.
      offset: ``(n,)`` added to the linear predictor.
      l2: ``()`` L2 strength; the penalty is ``l2 / 2 * sum(pf * beta**2)``.
      penalty_factor: ``(p,)`` per-coefficient penalty scale ``pf`` (0 for the intercept).
      products: ``(n, p (p + 1) / 2)`` output of :func:`column_products` for ``X``, or None
        to form the Hessian as ``X^T diag(s) X`` directly.
    """

    X: Array
    y: Array
    weights: Array
    offset: Array
    l2: Array
    penalty_factor: Array
    products: Optional[Array] = None


def add_intercept(X: Array) -> Array:
    """``(..., n, d) -> (..., n, d + 1)`` with a leading column of ones."""
    ones = jnp.ones(X.shape[:-1] + (1,), X.dtype)
    return jnp.concatenate([ones, X], axis=-1)


def default_penalty_factor(p: int, fit_intercept: bool, dtype) -> Array:
    """``(p,)`` ones, with a 0 for the intercept when there is one."""
    pf = np.ones(p)
    if fit_intercept:
        pf[0] = 0.0
    return jnp.asarray(pf, dtype)


def _upper_indices(p: int) -> tuple[np.ndarray, np.ndarray]:
    return np.triu_indices(p)


def column_products(X: Array) -> Array:
    """``(n, p) -> (n, p (p + 1) / 2)``: ``Z[:, k] = X[:, i_k] * X[:, j_k]`` for ``i_k <= j_k``."""
    i, j = _upper_indices(X.shape[-1])
    return X[..., :, i] * X[..., :, j]


def _symmetric_from_upper(h: Array, p: int) -> Array:
    """``(p (p + 1) / 2,) -> (p, p)``: the symmetric matrix whose upper triangle is ``h``."""
    i, j = _upper_indices(p)
    index = np.zeros((p, p), dtype=np.int32)
    index[i, j] = np.arange(i.size)
    index[j, i] = np.arange(i.size)
    return h[index]


def pointwise(eta: Array, y: Array) -> tuple[Array, Array, Array]:
    """Per-row loss, mean and variance at the linear predictor ``eta``.

    Returns ``(l, mu, v)``, each of ``eta``'s shape: ``l = softplus(eta) - y * eta``,
    ``mu = sigmoid(eta)``, ``v = mu * (1 - mu)``, all from a single ``exp(-|eta|)``.
    """
    e = jnp.exp(-jnp.abs(eta))
    r = 1.0 / (1.0 + e)
    # softplus(eta) - y eta with max(eta, 0) - y eta split into two nonnegative terms, so
    # nothing cancels when y = 1 and eta is large (or y = 0 and eta very negative).
    loss = jnp.log1p(e) + y * jnp.maximum(-eta, 0.0) + (1.0 - y) * jnp.maximum(eta, 0.0)
    mu = jnp.where(eta >= 0, r, e * r)
    var = e * r * r
    return loss, mu, var


def linear_predictor(beta: Array, problem: Problem) -> Array:
    """``eta = X @ beta + offset``, shape ``(n,)``."""
    return problem.X @ beta + problem.offset


def _penalty(beta: Array, problem: Problem) -> Array:
    return 0.5 * problem.l2 * jnp.sum(problem.penalty_factor * beta * beta)


def evaluate(eta: Array, beta: Array, problem: Problem) -> tuple[Array, Array, Array]:
    """Objective at ``beta`` given its linear predictor ``eta``, and the row weights of its
    derivatives.

    Returns ``(f, r, s)``: ``f`` scalar; ``r = w (mu - y) / sum w`` and
    ``s = w mu (1 - mu) / sum w``, each ``(n,)``, so that ``grad f = X^T r + l2 pf beta``
    and ``hess f = X^T diag(s) X + l2 diag(pf)``. Solvers use it at trial points along a
    line, where ``eta`` is cheap to update.
    """
    loss, mu, var = pointwise(eta, problem.y)
    w = problem.weights
    scale = 1.0 / jnp.sum(w)
    f = scale * jnp.sum(w * loss) + _penalty(beta, problem)
    return f, (scale * w) * (mu - problem.y), (scale * w) * var


def value(beta: Array, problem: Problem) -> Array:
    """The objective ``f(beta)`` (module docstring), a scalar."""
    return evaluate(linear_predictor(beta, problem), beta, problem)[0]


def gradient_from_rows(r: Array, beta: Array, problem: Problem) -> Array:
    """``(p,)`` gradient ``X^T r + l2 * pf * beta`` given ``r`` from :func:`evaluate`."""
    return problem.X.T @ r + problem.l2 * problem.penalty_factor * beta


def hessian_from_rows(s: Array, problem: Problem) -> Array:
    """``(p, p)`` Hessian ``X^T diag(s) X + l2 * diag(pf)`` given ``s`` from :func:`evaluate`.

    Uses ``problem.products`` (``Z^T s``, see the module docstring) when present.
    """
    p = problem.X.shape[-1]
    if problem.products is not None:
        data = _symmetric_from_upper(problem.products.T @ s, p)
    else:
        data = problem.X.T @ (s[:, None] * problem.X)
    return data + jnp.diag(problem.l2 * problem.penalty_factor)


def gradient(beta: Array, problem: Problem) -> Array:
    """``(p,)`` gradient of the objective at ``beta``."""
    _, r, _ = evaluate(linear_predictor(beta, problem), beta, problem)
    return gradient_from_rows(r, beta, problem)


def hessian(beta: Array, problem: Problem) -> Array:
    """``(p, p)`` Hessian of the objective at ``beta``."""
    _, _, s = evaluate(linear_predictor(beta, problem), beta, problem)
    return hessian_from_rows(s, problem)


def hvp(beta: Array, v: Array, problem: Problem) -> Array:
    """``(p,)`` Hessian-vector product ``hess f(beta) @ v`` without forming the Hessian.

    ``X^T (w * mu (1 - mu) * (X v)) / sum w + l2 * pf * v``: two passes over ``X``.
    """
    _, _, s = evaluate(linear_predictor(beta, problem), beta, problem)
    return problem.X.T @ (s * (problem.X @ v)) + problem.l2 * problem.penalty_factor * v


def value_grad_hess(beta: Array, problem: Problem) -> tuple[Array, Array, Array]:
    """Objective, gradient and Hessian at ``beta`` from one pass: ``((), (p,), (p, p))``."""
    f, r, s = evaluate(linear_predictor(beta, problem), beta, problem)
    return f, gradient_from_rows(r, beta, problem), hessian_from_rows(s, problem)
