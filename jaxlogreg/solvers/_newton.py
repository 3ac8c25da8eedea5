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

3. Otherwise evaluate the full step ``beta + delta`` (its objective and the row weights of
   its gradient and Hessian come from one pass over the rows) and take it if a curvature
   bound certifies that it satisfies the Armijo condition
   ``f(beta + t delta) <= f(beta) + c t g^T delta`` (no row's linear predictor moves by
   more than about 1; :func:`_certified`) or if the condition holds (with a slack of
   ``4 eps |f|`` for rounding). If neither, backtrack from ``t = 1``, halving at most
   ``max_halvings`` times; if Armijo never holds the model stops with
   ``LINESEARCH_FAILED``. Trial points cost no matrix product: ``eta + t X delta``.

:func:`init` does 1-2 at the starting point and :func:`step` does 3 then 1-2 at the new
point, so a model that stops after ``k`` steps costs ``k`` calls of :func:`step` after
:func:`init`. (:func:`init` is itself a step, from a state before the start whose zero
direction leads to ``beta0``; :func:`run` loops over :func:`step` from that state, so its
compiled program holds one copy of the step.)

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
from . import _common

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
    """Iterate of one model. It holds only ``p``-sized vectors and scalars, so freezing a
    stopped model costs nothing; the ``(n,)`` linear predictors are recomputed from
    ``beta`` and ``delta`` by matrix products when a step needs them.

    Shapes: ``beta (p,)``; ``loss ()`` objective at ``beta``;
    ``grad (p,)``; ``delta (p,)`` Newton direction; ``reach ()`` the largest
    ``|(X delta)_i|`` over positively weighted rows; ``grad_floor (p,)`` rounding bound on
    ``grad``; ``n_iter ()`` int32 steps taken; ``status ()`` int32
    :class:`~jaxlogreg.Status` code, ``RUNNING`` until the model stops.
    """

    beta: Array
    loss: Array
    grad: Array
    delta: Array
    reach: Array
    grad_floor: Array
    n_iter: Array
    status: Array


def _direction(problem, eta, loss, grad, hess, n_iter, tol, max_iter, grad_floor, axis_name):
    """Newton direction at an iterate with linear predictor ``eta``, its reach, and the
    status it implies (``RUNNING`` to go on)."""
    fac = _linalg.factor(hess)
    delta = -_linalg.solve(fac, grad)
    xd = _loss.design_times(delta, problem)
    half_dec = -0.5 * jnp.dot(grad, delta)
    finite = jnp.isfinite(loss) & jnp.all(jnp.isfinite(grad)) & jnp.all(jnp.isfinite(hess))
    certified, reach = _common.recession(problem, xd, delta)
    recession = fac.ok & certified

    gtol = jnp.maximum(tol, grad_floor)
    converged = fac.ok & (half_dec <= tol) & jnp.all(jnp.abs(grad) <= gtol)

    # Some row fitted with probability 1 of its observed class to working precision; only
    # consulted for a model that is singular or out of iterations.
    consult = finite & (~fac.ok | (~recession & ~converged & (n_iter >= max_iter)))
    certain = _common.certainly_separated(problem, eta, consult, axis_name)
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
    return delta, reach, status


def _before(problem: _loss.Problem, beta0: Array) -> NewtonState:
    """The state before the start: ``beta0`` with a zero direction, an infinite loss and
    ``n_iter = -1``; a :func:`step` from it evaluates ``beta0`` (always accepted) and makes
    the stopping decision there, so that :func:`run`'s loop holds the only copy of the
    evaluation (about a third less to compile for the seed fits)."""
    dtype = beta0.dtype
    zeros = jnp.zeros_like(beta0)
    return NewtonState(beta0, jnp.full((), jnp.inf, dtype), zeros, zeros, jnp.zeros((), dtype),
                       _common.gradient_floor(problem), jnp.full((), -1, jnp.int32),
                       jnp.full((), _RUNNING, jnp.int32))


def _mark_invalid(state: NewtonState, invalid: Array) -> NewtonState:
    """``state`` with status ``INVALID`` where the data are invalid (``invalid``, from
    :func:`jaxlogreg.solvers._common.invalid_data`)."""
    return state._replace(status=jnp.where(invalid, jnp.int32(Status.INVALID), state.status))


def init(
    problem: _loss.Problem,
    beta0: Array,
    tol: Array,
    max_iter: Array,
    axis_name: Optional[str] = None,
) -> NewtonState:
    """State at the starting point ``beta0`` ``(p,)``, with its stopping decision made."""
    state = step(problem, _before(problem, beta0), tol, max_iter, Newton(), axis_name)
    return _mark_invalid(state, _common.invalid_data(problem))


