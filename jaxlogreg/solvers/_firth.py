"""Firth's bias-reduced logistic regression for one model, written to be vmapped over many.

Firth (1993) maximises the log-likelihood penalised by Jeffreys' invariant prior,

    l*(beta) = l(beta) + 1/2 log det I(beta),
    l(beta)  = sum_i w_i [y_i eta_i - softplus(eta_i)],
    I(beta)  = X^T diag(w mu (1 - mu)) X,

(frequency weights ``w``, logit link only). Its estimates are finite even when the classes
are (quasi-)completely separated and have ``O(n^-2)`` rather than ``O(n^-1)`` bias (Heinze
and Schemper, Statistics in Medicine 21, 2002). In this package's convention the objective
minimised is the normalised negative,

    f*(beta) = -(l(beta) + 1/2 log det I(beta)) / sum_i w_i,

and its gradient is minus the modified score over ``sum w`` (Firth's eq. 2):

    U*_j = sum_i [w_i (y_i - mu_i) + h_i (1/2 - mu_i)] x_ij,
    h_i  = w_i mu_i (1 - mu_i) x_i^T I^-1 x_i         (the hat values, sum_i h_i = p).

(Frequency weights multiply ``y - mu`` but not the hat term: ``h_i`` already counts row
``i`` ``w_i`` times, so the score equals that of the data with every row repeated.)

Iteration: Newton's method on ``f*`` with step halving. The curvature matrix is chosen by
``Firth.hessian``:

* ``"expected"``: the Fisher information ``I / sum w`` (logistf's iteration, Heinze and
  Ploner 2004): ``delta = I^-1 U*``. Cheap (``n p^2 / 2`` per model and iteration) but only
  linearly convergent; under separation, where the penalty dominates the curvature, it can
  take a hundred steps to reach a tight tolerance.
* ``"observed"`` (default): the exact Hessian of ``f*``,

      H = X^T diag(s - h (1 - 6 v) / (2 sum w)) X  +  G / (2 sum w),
      G_jk = tr(I^-1 dI/dbeta_j I^-1 dI/dbeta_k),   dI/dbeta_j = X^T diag(w v (1 - 2 mu) x_j) X,

  (``v = mu (1 - mu)``, ``s = w v / sum w``), quadratically convergent; where ``H`` is not
  numerically positive definite the step falls back to the Fisher direction. Forming the
  ``p`` derivative matrices costs ``n p^3 / 2`` per model and iteration.

Step halving: from ``t = 1``, halve until ``f*(beta + t delta) <= f*(beta) + c t grad^T
delta + 4 eps |f*|`` (``c = armijo``), at most ``max_halvings`` times, else
``LINESEARCH_FAILED``. A trial point whose information is numerically singular has
``f* = +inf`` and is halved. A step whose predicted decrease ``-grad^T delta / 2`` is
already at most ``tol`` is taken in full without that test: ``f*`` (a difference of
``l`` and ``log det I``, each far larger than the change) cannot resolve it, and the
iteration is then in its local regime. With a shared design every ``X^T diag(.) X`` is
``Z^T (.)`` and the hat values ``Z c`` (``Z`` the column products, ``c`` the upper
triangle of ``(I / sum w)^-1`` with doubled off-diagonal entries), so no per-model copy of
``X`` is formed (the observed Hessian's ``dI/dbeta_j`` are ``(x_j * a)^T Z``, one
``(p, n)`` scaled copy of ``X`` per model).

Statuses, first match wins (:func:`init` first stops a model with ``INVALID`` data):

* ``NONFINITE``: the log-likelihood, the information or the gradient is not finite.
* ``SINGULAR``: ``I`` is numerically singular (:mod:`jaxlogreg._linalg`) at the starting
  point: a rank-deficient design. (Accepted steps keep ``I`` nonsingular.) There is no
  ``SEPARATED``: the Firth estimate exists under separation.
* ``CONVERGED``: half the squared decrement ``grad^T C^-1 grad / 2 <= tol`` (``C`` the
  curvature matrix of the step, ``grad = -U* / sum w``: the step is small in its metric)
  and ``max_j |U*_j| / sum w <= max(tol, floor_j)`` (``floor_j`` the gradient's rounding
  bound, :func:`jaxlogreg.solvers._common.gradient_floor`).
* ``MAX_ITER``: ``max_iter`` steps taken.

Fixed coefficients (``free``): a ``(p,)`` 0/1 mask; coefficients with ``free_j = 0`` stay at
their starting value, and the others maximise ``l*`` with the penalty still the FULL
model's ``1/2 log det I(beta)`` (the constrained fits of the profile penalised likelihood,
as logistf computes them; :mod:`jaxlogreg._firth_profile`). The step is then
``delta_F = -(C_FF)^-1 grad_F`` and the tests use ``grad_F`` only.

Penalties: ``problem.l2`` and ``problem.l1`` are ignored (Jeffreys' prior is the only
penalty; ``fit`` refuses the combination). ``problem.link`` must be ``"logit"``.

The loop, the step halving (the driver's Armijo backtracking) and the freezing of stopped
models are the driver's (:mod:`jaxlogreg.solvers._driver`).

References: D. Firth, "Bias reduction of maximum likelihood estimates", Biometrika 80
(1993) 27-38; G. Heinze and M. Schemper, "A solution to the problem of separation in
logistic regression", Statistics in Medicine 21 (2002) 2409-2419; G. Heinze and M. Ploner,
logistf (R package).
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar, NamedTuple

import jax
import jax.numpy as jnp

from .. import _linalg, _loss
from . import _driver
from ._driver import Context, Point, Proposal, State

Array = jax.Array

__all__ = [
    "Firth", "FirthState", "init", "step", "run", "objective", "modified_score", "hessian",
]

FirthState = State


@dataclasses.dataclass(frozen=True)
class Firth(_driver.Solver):
    """Settings of the Firth solver (``fit(..., firth=True)``, or ``solvers.firth.run``).

    Attributes:
      hessian: ``"observed"`` (Newton on the penalised likelihood, Fisher direction where
        its Hessian is not positive definite) or ``"expected"`` (Fisher scoring, logistf's
        iteration; cheaper per step for large ``p``, slower to converge). Module docstring.
      max_halvings: bound on step halvings per iteration.
      armijo: sufficient-decrease constant of the step-halving test on ``f*``.
    """

    hessian: str = "observed"
    max_halvings: int = 30
    armijo: float = 1e-4

    name: ClassVar[str] = "firth"
    tests_direction: ClassVar[bool] = False  # the estimate exists under separation
    margin_test: ClassVar[bool] = False

    def __post_init__(self):
        if self.hessian not in ("observed", "expected"):
            raise ValueError(
                f"hessian: expected 'observed' or 'expected', got {self.hessian!r}"
            )

    def search(self) -> _driver.Backtracking:
        return _driver.Backtracking(self.armijo, self.max_halvings)

    def initial_memory(self, problem: _loss.Problem, beta0: Array):
        """The ``(p,)`` 0/1 mask of the free coefficients when :func:`init` or :func:`run`
        is given one; ``()`` when all are free."""
        return ()

    def evaluate(self, problem: _loss.Problem, beta: Array, memory) -> Point:
        _check_link(problem)
        pt = _point(problem, _loss.linear_predictor(beta, problem))
        grad, h, M = _gradient(problem, pt)
        free = _mask(memory)
        if free is not None:
            grad = grad * free
        finite = pt.data_finite & (~pt.fac.ok | jnp.all(jnp.isfinite(grad)))
        return Point(pt.loss, grad, (pt, h, M), jnp.zeros_like(pt.mu), finite)

    def propose(self, problem: _loss.Problem, beta: Array, point: Point, state: State,
                accept: Array, ctx: Context) -> Proposal:
        pt, h, M = point.curvature
        free = _mask(state.memory)
        grad = point.grad
        fisher = _restrict(pt.info, free, pt.fac)
        ok = pt.fac.ok & fisher.ok
        delta = -_linalg.solve(fisher, grad)
        if self.hessian == "observed":
            newton = _restrict(_observed_hessian(problem, pt, h, M), free)
            delta = jnp.where(newton.ok, -_linalg.solve(newton, grad), delta)
        slope = jnp.dot(grad, delta)
        small = -0.5 * slope <= ctx.tol
        converged = (ok & (-0.5 * slope <= ctx.tol * state.tol_scale)
                     & jnp.all(jnp.abs(grad) <= jnp.maximum(ctx.tol, state.grad_floor)))
        true, false = jnp.ones((), bool), jnp.zeros((), bool)
        # A step whose predicted decrease is at most tol is taken whole (its f* is finite):
        # f*, a difference of two much larger terms, cannot resolve it.
        return Proposal(delta, slope, None, small, ~ok, converged, true, false, false,
                        jnp.ones((), grad.dtype), state.memory)

    def init(self, problem: _loss.Problem, beta0: Array, ctx: Context | None = None,
             free: Array | None = None) -> State:
        """State at ``beta0``; ``free``: ``(p,)`` 0/1 mask of the coefficients to fit (None:
        all), the others stay at ``beta0``."""
        return self.step(problem, self.start(problem, beta0, free), ctx)

    def run(self, problem: _loss.Problem, beta0: Array, ctx: Context | None = None,
            free: Array | None = None) -> State:
        """Iterate :meth:`step` from ``beta0`` until the model stops (``free`` as
        :meth:`init`)."""
        return self.iterate(problem, self.start(problem, beta0, free), ctx)

    def start(self, problem: _loss.Problem, beta0: Array, free: Array | None) -> State:
        beta0 = jnp.asarray(beta0, problem.X.dtype)
        state = self.before(problem, beta0)
        if free is not None:
            state = state._replace(memory=jnp.asarray(free, beta0.dtype))
        return state


class _Point(NamedTuple):
    """What one evaluation at a linear predictor yields (all of one model)."""

    loss: Array  # () f*, +inf where the information is singular
    data_finite: Array  # () the log-likelihood and the information are finite
    mu: Array  # (n,)
    var: Array  # (n,) mu (1 - mu)
    s: Array  # (n,) w mu (1 - mu) / sum w
    info: Array  # (p, p) A = I / sum w
    fac: _linalg.Factor  # of A


def _check_link(problem: _loss.Problem) -> None:
    if problem.link != "logit":
        raise ValueError(f"link: Firth's correction is implemented for the logit link only, "
                         f"got {problem.link!r}")


def _data_part(rows: Array, problem: _loss.Problem) -> Array:
    """``(p, p)`` ``X^T diag(rows) X`` (through the column products when present)."""
    return _loss.hessian_from_rows(rows, problem._replace(l2=jnp.zeros_like(problem.l2)))


def _point(problem: _loss.Problem, eta: Array) -> _Point:
    """``f*`` and the pieces of its derivatives at the linear predictor ``eta`` ``(n,)``.

    ``log det I = log det A + p log sum w`` with ``A = I / sum w`` factored as in
    :func:`jaxlogreg._linalg.factor` (``A = D^1/2 L L^T D^1/2``, ``D^-1/2 = scale``).
    """
    rows, mu, var = _loss.pointwise(eta, problem.y)
    w = problem.weights
    total = jnp.sum(w)
    s = w * var / total
    info = _data_part(s, problem)
    fac = _linalg.factor(info)
    p = info.shape[-1]
    safe_scale = jnp.where(fac.scale > 0, fac.scale, 1.0)
    logdet = 2.0 * jnp.sum(jnp.log(jnp.diagonal(fac.L))) - 2.0 * jnp.sum(jnp.log(safe_scale))
    nll = jnp.sum(w * rows)
    loss = (nll - 0.5 * (logdet + p * jnp.log(total))) / total
    data_finite = jnp.isfinite(nll) & jnp.all(jnp.isfinite(info))
    loss = jnp.where(fac.ok & data_finite, loss, jnp.inf)
    return _Point(loss, data_finite, mu, var, s, info, fac)


def _gradient(problem: _loss.Problem, pt: _Point) -> tuple[Array, Array, Array]:
    """``(p,)`` gradient of ``f*``, ``X^T [w (mu - y) + h (mu - 1/2)] / sum w``; with the
    hat values ``h = s * x^T A^-1 x`` (``= w v x^T I^-1 x``) ``(n,)`` and ``A^-1``."""
    w = problem.weights
    M = _linalg.inverse(pt.fac)
    h = pt.s * _loss.quadratic_rows(M, problem)
    r = (w * (pt.mu - problem.y) + h * (pt.mu - 0.5)) / jnp.sum(w)
    return _loss.design_transpose_times(r, problem), h, M


def _observed_hessian(problem: _loss.Problem, pt: _Point, h: Array, M: Array) -> Array:
    """``(p, p)`` Hessian of ``f*`` (module docstring), with ``M = A^-1 = sum w I^-1``.

    ``T_j = X^T diag(a x_j) X`` with ``a = s (1 - 2 mu)`` is ``dA / dbeta_j``, and
    ``G_jk = tr(M T_j M T_k)``.
    """
    total = jnp.sum(problem.weights)
    T = _loss.weighted_cubes(pt.s * (1.0 - 2.0 * pt.mu), problem)
    N = jnp.einsum("ab,jbc->jac", M, T)
    G = jnp.einsum("jac,kca->jk", N, N)
    first = _data_part(pt.s - h * (1.0 - 6.0 * pt.var) / (2.0 * total), problem)
    return first + G / (2.0 * total)


def objective(beta: Array, problem: _loss.Problem) -> Array:
    """``f*(beta) = -(l + 1/2 log det I) / sum w`` (module docstring), a scalar; ``+inf``
    where ``I`` is numerically singular."""
    _check_link(problem)
    return _point(problem, _loss.linear_predictor(beta, problem)).loss


def modified_score(beta: Array, problem: _loss.Problem) -> Array:
    """``(p,)`` Firth's modified score ``U*(beta)`` (module docstring), unnormalised."""
    _check_link(problem)
    pt = _point(problem, _loss.linear_predictor(beta, problem))
    return -jnp.sum(problem.weights) * _gradient(problem, pt)[0]


