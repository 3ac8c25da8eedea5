"""Solvers: one module each, every one an ``init``/``step``/``run`` over an explicit state.

``jaxlogreg.solvers.newton.init`` / ``step`` / ``run`` drive a solver by hand on one model
(vmap them for many). A solver is chosen by its typed settings object (``Newton(...)``) or by its registered name
(``"newton"``). Every solver's state carries ``beta``, ``loss``, ``grad``, ``n_iter`` and
``status``, which is all :func:`jaxlogreg.fit` reads from it.
"""

from __future__ import annotations

from .._loss import Problem
from . import _newton
from . import _newton as newton
from ._newton import Newton, NewtonState

__all__ = ["Newton", "NewtonState", "Problem", "newton", "resolve", "run", "names"]

# name -> (settings class, run function). The one registry: `fit` looks nowhere else.
_REGISTRY = {
    Newton.name: (Newton, _newton.run),
}


def names() -> tuple[str, ...]:
    """Registered solver names."""
    return tuple(_REGISTRY)


def resolve(solver):
    """Settings object for ``solver`` (a registered name or a settings instance)."""
    if isinstance(solver, str):
        key = solver.lower()
        if key not in _REGISTRY:
            raise ValueError(
                f"solver: unknown solver {solver!r}; choose one of {', '.join(names())} "
                "or pass a settings object such as jaxlogreg.Newton()"
            )
        return _REGISTRY[key][0]()
    for cls, _ in _REGISTRY.values():
        if isinstance(solver, cls):
            return solver
    raise ValueError(
        f"solver: expected a solver name or settings object, got {type(solver).__name__}"
    )


def run(config, problem, beta0, tol, max_iter, axis_name=None, leave=0):
    """Run the solver that ``config`` names on one model; returns its final state.

    ``axis_name`` names the ``vmap`` axis the call runs under, if any; ``leave`` lets the
    vmapped batch stop with that many models still running (see the solvers' ``run``).
    """
    return _REGISTRY[config.name][1](problem, beta0, tol, max_iter, config, axis_name, leave)
