"""jaxlogreg: thousands to millions of logistic regression fits at once, in JAX.

The public API is what this module re-exports; everything in a ``_``-prefixed module is an
implementation detail. The package is typed (``py.typed``): arrays carry jaxtyping
annotations of dtype kind and shape whose dimension names state the batching conventions
(:mod:`jaxlogreg._typing`).
"""

from ._cache import enable_compilation_cache
from ._datasets import make_seed_data
from ._fit import fit
from ._firth_profile import FirthProfile, firth_profile
from ._implicit import influence
from ._inference import (
    Chi2TestResult,
    InferenceResult,
    LaplaceResult,
    LRTestResult,
    inference,
    laplace,
    predictive,
    lr_test,
    score_test,
    summary,
    to_csv,
    to_dict,
    variance_inflation_factors,
    wald_test,
)
from ._metrics import (
    CalibrationResult,
    PlattCalibrator,
    ReliabilityCurve,
    brier_score,
    calibration,
    log_loss,
    platt_scaling,
    reliability_curve,
    roc_auc,
)
from ._path import PathResult, path
from ._resample import (
    BayesianBootstrap,
    Bootstrap,
    KFold,
    LeaveOneOut,
    Scheme,
    Splits,
    Subsample,
)
from ._result import FitResult
from ._sharding import fit_rows_sharded
from ._simulate import Simulated, simulate
from ._status import Status
from ._study import StudyResult, run_study
from .solvers import LBFGS, SGD, Firth, Newton, ProxNewton

__all__ = [
    # fitting
    "fit",
    "FitResult",
    "Status",
    "Newton",
    "LBFGS",
    "ProxNewton",
    "SGD",
    "Firth",
    "firth_profile",
    "FirthProfile",
    "path",
    "PathResult",
    "fit_rows_sharded",
    "enable_compilation_cache",
    # inference
    "inference",
    "InferenceResult",
    "wald_test",
    "lr_test",
    "score_test",
    "Chi2TestResult",
    "LRTestResult",
    "variance_inflation_factors",
    "influence",
    "laplace",
    "LaplaceResult",
    "predictive",
    "summary",
    "to_dict",
    "to_csv",
    # resampling, simulation, studies
    "Scheme",
    "Bootstrap",
    "Splits",
    "KFold",
    "Subsample",
    "BayesianBootstrap",
    "LeaveOneOut",
    "simulate",
    "Simulated",
    "make_seed_data",
    "run_study",
    "StudyResult",
    # evaluation and calibration
    "log_loss",
    "brier_score",
    "roc_auc",
    "calibration",
    "CalibrationResult",
    "reliability_curve",
    "ReliabilityCurve",
    "platt_scaling",
    "PlattCalibrator",
]

__version__ = "0.1.0"
