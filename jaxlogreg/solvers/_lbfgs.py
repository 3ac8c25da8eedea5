"""Limited-memory BFGS for one model, written to be vmapped over many.

It minimises the smooth objective of :mod:`jaxlogreg._loss` (data term plus L2; an L1 term
needs another solver). Each iteration costs two passes over ``X``: the gradient
``X^T r`` at the new point and ``X d`` for the new direction ``d``. Trial points of the
line search cost no matrix product (see below). At each iterate ``beta`` with gradient
``g``:

1. Direction ``d = -H g`` by the two-loop recursion (Nocedal and Wright, *Numerical
   Optimization*, 2nd ed., Algorithm 7.4) over the last ``m = memory`` pairs
   ``s_k = beta_{k+1} - beta_k``, ``y_k = g_{k+1} - g_k`` with ``H_0 = gamma I``,
   ``gamma = s^T y / y^T y`` of the newest pair. The pairs live in ``(m, p)`` circular
   buffers; unfilled slots hold zeros (and ``rho = 0``), which makes them no-ops in the
   recursion, so no mask is needed. A pair is stored only when ``s^T y > eps ||s|| ||y||``
   (positive curvature beyond rounding), which keeps ``H`` positive definite; should
   rounding still make ``d`` no descent direction (``g^T d >= 0``), the memory is cleared
   and ``d = -g``.
2. Decide whether to stop (first match wins; :func:`init` first stops a model with
   ``INVALID`` data, as Newton's does):

   * ``NONFINITE``: the loss, the gradient or the direction is not finite.
   * ``SEPARATED``: ``d`` is a recession direction, or ``beta`` itself is one (every
     positively weighted row on its observed side of the boundary, which without a penalty
     on ``beta`` means complete separation): the certificate of
     :func:`jaxlogreg.solvers._common.recession`, shared with Newton.
   * ``CONVERGED``: every ``|g_j| <= max(tol, floor_j)`` (``floor_j`` the rounding bound of
     :func:`~jaxlogreg.solvers._common.gradient_floor`), and the next step ``d`` moves no
     positively weighted row's linear predictor by more than ``0.1``. No Newton decrement is
     used: L-BFGS never forms the Hessian, and ``-g^T d = g^T H g`` measures the distance to
     the optimum only as well as the secant matrix ``H`` approximates the inverse Hessian.
     On separated data it is no help either: along the recession direction the loss decays
     like ``exp(-margin)``, so ``g^T H g`` falls with ``|g|``. The second condition is what
     keeps a separating model from passing for converged once its gradient is tiny: its
     quasi-Newton step keeps pushing the separated rows by about ``log 2`` or more per
     iteration, while at a finite optimum the predicted move of every row is of the order
     of ``tol`` (measured: at most 0.04 over 1,800 fits of near-separated data at
     ``tol = 1e-6``). Complete separation is caught by the time the gradient could reach
     ``tol`` (every row is then on its side of the boundary, unless offsets outweigh the
     margins, and ``beta`` certifies it); quasi-complete separation is caught when the direction
     certifies it, which needs the non-separated part of the model converged to about
     ``sqrt(eps)``: reliably at the float64 default ``tol = 1e-10``, not always at loose
     tolerances, where a model may stop ``CONVERGED`` with a few rows fitted with
     probability ``1 - tol``. Newton's quadratic convergence does not have this weakness.
   * ``MAX_ITER``: ``max_iter`` iterations taken (``SEPARATED`` instead when some row is
     fitted with probability 1 to working precision,
     :func:`~jaxlogreg.solvers._common.certainly_separated`, as for Newton).

3. Otherwise a line search along ``d`` for a step ``t`` satisfying the strong Wolfe
   conditions ``f(beta + t d) <= f(beta) + c1 t g^T d + 4 eps |f|`` and
   ``|phi'(t)| <= c2 |g^T d|`` with ``phi(t) = f(beta + t d)`` (the ``4 eps |f|`` slack
   lets the curvature condition decide once decreases fall below rounding). ``phi`` is
   convex, so ``phi'`` is increasing: the search keeps a bracket ``[lo, hi]`` with
   ``phi'(lo) < -c2 |g^T d|`` and ``hi`` failing sufficient decrease or with
   ``phi'(hi) > c2 |g^T d|``, and tries the secant root of ``phi'`` (kept inside the middle
   80% of the bracket; bisection when the secant is unusable), or extrapolates (2 to 10
   times the step) while nothing bounds it above. A trial point costs ``O(n)``:
   ``eta + t X d`` and ``phi'(t) = r^T (X d) + (penalty's derivative along d)``. The first
   trial is ``t = 1`` (the ``gamma`` scaling makes the quasi-Newton step well sized), or
   ``t = 1 / max_j |g_j|`` while the memory is empty. After ``max_linesearch`` trials
   without a Wolfe point, the trial of least loss that satisfied sufficient decrease is
   taken; if none did, the model stops with ``LINESEARCH_FAILED``.

:func:`init` does 1-2 at the starting point and :func:`step` does 3 then 1-2 at the new
point, so a model that stops after ``k`` steps costs ``k`` calls of :func:`step`.

A model whose status is no longer ``RUNNING`` is frozen: :func:`step` returns its state
unchanged. ``axis_name`` reduces loop predicates over a named ``vmap`` axis, as in
:mod:`jaxlogreg.solvers.newton`.

Why not optax: ``optax.lbfgs`` (``scale_by_lbfgs`` chained with
``scale_by_zoom_linesearch``) has no stopping rule or status, evaluates every trial point
through ``jax.value_and_grad`` of the whole objective (two passes over ``X`` per trial
instead of none), reports a failed line search only through its diagnostics while taking a
fallback step anyway, and keeps no per-model state that could be frozen inside its line
search; wrapping it gives a loop that cannot say why a model stopped. Measured on a
shared 2-core CPU (200 models vmapped over one ``X`` with n = 5,000, d = 200, L2 1e-3,
float64): a vmapped ``optax.lbfgs`` loop stopped on ``max |g| <= 1e-10`` took 22 iterations
and 70 s, this solver 20 iterations and 2.8 s, to the same optimum (within 2e-9).

The state carries the linear predictor ``eta`` and ``X d`` ``(n,)``, updated as
``eta + t X d`` rather than recomputed as ``X beta`` (which would be a third pass over
``X`` per iteration); the rounding this accumulates is a few ``eps |eta|`` over a hundred
iterations. :func:`run` evaluates the final loss from ``beta`` directly.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar, NamedTuple, Optional

import jax
import jax.numpy as jnp

from .. import _loss
from .._status import Status
from . import _common

Array = jax.Array

__all__ = ["LBFGS", "LBFGSState", "init", "step", "run"]

_RUNNING = int(Status.RUNNING)

# CONVERGED also needs the next quasi-Newton step to move no row's linear predictor by more
# than this (module docstring, 2).
_SETTLED_REACH = 0.1


@dataclasses.dataclass(frozen=True)
class LBFGS:
    """Settings of the L-BFGS solver; pass as ``fit(..., solver=LBFGS(...))``.

    Attributes:
      memory: number ``m`` of curvature pairs kept.
      max_linesearch: bound on trial steps per line search.
      armijo: sufficient-decrease constant ``c1`` of the Wolfe conditions.
      curvature: curvature constant ``c2`` of the strong Wolfe conditions
        (``armijo < curvature < 1``).
    """

    memory: int = 10
    max_linesearch: int = 20
    armijo: float = 1e-4
    curvature: float = 0.9

    name: ClassVar[str] = "lbfgs"

    def __post_init__(self):
        if int(self.memory) < 1:
            raise ValueError(f"memory: must be a positive integer, got {self.memory}")
        if int(self.max_linesearch) < 1:
            raise ValueError(
                f"max_linesearch: must be a positive integer, got {self.max_linesearch}"
            )
        if not 0.0 < self.armijo < self.curvature < 1.0:
            raise ValueError(
                "armijo, curvature: need 0 < armijo < curvature < 1, got "
                f"armijo={self.armijo}, curvature={self.curvature}"
            )


class LBFGSState(NamedTuple):
    """Iterate of one model.

    Shapes (``m`` the memory): ``beta (p,)``; ``loss ()`` objective at ``beta``; ``grad
    (p,)``; ``direction (p,)`` the next search direction ``d``; ``eta (n,)`` linear
    predictor at ``beta``; ``xd (n,)`` ``X @ d``; ``S``, ``Y`` ``(m, p)`` circular buffers
    of the pairs ``s_k``, ``y_k`` (zeros where unfilled); ``rho (m,)`` ``1 / s_k^T y_k``
    (0 where unfilled); ``stored ()`` int32 pairs stored so far (the next is written at
    ``stored % m``); ``grad_floor (p,)`` rounding bound on ``grad``; ``n_iter ()`` int32
    steps taken; ``status ()`` int32 :class:`~jaxlogreg.Status` code, ``RUNNING`` until
    the model stops.
    """

    beta: Array
    loss: Array
    grad: Array
    direction: Array
    eta: Array
    xd: Array
    S: Array
    Y: Array
    rho: Array
    stored: Array
    grad_floor: Array
    n_iter: Array
    status: Array


def _safe_div(a: Array | float, b: Array, fallback) -> Array:
    """``a / b`` where ``b != 0``, else ``fallback``; never divides by zero (under vmap
    both sides of a ``where`` are computed)."""
    ok = b != 0
    return jnp.where(ok, a / jnp.where(ok, b, 1.0), fallback)


def _dot(a: Array, b: Array) -> Array:
    """``sum(a * b)`` of two vectors. Under ``vmap``, ``jnp.dot`` of vectors becomes a batched
    ``dot_general`` that XLA:CPU runs as one tiny product per model (measured 3-10 times
    slower here than this elementwise product and sum, which fuses)."""
    return jnp.sum(a * b)


def _newest_first(S: Array, Y: Array, rho: Array, count: Array):
    """The buffers reordered so that row ``j`` holds the ``j``-th newest pair."""
    m = S.shape[0]
    idx = (count - 1 - jnp.arange(m)) % m
    return S[idx], Y[idx], rho[idx]


def _two_loop(grad: Array, S: Array, Y: Array, rho: Array, count: Array) -> Array:
    """``(p,)`` quasi-Newton direction ``-H grad`` (Nocedal and Wright, Algorithm 7.4).

    ``H_0 = gamma I`` with ``gamma = s^T y / y^T y`` of the newest pair (1 without one).
    Unfilled slots (zeros, ``rho = 0``) contribute nothing.
    """
    S, Y, rho = _newest_first(S, Y, rho, count)

    def newest_to_oldest(q, pair):
        s, y, r = pair
        a = r * _dot(s, q)
        return q - a * y, a

    q, alpha = jax.lax.scan(newest_to_oldest, grad, (S, Y, rho))
    gamma = jnp.where(count > 0, _safe_div(_dot(S[0], Y[0]), _dot(Y[0], Y[0]), 1.0), 1.0)

    def oldest_to_newest(h, pair):
        s, y, r, a = pair
        b = r * _dot(y, h)
        return h + (a - b) * s, None

    h, _ = jax.lax.scan(oldest_to_newest, gamma * q, (S, Y, rho, alpha), reverse=True)
    return -h


def _decide(problem, beta, eta, loss, grad, direction, xd, n_iter, tol, max_iter, floor, axis_name):
    """Status implied at an iterate (``RUNNING`` to go on); see the module docstring."""
    finite = (
        jnp.isfinite(loss) & jnp.all(jnp.isfinite(grad)) & jnp.all(jnp.isfinite(direction))
    )
    along_d, reach = _common.recession(problem, xd, direction)
    along_beta, _ = _common.recession(problem, eta - problem.offset, beta)
    recession = along_d | along_beta
    converged = jnp.all(jnp.abs(grad) <= jnp.maximum(tol, floor)) & (reach <= _SETTLED_REACH)
    consult = finite & ~recession & ~converged & (n_iter >= max_iter)
    certain = _common.certainly_separated(problem, eta, consult, axis_name)
    return jnp.select(
        [~finite, recession, converged, n_iter >= max_iter],
        [
            int(Status.NONFINITE),
            int(Status.SEPARATED),
            int(Status.CONVERGED),
            jnp.where(certain, int(Status.SEPARATED), int(Status.MAX_ITER)),
        ],
        _RUNNING,
    ).astype(jnp.int32)


def _descent(problem, grad, S, Y, rho, count):
    """Direction at ``grad`` and ``X @`` it; the memory, cleared when the quasi-Newton
    direction is not a descent direction (rounding), in which case ``d = -grad``."""
    d = _two_loop(grad, S, Y, rho, count)
    descent = _dot(grad, d) < 0
    d = jnp.where(descent, d, -grad)
    S, Y, rho = (jnp.where(descent, a, jnp.zeros_like(a)) for a in (S, Y, rho))
    count = jnp.where(descent, count, 0)
    return d, _loss.design_times(d, problem), S, Y, rho, count


def init(
    problem: _loss.Problem,
    beta0: Array,
    tol: Array,
    max_iter: Array,
    config: LBFGS = LBFGS(),
    axis_name: Optional[str] = None,
) -> LBFGSState:
    """State at the starting point ``beta0`` ``(p,)``, with its stopping decision made.

    The memory is empty, so the first direction is ``-grad``.
    """
    p = beta0.shape[-1]
    m = int(config.memory)
    dtype = beta0.dtype
    eta = _loss.linear_predictor(beta0, problem)
    loss, r, _ = _loss.evaluate(eta, beta0, problem)
    grad = _loss.gradient_from_rows(r, beta0, problem)
    floor = _common.gradient_floor(problem)
    d = -grad
    xd = _loss.design_times(d, problem)
    n_iter = jnp.zeros((), jnp.int32)
    status = _decide(
        problem, beta0, eta, loss, grad, d, xd, n_iter, tol, max_iter, floor, axis_name
    )
    status = jnp.where(_common.invalid_data(problem), jnp.int32(Status.INVALID), status)
    return LBFGSState(
        beta=beta0,
        loss=loss,
        grad=grad,
        direction=d,
        eta=eta,
        xd=xd,
        S=jnp.zeros((m, p), dtype),
        Y=jnp.zeros((m, p), dtype),
        rho=jnp.zeros((m,), dtype),
        stored=jnp.zeros((), jnp.int32),
        grad_floor=floor,
        n_iter=n_iter,
        status=status,
    )


def _secant(a, da, b, db, fallback):
    """Root of the line through ``(a, da)`` and ``(b, db)`` (``phi'`` at two steps), or
    ``fallback`` where ``phi'`` does not increase from ``a`` to ``b``."""
    usable = jnp.isfinite(db) & (db > da)
    return jnp.where(usable, a - da * _safe_div(b - a, db - da, 0.0), fallback)


def _line_search(problem, state, t_first, config, skip, axis_name):
    """Strong-Wolfe step along ``state.direction`` (module docstring, 3).

    Returns ``(t, f, r)``: the step taken (0 when no trial satisfied sufficient decrease),
    the loss there and the row weights ``r`` of :func:`jaxlogreg._loss.evaluate`, from which
    the gradient follows with one pass over ``X``. Models with ``skip`` set try nothing.
    """
    dtype = state.loss.dtype
    eps = jnp.finfo(dtype).eps
    d, xd = state.direction, state.xd
    f0 = state.loss
    slope0 = _dot(state.grad, d)
    slack = 4.0 * eps * jnp.abs(f0)
    flat = config.curvature * jnp.abs(slope0)

    def trial(t):
        """Loss, row weights and ``phi'(t)`` at ``beta + t d``: O(n), no matrix product."""
        eta_t = state.eta + t * xd
        # evaluate depends on beta only through the penalty, so this tangent is the
        # penalty's derivative along d; the data term's is r^T (X d).
        (f, r), (dpen, _) = jax.jvp(
            lambda b: _loss.evaluate(eta_t, b, problem)[:2], (state.beta + t * d,), (d,)
        )
        return f, r, _dot(r, xd) + dpen

    zero = jnp.zeros((), dtype)
    inf = jnp.full((), jnp.inf, dtype)
    carry = dict(
        done=skip, k=jnp.zeros((), jnp.int32), t=t_first.astype(dtype),
        lo=zero, dlo=slope0, hi=inf, dhi=inf,
        best_t=zero, best_f=inf, best_r=jnp.zeros_like(state.eta),
    )

    def active(c):
        width_left = jnp.isinf(c["hi"]) | (c["hi"] - c["lo"] > eps * c["hi"])
        return ~c["done"] & (c["k"] < config.max_linesearch) & width_left

    def body(c):
        t = c["t"]
        f, r, dphi = trial(t)
        decrease = (
            jnp.isfinite(f) & jnp.isfinite(dphi) & (f <= f0 + config.armijo * t * slope0 + slack)
        )
        wolfe = decrease & (jnp.abs(dphi) <= flat)
        short = decrease & (dphi < -flat)
        best = wolfe | (decrease & (f <= c["best_f"]))
        lo = jnp.where(short, t, c["lo"])
        dlo = jnp.where(short, dphi, c["dlo"])
        hi = jnp.where(short, c["hi"], t)
        dhi = jnp.where(short, c["dhi"], jnp.where(jnp.isfinite(dphi), dphi, jnp.nan))
        width = hi - lo
        inside = jnp.clip(
            _secant(lo, dlo, hi, dhi, lo + 0.5 * width), lo + 0.1 * width, hi - 0.1 * width
        )
        beyond = jnp.clip(_secant(c["lo"], c["dlo"], t, dphi, 10.0 * t), 2.0 * t, 10.0 * t)
        new = dict(
            done=wolfe, k=c["k"] + 1, t=jnp.where(jnp.isinf(hi), beyond, inside),
            lo=lo, dlo=dlo, hi=hi, dhi=dhi,
            best_t=jnp.where(best, t, c["best_t"]),
            best_f=jnp.where(best, f, c["best_f"]),
            best_r=jnp.where(best, r, c["best_r"]),
        )
        go = active(c)
        return {key: jnp.where(go, new[key], c[key]) for key in c}

    out = jax.lax.while_loop(lambda c: _common.any_model(active(c), axis_name), body, carry)
    return out["best_t"], out["best_f"], out["best_r"]


def step(
    problem: _loss.Problem,
    state: LBFGSState,
    tol: Array,
    max_iter: Array,
    config: LBFGS = LBFGS(),
    axis_name: Optional[str] = None,
) -> LBFGSState:
    """One line search along ``state.direction``, the memory update, and the direction and
    decision at the new point. A model that has stopped is returned unchanged."""
    moving = state.status == _RUNNING
    gmax = jnp.max(jnp.abs(state.grad))
    t_first = jnp.where(state.stored > 0, 1.0, _safe_div(1.0, gmax, 1.0))
    t, loss, r = _line_search(problem, state, t_first, config, ~moving, axis_name)
    beta = state.beta + t * state.direction
    eta = state.eta + t * state.xd
    grad = _loss.gradient_from_rows(r, beta, problem)

    # Store the pair (s, y) if its curvature is positive beyond rounding.
    s, y = t * state.direction, grad - state.grad
    sy = _dot(s, y)
    eps = jnp.finfo(sy.dtype).eps
    keep = jnp.isfinite(sy) & (sy > eps * jnp.linalg.norm(s) * jnp.linalg.norm(y))
    slot = state.stored % int(config.memory)
    S = jnp.where(keep, state.S.at[slot].set(s), state.S)
    Y = jnp.where(keep, state.Y.at[slot].set(y), state.Y)
    rho = jnp.where(keep, state.rho.at[slot].set(_safe_div(1.0, sy, 0.0)), state.rho)
    count = state.stored + keep.astype(jnp.int32)

    d, xd, S, Y, rho, count = _descent(problem, grad, S, Y, rho, count)
    n_iter = state.n_iter + 1
    status = _decide(
        problem, beta, eta, loss, grad, d, xd, n_iter, tol, max_iter, state.grad_floor,
        axis_name,
    )
    new = LBFGSState(
        beta, loss, grad, d, eta, xd, S, Y, rho, count, state.grad_floor, n_iter, status
    )
    accepted = t > 0
    return _common.commit(new, state, accepted)


def run(
    problem: _loss.Problem,
    beta0: Array,
    tol: Array,
    max_iter: Array,
    config: LBFGS = LBFGS(),
    axis_name: Optional[str] = None,
    leave=0,
) -> LBFGSState:
    """Iterate :func:`step` from ``beta0`` until the model stops; returns the final state,
    with ``loss`` evaluated at the final ``beta`` from ``X @ beta``.

    ``leave`` (may be traced): under a named ``vmap`` axis, stop as soon as at most
    ``leave`` models of the batch are still running; those come back with status
    ``RUNNING``. Resuming one from its ``beta`` with :func:`run` starts with an empty memory,
    so its path differs from an uninterrupted run (unlike Newton's, which has no memory).
    """
    state = jax.lax.while_loop(
        lambda s: _common.keep_going(s.status, axis_name, leave),
        lambda s: step(problem, s, tol, max_iter, config, axis_name),
        init(problem, beta0, tol, max_iter, config, axis_name),
    )
    return state._replace(loss=_loss.value(state.beta, problem))
