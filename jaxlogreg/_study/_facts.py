"""The numbers a study's reading states (:mod:`jaxlogreg._study._reading`, whose docstring
gives the formulas): the first-order predictions of SE/SD, of the replicates' spread and of
their share with the wrong sign, which the plots draw too; :class:`_Facts`, what the
paragraphs read from a result, gathered once; and the formatting the paragraphs share."""

from __future__ import annotations

import math
import statistics
from typing import TYPE_CHECKING

import numpy as np

from .._status import Status

if TYPE_CHECKING:  # the result calls this module, not the reverse
    from ._records import StudyData, StudyDiagnostics, StudyReference, StudySummary
    from ._summary import StudyResult

# Schemes whose replicates share rows: SE/SD is predicted as 1 / sqrt(1 - f).
_SHARED_ROWS = ("Splits", "Subsample", "KFold", "LeaveOneOut")
_WITH_REPLACEMENT = ("Bootstrap", "BayesianBootstrap")

_NORMAL = statistics.NormalDist()


def _pct(p: float) -> str:
    """A share as a percentage with the digits it needs (below 0.1% said so)."""
    if not np.isfinite(p):
        return "-"
    if p == 0:
        return "0%"
    if p < 0.001:
        return "below 0.1%"
    if p < 0.1:
        return f"{100 * p:.2g}%"
    return f"{100 * p:.0f}%"


def _and(items: list[str]) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]

def predicted_se_ratio(result: StudyResult) -> float | None:
    """The first-order prediction ``R`` of SE/SD (module docstring), None where none is made
    (an unknown scheme, or no training fraction below 1 for one that shares rows)."""
    cfg, ref = result.config, result.reference
    if ref is None:
        return 1.0  # fresh data: every replicate is an independent sample
    kind = (cfg.get("scheme") or {}).get("kind")
    f = ref["n_train"] / ref["n"]
    if kind in _SHARED_ROWS and 0.0 < f < 1.0:
        return 1.0 / math.sqrt(1.0 - f)
    if kind in _WITH_REPLACEMENT:
        return 1.0
    return None


def linear_sd(result: StudyResult) -> np.ndarray | None:
    """``(k,)`` the first-order SD of the estimates across replicates of one data set,
    ``SE_sandwich / (R sqrt(f))`` (module docstring); None without a sandwich SE of the
    full-data fit or a prediction ``R``."""
    ref = result.reference
    ratio = predicted_se_ratio(result)
    if ref is None or ratio is None or "bse_sandwich" not in ref:
        return None
    f = ref["n_train"] / ref["n"]
    return np.asarray(ref["bse_sandwich"], np.float64) / (ratio * math.sqrt(f))


def replicate_flip(result: StudyResult) -> np.ndarray | None:
    """``(k,)`` the predicted share of replicates of one data set with the wrong sign:
    ``Phi(-sign(t) b / SD)``, ``b`` the full-data estimate and ``SD`` its first-order spread
    (:func:`linear_sd`; the replicates' own SD for studies that lack it). None without a
    converged full-data fit; NaN where ``t = 0``."""
    ref = result.reference
    if ref is None or ref["status"] != int(Status.CONVERGED):
        return None
    sd = linear_sd(result)
    if sd is None:
        sd = np.asarray(result.summary["sd"], np.float64)
    b = np.asarray(ref["params"], np.float64)
    t = result.true_params
    with np.errstate(invalid="ignore", divide="ignore"):
        z = -np.sign(t) * b / sd
    return np.where(t != 0, np.array([_NORMAL.cdf(v) if np.isfinite(v) else np.nan for v in z]),
                    np.nan)


class _Facts:
    """The numbers the paragraphs state, and the paragraphs (each None when it has nothing
    to say)."""

    def __init__(self, result: StudyResult):
        self.result = result
        self.s: StudySummary = result.summary
        self.t = np.asarray(result.true_params, np.float64)
        self.names = result.names
        self.cfg = result.config
        self.ref: StudyReference | None = result.reference
        # None for a study written before the diagnostics.
        self.diag: StudyDiagnostics | None = result.diagnostics
        self.data: StudyData | None = None if self.diag is None else self.diag.data
        self.offset = 1 if self.cfg.get("fit_intercept", True) else 0
        self.level = float(self.cfg.get("level", 0.95))
        self.z = _NORMAL.inv_cdf(1.0 - (1.0 - self.level) / 2.0)
        # The full-data fit when there is one and it converged, else None.
        self.full: StudyReference | None = (
            self.ref if self.ref is not None and self.ref.status == int(Status.CONVERGED)
            else None)
        if self.ref is not None:
            self.n, self.m = int(self.ref.n), float(self.ref.n_train)
        elif self.data is not None:
            self.n, self.m = int(self.data.n), float(self.data.n_train)
        else:
            self.n = int(self.cfg.get("n", 0))
            self.m = float(self.n)
        kind = (self.cfg.get("scheme") or {}).get("kind")
        self.kind = kind
        self.per = "training split" if kind == "Splits" else "fit"
