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
* Linear predictor ``eta = X @ beta + o``; mean ``mu = F(eta)``, ``F`` the inverse link:
  the logistic ``sigmoid`` (the default, canonical link), or the probit, complementary
  log-log or Cauchy CDF (:mod:`jaxlogreg._links`, ``Problem.link``). The formulas below are
  the logit's; for another link ``mu - y`` becomes the row score ``d l_i / d eta_i`` and
  ``mu (1 - mu)`` the row's expected information ``F'^2 / (mu (1 - mu))``
  (:func:`row_terms`).
* The objective, stated once (the glmnet / glum convention)::

      f(beta) = (1 / sum_i w_i) * sum_i w_i * l_i  +  P(beta)
      l_i     = softplus(eta_i) - y_i * eta_i      (the negative log-likelihood of row i)
      P(beta) = l1 * sum_j pf_j |beta_j|  +  (l2 / 2) * sum_j pf_j * beta_j**2

  ``pf`` is the per-coefficient penalty factor: 0 for the intercept, which is never
  penalised, 1 for every other coefficient unless the caller says otherwise. A user's
  ``alpha`` and ``l1_ratio`` map to ``l1 = alpha * l1_ratio``, ``l2 = alpha * (1 -
  l1_ratio)``; scikit-learn's ``C`` is ``alpha = 1 / (C * sum_i w_i)`` (its objective is
  ours times ``C * sum_i w_i``).
* Its derivatives (of the smooth part: everything but the ``l1`` term, whose
  subdifferential :func:`min_norm_subgradient` handles)::

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

Cached per-model constants: a solver that evaluates one model many times builds its
:class:`Problem` once with :func:`prepared`, which stores ``sum_i w_i`` and each row's
*side* (``+1`` for a positively weighted row with ``y = 1``, ``-1`` with ``y = 0``, ``2``
with a fractional ``y``, ``0`` for a row of weight 0), so that no evaluation recomputes them.

Rows split across devices: inside :func:`jax.shard_map` each device holds some of the rows
of ``X``, ``y``, ``weights`` and ``offset``, and ``Problem.row_axis`` names the mesh axis
they are split over. Every reduction over rows, here and in the solvers, goes through
:func:`across_rows`, which combines the devices' partial sums (``psum``) or maxima
(``pmax``); with ``row_axis=None`` (the default) it returns its argument unchanged.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from . import _links

Array = jax.Array

__all__ = [
    "Problem",
    "across_rows",
    "add_intercept",
    "column_products",
    "default_penalty_factor",
    "pointwise",
    "design_times",
    "design_transpose_times",
    "linear_predictor",
    "evaluate",
    "value",
    "gradient",
    "gradient_from_rows",
    "hessian",
    "hessian_from_rows",
    "hvp",
    "value_grad_hess",
    "l1_penalty",
    "min_norm_subgradient",
    "response_weights",
    "row_terms",
    "prepared",
    "sides",
    "weight_sum",
    "shared_rows",
    "from_shared_rows",
    "model_problem",
    "quadratic_rows",
    "weighted_cubes",
    "without_offset",
]


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Problem:
    """One model's data and penalty, in the conventions of this module (a pytree).

    Attributes:
      X: ``(n, p)`` design, with the column of ones first when an intercept is fitted.
      y: ``(n,)`` response in ``[0, 1]``.
      weights: ``(n,)`` nonnegative frequency weights, not all zero.
      offset: ``(n,)`` added to the linear predictor, or None for none (no pass adds it).
      l2: ``()`` L2 strength; the penalty is ``l2 / 2 * sum(pf * beta**2)``.
      penalty_factor: ``(p,)`` per-coefficient penalty scale ``pf`` (0 for the intercept).
      products: ``(n, p (p + 1) / 2)`` output of :func:`column_products` for ``X``, or None
        to form the Hessian as ``X^T diag(s) X`` directly.
      l1: ``()`` L1 strength (``l1 * sum(pf * |beta|)``), or None for none.
      link: ``"logit"``, ``"probit"``, ``"cloglog"`` or ``"cauchit"`` (static).
      row_axis: name of the mesh axis the rows are split over (static; see
        :func:`across_rows`), or None when this device holds all ``n`` rows.
      weight_sum: ``()`` ``sum_i w_i`` over all rows, or None to compute it where needed
        (:func:`prepared` fills it).
      side: ``(n,)`` each row's side (module docstring), or None to derive it from ``y``
        and ``weights`` where needed (:func:`prepared` fills it).
    """

    X: Array
    y: Array
    weights: Array
    offset: Array | None
    l2: Array
    penalty_factor: Array
    products: Array | None = None
    l1: Array | None = None
    link: str = dataclasses.field(default="logit", metadata=dict(static=True))
    row_axis: str | None = dataclasses.field(default=None, metadata=dict(static=True))
    weight_sum: Array | None = None
    side: Array | None = None

    def _replace(self, **changes) -> Problem:
        """A copy with some fields changed (as ``NamedTuple._replace``)."""
        return dataclasses.replace(self, **changes)


