"""jaxlogreg: thousands to millions of logistic regression fits at once, in JAX.

The public API is what this module re-exports; everything in a ``_``-prefixed module is an
implementation detail.
"""

from ._datasets import make_seed_data
from ._fit import fit
from ._inference import (
    Chi2TestResult,
    InferenceResult,
    LRTestResult,
    inference,
    lr_test,
    score_test,
    summary,
    to_csv,
    to_dict,
    variance_inflation_factors,
    wald_test,
)
from ._result import FitResult
from ._status import Status
from .solvers import Newton

__all__ = [
    "fit",
    "FitResult",
    "Status",
    "Newton",
    "make_seed_data",
    "inference",
    "InferenceResult",
    "wald_test",
    "lr_test",
    "score_test",
    "Chi2TestResult",
    "LRTestResult",
    "variance_inflation_factors",
    "summary",
    "to_dict",
    "to_csv",
]

__version__ = "0.1.0"