def _certified(reach: Array, armijo: float) -> Array:
    """Whether the full Newton step is known to satisfy Armijo whatever its computed loss
    (near the optimum the change in the loss is below its rounding).

    Along ``t -> beta + t delta`` the curvature of every row changes by at most a factor
    ``exp(t m)``, ``m = reach = max_i |(X delta)_i|`` over positively weighted rows, because
    ``|d log(mu (1 - mu)) / d eta| <= 1``. With ``phi'(0) = -lambda^2 = -phi''(0)`` for the
    Newton direction this gives ``f(beta + delta) - f(beta) <= -lambda^2 (1 - g(m))`` with
    ``g(m) = (e^m - 1 - m) / m^2``, so Armijo holds whenever ``1 - g(m) >= c`` (``m <= 1``
    suffices for ``c <= 0.28``; an L2 penalty only adds constant curvature).
    """
    m = jnp.maximum(reach, 1e-3)
    g = jnp.where(reach > 1e-3, (jnp.expm1(m) - m) / (m * m), 0.5)
    return 1.0 - g >= armijo


def _line_search(problem, state, config, skip, axis_name):
    """Armijo step along ``state.delta``; returns ``(accepted, t, loss, r, s, eta)`` with
    ``r`` and ``s`` the row weights of :func:`jaxlogreg._loss.evaluate` and ``eta`` the
    linear predictor at the step taken.

    The full step is evaluated first (one pass over the rows gives its objective and row
    weights). It is taken when :func:`_certified` vouches for it or it satisfies Armijo
    against ``state.loss``, the objective at ``beta``; only when some model of the batch
    (the vmapped chunk under ``axis_name``) has neither does the chunk search, halving from
    ``t = 1`` at most ``max_halvings`` times.
    """
    eps = jnp.finfo(state.loss.dtype).eps
    one = jnp.ones((), state.loss.dtype)
    f0 = state.loss
    slack = 4.0 * eps * jnp.abs(f0)
    slope = jnp.dot(state.grad, state.delta)
    # The curvature bound behind the certificate is the logit's (|d log(mu (1 - mu)) / d eta|
    # <= 1); other links rely on the Armijo test alone.
    certified = _certified(state.reach, config.armijo) & (problem.link == "logit")

    def sufficient(t, f):
        return jnp.isfinite(f) & (f <= f0 + config.armijo * t * slope + slack)

    beta = state.beta + state.delta
    eta = _loss.linear_predictor(beta, problem)
    f, r, s = _loss.evaluate(eta, beta, problem)
    full = certified | sufficient(one, f) | (state.n_iter < 0)  # the start: see _before
    need = _common.any_model(~(skip | full), axis_name)

    def search(_):
        xd = _loss.design_times(state.delta, problem)
        eta0 = eta - xd

        def at(t):
            eta_t = eta0 + t * xd
            f_t, r_t, s_t = _loss.evaluate(eta_t, state.beta + t * state.delta, problem)
            return sufficient(t, f_t), f_t, r_t, s_t, eta_t

        return _common.backtrack(at, (full, f, r, s, eta), skip | full, config.max_halvings,
                                 axis_name)

    def take_full(_):
        return jnp.ones((), bool), one, f, r, s, eta

    return jax.lax.cond(need, search, take_full, None)


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
    accepted, t, loss, r, s, eta = _line_search(problem, state, config, ~moving, axis_name)
    beta = state.beta + t * state.delta
    grad = _loss.gradient_from_rows(r, beta, problem)
    hess = _loss.hessian_from_rows(s, problem)
    n_iter = state.n_iter + 1
    delta, reach, status = _direction(
        problem, eta, loss, grad, hess, n_iter, tol, max_iter, state.grad_floor, axis_name
    )
    new = NewtonState(beta, loss, grad, delta, reach, state.grad_floor, n_iter, status)
    return _common.commit(new, state, accepted)


def run(
    problem: _loss.Problem,
    beta0: Array,
    tol: Array,
    max_iter: Array,
    config: Newton = Newton(),
    axis_name: Optional[str] = None,
    leave=0,
) -> NewtonState:
    """Iterate :func:`step` from ``beta0`` until the model stops; returns the final state.

    ``leave`` (may be traced): under a named ``vmap`` axis, stop as soon as at most
    ``leave`` models of the batch are still running; those come back with status ``RUNNING`` for the caller to
    resume (from ``beta``) together with the stragglers of other batches, so that a few slow
    models do not keep a whole batch iterating.
    """

    invalid = _common.invalid_data(problem)
    return jax.lax.while_loop(
        lambda s: _common.keep_going(s.status, axis_name, leave),
        lambda s: _mark_invalid(step(problem, s, tol, max_iter, config, axis_name), invalid),
        _before(problem, beta0),
    )
