"""What a study found: the per-replicate fields, their summary and :class:`StudyResult`.

Per coefficient ``j`` with true value ``t_j``, over the replicates that converged (and whose
information matrix is invertible), with estimates ``b_j`` and standard errors ``s_j``::

    bias      = mean(b_j) - t_j               sd = sample SD of b_j (ddof 1)
    resampling_bias = mean(b_j) - f_j         (f_j the full-data estimate; resampling only)
    se_ratio  = mean(s_j) / sd                rmse = sqrt(mean((b_j - t_j)^2))
    sign_flip = mean(sign(b_j) != sign(t_j))  (NaN when t_j = 0)
    predicted_flip = mean(Phi(-|t_j| / s_j))  (the flip rate if b_j ~ N(t_j, s_j^2))
    coverage  = mean(|b_j - t_j| <= z s_j),   z = Phi^-1(1 - (1 - level) / 2)

and per replicate, on its held-out rows: log loss, Brier score, ROC AUC, calibration
intercept and slope, and a reliability curve (:mod:`jaxlogreg._study._held_out`).
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import ndtr

from .._status import Status
from ._held_out import _RELIABILITY_BINS
from ._reading import _reading
from ._records import StudyDiagnostics, StudyReference, StudyReplicates, StudySummary

# One program (called eagerly, ndtr would compile each of its operations as its own).
_ndtr = jax.jit(ndtr)

# Per-replicate arrays a study keeps (and writes to replicates.npz): StudyReplicates' fields.
REPLICATE_FIELDS = tuple(f.name for f in dataclasses.fields(StudyReplicates))
# Trailing shapes of the per-replicate fields of a chunk ("k": one per parameter); () when
# not listed.
_FIELD_TAILS: dict[str, tuple] = {
    "params": ("k",), "bse": ("k",), "reliability_predicted": (_RELIABILITY_BINS,),
    "reliability_observed": (_RELIABILITY_BINS,), "reliability_weight": (_RELIABILITY_BINS,),
}


@dataclasses.dataclass(frozen=True)
class StudyResult:
    """What a study found.

    Its parts are typed records (:mod:`jaxlogreg._study._records`) with one attribute per
    key, each also a read-only mapping over its keys as the dicts it replaces:
    ``study.summary.bias`` is ``study.summary["bias"]``. Built with plain mappings instead,
    it turns them into the records.

    Attributes:
      names: ``(k,)`` parameter names, the intercept first when fitted.
      true_params: ``(k,)`` the values the data were generated from.
      replicates: :class:`~jaxlogreg._study._records.StudyReplicates`, the per-replicate
        arrays (:data:`REPLICATE_FIELDS`): ``params (B, k)``, ``bse (B, k)``, ``status
        (B,)``, ``n_iter (B,)``, ``valid (B,)`` (an invertible information matrix), held-out
        metrics ``(B,)`` (NaN without a held-out part) and reliability curves ``(B, 10)``.
      summary: :class:`~jaxlogreg._study._records.StudySummary`, per-coefficient arrays
        ``(k,)`` (``mean``, ``bias``, ``sd``, ``mean_se``, ``se_ratio``, ``rmse``,
        ``sign_flip``, ``predicted_flip``, ``coverage``, ``resampling_bias``) and scalars
        (status shares, mean held-out metrics); see the module docstring.
      reference: :class:`~jaxlogreg._study._records.StudyReference`, the fit of the whole
        data set (resampling studies; else None): ``params (k,)``, ``bse (k,)``, ``status``,
        ``n`` (rows), ``n_train`` (training weight of replicate 0: its rows for splits),
        ``vif (d,)`` and ``bse_sandwich (k,)`` (its HC0 standard errors, unpenalised fits
        only; None in studies written before it).
      config: the settings, as written to ``summary.json``.
      diagnostics: :class:`~jaxlogreg._study._records.StudyDiagnostics`, what the data are
        like and why replicates separated, the causes the reading names (None for studies
        written before it): ``data`` (of the full data set, or replicate 0's with fresh
        data; :func:`jaxlogreg._study._diagnostics.describe_data`) and ``separation``, the
        separated replicates grouped by the columns of their separating direction
        (:func:`~jaxlogreg._study._diagnostics.group_separations`).
    """

    names: tuple
    true_params: np.ndarray
    replicates: StudyReplicates
    summary: StudySummary
    reference: StudyReference | None
    config: dict
    diagnostics: StudyDiagnostics | None = None

    def __post_init__(self) -> None:
        # Plain mappings (a StudyResult built by hand, as before the records) become records.
        for name, record in (("replicates", StudyReplicates), ("summary", StudySummary),
                             ("reference", StudyReference), ("diagnostics", StudyDiagnostics)):
            value = getattr(self, name)
            if value is not None and not isinstance(value, record):
                object.__setattr__(self, name, record.from_mapping(value))

    def table(self) -> str:
        """The per-coefficient summary as a fixed-width text table: with a full-data fit
        (resampling), its estimate (``full``) and the resampling bias (``mean-full``) beside
        the error against the truth (``mean-true``)."""
        s = self.summary
        cols = [("true", self.true_params, "{:>9.4g}")]
        full = None if self.reference is None else np.asarray(self.reference["params"], np.float64)
        if full is not None:
            cols.append(("full", full, "{:>9.4g}"))
        cols.append(("mean", s["mean"], "{:>9.4g}"))
        if full is not None:
            cols.append(("mean-full", resampling_bias(self), "{:>9.3g}"))
        cols += [
            ("mean-true", s["bias"], "{:>9.3g}"), ("SD", s["sd"], "{:>9.3g}"),
            ("mean SE", s["mean_se"], "{:>9.3g}"), ("SE/SD", s["se_ratio"], "{:>6.2f}"),
            ("RMSE", s["rmse"], "{:>9.3g}"), ("flip", s["sign_flip"], "{:>6.1%}"),
            ("pred.", s["predicted_flip"], "{:>6.1%}"), ("cover", s["coverage"], "{:>6.1%}"),
        ]
        width = max(9, max(len(n) for n in self.names))
        head = f"{'':{width}s} " + " ".join(
            f"{name:>{len(fmt.format(0.0))}s}" for name, _, fmt in cols
        )
        lines = [head]
        for j, name in enumerate(self.names):
            cells = " ".join(_fmt(fmt, values[j]) for _, values, fmt in cols)
            lines.append(f"{name:{width}s} {cells}")
        return "\n".join(lines)

    def reading(self) -> str:
        """A short plain-language reading of the table (see :func:`_reading`)."""
        return _reading(self)


def resampling_bias(result: StudyResult) -> np.ndarray:
    """``(k,)`` replicate mean minus the full-data estimate (NaN without a full-data fit);
    from the summary, or from the reference for studies written before it held it."""
    if result.summary.resampling_bias is not None:
        return np.asarray(result.summary.resampling_bias, np.float64)
    if result.reference is None:
        return np.full(len(result.names), np.nan)
    return (np.asarray(result.summary.mean, np.float64)
            - np.asarray(result.reference.params, np.float64))


def _fmt(fmt: str, value) -> str:
    value = float(value)
    if math.isnan(value):
        return f"{'-':>{len(fmt.format(0.0))}s}"
    return fmt.format(value)


def summarize(reps: Mapping[str, Any], true_params: np.ndarray, level: float,
              full_params=None) -> StudySummary:
    """Per-coefficient and overall summaries (module docstring) of per-replicate arrays
    ``reps`` (:class:`~jaxlogreg._study._records.StudyReplicates` or a mapping with its
    keys), ``true_params (k,)``; ``full_params (k,)``, the full-data estimate of a
    resampling study, gives ``resampling_bias`` (NaN without it)."""
    params = np.asarray(reps["params"], np.float64)
    bse = np.asarray(reps["bse"], np.float64)
    status = np.asarray(reps["status"])
    ok = (status == int(Status.CONVERGED)) & np.asarray(reps["valid"], bool)
    B = len(status)
    z = statistics.NormalDist().inv_cdf(1.0 - (1.0 - level) / 2.0)
    est, se = params[ok], bse[ok]
    t = np.asarray(true_params, np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        if len(est):
            mean = est.mean(axis=0)
            sd = est.std(axis=0, ddof=1) if len(est) > 1 else np.full_like(mean, np.nan)
            mean_se = se.mean(axis=0)
            rmse = np.sqrt(np.mean((est - t) ** 2, axis=0))
            flips = np.where(t != 0, np.mean(np.sign(est) != np.sign(t), axis=0), np.nan)
            pred = _predicted_flip(t, se)
            coverage = np.mean(np.abs(est - t) <= z * se, axis=0)
        else:
            mean = sd = mean_se = rmse = flips = pred = coverage = np.full(t.shape, np.nan)
        summary = dict(
            mean=mean, bias=mean - t, sd=sd, mean_se=mean_se, se_ratio=mean_se / sd, rmse=rmse,
            sign_flip=flips, predicted_flip=pred, coverage=coverage,
            resampling_bias=(mean - np.asarray(full_params, np.float64) if full_params is not None
                             else np.full(t.shape, np.nan)),
        )
        counts = Status.counts(status)
        summary.update(
            replicates=B, used=int(ok.sum()),
            converged_share=counts["CONVERGED"] / B, separated_share=counts["SEPARATED"] / B,
            singular_share=counts["SINGULAR"] / B,
            other_share=(B - counts["CONVERGED"] - counts["SEPARATED"] - counts["SINGULAR"]) / B,
            status_counts=counts,
            mean_n_iter=float(np.mean(reps["n_iter"])),
        )
        for key in ("log_loss", "brier", "auc", "calibration_intercept", "calibration_slope"):
            v = np.asarray(reps[key], np.float64)[ok]
            v = v[np.isfinite(v)]
            summary[key] = float(v.mean()) if len(v) else float("nan")
            summary[key + "_sd"] = float(v.std(ddof=1)) if len(v) > 1 else float("nan")
        w = np.asarray(reps["reliability_weight"], np.float64)[ok]
        total = w.sum(axis=0)
        safe = np.where(total > 0, total, 1.0)
        for key in ("reliability_predicted", "reliability_observed"):
            pooled = np.nansum(np.asarray(reps[key])[ok] * w, axis=0) / safe
            summary[key] = np.where(total > 0, pooled, np.nan)
        summary["reliability_weight"] = total
    return StudySummary(**summary)


def _predicted_flip(t: np.ndarray, se: np.ndarray) -> np.ndarray:
    """``mean_b Phi(-|t_j| / s_bj)`` per coefficient (NaN where ``t_j = 0``)."""
    vals = np.asarray(_ndtr(jnp.asarray(-np.abs(t) / se)), np.float64)
    return np.where(t != 0, vals.mean(axis=0), np.nan)
