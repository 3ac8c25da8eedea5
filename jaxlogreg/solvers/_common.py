"""Pieces every solver shares: batch-wide loop predicates, the data checks made at the
starting point, the gradient's rounding floor, and the two separation tests.

One owner, so that every solver reports ``INVALID``, ``SEPARATED`` and ``CONVERGED`` on the
same grounds. All functions act on one model (a :class:`jaxlogreg._loss.Problem`) and are
written to be vmapped over many; their reductions over rows go through
:func:`jaxlogreg._loss.across_rows` (rows split across devices).
"""

from __future__ import annotations

from typing import Optional

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
    "recession",
    "certainly_separated",
]


def any_model(x: Array, axis_name: Optional[str]) -> Array:
    """``x`` (a per-model bool) reduced with "or" over the vmapped axis, if named.

    Under ``jax.vmap(..., axis_name=axis_name)`` the result is the same for every model, so
    a ``while_loop`` or ``cond`` predicate built from it stays unbatched.
    """
    if axis_name is None:
        return x
    return jax.lax.pmax(x.astype(jnp.int32), axis_name) > 0


def keep_going(status: Array, axis_name: Optional[str], leave=0) -> Array:
    """Predicate of a solver's outer loop: this model is running or, under a named axis,
    more than ``leave`` (may be traced) models of the vmapped batch are."""
    running = status == int(Status.RUNNING)
    if axis_name is None:
        return running
    return jax.lax.psum(running.astype(jnp.int32), axis_name) > leave


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
    squares = total(jnp.sum(problem.X * problem.X, axis=0)) * total(jnp.sum(w * w))
    return eps * jnp.sqrt(squares) / total(jnp.sum(w))


def _signs(problem: _loss.Problem, dtype) -> Array:
    """``(n,)``: +1 for ``y = 1``, -1 for ``y = 0``, 0 for a fractional label."""
    y = problem.y
    return jnp.where(y == 1, 1.0, jnp.where(y == 0, -1.0, 0.0)).astype(dtype)


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

    Returns ``(certified, reach)``, both ``()``.
    """
    dtype = xd.dtype
    sqrt_eps = jnp.sqrt(jnp.finfo(dtype).eps)
    sign = _signs(problem, dtype)
    moved = jnp.where(problem.weights > 0, xd, 0.0)  # unweighted rows do not count
    u = sign * moved  # fractional rows: 0 here, their moves counted by `fractional`
    # Reductions of one masked array: cheaper than a stacked (2, n) array of moves.
    towards, against = jnp.max(u), -jnp.min(u)
    fractional = jnp.max(jnp.where(sign == 0, jnp.abs(moved), 0.0))
    forward, backward = _loss.across_rows(
        jnp.stack([towards, jnp.maximum(against, fractional)]), problem, "max")
    reach = jnp.maximum(forward, backward)
    penalty_change = problem.l2 * jnp.sum(problem.penalty_factor * direction * direction)
    certified = (backward <= sqrt_eps * forward) & (forward > sqrt_eps) & (penalty_change <= 0)
    return certified, reach


def certainly_separated(
    problem: _loss.Problem, eta: Array, consult: Array, axis_name: Optional[str]
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
        sign = _signs(problem, dtype)
        fitted = jnp.where(problem.weights > 0, sign * eta, -jnp.inf)
        largest = _loss.across_rows(jnp.max(fitted), problem, "max")
        return largest > -jnp.log(jnp.finfo(dtype).eps)

    return jax.lax.cond(
        any_model(consult, axis_name), margin_test, lambda _: jnp.zeros((), bool), None
    )


def commit(new, state, accepted: Array):
    """The state after a step: ``new`` for a running model whose line search ``accepted`` a
    step, ``state`` unchanged (frozen) otherwise; a running model whose search failed stops
    with ``LINESEARCH_FAILED``. ``new`` and ``state`` are one solver's state NamedTuples."""
    moving = state.status == int(Status.RUNNING)
    take = moving & accepted
    out = jax.tree_util.tree_map(lambda a, b: jnp.where(take, a, b), new, state)
    failed = moving & ~accepted
    return out._replace(status=jnp.where(failed, jnp.int32(Status.LINESEARCH_FAILED), out.status))


def backtrack(at, first, done, max_halvings: int, axis_name: Optional[str]):
    """Halve the step from ``t = 1`` until ``at`` accepts it, at most ``max_halvings`` times.

    ``at(t) -> (ok, *values)`` evaluates a trial step; ``first`` is its result at ``t = 1``;
    ``done`` marks models that need no search (stopped, or a step known to be good). Under a
    named axis the loop runs until every model of the batch is done, models already done
    keeping their values. Returns ``(accepted, t, *values)``.
    """
    ok, *values = first
    one = jnp.ones((), values[0].dtype)
    carry = (ok | done, jnp.zeros((), jnp.int32), one, *values)

    def cond(c):
        return any_model(~c[0] & (c[1] < max_halvings), axis_name)

    def body(c):
        finished, k, t = c[:3]
        t_new = jnp.where(finished, t, 0.5 * t)
        ok, *new = at(t_new)
        keep = [jnp.where(finished, a, b) for a, b in zip(c[3:], new)]
        return (finished | ok, jnp.where(finished, k, k + 1), t_new, *keep)

    accepted, _, t, *values = jax.lax.while_loop(cond, body, carry)
    return (accepted, t, *values)
