"""Solvers: one module each, every one an ``init``/``step``/``run`` over an explicit state.

A solver is chosen by its typed settings object (``Newton(...)``) or by its registered name
(``"newton"``). Every solver's state carries ``beta``, ``loss``, ``grad``, ``n_iter`` and
``status``, which is all :func:`jaxlogreg.fit` reads from it.
"""

from __future__ import annotations

from . import _newton
from ._newton import Newton, NewtonState

__all__ = ["Newton", "NewtonState", "resolve", "run", "names"]

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


def run(config, problem, beta0, tol, max_iter):
    """Run the solver that ``config`` names on one model; returns its final state."""
    return _REGISTRY[config.name][1](problem, beta0, tol, max_iter, config)