def hessian(beta: Array, problem: _loss.Problem) -> Array:
    """``(p, p)`` Hessian of ``f*`` at ``beta`` (module docstring)."""
    _check_link(problem)
    pt = _point(problem, _loss.linear_predictor(beta, problem))
    _, h, M = _gradient(problem, pt)
    return _observed_hessian(problem, pt, h, M)


def _mask(memory) -> Array | None:
    """The free mask a Firth state carries, or None when every coefficient is free."""
    return None if isinstance(memory, tuple) else memory


def _restrict(H: Array, free, fac: _linalg.Factor | None = None) -> _linalg.Factor:
    """Factor of ``H`` restricted to the free coefficients (identity on the fixed ones);
    ``fac``, a factor of ``H`` itself, is reused when every coefficient is free."""
    if free is None:
        return _linalg.factor(H) if fac is None else fac
    return _linalg.factor(H * free[:, None] * free[None, :] + jnp.diag(1.0 - free))


def init(problem: _loss.Problem, beta0: Array, ctx: Context | None = None,
         config: Firth = Firth(), free: Array | None = None) -> State:
    """State at the starting point ``beta0`` ``(p,)``, with its stopping decision made;
    ``free`` as :meth:`Firth.init`."""
    return config.init(problem, beta0, ctx, free)


def step(problem: _loss.Problem, state: State, ctx: Context | None = None,
         config: Firth = Firth()) -> State:
    """One evaluation (a step or a halving) and the decision that follows."""
    return config.step(problem, state, ctx)


def run(problem: _loss.Problem, beta0: Array, ctx: Context | None = None,
        config: Firth = Firth(), free: Array | None = None) -> State:
    """Iterate :func:`step` from ``beta0`` until the model stops; ``free`` as
    :meth:`Firth.init`."""
    return config.run(problem, beta0, ctx, free)