def across_rows(x: Array, problem: Problem, reduce: str = "sum") -> Array:
    """``x`` (any shape), a sum (``reduce="sum"``) or a maximum (``"max"``; for a bool,
    "any") over this device's rows of ``problem``, made a reduction over all its rows:
    ``psum`` / ``pmax`` over ``problem.row_axis``, or ``x`` itself when that is None."""
    axis = problem.row_axis
    if axis is None:
        return x
    if reduce == "sum":
        return jax.lax.psum(x, axis)
    if x.dtype == jnp.bool_:
        return jax.lax.pmax(x.astype(jnp.int32), axis) > 0
    return jax.lax.pmax(x, axis)


def weight_sum(problem: Problem) -> Array:
    """``()`` ``sum_i w_i`` over all rows (the cached value when there is one)."""
    if problem.weight_sum is not None:
        return problem.weight_sum
    return across_rows(jnp.sum(problem.weights), problem)


def sides(problem: Problem) -> Array:
    """``(n,)`` each row's side (module docstring; the cached value when there is one)."""
    if problem.side is not None:
        return problem.side
    y, w = problem.y, problem.weights
    side = jnp.where(y == 1, 1.0, jnp.where(y == 0, -1.0, 2.0))
    return jnp.where(w > 0, side, 0.0).astype(problem.X.dtype)


def prepared(problem: Problem) -> Problem:
    """``problem`` with its per-model constants cached (:attr:`Problem.weight_sum`,
    :attr:`Problem.side`): the form a solver loop evaluates many times."""
    return problem._replace(weight_sum=weight_sum(problem), side=sides(problem))


def response_weights(
    y: Array, weights: Array, trials=None, class_weight=None
) -> tuple[Array, Array]:
    """One model's ``(y, w)`` in this module's convention from binomial counts and class
    weights; ``(n,)`` each.

    * ``trials``: ``y`` counts successes out of ``trials`` (aggregated data, as R's
      ``cbind(successes, failures)``). The row becomes the proportion ``y / trials`` with
      weight ``w * trials``: its loss ``trials * [softplus(eta) - (y / trials) eta]`` is that
      of ``trials`` 0/1 rows, ``y`` of them positive, so the fit equals the expanded data's.
      A row with 0 trials gets weight 0.
    * ``class_weight``: ``(c0, c1)`` multiplies the loss of every positive by ``c1`` and of
      every negative by ``c0``; for a row with proportion ``y`` that is weight
      ``w (c1 y + c0 (1 - y))`` and response ``c1 y / (c1 y + c0 (1 - y))``. ``"balanced"``
      sets ``c_k = W / (2 W_k)`` with ``W_1 = sum w y``, ``W_0 = sum w (1 - y)``,
      ``W = W_0 + W_1``: scikit-learn's ``n_samples / (n_classes * bincount(y))`` on the data
      with every row repeated ``w_i`` times (scikit-learn itself counts rows, ignoring
      ``sample_weight``). An absent class gets ``c_k = 1``.
    """
    if trials is not None:
        positive = trials > 0
        y = jnp.where(positive, y / jnp.where(positive, trials, 1.0), 0.0)
        weights = weights * trials
    if class_weight is None:
        return y, weights
    if class_weight == "balanced":
        w1 = jnp.sum(weights * y)
        w0 = jnp.sum(weights * (1.0 - y))
        total = w0 + w1
        c0 = jnp.where(w0 > 0, total / (2.0 * jnp.where(w0 > 0, w0, 1.0)), 1.0)
        c1 = jnp.where(w1 > 0, total / (2.0 * jnp.where(w1 > 0, w1, 1.0)), 1.0)
    else:
        c0, c1 = (jnp.asarray(c, weights.dtype) for c in class_weight)
    scale = c1 * y + c0 * (1.0 - y)
    return c1 * y / scale, weights * scale


