"""Solvers: one module each, every one an ``init``/``step``/``run`` over an explicit state.

``jaxlogreg.solvers.newton.init`` / ``step`` / ``run`` (and ``lbfgs``, ``prox_newton``,
``sgd``) drive a solver by hand on one model (vmap them for many). A solver is chosen by its
typed settings object (``Newton(...)``, ``LBFGS(...)``, ``ProxNewton(...)``, ``SGD(...)``) or
by its registered name (:func:`names`). Every solver's state carries ``beta``, ``loss``,
``grad``, ``n_iter`` and ``status``, which is all :func:`jaxlogreg.fit` reads from it.

Which to use:

* ``"newton"`` (default): Newton's method (IRLS) with a Cholesky solve, quadratic
  convergence; the choice for small to moderate ``p`` (cost ``n p^2`` per iteration).
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

from typing import Any, Callable

from .._loss import Problem
from . import _firth, _lbfgs, _newton, _prox_newton, _sgd
from . import _firth as firth
from . import _lbfgs as lbfgs
from . import _newton as newton
from . import _prox_newton as prox_newton
from . import _sgd as sgd
from ._firth import Firth, FirthState
from ._lbfgs import LBFGS, LBFGSState
from ._newton import Newton, NewtonState
from ._prox_newton import ProxNewton, ProxNewtonState
from ._sgd import SGD, SGDState, adam

__all__ = [
    "Firth", "FirthState", "firth", "Newton", "NewtonState", "LBFGS", "LBFGSState", "ProxNewton", "ProxNewtonState", "SGD",
    "SGDState", "adam", "Problem", "newton", "lbfgs", "prox_newton", "sgd", "resolve", "run",
    "names", "handles_l1", "l1_names", "uses_hessian",
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
# settings class -> run function.
_RUN: dict[type, Callable[..., Any]] = {
    Newton: _newton.run,
    ProxNewton: _prox_newton.run,
    LBFGS: _lbfgs.run,
    SGD: _sgd.run,
    Firth: _firth.run,
}


def names() -> tuple[str, ...]:
    """Registered solver names."""
    return tuple(_NAMES)


def handles_l1(config) -> bool:
    """Whether the solver of the settings ``config`` minimises objectives with an L1 term."""
    return bool(getattr(config, "handles_l1", False))


def uses_hessian(config) -> bool:
    """Whether the solver forms Hessians (and so profits from a shared design's column
    products and from a pooled starting point)."""
    return isinstance(config, (Newton, ProxNewton, Firth))


def l1_names() -> tuple[str, ...]:
    """Registered names whose default settings handle an L1 term."""
    return tuple(name for name, make in _NAMES.items() if handles_l1(make()))


def resolve(solver):
    """Settings object for ``solver`` (a registered name or a settings instance)."""
    if isinstance(solver, str):
        key = solver.lower()
        if key not in _NAMES:
            raise ValueError(
                f"solver: unknown solver {solver!r}; choose one of {', '.join(names())} "
                "or pass a settings object such as jaxlogreg.Newton()"
            )
        return _NAMES[key]()
    if type(solver) in _RUN:
        return solver
    raise ValueError(
        f"solver: expected a solver name or settings object, got {type(solver).__name__}"
    )


def run(config, problem, beta0, tol, max_iter, axis_name=None, leave=0):
    """Run the solver of the settings ``config`` on one model; returns its final state.

    ``axis_name`` names the ``vmap`` axis the call runs under, if any; ``leave`` lets the
    vmapped batch stop with that many models still running (see the solvers' ``run``).
    """
    return _RUN[type(config)](problem, beta0, tol, max_iter, config, axis_name, leave)
