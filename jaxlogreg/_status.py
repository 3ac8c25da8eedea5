"""Per-model outcome codes.

Every model in a batch carries its own status; nothing inside a batch raises. The codes are
small integers so they travel through `jit`, `vmap` and `lax.map` as an int32 array.
"""

from __future__ import annotations

import enum

import numpy as np

__all__ = ["Status"]


class Status(enum.IntEnum):
    """How the fit of one model ended.

    `FitResult.status` holds these codes; `FitResult.converged` is `status == CONVERGED`.
    `Status(code).message` gives a one-line explanation; `Status.counts(status)` tallies a
    batch.
    """

    RUNNING = -1
    CONVERGED = 0
    MAX_ITER = 1
    SEPARATED = 2
    SINGULAR = 3
    NONFINITE = 4
    LINESEARCH_FAILED = 5
    INVALID = 6

    @property
    def message(self) -> str:
        return _MESSAGES[self]

    @classmethod
    def counts(cls, status) -> dict[str, int]:
        """Number of models with each status in an array of codes, by member name."""
        codes = np.asarray(status).ravel()
        return {m.name: int(np.sum(codes == m.value)) for m in cls if m is not cls.RUNNING}


_MESSAGES = {
    Status.RUNNING: "still iterating (only seen when driving a solver's step by hand)",
    Status.CONVERGED: (
        "converged: the gradient (and, for Newton's methods, the decrement) below tolerance"
    ),
    Status.MAX_ITER: "stopped at max_iter before reaching the tolerance",
    Status.SEPARATED: (
        "the classes are (quasi-)completely separated: no finite maximum-likelihood "
        "estimate exists; the coefficients reported are the last iterate"
    ),
    Status.SINGULAR: (
        "the information matrix is singular (collinear, constant or empty columns); "
        "the coefficients are not identified"
    ),
    Status.NONFINITE: "the loss or gradient became NaN or infinite",
    Status.LINESEARCH_FAILED: "the line search found no step that decreases the loss",
    Status.INVALID: (
        "invalid data: a label outside [0, 1] or a negative weight (reported here only when "
        "the Python-side checks could not run, as under jax.jit)"
    ),
}