def model_problem(X: Array, y: Array, weights: Array, offset: Array | None = None, *,
                  trials: Array | None = None, class_weight=None, alpha=None,
                  l1_ratio: float = 0.0, penalty_factor: Array | None = None,
                  products: Array | None = None, link: str = "logit",
                  row_axis: str | None = None) -> Problem:
    """One model's :class:`Problem` from ``fit``'s arguments for it: every module that fits
    or reads a model builds it here.

    The rows are put in this module's convention by :func:`response_weights` (``trials``,
    ``class_weight``), and the penalty strength ``alpha ()`` is split into its L2 part
    ``alpha (1 - l1_ratio)`` and its L1 part ``alpha l1_ratio`` (none when ``l1_ratio`` is
    0). ``X (n, p)`` already holds the column of ones when an intercept is fitted, and
    ``penalty_factor (p,)`` its 0; ``alpha`` None is no penalty (``penalty_factor`` then
    defaults to zeros).
    """
    y, w = response_weights(y, weights, trials, class_weight)
    if alpha is None:
        l2 = jnp.zeros((), X.dtype)
        l1 = None
        if penalty_factor is None:
            penalty_factor = jnp.zeros((X.shape[-1],), X.dtype)
    else:
        l2 = alpha * (1.0 - l1_ratio)
        l1 = alpha * l1_ratio if l1_ratio > 0 else None
    assert penalty_factor is not None
    return Problem(X, y, w, offset, l2, penalty_factor, products, l1, link, row_axis=row_axis)


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
    a = jnp.abs(eta)
    e = jnp.exp(-a)
    r = 1.0 / (1.0 + e)
    # softplus(eta) = log1p(e) + max(eta, 0), with max(eta, 0) = (|eta| + eta) / 2 exactly
    # (XLA's CPU backend fuses this form into one pass; a maximum with 0 makes it write a
    # broadcast zero first). max(eta, 0) - y eta is exact for y in {0, 1} (either 0 or
    # |eta|), so nothing cancels when a row is fitted well.
    loss = jnp.log1p(e) + (0.5 * (a + eta) - y * eta)
    mu = jnp.where(eta >= 0, r, e * r)
    var = e * r * r
    return loss, mu, var


# Designs of at most this many columns (intercept included) without column products are
# multiplied by sums over their columns and form their Hessian by elementwise products
# summed over rows: under vmap a design per model otherwise becomes a batched product of
# skinny matrices, which XLA's CPU code runs poorly at such widths (the comparison is in
# CHANGELOG.md).
_ELEMENTWISE = 2


def _elementwise(problem: Problem) -> bool:
    return problem.products is None and problem.X.shape[-1] <= _ELEMENTWISE


def design_times(v: Array, problem: Problem) -> Array:
    """``X @ v``, shape ``(n,)``, for ``v`` ``(p,)``: every product of a model's design with
    a vector (linear predictors, search directions) goes through here or
    :func:`design_transpose_times`.

    Written as ``v @ X^T`` (and :func:`design_transpose_times` as ``r @ X``): vmapped over
    models, the product then comes out as ``(models, n)``, the layout every row-wise
    computation after it reads, with no transpose in between."""
    if _elementwise(problem):
        return jnp.sum(problem.X.T * v[:, None], axis=0)
    return v @ problem.X.T


def design_transpose_times(r: Array, problem: Problem) -> Array:
    """``X^T r``, shape ``(p,)``, for ``r`` ``(n,)``: this device's rows only (callers sum
    it :func:`across_rows`)."""
    if _elementwise(problem):
        return jnp.sum(problem.X.T * r[None, :], axis=1)
    return r @ problem.X


def quadratic_rows(A: Array, problem: Problem) -> Array:
    """``(n,)``: ``x_i^T A x_i`` for a symmetric ``(p, p)`` ``A`` (leverages); with the column
    products ``Z`` of a shared design, ``Z @ c`` (``c`` the upper triangle of ``A``,
    off-diagonal entries doubled), so that no per-model copy of the design is made."""
    if problem.products is not None:
        i, j = np.triu_indices(A.shape[-1])
        coeffs = A[i, j] * jnp.asarray(np.where(i == j, 1.0, 2.0), A.dtype)
        return problem.products @ coeffs
    return jnp.sum((problem.X @ A) * problem.X, axis=-1)


def weighted_cubes(a: Array, problem: Problem) -> Array:
    """``(p, p, p)``: ``T_jkl = sum_i a_i x_ij x_ik x_il`` for ``a (n,)`` (the third-order
    terms of Firth's observed Hessian); with the column products ``Z`` of a shared design,
    ``(X * a)^T Z`` unpacked, so that no per-model copy of the design is made."""
    if problem.products is not None:
        upper = (problem.X * a[:, None]).T @ problem.products  # (p, p (p + 1) / 2)
        return jax.vmap(lambda u: _symmetric_from_upper(u, problem.X.shape[-1]))(upper)
    return jnp.einsum("n,ni,nj,nk->ijk", a, problem.X, problem.X, problem.X)


