"""The typed parts of a :class:`~jaxlogreg._study._summary.StudyResult`: its per-replicate
arrays (:class:`StudyReplicates`), their summary (:class:`StudySummary`), the full-data fit
(:class:`StudyReference`) and the diagnostics the reading names (:class:`StudyDiagnostics`,
with :class:`StudyData`).

Each is a frozen dataclass with one attribute per key, and also a read-only mapping over
those keys, as the dicts it replaces were: ``summary.bias`` is ``summary["bias"]``, and
``"bias" in summary``, ``summary.keys()``, ``summary.get("auc")``, ``dict(summary)``,
``**summary`` and iteration work, in the order of the fields. An optional field that is
None (one a study written by an earlier version of jaxlogreg lacks, such as
``StudyReference.bse_sandwich``, or one that does not apply) is absent from the mapping:
``"bse_sandwich" in reference`` is False, as for the dict, and ``reference["bse_sandwich"]``
a ``KeyError``; the attribute is None. So the JSON and NPZ writers write what they wrote
before.

Shapes are named as in the docstrings: ``B`` replicates, ``k`` parameters (the intercept
first when fitted), ``d`` columns of ``X``, ``bins`` the 10 bins of a reliability curve.
:meth:`_Record.from_mapping` builds each from a mapping (a dict as a study's files read
back), ignoring keys it does not know (a study written by a later version) and turning the
JSON lists of its array fields into ``float64`` arrays.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterator, Mapping
from dataclasses import field
from typing import Any, Self

import numpy as np
from jaxtyping import Bool, Float, Integer

# Marks a field that holds an array (a JSON list read back becomes a float64 array).
_ARRAY = {"array": True}


@functools.cache
def _fields(cls: type) -> tuple[tuple[str, ...], frozenset[str], tuple[str, ...], frozenset[str]]:
    """``(names in order, names, required names, array names)`` of a record class."""
    fields = dataclasses.fields(cls)
    names = tuple(f.name for f in fields)
    required = tuple(f.name for f in fields
                     if f.default is dataclasses.MISSING
                     and f.default_factory is dataclasses.MISSING)
    arrays = frozenset(f.name for f in fields if f.metadata.get("array"))
    return names, frozenset(names), required, arrays


class _Record(Mapping[str, Any]):
    """A frozen dataclass read as a mapping from its field names to their values, the fields
    that are None left out (module docstring)."""

    def __getitem__(self, key: str) -> Any:
        if key in _fields(type(self))[1]:
            value = getattr(self, key)
            if value is not None:
                return value
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return (name for name in _fields(type(self))[0] if getattr(self, name) is not None)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Self:
        """The record of ``values`` (a mapping with at least the required keys): unknown keys
        are ignored, a JSON list in an array field becomes a ``float64`` array.

        Raises:
          KeyError: a required key is missing, naming it.
        """
        if isinstance(values, cls):
            return values
        _, names, required, arrays = _fields(cls)
        missing = [name for name in required if name not in values]
        if missing:
            raise KeyError(f"{cls.__name__} needs the keys {missing}")
        kw = {}
        for name, value in values.items():
            if name in names:
                kw[name] = (np.asarray(value, np.float64)
                            if name in arrays and isinstance(value, list) else value)
        return cls(**kw)


@dataclasses.dataclass(frozen=True, eq=False)
class StudyReplicates(_Record):
    """A study's per-replicate arrays, replicate ``b`` in row ``b`` (``replicates.npz``).

    Attributes:
      index: ``(B,)`` the replicate indices ``0 .. B - 1`` (the scheme's model or the
        generator's index).
      params: ``(B, k)`` the estimates, the intercept first when fitted.
      bse: ``(B, k)`` their standard errors (the study's ``cov_type``).
      status: ``(B,)`` the fits' :class:`jaxlogreg.Status` codes.
      n_iter: ``(B,)`` the solver's iterations.
      valid: ``(B,)`` whether the information matrix was invertible; a replicate is used
        in the summary when it converged and is valid.
      log_loss, brier, auc, calibration_intercept, calibration_slope: ``(B,)`` the metrics
        on each replicate's held-out rows (NaN without a held-out part).
      reliability_predicted, reliability_observed, reliability_weight: ``(B, bins)`` each
        replicate's reliability curve on its held-out rows: the mean prediction, the
        observed frequency (NaN in an empty bin) and the weight in each bin.
    """

    index: Integer[np.ndarray, " B"] = field(metadata=_ARRAY)
    params: Float[np.ndarray, "B k"] = field(metadata=_ARRAY)
    bse: Float[np.ndarray, "B k"] = field(metadata=_ARRAY)
    status: Integer[np.ndarray, " B"] = field(metadata=_ARRAY)
    n_iter: Integer[np.ndarray, " B"] = field(metadata=_ARRAY)
    valid: Bool[np.ndarray, " B"] = field(metadata=_ARRAY)
    log_loss: Float[np.ndarray, " B"] = field(metadata=_ARRAY)
    brier: Float[np.ndarray, " B"] = field(metadata=_ARRAY)
    auc: Float[np.ndarray, " B"] = field(metadata=_ARRAY)
    calibration_intercept: Float[np.ndarray, " B"] = field(metadata=_ARRAY)
    calibration_slope: Float[np.ndarray, " B"] = field(metadata=_ARRAY)
    reliability_predicted: Float[np.ndarray, "B bins"] = field(metadata=_ARRAY)
    reliability_observed: Float[np.ndarray, "B bins"] = field(metadata=_ARRAY)
    reliability_weight: Float[np.ndarray, "B bins"] = field(metadata=_ARRAY)


@dataclasses.dataclass(frozen=True, eq=False)
class StudySummary(_Record):
    """A study's summary over the replicates used (converged with an invertible information
    matrix); the formulas are in :mod:`jaxlogreg._study._summary`.

    Attributes:
      mean, bias, sd, mean_se, se_ratio, rmse: ``(k,)`` per coefficient: the mean estimate,
        its difference from the true value, the estimates' sample SD (ddof 1), the mean
        standard error, ``mean_se / sd`` and the root mean squared error against the true
        value.
      sign_flip, predicted_flip: ``(k,)`` the share of estimates with the wrong sign and the
        share predicted from the standard errors (NaN where the true value is 0).
      coverage: ``(k,)`` the share of Wald intervals at the study's level that cover the
        true value.
      replicates, used: the number of replicates, and of those used.
      converged_share, separated_share, singular_share, other_share: the shares of the
        replicates with each status (``other``: any status but these three).
      status_counts: ``{status name: count}`` (:meth:`jaxlogreg.Status.counts`).
      mean_n_iter: the mean of the replicates' iterations (all of them).
      log_loss, brier, auc, calibration_intercept, calibration_slope: the means of the
        held-out metrics over the replicates used (NaN without held-out rows), and
        ``log_loss_sd``, ... their SDs (ddof 1).
      reliability_predicted, reliability_observed, reliability_weight: ``(bins,)`` the
        reliability curve pooled over the replicates used, each bin weighted by its weight
        in each replicate, and the total weight per bin.
      resampling_bias: ``(k,)`` the mean estimate minus the full-data estimate (NaN without
        a full-data fit); None for studies written before it.
    """

    mean: Float[np.ndarray, " k"] = field(metadata=_ARRAY)
    bias: Float[np.ndarray, " k"] = field(metadata=_ARRAY)
    sd: Float[np.ndarray, " k"] = field(metadata=_ARRAY)
    mean_se: Float[np.ndarray, " k"] = field(metadata=_ARRAY)
    se_ratio: Float[np.ndarray, " k"] = field(metadata=_ARRAY)
    rmse: Float[np.ndarray, " k"] = field(metadata=_ARRAY)
    sign_flip: Float[np.ndarray, " k"] = field(metadata=_ARRAY)
    predicted_flip: Float[np.ndarray, " k"] = field(metadata=_ARRAY)
    coverage: Float[np.ndarray, " k"] = field(metadata=_ARRAY)
    replicates: int
    used: int
    converged_share: float
    separated_share: float
    singular_share: float
    other_share: float
    status_counts: dict[str, int]
    mean_n_iter: float
    log_loss: float
    log_loss_sd: float
    brier: float
    brier_sd: float
    auc: float
    auc_sd: float
    calibration_intercept: float
    calibration_intercept_sd: float
    calibration_slope: float
    calibration_slope_sd: float
    reliability_predicted: Float[np.ndarray, " bins"] = field(metadata=_ARRAY)
    reliability_observed: Float[np.ndarray, " bins"] = field(metadata=_ARRAY)
    reliability_weight: Float[np.ndarray, " bins"] = field(metadata=_ARRAY)
    resampling_bias: Float[np.ndarray, " k"] | None = field(default=None, metadata=_ARRAY)


@dataclasses.dataclass(frozen=True, eq=False)
class StudyReference(_Record):
    """The fit of the whole data set a resampling study draws its replicates from.

    Attributes:
      params: ``(k,)`` its estimates, the intercept first when fitted.
      bse: ``(k,)`` their standard errors (the study's ``cov_type``).
      status: its :class:`jaxlogreg.Status` code.
      n: the data set's rows.
      n_train: the training weight of replicate 0 (its rows, for splits).
      vif: ``(d,)`` the columns' variance inflation factors.
      bse_sandwich: ``(k,)`` its HC0 (sandwich) standard errors, for a converged
        unpenalised fit; else None, as for studies written before it.
    """

    params: Float[np.ndarray, " k"] = field(metadata=_ARRAY)
    bse: Float[np.ndarray, " k"] = field(metadata=_ARRAY)
    status: int
    n: int
    n_train: float
    vif: Float[np.ndarray, " d"] = field(metadata=_ARRAY)
    bse_sandwich: Float[np.ndarray, " k"] | None = field(default=None, metadata=_ARRAY)


@dataclasses.dataclass(frozen=True, eq=False)
class StudyData(_Record):
    """What the study's data are like: the full data set when resampling, replicate 0's
    data with fresh data (:func:`jaxlogreg._study._diagnostics.describe_data`).

    Attributes:
      n: rows.
      positives, negatives: ``sum y`` and ``sum (1 - y)``.
      vif: ``(d,)`` the columns' variance inflation factors (NaN where undefined).
      correlation: ``(d, d)`` the columns' Pearson correlations (NaN for a constant column).
      sd: ``(d,)`` the columns' SDs (ddof 0).
      binary: ``d`` entries: for a two-valued column ``{"values": [lo, hi], "rows": [n_lo,
        n_hi], "positives": [p_lo, p_hi]}``, None for the others.
      n_train: the training weight of replicate 0 (its rows, for splits; ``n`` without a
        scheme).
    """

    n: int
    positives: float
    negatives: float
    vif: Float[np.ndarray, " d"] = field(metadata=_ARRAY)
    correlation: Float[np.ndarray, "d d"] = field(metadata=_ARRAY)
    sd: Float[np.ndarray, " d"] = field(metadata=_ARRAY)
    binary: list[dict[str, Any] | None]
    n_train: float


@dataclasses.dataclass(frozen=True, eq=False)
class StudyDiagnostics(_Record):
    """What the data are like and why replicates separated: the causes the reading names.

    Attributes:
      data: :class:`StudyData`, the facts about the data.
      separation: the separated replicates grouped by the columns of their separating
        direction, the commonest first: ``[{"columns": [name, ...], "signs": [+1 | -1,
        ...], "exact": bool, "empty": None | [value, class], "one_label": bool,
        "replicates": count}, ...]``
        (:func:`jaxlogreg._study._diagnostics.group_separations`).
    """

    data: StudyData
    separation: list[dict[str, Any]]

    def __post_init__(self) -> None:
        if not isinstance(self.data, StudyData):  # a mapping, as read back from JSON
            object.__setattr__(self, "data", StudyData.from_mapping(self.data))
