"""Limited-memory BFGS for one model, written to be vmapped over many.

It minimises the smooth objective of :mod:`jaxlogreg._loss` (data term plus L2; an L1 term
needs another solver). Each trial point costs one pass over the rows (``X beta``, the row
terms and ``X^T r``), and each accepted one the product ``X d`` for the separation test of
the new direction. At each iterate ``beta`` with gradient ``g``:

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
     of ``tol``. Complete separation is caught by the time the gradient could reach
     ``tol`` (every row is then on its side of the boundary, unless offsets outweigh the
     margins, and ``beta`` certifies it); quasi-complete separation is caught when the direction
     certifies it, which needs the non-separated part of the model converged to about
     ``sqrt(eps)``: reliably at the float64 default ``tol = 1e-10``, not always at loose
     tolerances, where a model may stop ``CONVERGED`` with a few rows fitted with
     probability ``1 - tol``. Newton's quadratic convergence does not have this weakness.
   * ``MAX_ITER``: ``max_iter`` iterations taken (``SEPARATED`` instead when some row is
     fitted with probability 1 to working precision,
     :func:`~jaxlogreg.solvers._common.certainly_separated`, as for Newton).

3. Otherwise the driver's strong Wolfe search along ``d``
   (:class:`jaxlogreg.solvers._driver.Wolfe`): ``f(beta + t d) <= f(beta) + c1 t g^T d +
   4 eps |f|`` and ``|phi'(t)| <= c2 |g^T d|`` with ``phi(t) = f(beta + t d)`` (the ``4 eps
   |f|`` slack lets the curvature condition decide once decreases fall below rounding).
   The first trial is ``t = 1`` (the ``gamma`` scaling makes the quasi-Newton step well
   sized), or ``t = 1 / max_j |g_j|`` while the memory is empty.

The loop, the statuses and the freezing of stopped models are the driver's
(:mod:`jaxlogreg.solvers._driver`). ``n_iter`` counts accepted steps; a search that needs
several trials takes several calls of :func:`step`.

Why not optax: ``optax.lbfgs`` (``scale_by_lbfgs`` chained with
``scale_by_zoom_linesearch``) has no stopping rule or status, reports a failed line search
only through its diagnostics while taking a fallback step anyway, and keeps no per-model
state that could be frozen inside its line search; wrapping it gives a loop that cannot say
why a model stopped. ``benchmarks/bench_solvers.py`` measures the two side by side.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar, NamedTuple

import jax
import jax.numpy as jnp

from .. import _loss
from . import _common, _driver
from ._driver import Context, Point, Proposal, State

Array = jax.Array

__all__ = ["LBFGS", "LBFGSState", "Memory", "init", "step", "run"]

LBFGSState = State


class Memory(NamedTuple):
    """The curvature pairs of one model: ``S``, ``Y`` ``(m, p)`` circular buffers of
    ``s_k``, ``y_k`` (zeros where unfilled); ``rho (m,)`` ``1 / s_k^T y_k`` (0 where
    unfilled); ``stored ()`` int32 pairs stored so far (the next goes to ``stored % m``)."""

    S: Array
    Y: Array
    rho: Array
    stored: Array


@dataclasses.dataclass(frozen=True)
class LBFGS(_driver.Solver):
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
    uses_hessian: ClassVar[bool] = False
    resumable: ClassVar[bool] = False
    # CONVERGED also needs the next quasi-Newton step to move no row's linear predictor by
    # more than this (module docstring, 2).
    settled_reach: ClassVar[float] = 0.1

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

    def search(self) -> _driver.Wolfe:
        return _driver.Wolfe(self.armijo, self.curvature, int(self.max_linesearch))

    def initial_memory(self, problem: _loss.Problem, beta0: Array) -> Memory:
        m, p, dtype = int(self.memory), beta0.shape[-1], beta0.dtype
        return Memory(jnp.zeros((m, p), dtype), jnp.zeros((m, p), dtype),
                      jnp.zeros((m,), dtype), jnp.zeros((), jnp.int32))

    def propose(self, problem: _loss.Problem, beta: Array, point: Point, state: State,
                accept: Array, ctx: Context) -> Proposal:
        grad = point.grad
        mem = state.memory
        # The pair of the step just taken (none at the start): stored if its curvature is
        # positive beyond rounding.
        s, y = state.t * state.direction, grad - state.grad
        sy = _dot(s, y)
        eps = jnp.finfo(grad.dtype).eps
        keep = ((state.n_iter >= 0) & jnp.isfinite(sy)
                & (sy > eps * jnp.linalg.norm(s) * jnp.linalg.norm(y)))
        slot = mem.stored % int(self.memory)
        mem = Memory(
            jnp.where(keep, mem.S.at[slot].set(s), mem.S),
            jnp.where(keep, mem.Y.at[slot].set(y), mem.Y),
            jnp.where(keep, mem.rho.at[slot].set(_safe_div(1.0, sy, 0.0)), mem.rho),
            mem.stored + keep.astype(jnp.int32),
        )
        d = _two_loop(grad, mem)
        # Rounding may make the quasi-Newton direction no descent direction: clear the
        # memory and take the gradient's.
        descent = _dot(grad, d) < 0
        d = jnp.where(descent, d, -grad)
        mem = jax.tree_util.tree_map(
            lambda a: jnp.where(descent, a, jnp.zeros_like(a)), mem)
        slope = _dot(grad, d)
        gmax = jnp.max(jnp.abs(grad))
        t0 = jnp.where(mem.stored > 0, 1.0, _safe_div(1.0, gmax, 1.0)).astype(grad.dtype)
        # beta itself as a direction: X beta = eta - offset.
        along_beta, _ = _common.recession(problem, _loss.without_offset(point.eta, problem), beta)
        converged = jnp.all(jnp.abs(grad) <= jnp.maximum(ctx.tol, state.grad_floor))
        true, false = jnp.ones((), bool), jnp.zeros((), bool)
        return Proposal(d, slope, None, false, false, converged, jnp.all(jnp.isfinite(d)),
                        along_beta, true, t0, mem)


def _safe_div(a: Array | float, b: Array, fallback) -> Array:
    """``a / b`` where ``b != 0``, else ``fallback``; never divides by zero (under vmap
    both sides of a ``where`` are computed)."""
    ok = b != 0
    return jnp.where(ok, a / jnp.where(ok, b, 1.0), fallback)


def _dot(a: Array, b: Array) -> Array:
    """``sum(a * b)`` of two vectors: under ``vmap`` an elementwise product and sum fuse,
    where ``jnp.dot`` of vectors becomes one tiny matrix product per model."""
    return jnp.sum(a * b)


def _two_loop(grad: Array, mem: Memory) -> Array:
    """``(p,)`` quasi-Newton direction ``-H grad`` (Nocedal and Wright, Algorithm 7.4).

    ``H_0 = gamma I`` with ``gamma = s^T y / y^T y`` of the newest pair (1 without one).
    Unfilled slots (zeros, ``rho = 0``) contribute nothing.
    """
    m = mem.S.shape[0]
    idx = (mem.stored - 1 - jnp.arange(m)) % m  # row j: the j-th newest pair
    S, Y, rho = mem.S[idx], mem.Y[idx], mem.rho[idx]

    def newest_to_oldest(q, pair):
        s, y, r = pair
        a = r * _dot(s, q)
        return q - a * y, a

    q, alpha = jax.lax.scan(newest_to_oldest, grad, (S, Y, rho))
    gamma = jnp.where(mem.stored > 0, _safe_div(_dot(S[0], Y[0]), _dot(Y[0], Y[0]), 1.0), 1.0)

    def oldest_to_newest(h, pair):
        s, y, r, a = pair
        b = r * _dot(y, h)
        return h + (a - b) * s, None

    h, _ = jax.lax.scan(oldest_to_newest, gamma * q, (S, Y, rho, alpha), reverse=True)
    return -h


init, step, run = _driver.functions(LBFGS)