def linear_predictor(beta: Array, problem: Problem) -> Array:
    """``eta = X @ beta + offset``, shape ``(n,)``."""
    eta = design_times(beta, problem)
    return eta if problem.offset is None else eta + problem.offset


def without_offset(eta: Array, problem: Problem) -> Array:
    """``X @ beta`` from the linear predictor ``eta`` ``(n,)`` at ``beta``."""
    return eta if problem.offset is None else eta - problem.offset


def _penalty(beta: Array, problem: Problem) -> Array:
    smooth = 0.5 * problem.l2 * jnp.sum(problem.penalty_factor * beta * beta)
    return smooth + l1_penalty(beta, problem)


def l1_penalty(beta: Array, problem: Problem) -> Array:
    """``l1 * sum_j pf_j |beta_j|`` (0 when ``problem.l1`` is None)."""
    if problem.l1 is None:
        return jnp.zeros((), beta.dtype)
    return problem.l1 * jnp.sum(problem.penalty_factor * jnp.abs(beta))


def min_norm_subgradient(beta: Array, grad: Array, problem: Problem) -> Array:
    """``(p,)`` element of least magnitude in the subdifferential of ``f`` at ``beta``.

    ``grad`` is the gradient of the smooth part (:func:`gradient`). With ``c_j = l1 pf_j``:
    ``grad_j + c_j sign(beta_j)`` where ``beta_j != 0``, and ``sign(grad_j) max(|grad_j| -
    c_j, 0)`` where ``beta_j = 0``. It is 0 exactly at a minimiser; without an L1 term it is
    ``grad``.
    """
    if problem.l1 is None:
        return grad
    c = problem.l1 * problem.penalty_factor
    at_zero = jnp.sign(grad) * jnp.maximum(jnp.abs(grad) - c, 0.0)
    return jnp.where(beta != 0, grad + c * jnp.sign(beta), at_zero)


def evaluate(eta: Array, beta: Array, problem: Problem,
             information: str = "expected") -> tuple[Array, Array, Array]:
    """Objective at ``beta`` given its linear predictor ``eta``, and the row weights of its
    derivatives.

    Returns ``(f, r, s)``: ``f`` scalar; ``r = w (mu - y) / sum w`` and
    ``s = w mu (1 - mu) / sum w``, each ``(n,)``, so that ``grad f = X^T r + l2 pf beta``
    and ``hess f = X^T diag(s) X + l2 diag(pf)`` (for another link, ``r`` and ``s`` from the
    row score and the ``information`` weight of :func:`row_terms`).
    """
    loss, score, curvature = row_terms(eta, problem.y, problem.link, information)
    w = problem.weights
    scale = 1.0 / weight_sum(problem)
    f = scale * across_rows(jnp.sum(w * loss), problem) + _penalty(beta, problem)
    return f, (scale * w) * score, (scale * w) * curvature


def row_terms(eta: Array, y: Array, link: str = "logit", information: str = "expected"):
    """Per-row ``(loss, score, curvature)`` for any link, each of ``eta``'s shape.

    ``loss = -[y log mu + (1 - y) log(1 - mu)]``, ``score = d loss / d eta`` and
    ``curvature`` the row's information weight: the expected (Fisher) information
    ``F'(eta)^2 / (mu (1 - mu))`` or, with ``information="observed"``, ``d^2 loss / d eta^2``.
    For the logit (canonical) link both are ``mu (1 - mu)`` and ``score = mu - y``
    (:func:`pointwise`); the other links come from :mod:`jaxlogreg._links`. Solvers use the
    expected information (Fisher scoring, which is Newton's method for the logit).
    """
    if link == "logit":
        loss, mu, var = pointwise(eta, y)
        return loss, mu - y, var
    r = _links.rows(link, eta, y)
    return r.loss, r.score, (r.fisher if information == "expected" else r.observed)


def shared_rows(beta: Array, problem: Problem) -> Array:
    """``(n, 1 + p + p (p + 1) / 2)``: the row terms at ``beta`` of a batch whose models share
    the design (with its column products), the response and the offset, and differ only in
    their weights and penalties: ``[l_i, r_i x_i, c_i z_i]`` with ``l``, ``r``, ``c`` the
    loss, score and curvature of :func:`row_terms` and ``z_i`` row ``i`` of
    ``problem.products``.

    A model with weights ``w`` then has its objective, gradient and Hessian at ``beta`` in
    the product ``w @ rows`` (:func:`from_shared_rows`): no transcendental function per
    model, one matrix product for the batch.
    """
    loss, score, curvature = row_terms(linear_predictor(beta, problem), problem.y, problem.link)
    X = problem.X
    return jnp.concatenate(
        [loss[:, None], score[:, None] * X, curvature[:, None] * problem.products], axis=1)


