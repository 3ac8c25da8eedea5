"""jaxlogreg: thousands to millions of logistic regression fits at once, in JAX.

The public API is what this module re-exports; everything in a ``_``-prefixed module is an
implementation detail. The package is typed (``py.typed``): arrays carry jaxtyping
annotations of dtype kind and shape whose dimension names state the batching conventions
(:mod:`jaxlogreg._typing`).

``jaxlogreg.sklearn.LogisticRegression`` is a scikit-learn estimator over :func:`fit`; that
public submodule alone imports scikit-learn (the ``sklearn`` extra).
"""

import importlib as _importlib
from typing import TYPE_CHECKING as _TYPE_CHECKING

# The public names and the modules that define them. They are imported on first use (PEP
# 562), so that ``import jaxlogreg`` (and the command line's argument and file checks) does
# not import JAX; a static type checker reads the imports below.
_SOURCES = {
    "._cache": ("enable_compilation_cache",),
    "._datasets": ("make_seed_data",),
    "._fit": ("fit",),
    "._firth_profile": (
        "FirthProfile", "firth_lr_test", "firth_profile", "firth_profile_intervals",
    ),
    "._implicit": ("influence",),
    "._inference": (
        "Chi2TestResult", "InferenceResult", "LaplaceResult", "LRTestResult", "inference",
        "laplace", "predictive", "lr_test", "score_test", "summary", "to_csv", "to_dict",
        "variance_inflation_factors", "wald_test",
    ),
    "._metrics": (
        "CalibrationResult", "PlattCalibrator", "ReliabilityCurve", "brier_score",
        "calibration", "log_loss", "platt_scaling", "reliability_curve", "roc_auc",
    ),
    "._path": ("PathResult", "path"),
    "._predict": ("predict",),
    "._resample": (
        "BayesianBootstrap", "Bootstrap", "KFold", "LeaveOneOut", "Scheme", "Splits",
        "Subsample",
    ),
    "._result": ("FitResult",),
    "._sharding": ("fit_rows_sharded",),
    "._simulate": ("Simulated", "simulate"),
    "._status": ("Status",),
    "._study": (
        "StudyData", "StudyDiagnostics", "StudyReference", "StudyReplicates", "StudyResult",
        "StudySummary", "run_study",
    ),
    ".solvers": ("LBFGS", "SGD", "Firth", "Newton", "ProxNewton"),
}
_OWNER = {name: module for module, names in _SOURCES.items() for name in names}

if _TYPE_CHECKING:
    from ._cache import enable_compilation_cache
    from ._datasets import make_seed_data
    from ._firth_profile import (
        FirthProfile,
        firth_lr_test,
        firth_profile,
        firth_profile_intervals,
    )
    from ._fit import fit
    from ._implicit import influence
    from ._inference import (
        Chi2TestResult,
        InferenceResult,
        LaplaceResult,
        LRTestResult,
        inference,
        laplace,
        lr_test,
        predictive,
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
    from ._predict import predict
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
    from ._study import (
        StudyData,
        StudyDiagnostics,
        StudyReference,
        StudyReplicates,
        StudyResult,
        StudySummary,
        run_study,
    )
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
    "firth_profile_intervals",
    "firth_lr_test",
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
    "StudyReplicates",
    "StudySummary",
    "StudyReference",
    "StudyDiagnostics",
    "StudyData",
    # evaluation and calibration
    "predict",
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


def __getattr__(name: str) -> object:
    """A public name, imported from its module on first use (then an ordinary attribute);
    a submodule (``solvers``, ``cli``, ``_fit``, ...) is imported as an ``import`` would."""
    module = _OWNER.get(name)
    if module is not None:
        value = getattr(_importlib.import_module(module, __name__), name)
        globals()[name] = value
        return value
    try:
        return _importlib.import_module(f".{name}", __name__)
    except ModuleNotFoundError as e:
        if e.name != f"{__name__}.{name}":
            raise  # a submodule that exists but failed to import
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
