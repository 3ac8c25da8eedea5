"""Newton's method (IRLS) for one model, written to be vmapped over many.

At each iterate ``beta`` with gradient ``g`` and Hessian ``H`` (from :mod:`jaxlogreg._loss`):

1. Factor ``H`` (unit-diagonal scaling, then Cholesky; :mod:`jaxlogreg._linalg`) and form the
   Newton direction ``delta = -H^-1 g``, its effect on the linear predictor ``X delta``, and
   the squared Newton decrement ``lambda^2 = g^T H^-1 g``.
2. Decide whether to stop (first match wins; :func:`init` first stops a model with
   ``INVALID`` data: a negative weight, or a positively weighted label outside ``[0, 1]``):

   * ``NONFINITE``: the loss, the gradient or the Hessian is not finite.
   * ``SINGULAR``: the factorisation failed (``SEPARATED`` instead when some rows already
     have fitted probabilities of their observed class equal to 1 to working precision,
     ``(2 y_i - 1) eta_i > -log(eps)``).
   * ``SEPARATED``: ``delta`` is a recession direction: it moves no positively weighted row
     towards the wrong class (``s_i (X delta)_i >= -sqrt(eps) * max_i (...)`` with
     ``s_i = +1, -1, 0`` for ``y_i = 1, 0``, fractional), moves some row by more than
     ``sqrt(eps)``, and leaves the penalty unchanged. The loss
     then decreases without bound along ``delta``: a certificate that no finite minimiser
     exists.
   * ``CONVERGED``: ``lambda^2 / 2 <= tol`` and every ``|g_j| <= max(tol, floor_j)``, where
     ``floor_j = eps ||X_j||_2 ||w||_2 / sum w`` bounds the rounding error of ``g_j`` (it
     only matters in float32 on large-scale features).
   * ``MAX_ITER``: ``max_iter`` Newton steps have been taken (``SEPARATED`` instead under
     the same condition as for ``SINGULAR``).

3. Otherwise backtrack from ``t = 1``, halving at most ``max_halvings`` times, until the
   Armijo condition ``f(beta + t delta) <= f(beta) + c t g^T delta`` holds (with a slack of
   ``4 eps |f|`` for rounding); if it never holds the model stops with
   ``LINESEARCH_FAILED``. Trial points cost no matrix product: ``eta + t X delta``.

:func:`init` does 1-2 at the starting point and :func:`step` does 3 then 1-2 at the new
point, so a model that stops after ``k`` steps costs ``k`` calls of :func:`step`.

A model whose status is no longer ``RUNNING`` is frozen: :func:`step` returns its state
unchanged, so its result and ``n_iter`` are its own however long the rest of a batch runs.
Convergence is judged on the gradient and the decrement, never on the change in ``beta``
(as scikit-learn's ``NewtonCholeskySolver``).

``axis_name``: when the solver runs under ``jax.vmap(..., axis_name=axis_name)``, loop
predicates are reduced over that axis so that they are unbatched, and the loops stop as
soon as every model of the vmapped chunk has stopped without JAX adding a per-model select
on every iteration (the explicit freeze in :func:`step` keeps stopped models unchanged).
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar, NamedTuple, Optional

import jax
import jax.numpy as jnp

from .. import _linalg, _loss
from .._status import Status

Array = jax.Array

__all__ = ["Newton", "NewtonState", "init", "step", "run"]

_RUNNING = int(Status.RUNNING)


@dataclasses.dataclass(frozen=True)
class Newton:
    """Settings of the Newton (IRLS) solver; pass as ``fit(..., solver=Newton(...))``.

    Attributes:
      max_halvings: bound on step halvings in the Armijo line search.
      armijo: sufficient-decrease constant ``c`` of the Armijo condition.
    """

    max_halvings: int = 30
    armijo: float = 1e-4

    name: ClassVar[str] = "newton"


class NewtonState(NamedTuple):
    """Iterate of one model.

    Shapes: ``beta (p,)``; ``eta (n,)`` linear predictor; ``loss ()``; ``grad (p,)``;
    ``delta (p,)`` Newton direction; ``xd (n,)`` ``= X @ delta``; ``grad_floor (p,)``
    rounding bound on ``grad``; ``n_iter ()`` int32 steps taken; ``status ()`` int32
    :class:`~jaxlogreg.Status` code, ``RUNNING`` until the model stops.
    """

    beta: Array
    eta: Array
    loss: Array
    grad: Array
    delta: Array
    xd: Array
    grad_floor: Array
    n_iter: Array
    status: Array


def _any(x: Array, axis_name: Optional[str]) -> Array:
    """``x`` (a per-model bool) reduced with "or" over the vmapped axis, if named."""
    if axis_name is None:
        return x
    return jax.lax.pmax(x.astype(jnp.int32), axis_name) > 0


def _direction(problem, eta, loss, grad, hess, beta, n_iter, tol, max_iter, grad_floor):
    """Newton direction at an iterate, and the status it implies (``RUNNING`` to go on)."""
    dtype = loss.dtype
    eps = jnp.finfo(dtype).eps
    sqrt_eps = jnp.sqrt(eps)
    fac = _linalg.factor(hess)
    delta = -_linalg.solve(fac, grad)
    xd = problem.X @ delta
    half_dec = -0.5 * jnp.dot(grad, delta)
    finite = jnp.isfinite(loss) & jnp.all(jnp.isfinite(grad)) & jnp.all(jnp.isfinite(hess))

    # Rows with y = 1 may only move up, rows with y = 0 only down, and rows with a
    # fractional y (a finite optimum of their own) not at all. One pass, three maxima.
    rows = problem.weights > 0
    sign = jnp.where(problem.y == 1, 1.0, jnp.where(problem.y == 0, -1.0, 0.0)).astype(dtype)
    u = sign * xd
    forward = jnp.max(jnp.where(rows, u, 0.0))
    backward = jnp.max(jnp.where(rows, jnp.where(sign == 0, jnp.abs(xd), -u), 0.0))
    margin = jnp.max(jnp.where(rows, sign * eta, -jnp.inf))
    penalty_change = problem.l2 * jnp.sum(problem.penalty_factor * delta * delta)
    recession = (
        fac.ok & (backward <= sqrt_eps * forward) & (forward > sqrt_eps) & (penalty_change <= 0)
    )
    certain = margin > -jnp.log(eps)

    gtol = jnp.maximum(tol, grad_floor)
    converged = fac.ok & (half_dec <= tol) & jnp.all(jnp.abs(grad) <= gtol)
    separated_or = lambda other: jnp.where(certain, int(Status.SEPARATED), int(other))  # noqa: E731
    status = jnp.select(
        [~finite, ~fac.ok, recession, converged, n_iter >= max_iter],
        [
            int(Status.NONFINITE),
            separated_or(Status.SINGULAR),
            int(Status.SEPARATED),
            int(Status.CONVERGED),
            separated_or(Status.MAX_ITER),
        ],
        _RUNNING,
    ).astype(jnp.int32)
    return delta, xd, status


def init(problem: _loss.Problem, beta0: Array, tol: Array, max_iter: Array) -> NewtonState:
    """State at the starting point ``beta0`` ``(p,)``, with its stopping decision made."""
    eta = _loss.linear_predictor(beta0, problem)
    loss, r, s = _loss.evaluate(eta, beta0, problem)
    grad = _loss.gradient_from_rows(r, beta0, problem)
    hess = _loss.hessian_from_rows(s, problem)
    w = problem.weights
    eps = jnp.finfo(loss.dtype).eps
    floor = eps * jnp.sqrt(jnp.sum(problem.X * problem.X, axis=0) * jnp.sum(w * w)) / jnp.sum(w)
    n_iter = jnp.zeros((), jnp.int32)
    delta, xd, status = _direction(
        problem, eta, loss, grad, hess, beta0, n_iter, tol, max_iter, floor
    )
    invalid = jnp.any((w < 0) | ((w != 0) & ((problem.y < 0) | (problem.y > 1))))
    status = jnp.where(invalid, jnp.int32(Status.INVALID), status)
    return NewtonState(beta0, eta, loss, grad, delta, xd, floor, n_iter, status)


def _line_search(problem, state, config, skip, axis_name):
    """Backtracking Armijo search along ``state.delta``; ``(accepted, t, loss, r, s)`` with
    ``r`` and ``s`` the row weights of :func:`jaxlogreg._loss.evaluate` at the step taken."""
    eps = jnp.finfo(state.loss.dtype).eps
    slope = jnp.dot(state.grad, state.delta)
    slack = 4.0 * eps * jnp.abs(state.loss)

    def evaluate(t):
        f, r, s = _loss.evaluate(state.eta + t * state.xd, state.beta + t * state.delta, problem)
        good = jnp.isfinite(f) & (f <= state.loss + config.armijo * t * slope + slack)
        return good, f, r, s

    one = jnp.ones((), state.loss.dtype)
    good, f, r, s = evaluate(one)
    carry = (good | skip, jnp.zeros((), jnp.int32), one, f, r, s)

    def cond(c):
        return _any(~c[0] & (c[1] < config.max_halvings), axis_name)

    def body(c):
        done, k, t, f, r, s = c
        t_new = jnp.where(done, t, 0.5 * t)
        good, f_new, r_new, s_new = evaluate(t_new)
        keep = lambda a, b: jnp.where(done, a, b)  # noqa: E731
        return (
            done | good,
            jnp.where(done, k, k + 1),
            t_new,
            keep(f, f_new),
            keep(r, r_new),
            keep(s, s_new),
        )

    accepted, _, t, f, r, s = jax.lax.while_loop(cond, body, carry)
    return accepted, t, f, r, s


def step(
    problem: _loss.Problem,
    state: NewtonState,
    tol: Array,
    max_iter: Array,
    config: Newton = Newton(),
    axis_name: Optional[str] = None,
) -> NewtonState:
    """One Newton step along ``state.delta`` and the decision at the new point.

    A model that has stopped is returned unchanged.
    """
    moving = state.status == _RUNNING
    accepted, t, loss, r, s = _line_search(problem, state, config, ~moving, axis_name)
    beta = state.beta + t * state.delta
    eta = state.eta + t * state.xd
    grad = _loss.gradient_from_rows(r, beta, problem)
    hess = _loss.hessian_from_rows(s, problem)
    n_iter = state.n_iter + 1
    delta, xd, status = _direction(
        problem, eta, loss, grad, hess, beta, n_iter, tol, max_iter, state.grad_floor
    )
    new = NewtonState(beta, eta, loss, grad, delta, xd, state.grad_floor, n_iter, status)
    take = moving & accepted
    out = jax.tree_util.tree_map(lambda a, b: jnp.where(take, a, b), new, state)
    failed = moving & ~accepted
    return out._replace(status=jnp.where(failed, jnp.int32(Status.LINESEARCH_FAILED), out.status))


def run(
    problem: _loss.Problem,
    beta0: Array,
    tol: Array,
    max_iter: Array,
    config: Newton = Newton(),
    axis_name: Optional[str] = None,
) -> NewtonState:
    """Iterate :func:`step` from ``beta0`` until the model stops; returns the final state."""
    return jax.lax.while_loop(
        lambda s: _any(s.status == _RUNNING, axis_name),
        lambda s: step(problem, s, tol, max_iter, config, axis_name),
        init(problem, beta0, tol, max_iter),
    )
