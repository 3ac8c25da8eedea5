"""Newton's method (IRLS) for one model, written to be vmapped over many.

Each iteration at ``beta`` with gradient ``g`` and Hessian ``H`` (from :mod:`jaxlogreg._loss`):

1. Factor ``H`` (unit-diagonal scaling, then Cholesky; :mod:`jaxlogreg._linalg`) and take the
   Newton direction ``delta = -H^-1 g`` and the squared Newton decrement
   ``lambda^2 = g^T H^-1 g``.
2. Decide whether to stop (first match wins):

   * ``NONFINITE``: the loss or the gradient is not finite.
   * ``SINGULAR``: the factorisation failed (``SEPARATED`` instead when some rows already
     have fitted probabilities of their observed class equal to 1 to working precision).
   * ``SEPARATED``: ``delta`` is a recession direction: it moves no positively weighted row
     towards the wrong class (``(2 y_i - 1) (X delta)_i >= -sqrt(eps) * max_i (...)``),
     moves some row by more than ``sqrt(eps)``, and leaves the penalty unchanged. The loss
     then decreases without bound along ``delta``, a certificate that no finite minimiser
     exists.
   * ``CONVERGED``: ``lambda^2 / 2 <= tol`` and every ``|g_j| <= max(tol, floor_j)``, where
     ``floor_j = eps ||X_j||_2 ||w (mu - y)||_2 / sum w`` bounds the rounding error of
     ``g_j`` (it only matters in float32 on large-scale features).
   * ``MAX_ITER``: ``max_iter`` Newton steps have been taken (``SEPARATED`` instead under
     the same condition as for ``SINGULAR``).

3. Otherwise backtrack from ``t = 1``, halving at most ``max_halvings`` times, until the
   Armijo condition ``f(beta + t delta) <= f(beta) + c t g^T delta`` holds (with a slack of
   ``4 eps |f|`` for rounding); if it never holds the model stops with
   ``LINESEARCH_FAILED``. Trial points cost no matrix product: ``eta + t X delta``.

A model whose status is no longer ``RUNNING`` is frozen: :func:`step` returns its state
unchanged, so its result and ``n_iter`` are its own however long the rest of a batch runs.
Convergence is judged on the gradient and the decrement, never on the change in ``beta``
(as scikit-learn's ``NewtonCholeskySolver``).
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar, NamedTuple

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
    """Iterate of one model. Shapes: ``beta (p,)``, ``eta (n,)``, ``loss ()``,
    ``grad (p,)``, ``hess (p, p)``, ``grad_floor (p,)`` (rounding bound on ``grad``),
    ``n_iter ()`` int32, ``status ()`` int32 (a :class:`~jaxlogreg.Status` code,
    ``RUNNING`` until the model stops)."""

    beta: Array
    eta: Array
    loss: Array
    grad: Array
    hess: Array
    grad_floor: Array
    n_iter: Array
    status: Array


def init(problem: _loss.Problem, beta0: Array) -> NewtonState:
    """State at the starting point ``beta0`` ``(p,)``."""
    eta = _loss.linear_predictor(beta0, problem)
    loss, mu, var = _loss.evaluate(eta, beta0, problem)
    return NewtonState(
        beta0,
        eta,
        loss,
        *_derivatives(mu, var, beta0, problem),
        n_iter=jnp.zeros((), jnp.int32),
        status=jnp.full((), _RUNNING, jnp.int32),
    )


def _derivatives(mu, var, beta, problem):
    """Gradient, Hessian, and ``eps * ||X_j||_2 * ||w (mu - y)||_2 / sum w``, a bound on
    the rounding error of each gradient entry, so a float32 fit on large-scale features
    can still stop."""
    w = problem.weights
    eps = jnp.finfo(mu.dtype).eps
    r_norm = jnp.sqrt(jnp.sum((w * (mu - problem.y)) ** 2)) / jnp.sum(w)
    floor = eps * jnp.sqrt(jnp.sum(problem.X * problem.X, axis=0)) * r_norm
    grad = _loss.gradient_from_mean(mu, beta, problem)
    return grad, _loss.hessian_from_variance(var, problem), floor


def _decide(problem, state, delta, xd, ok, tol, max_iter):
    """Status after looking at the current iterate (``RUNNING`` to keep going)."""
    dtype = state.loss.dtype
    eps = jnp.finfo(dtype).eps
    sqrt_eps = jnp.sqrt(eps)
    half_dec = -0.5 * jnp.dot(state.grad, delta)
    finite = jnp.isfinite(state.loss) & jnp.all(jnp.isfinite(state.grad))

    rows = problem.weights > 0
    sign = 2.0 * problem.y - 1.0
    u = jnp.where(rows, sign * xd, 0.0)
    umax = jnp.max(u)
    moves_no_row_back = jnp.all(u >= -sqrt_eps * umax)
    penalty_change = problem.l2 * jnp.sum(problem.penalty_factor * delta * delta)
    recession = ok & moves_no_row_back & (umax > sqrt_eps) & (penalty_change <= 0)
    certain = jnp.any(rows & (sign * state.eta > -jnp.log(eps)))

    gtol = jnp.maximum(tol, state.grad_floor)
    converged = ok & (half_dec <= tol) & jnp.all(jnp.abs(state.grad) <= gtol)
    separated_or = lambda other: jnp.where(certain, int(Status.SEPARATED), int(other))  # noqa: E731
    return jnp.select(
        [~finite, ~ok, recession, converged, state.n_iter >= max_iter],
        [
            int(Status.NONFINITE),
            separated_or(Status.SINGULAR),
            int(Status.SEPARATED),
            int(Status.CONVERGED),
            separated_or(Status.MAX_ITER),
        ],
        _RUNNING,
    ).astype(jnp.int32)


def _line_search(problem, state, delta, xd, config, skip):
    """Backtracking Armijo search along ``delta``; returns ``(accepted, t, loss, mu, var)``."""
    eps = jnp.finfo(state.loss.dtype).eps
    slope = jnp.dot(state.grad, delta)
    slack = 4.0 * eps * jnp.abs(state.loss)

    def evaluate(t):
        f, mu, var = _loss.evaluate(state.eta + t * xd, state.beta + t * delta, problem)
        good = jnp.isfinite(f) & (f <= state.loss + config.armijo * t * slope + slack)
        return good, f, mu, var

    one = jnp.ones((), state.loss.dtype)
    good, f, mu, var = evaluate(one)
    carry = (good | skip, jnp.zeros((), jnp.int32), one, f, mu, var)

    def cond(c):
        return ~c[0] & (c[1] < config.max_halvings)

    def body(c):
        _, k, t, *_ = c
        t = 0.5 * t
        good, f, mu, var = evaluate(t)
        return (good, k + 1, t, f, mu, var)

    accepted, _, t, f, mu, var = jax.lax.while_loop(cond, body, carry)
    return accepted, t, f, mu, var


def step(
    problem: _loss.Problem,
    state: NewtonState,
    tol: Array,
    max_iter: Array,
    config: Newton = Newton(),
) -> NewtonState:
    """One Newton iteration (module docstring); a stopped model is returned unchanged."""
    running = state.status == _RUNNING
    fac = _linalg.factor(state.hess)
    delta = -_linalg.solve(fac, state.grad)
    xd = problem.X @ delta
    status = _decide(problem, state, delta, xd, fac.ok, tol, max_iter)
    status = jnp.where(running, status, state.status)
    moving = status == _RUNNING

    accepted, t, loss, mu, var = _line_search(problem, state, delta, xd, config, ~moving)
    beta = state.beta + t * delta
    new = NewtonState(
        beta,
        state.eta + t * xd,
        loss,
        *_derivatives(mu, var, beta, problem),
        n_iter=state.n_iter + 1,
        status=status,
    )
    take = moving & accepted
    out = jax.tree_util.tree_map(lambda a, b: jnp.where(take, a, b), new, state)
    failed = moving & ~accepted
    return out._replace(
        status=jnp.where(failed, jnp.int32(Status.LINESEARCH_FAILED), status)
    )


def run(
    problem: _loss.Problem,
    beta0: Array,
    tol: Array,
    max_iter: Array,
    config: Newton = Newton(),
) -> NewtonState:
    """Iterate :func:`step` from ``beta0`` until the model stops; returns the final state."""
    return jax.lax.while_loop(
        lambda s: s.status == _RUNNING,
        lambda s: step(problem, s, tol, max_iter, config),
        init(problem, beta0),
    )