def from_shared_rows(v: Array, beta: Array, problem: Problem) -> tuple[Array, Array, Array]:
    """``(f, grad, hess)`` at ``beta`` of the model ``problem`` from ``v = w @ rows`` ``(1 +
    p + p (p + 1) / 2,)``, ``rows`` from :func:`shared_rows` of the batch at ``beta`` and
    ``w`` the model's weights: the data terms over ``sum w`` plus the penalty."""
    p = beta.shape[-1]
    v = v / weight_sum(problem)
    f = v[0] + _penalty(beta, problem)
    grad = v[1 : 1 + p] + problem.l2 * problem.penalty_factor * beta
    hess = _symmetric_from_upper(v[1 + p :], p) + jnp.diag(problem.l2 * problem.penalty_factor)
    return f, grad, hess


def value(beta: Array, problem: Problem) -> Array:
    """The objective ``f(beta)`` (module docstring), a scalar."""
    return evaluate(linear_predictor(beta, problem), beta, problem)[0]


def gradient_from_rows(r: Array, beta: Array, problem: Problem) -> Array:
    """``(p,)`` gradient ``X^T r + l2 * pf * beta`` given ``r`` from :func:`evaluate`."""
    grad = across_rows(design_transpose_times(r, problem), problem)
    return grad + problem.l2 * problem.penalty_factor * beta


def hessian_from_rows(s: Array, problem: Problem) -> Array:
    """``(p, p)`` Hessian ``X^T diag(s) X + l2 * diag(pf)`` given ``s`` from :func:`evaluate`.

    Uses ``problem.products`` (``Z^T s``, see the module docstring) when present.
    """
    p = problem.X.shape[-1]
    if problem.products is not None:
        data = _symmetric_from_upper(across_rows(s @ problem.products, problem), p)
    elif _elementwise(problem):
        # Sums of products over rows (see _ELEMENTWISE), with s applied first: products of
        # columns alone would be hoisted out of a solver's loop as a (p, p, n) array.
        XT = problem.X.T
        gram = jnp.sum((XT * s[None, :])[:, None, :] * XT[None, :, :], axis=-1)
        data = across_rows(gram, problem)
    elif problem.X.shape[0] >= 2 * _HESSIAN_ROWS:
        data = across_rows(_blocked_hessian(s, problem.X), problem)
    else:
        data = across_rows((problem.X.T * s[None, :]) @ problem.X, problem)
    return data + jnp.diag(problem.l2 * problem.penalty_factor)


# A design too large for its column products (tall or wide) forms its Hessian's data term
# block by block of this many rows: each block's scaled copy stays in the caches, where
# ``X^T diag(s) X`` over all rows would write and read a scaled copy of the whole design
# (per model, under vmap).
_HESSIAN_ROWS = 8192


def _blocked_hessian(s: Array, X: Array) -> Array:
    """``(p, p)`` ``X^T diag(s) X`` summed over blocks of rows (this device's rows)."""
    n, p = X.shape
    full = n // _HESSIAN_ROWS

    def block(total, start):
        Xb = jax.lax.dynamic_slice_in_dim(X, start, _HESSIAN_ROWS)
        sb = jax.lax.dynamic_slice_in_dim(s, start, _HESSIAN_ROWS)
        return total + (Xb.T * sb[None, :]) @ Xb, None

    starts = jnp.arange(full, dtype=jnp.int32) * _HESSIAN_ROWS
    total, _ = jax.lax.scan(block, jnp.zeros((p, p), s.dtype), starts)
    rest = full * _HESSIAN_ROWS
    if rest < n:
        total = total + (X[rest:].T * s[None, rest:]) @ X[rest:]
    return 0.5 * (total + total.T)  # symmetric to the last bit, as the products' form


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
    xsv = across_rows(design_transpose_times(s * design_times(v, problem), problem), problem)
    return xsv + problem.l2 * problem.penalty_factor * v


def value_grad_hess(beta: Array, problem: Problem) -> tuple[Array, Array, Array]:
    """Objective, gradient and Hessian at ``beta`` from one pass: ``((), (p,), (p, p))``."""
    f, r, s = evaluate(linear_predictor(beta, problem), beta, problem)
    return f, gradient_from_rows(r, beta, problem), hessian_from_rows(s, problem)
