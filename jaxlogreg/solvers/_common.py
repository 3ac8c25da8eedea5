"""Pieces every solver shares: batch-wide loop predicates, the data checks made at the
starting point, the gradient's rounding floor, and the two separation tests.

One owner, so that every solver reports ``INVALID``, ``SEPARATED`` and ``CONVERGED`` on the
same grounds. All functions act on one model (a :class:`jaxlogreg._loss.Problem`) and are
written to be vmapped over many; their reductions over rows go through
:func:`jaxlogreg._loss.across_rows` (rows split across devices).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from .. import _loss
from .._status import Status

Array = jax.Array

__all__ = [
    "any_model",
    "keep_going",
    "invalid_data",
    "gradient_floor",
    "information_scale",
    "recession",
    "certainly_separated",
]


def any_model(x: Array, axis_name: str | None) -> Array:
    """``x`` (a per-model bool) reduced with "or" over the vmapped axis, if named.

    Under ``jax.vmap(..., axis_name=axis_name)`` the result is the same for every model, so
    a ``while_loop`` or ``cond`` predicate built from it stays unbatched.
    """
    if axis_name is None:
        return x
    return jax.lax.pmax(x.astype(jnp.int32), axis_name) > 0


def keep_going(state, axis_name: str | None) -> Array:
    """Predicate of a solver's loop: this model is running (or not yet started: ``n_iter <
    0``) or, under a named axis, some model of the vmapped batch is."""
    running = (state.status == int(Status.RUNNING)) | (state.n_iter < 0)
    return any_model(running, axis_name)


def invalid_data(problem: _loss.Problem) -> Array:
    """``()`` bool: a negative weight, or a positively weighted label outside ``[0, 1]``."""
    w, y = problem.weights, problem.y
    bad = jnp.any((w < 0) | ((w != 0) & ((y < 0) | (y > 1))))
    return _loss.across_rows(bad, problem, "max")


def gradient_floor(problem: _loss.Problem) -> Array:
    """``(p,)`` rounding bound on the gradient: ``eps ||X_j||_2 ||w||_2 / sum w``.

    A gradient entry below it is indistinguishable from zero in the working precision; it
    exceeds a default tolerance only in float32 on columns of very large scale.
    """
    w = problem.weights
    eps = jnp.finfo(problem.X.dtype).eps
    total = lambda x: _loss.across_rows(x, problem)  # noqa: E731
    # ||w||_2 / sum w from the weights scaled by their largest: w * w would overflow for
    # weights near the square root of the largest float (and make every test pass).
    top = _loss.across_rows(jnp.max(jnp.abs(w)), problem, "max")
    scaled = w / jnp.where(top > 0, top, 1.0)
    norm = jnp.sqrt(total(jnp.sum(scaled * scaled))) / total(jnp.sum(scaled))
    return eps * jnp.sqrt(total(jnp.sum(problem.X * problem.X, axis=0))) * norm


def information_scale(problem: _loss.Problem) -> Array:
    """``()`` the multiplier of ``tol`` in the decrement tests: ``min(1, 2 min(W1, W0) / W)``
    with ``W1 = sum_i w_i y_i``, ``W0 = W - W1``, ``W = sum_i w_i``.

    The mean loss's gradient and Hessian both scale with the rarer class's share (every row
    of the common class is fitted nearly exactly), and so does the Newton decrement
    ``g^T H^-1 g``: with one positive in 100,000 rows an absolute test on it is met after one
    step, far from the optimum. Scaled by the share, the test asks the step itself (in
    parameter units) to be small. 1 for balanced classes (the unscaled test), and 1 where a
    class is absent: there is no rate to scale by (such a model is separated, or for Firth's
    method converges to a finite estimate as any other).
    """
    total = _loss.weight_sum(problem)
    ones = _loss.across_rows(jnp.sum(problem.weights * problem.y), problem)
    share = jnp.minimum(ones, total - ones) / total
    return jnp.where(share > 0, jnp.clip(2.0 * share, 0.0, 1.0), 1.0)


def recession(problem: _loss.Problem, xd: Array, direction: Array) -> tuple[Array, Array]:
    """Whether ``direction`` ``(p,)``, with ``xd = X @ direction`` ``(n,)``, certifies that
    the objective has no finite minimiser; and its reach ``max_i |xd_i|``.

    Rows with ``y = 1`` may only move up, rows with ``y = 0`` only down, and rows with a
    fractional ``y`` (a finite optimum of their own) not at all. Over positively weighted
    rows, ``forward`` is the largest move towards the observed class and ``backward`` the
    largest move against it (any move of a fractional row counts); the certificate is
    ``backward <= sqrt(eps) * forward``, ``forward > sqrt(eps)`` and no change of the L2
    penalty along ``direction``. The loss then decreases without bound along it (the
    classes are separated; Albert and Anderson, Biometrika 71, 1984). The reach is
    ``max(forward, backward)``.

    Both come from one reduction pair over the signed moves ``u_i = side_i xd_i``
    (``-|xd_i|`` for a fractional row; :func:`jaxlogreg._loss.sides`).

    Returns ``(certified, reach)``, both ``()``.
    """
    dtype = xd.dtype
    sqrt_eps = jnp.sqrt(jnp.finfo(dtype).eps)
    side = _loss.sides(problem)
    u = jnp.where(side == 2, -jnp.abs(xd), side * xd)
    # Largest and smallest in one pass over the rows (a two-operand reduction).
    top, bottom = jax.lax.reduce(
        (u, u), (jnp.array(-jnp.inf, dtype), jnp.array(jnp.inf, dtype)),
        lambda a, b: (jnp.maximum(a[0], b[0]), jnp.minimum(a[1], b[1])), (0,))
    forward, backward = _loss.across_rows(jnp.stack([top, -bottom]), problem, "max")
    reach = jnp.maximum(forward, backward)
    penalty_change = problem.l2 * jnp.sum(problem.penalty_factor * direction * direction)
    certified = (backward <= sqrt_eps * forward) & (forward > sqrt_eps) & (penalty_change <= 0)
    return certified, reach


def certainly_separated(
    problem: _loss.Problem, eta: Array, consult: Array, axis_name: str | None
) -> Array:
    """``()`` bool: some positively weighted row is fitted with probability 1 of its observed
    class to working precision, ``(2 y_i - 1) eta_i > -log(eps)`` at the linear predictor
    ``eta`` ``(n,)``.

    A finite optimum never puts a row there in practice, so a model that stops for another
    reason (out of iterations, a singular Hessian) with such a row is reported separated.
    The test is computed only when ``consult`` holds for some model of the vmapped batch
    (otherwise it is False); callers use it only where ``consult`` holds.
    """
    dtype = eta.dtype

    def margin_test(_):
        side = _loss.sides(problem)
        fitted = jnp.where(side == 2, 0.0, side * eta)  # 0 for unweighted and fractional rows
        largest = _loss.across_rows(jnp.max(fitted), problem, "max")
        return largest > -jnp.log(jnp.finfo(dtype).eps)

    return jax.lax.cond(
        any_model(consult, axis_name), margin_test, lambda _: jnp.zeros((), bool), None
    )
