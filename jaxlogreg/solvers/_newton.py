"""Newton's method (IRLS) for one model, written to be vmapped over many.

At an iterate ``beta`` with gradient ``g`` and Hessian ``H`` (from :mod:`jaxlogreg._loss`):

* the direction is ``d = -H^-1 g``, with ``H`` scaled to unit diagonal
  (:func:`jaxlogreg._linalg.solve_spd`); ``H`` is ``SINGULAR`` when a scaled pivot falls
  below ``eps^(2/3)``. For the logit (canonical) link ``H`` is the information matrix. For
  another link it is the observed information (the Hessian itself: Newton's quadratic
  convergence, where Fisher scoring's expected information converges only linearly and
  its stopping rule would stop early), and the expected information (Fisher scoring) where
  the observed one is not positive definite, as can happen far from the optimum or for the
  cauchit link, whose likelihood is not concave;
* ``CONVERGED``: half the squared Newton decrement ``lambda^2 / 2 = -g^T d / 2 <= tol``
  and every ``|g_j| <= max(tol, floor_j)``, ``floor_j = eps ||X_j||_2 ||w||_2 / sum w`` the
  rounding bound of ``g_j`` (it matters only in float32 on columns of very large scale).
  Convergence is judged on the gradient and the decrement, never on the change in ``beta``
  (as scikit-learn's ``NewtonCholeskySolver``);
* the step ``beta + t d`` is searched by Armijo backtracking from ``t = 1``, the full step
  taken without the test when the curvature certificate vouches for it (no row's linear
  predictor moves by more than about 1; :func:`jaxlogreg.solvers._driver.certificate`).

The loop, the search, the separation tests and the statuses are the driver's
(:mod:`jaxlogreg.solvers._driver`): a model that stops after ``k`` steps costs ``k + 1``
evaluations (the start and each accepted step) plus one per halving.

Drive by hand: ``state = newton.init(problem, beta0, ctx)``, then ``state =
newton.step(problem, state, ctx)`` while ``state.status == Status.RUNNING``, or
``newton.run(problem, beta0, ctx)``; ``ctx`` is :func:`jaxlogreg.solvers.context`
(tolerance, iteration bound) or None for the defaults.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import jax
import jax.numpy as jnp

from .. import _linalg, _loss
from . import _common, _driver
from ._driver import Context, Point, Proposal, State

Array = jax.Array

__all__ = ["Newton", "NewtonState", "init", "step", "run"]

NewtonState = State


@dataclasses.dataclass(frozen=True)
class Newton(_driver.Solver):
    """Settings of the Newton (IRLS) solver; pass as ``fit(..., solver=Newton(...))``.

    Attributes:
      max_halvings: bound on step halvings in the Armijo line search.
      armijo: sufficient-decrease constant ``c`` of the Armijo condition.
    """

    max_halvings: int = 30
    armijo: float = 1e-4

    name: ClassVar[str] = "newton"

    def search(self) -> _driver.Backtracking:
        return _driver.Backtracking(self.armijo, self.max_halvings)

    def evaluate(self, problem: _loss.Problem, beta: Array, memory) -> Point:
        """The driver's evaluation; for a non-canonical link the curvature is ``(observed
        Hessian, expected-information row weights)`` (module docstring)."""
        if problem.link == "logit":
            return super().evaluate(problem, beta, memory)
        eta = _loss.linear_predictor(beta, problem)
        f, r, observed = _loss.evaluate(eta, beta, problem, "observed")
        expected = _loss.evaluate(eta, beta, problem, "expected")[2]
        grad = _loss.gradient_from_rows(r, beta, problem)
        hess = _loss.hessian_from_rows(observed, problem)
        finite = (jnp.isfinite(f) & jnp.all(jnp.isfinite(grad)) & jnp.all(jnp.isfinite(hess))
                  & jnp.all(jnp.isfinite(expected)))
        return Point(f, grad, (hess, expected), eta, finite)

    def propose(self, problem: _loss.Problem, beta: Array, point: Point, state: State,
                accept: Array, ctx: Context) -> Proposal:
        grad, hess = point.grad, point.curvature
        if problem.link != "logit":
            observed, expected = hess
            delta, ok = _linalg.solve_spd(observed, -grad)
            # Fisher scoring where the observed information is not positive definite.
            hess = jax.lax.cond(
                _common.any_model(~ok, ctx.axis_name),
                lambda: jnp.where(ok, observed, _loss.hessian_from_rows(expected, problem)),
                lambda: observed)
        delta, ok = _linalg.solve_spd(hess, -grad)
        slope = jnp.sum(grad * delta)
        converged = (ok & (-0.5 * slope <= ctx.tol * state.tol_scale)
                     & jnp.all(jnp.abs(grad) <= jnp.maximum(ctx.tol, state.grad_floor)))
        true = jnp.ones((), bool)
        false = jnp.zeros((), bool)
        return Proposal(delta, slope, -slope, false, ~ok, converged, true, false, ok,
                        jnp.ones((), grad.dtype), state.memory)


init, step, run = _driver.functions(Newton)
