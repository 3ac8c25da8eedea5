"""Solvers: settings classes on one driver loop (:mod:`jaxlogreg.solvers._driver`).

A solver is chosen by its typed settings object (``Newton(...)``, ``LBFGS(...)``,
``ProxNewton(...)``, ``SGD(...)``, ``Firth(...)``) or by its registered name
(:func:`names`), ``"auto"`` (the default of :func:`jaxlogreg.fit`) choosing by the problem
(:func:`auto`). Each is driven by hand the same way, on one model (vmap them for many)::

    ctx = solvers.context(tol=1e-10, max_iter=100)     # or None for the defaults
    state = solvers.newton.init(problem, beta0, ctx)   # evaluated at beta0, decided
    while state.status == Status.RUNNING:
        state = solvers.newton.step(problem, state, ctx)
    state = solvers.newton.run(problem, beta0, ctx)    # the same, as one loop

(``init``/``step``/``run`` are also methods of the settings: ``Newton().run(problem, beta0,
ctx)``.) Every solver's state is a :class:`State`: ``beta``, ``loss``, ``grad``,
``n_iter`` and ``status`` are what :func:`jaxlogreg.fit` reads from it.

Which to use:

* ``"newton"``: Newton's method (IRLS) with a Cholesky solve, quadratic convergence; the
  choice for small to moderate ``p`` (cost ``n p^2`` per iteration).
* ``"lbfgs"``: limited-memory BFGS, ``O(n p)`` per iteration; for hundreds or thousands of
  features. Smooth objectives only (L2).
* ``"prox_newton"``: proximal Newton with coordinate descent; L1 and elastic-net penalties,
  exact zeros.
* ``"sgd"``, ``"adam"``: minibatch stochastic gradients through optax; for data too large
  for full-batch steps (see :func:`jaxlogreg.solvers.sgd.fit_streaming`).
* ``"firth"``: Firth's bias-reduced (penalised) likelihood, ``fit(..., firth=True)``: a
  different objective, finite under separation (logit link, no other penalty).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._loss import Problem
from . import _firth as firth
from . import _lbfgs as lbfgs
from . import _newton as newton
from . import _prox_newton as prox_newton
from . import _sgd as sgd
from ._driver import Context, Solver, State, context
from ._firth import Firth, FirthState
from ._lbfgs import LBFGS, LBFGSState
from ._newton import Newton, NewtonState
from ._prox_newton import ProxNewton, ProxNewtonState
from ._sgd import SGD, SGDState, adam

__all__ = [
    "Firth", "FirthState", "firth", "Newton", "NewtonState", "LBFGS", "LBFGSState", "ProxNewton",
    "ProxNewtonState", "SGD", "SGDState", "adam", "Problem", "newton", "lbfgs", "prox_newton",
    "sgd", "resolve", "names", "handles_l1", "l1_names", "uses_hessian", "auto", "Context",
    "context", "Solver", "State", "AUTO_NEWTON_MAX_COLUMNS",
]

# name -> factory of its default settings. The one registry: `fit` looks nowhere else.
_NAMES: dict[str, Callable[[], Any]] = {
    "newton": Newton,
    "prox_newton": ProxNewton,
    "lbfgs": LBFGS,
    "sgd": SGD,
    "adam": adam,
    "firth": Firth,
}

# "auto" picks Newton up to this many parameters (intercept included), L-BFGS above. A
# Newton step costs about n p^2 / 2 multiply-adds for its Hessian, an L-BFGS step about
# 2 n p, and Newton takes 3-4 steps where L-BFGS takes 10-20: on well-conditioned data the
# two meet near p = 30-50 (``benchmarks/bench_engine.py`` measures the crossing; see
# BENCHMARKS.md). Near it Newton is kept for its quadratic convergence, which ill-
# conditioned designs do not slow (L-BFGS's iterations grow with the condition number).
AUTO_NEWTON_MAX_COLUMNS = 48


def names() -> tuple[str, ...]:
    """Registered solver names (``"auto"`` besides, :func:`auto`)."""
    return tuple(_NAMES)


def handles_l1(config) -> bool:
    """Whether the solver of the settings ``config`` minimises objectives with an L1 term."""
    return bool(getattr(config, "handles_l1", False))


def uses_hessian(config) -> bool:
    """Whether the solver forms Hessians (and so profits from a shared design's column
    products and from a pooled starting point)."""
    return bool(getattr(config, "uses_hessian", False))


def l1_names() -> tuple[str, ...]:
    """Registered names whose default settings handle an L1 term."""
    return tuple(name for name, make in _NAMES.items() if handles_l1(make()))


def auto(p: int, l1_ratio: float = 0.0) -> Solver:
    """The solver ``"auto"`` picks for ``p`` parameters (intercept included): proximal
    Newton when there is an L1 term (``l1_ratio > 0``), else Newton up to
    :data:`AUTO_NEWTON_MAX_COLUMNS` parameters and L-BFGS above."""
    if l1_ratio > 0:
        return ProxNewton()
    return Newton() if p <= AUTO_NEWTON_MAX_COLUMNS else LBFGS()


def resolve(solver, p: int | None = None, l1_ratio: float = 0.0):
    """Settings object for ``solver`` (a registered name, ``"auto"`` for :func:`auto` of
    ``p`` parameters and ``l1_ratio``, or a settings instance)."""
    if isinstance(solver, str):
        key = solver.lower()
        if key == "auto":
            return auto(1 if p is None else p, l1_ratio)
        if key not in _NAMES:
            raise ValueError(
                f"solver: unknown solver {solver!r}; choose 'auto' or one of "
                f"{', '.join(names())}, or pass a settings object such as jaxlogreg.Newton()"
            )
        return _NAMES[key]()
    if isinstance(solver, Solver):
        return solver
    raise ValueError(
        f"solver: expected a solver name or settings object, got {type(solver).__name__}"
    )
