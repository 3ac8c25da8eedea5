"""jaxlogreg: thousands to millions of logistic regression fits at once, in JAX.

The public API is what this module re-exports; everything in a ``_``-prefixed module is an
implementation detail.
"""

from ._datasets import make_seed_data
from ._fit import fit
from ._result import FitResult
from ._status import Status
from .solvers import Newton

__all__ = [
    "fit",
    "FitResult",
    "Status",
    "Newton",
    "make_seed_data",
]

__version__ = "0.1.0"
