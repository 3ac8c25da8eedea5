"""Monte Carlo coefficient-recovery studies: refit on every replicate, summarise, explain.

A study fits one model per replicate and asks how well the known coefficients are
recovered. Replicates come from one of two sources (or both):

* **Resampling one data set** (``X (n, d)``, ``y (n,)`` and a scheme such as
  :class:`jaxlogreg.Splits`): replicate ``b`` trains on the scheme's weights of model ``b``
  and is evaluated on its held-out rows. This is the seed study: one synthetic data set,
  10,000 train splits.
* **Fresh data** (``generate``): replicate ``b`` fits its own data set ``generate(b) ->
  (X (n, d), y (n,))``, a pure JAX function of the index (for example one replicate of
  :func:`jaxlogreg.simulate`); with a scheme too, it trains on the scheme's part of its
  own data. This is the sampling distribution the model-based standard errors describe.

Replicates are processed in chunks of ``batch`` consecutive indices, each one call of
:func:`jaxlogreg.fit`, :func:`jaxlogreg.inference` and the held-out metrics of
:mod:`jaxlogreg._metrics`, all batched on the device. With ``out``, each finished chunk is
written atomically to ``out/chunks/`` as it completes; a run with the same settings into the
same ``out`` reuses the chunks a killed run left and computes only the rest, giving the same
result as an uninterrupted run (see *Storage* below).

Per coefficient ``j`` with true value ``t_j``, over the replicates that converged (and whose
information matrix is invertible), with estimates ``b_j`` and standard errors ``s_j``::

    bias      = mean(b_j) - t_j               sd = sample SD of b_j (ddof 1)
    se_ratio  = mean(s_j) / sd                rmse = sqrt(mean((b_j - t_j)^2))
    sign_flip = mean(sign(b_j) != sign(t_j))  (NaN when t_j = 0)
    predicted_flip = mean(Phi(-|t_j| / s_j))  (the flip rate if b_j ~ N(t_j, s_j^2))
    coverage  = mean(|b_j - t_j| <= z s_j),   z = Phi^-1(1 - (1 - level) / 2)

and per replicate, on its held-out rows: log loss, Brier score, ROC AUC, calibration
intercept and slope (:func:`jaxlogreg._metrics.calibration`), and a reliability curve. These
pass over the held-out rows alone, gathered per replicate into ``(B, rows)`` with padding of
weight 0 (:func:`_held_out_rows`), not over all ``n`` rows with weight 0 on the training ones.

**Storage.** A study with ``out`` keeps there::

    .study.lock           the lock: one run at a time (it holds the running process's id)
    study.json            the record: the study's id and settings, and the manifest of
                          finished chunks, {file name: SHA-256 of its bytes}
    chunks/replicates_<start>_<stop>.npz
                          per-replicate arrays of replicates start .. stop - 1, with the
                          study's id and (start, stop) as arrays of their own
    summary.json, replicates.npz, report.md, coefficients.png, calibration.png
    outputs.json          written last: the SHA-256 of each output above

The study's **id** is a SHA-256 of its settings as canonical JSON (sorted keys, no spaces);
the settings hold a digest of the data (of replicate 0's data with ``generate``, which
catches a changed generator in most cases; ``config`` should record what defines it).

* A run holds an exclusive lock on ``out`` for its lifetime (:func:`jaxlogreg._io.
  lock_directory`); a second run into the same ``out`` is refused at once, naming the
  first one's process id.
* Into an ``out`` with no record, a run starts afresh, unless ``chunks/`` holds any file or
  an output is already there: those belong to something else and are never used or
  overwritten (``overwrite=True`` removes the study files named above, nothing else).
* Into an ``out`` whose record has the same id, a run reads back the finished study when its
  outputs are complete, else continues it: a chunk the manifest lists is used only if its
  bytes match the recorded digest and it holds this study's id, its own (start, stop), the
  replicate indices ``start .. stop - 1`` and every field with ``stop - start`` rows of the
  right shape; any mismatch is refused with a ``ValueError`` naming the file (delete it and
  run again to recompute it). A chunk the manifest does not list (a run stopped between
  writing it and recording it) is computed again and overwritten.
* Into an ``out`` holding another study, a run is refused, naming the settings that differ;
  ``overwrite=True`` replaces that study.
* A run that stops before it has recorded a chunk of a study it started removes what it
  wrote, the folder too if it made it: a run whose arguments fail leaves nothing behind.

**The outputs are all or nothing** (:func:`write_outputs`, :func:`load`): every output is
first written to a temporary name (a full disk there leaves the old set whole), then
``outputs.json`` is removed, the outputs are renamed into place, stale ones (a plot the new
set lacks) removed, and ``outputs.json`` written last with every output's SHA-256
(:func:`jaxlogreg._io.replace_set`). :func:`load` checks every output against it, so a reader
gets the old complete set, the new complete set, or a ``ValueError`` saying the set is
incomplete, never a mix.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import functools
import hashlib
import json
import math
import re
import statistics
import sys
from pathlib import Path
from typing import Any, Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import ndtr

from . import _io, _metrics, _resample, solvers
from ._fit import fit
from ._inference import inference, variance_inflation_factors
from ._status import Status

__all__ = ["run_study", "StudyResult", "REPLICATE_FIELDS", "OUTPUT_FILES", "load", "write_outputs"]

# Per-replicate arrays a study keeps (and writes to replicates.npz).
REPLICATE_FIELDS = (
    "index", "params", "bse", "status", "n_iter", "valid", "log_loss", "brier", "auc",
    "calibration_intercept", "calibration_slope", "reliability_predicted",
    "reliability_observed", "reliability_weight",
)
_RELIABILITY_BINS = 10
# The standard errors a study can report (a cluster covariance needs groups it has none of).
_COV_TYPES = ("nonrobust", "HC0", "HC1")
# Per-observation values a study chunk may hold at once (predictions, held-out weights).
_CHUNK_ELEMENTS = 10_000_000


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True, eq=False)
class _Window(_resample.Scheme):
    """Models ``start .. start + num - 1`` of ``base``, renumbered from 0 (``start`` is
    traced, so every window of one size shares a compilation)."""

    base: _resample.Scheme
    start: jax.Array
    num: int = dataclasses.field(default=0, metadata=dict(static=True))

    @property
    def has_held_out(self) -> bool:  # type: ignore[override]
        return self.base.has_held_out

    def weights(self, index, y):
        return self.base.weights(self.start + index, y)

    def held_out(self, index, y):
        return self.base.held_out(self.start + index, y)

    def check(self, n: int, y=None) -> None:
        self.base.check(n, y)


@dataclasses.dataclass(frozen=True)
class StudyResult:
    """What a study found.

    Attributes:
      names: ``(k,)`` parameter names, the intercept first when fitted.
      true_params: ``(k,)`` the values the data were generated from.
      replicates: per-replicate arrays (:data:`REPLICATE_FIELDS`): ``params (B, k)``,
        ``bse (B, k)``, ``status (B,)``, ``n_iter (B,)``, ``valid (B,)`` (converged with an
        invertible information matrix), held-out metrics ``(B,)`` (NaN without a held-out
        part) and reliability curves ``(B, 10)``.
      summary: per-coefficient arrays ``(k,)`` (``mean``, ``bias``, ``sd``, ``mean_se``,
        ``se_ratio``, ``rmse``, ``sign_flip``, ``predicted_flip``, ``coverage``) and
        scalars (status shares, mean held-out metrics); see the module docstring.
      reference: the fit of the whole data set (resampling studies; else None): ``params``,
        ``bse``, ``status``, ``n_train`` (rows per replicate, on average).
      config: the settings, as written to ``summary.json``.
    """

    names: tuple
    true_params: np.ndarray
    replicates: dict
    summary: dict
    reference: Optional[dict]
    config: dict

    def table(self) -> str:
        """The per-coefficient summary as a fixed-width text table."""
        s = self.summary
        cols = [
            ("true", self.true_params, "{:>10.4g}"), ("mean", s["mean"], "{:>10.4g}"),
            ("bias", s["bias"], "{:>10.3g}"), ("SD", s["sd"], "{:>9.3g}"),
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


def _fmt(fmt: str, value) -> str:
    value = float(value)
    if math.isnan(value):
        return f"{'-':>{len(fmt.format(0.0))}s}"
    return fmt.format(value)


# --------------------------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------------------------


def run_study(
    X=None,
    y=None,
    true_params=None,
    *,
    scheme: Optional[_resample.Scheme] = None,
    generate: Optional[Callable] = None,
    num: Optional[int] = None,
    names=None,
    fit_intercept: bool = True,
    solver="newton",
    alpha=0.0,
    l1_ratio: float = 0.0,
    cov_type: str = "nonrobust",
    level: float = 0.95,
    tol=None,
    max_iter=None,
    batch: Optional[int] = None,
    chunk_size: Optional[int] = None,
    out=None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = False,
    config: Optional[dict] = None,
) -> StudyResult:
    """Fit every replicate of a Monte Carlo study and summarise coefficient recovery.

    Args:
      X, y: ``(n, d)`` and ``(n,)``: the data set to resample (with ``scheme``); None with
        ``generate``.
      true_params: ``(k,)`` true parameters, intercept first when ``fit_intercept``.
      scheme: a resampling scheme (:class:`jaxlogreg.Splits`, :class:`jaxlogreg.Bootstrap`,
        ...): ``scheme.num`` replicates; with ``generate``, each replicate's train/held-out
        partition of its own data.
      generate: ``generate(index) -> (X (n, d), y (n,))``, a pure, vmappable JAX function
        of an int32 replicate index: fresh data per replicate.
      num: number of replicates with ``generate`` (default ``scheme.num``).
      names: ``(k,)`` parameter names (default ``intercept, x1, x2, ...``).
      fit_intercept, solver, alpha, l1_ratio, tol, max_iter, chunk_size: as
        :func:`jaxlogreg.fit`; ``cov_type`` as :func:`jaxlogreg.inference`.
      level: confidence level of the Wald intervals whose coverage is reported.
      batch: replicates per chunk (default: from ``n``, about 1e7 values per chunk).
      out: a directory: chunks are written to ``out/chunks/`` as they finish (atomically),
        and the outputs of :func:`write_outputs` when all are done; None keeps everything in
        memory. See *Storage* in the module docstring.
      resume: continue the study in ``out``. A run whose settings match the study in
        ``out`` always continues it (or reads it back when finished), so this only states
        the intent; a study with other settings is refused either way.
      overwrite: replace a study with other settings in ``out`` (removing its record,
        chunks and outputs, nothing else), and start afresh.
      progress: show a progress bar over chunks (tqdm when installed, else a line).
      config: extra JSON-serialisable settings to record with the study (the CLI records
        its generative model here).

    Returns:
      :class:`StudyResult`.

    Raises:
      ValueError: bad arguments, naming the argument; an ``out`` that holds another study,
        files of something else, a damaged or foreign chunk, or is in use by another run
        (:class:`jaxlogreg._io.StorageError`, a ``ValueError``, naming the file and what to
        do).
      OSError: ``out`` cannot be written (a full disk, no permission, a file where the
        folder should be), naming the file.
    """
    if (X is None) != (y is None):
        raise ValueError("X, y: give both (a data set to resample) or neither (with generate)")
    if X is None and generate is None:
        raise ValueError("generate: needed when no data set X, y is given")
    if X is not None and generate is not None:
        raise ValueError("generate: give either a data set X, y or generate, not both")
    if X is not None and scheme is None:
        raise ValueError("scheme: needed to resample a data set (e.g. jaxlogreg.Splits(key, num))")
    if scheme is not None and not isinstance(scheme, _resample.Scheme):
        raise ValueError(f"scheme: expected a resampling scheme, got {type(scheme).__name__}")
    if generate is not None:
        num = scheme.num if num is None and scheme is not None else num
        if num is None or isinstance(num, bool) or int(num) < 1:
            raise ValueError(f"num: the number of replicates must be a positive integer, got {num!r}")
        num = int(num)
        if scheme is not None and scheme.num < num:
            raise ValueError(f"scheme: has {scheme.num} models, fewer than num = {num} replicates")
    else:
        assert scheme is not None  # checked above: a data set comes with a scheme
        num = scheme.num
    if not 0.0 < float(level) < 1.0:
        raise ValueError(f"level: must be in (0, 1), got {level}")
    if cov_type not in _COV_TYPES:
        raise ValueError(f"cov_type: a study's standard errors are one of {_COV_TYPES}, got {cov_type!r}")
    if resume and overwrite:
        raise ValueError("overwrite: cannot both resume the study in out and overwrite it")
    if true_params is None:
        raise ValueError("true_params: the parameters the data were generated from are needed")
    true_params = np.asarray(true_params, dtype=np.float64)
    if X is not None:
        X = jnp.asarray(X)
        y = jnp.asarray(y)
        if X.ndim != 2 or y.ndim != 1:
            raise ValueError(f"X, y: expected shapes (n, d) and (n,), got {X.shape} and {y.shape}")
        n, d = X.shape
        dtype = X.dtype if jnp.issubdtype(X.dtype, jnp.floating) else jnp.result_type(float)
    else:
        assert generate is not None  # checked above: no data set means a generator
        shapes = jax.eval_shape(generate, jax.ShapeDtypeStruct((), jnp.int32))
        (n, d), dtype = shapes[0].shape, shapes[0].dtype
        if shapes[1].shape != (n,):
            raise ValueError(f"generate: must return X (n, d) and y (n,), got shapes {shapes[0].shape} and {shapes[1].shape}")
    k = d + int(fit_intercept)
    if true_params.shape != (k,):
        raise ValueError(
            f"true_params: expected shape ({k},) ({'intercept first, then ' if fit_intercept else ''}"
            f"one per column of X), got {true_params.shape}"
        )
    names = tuple(names) if names is not None else (
        (("intercept",) if fit_intercept else ()) + tuple(f"x{j + 1}" for j in range(d))
    )
    if len(names) != k:
        raise ValueError(f"names: expected {k} names, got {len(names)}")
    solvers.resolve(solver, k, float(l1_ratio))  # an unknown solver raises, naming it
    if batch is None:
        batch = max(256, _CHUNK_ELEMENTS // max(n, 1))
    batch = int(min(batch, num))
    if batch < 1:
        raise ValueError(f"batch: must be a positive integer, got {batch}")

    settings = dict(
        num=num, n=int(n), d=int(d), fit_intercept=bool(fit_intercept), solver=str(solver),
        alpha=float(np.asarray(alpha)) if np.ndim(alpha) == 0 else np.asarray(alpha).tolist(),
        l1_ratio=float(l1_ratio), cov_type=cov_type, level=float(level), batch=batch,
        scheme=_describe_scheme(scheme), source="resample" if X is not None else "generate",
        dtype=str(np.dtype(dtype)), names=list(names), true_params=true_params.tolist(),
        tol=_recorded(tol), max_iter=_recorded(max_iter),
        data_digest=_digest(X, y) if generate is None else _digest(*generate(jnp.asarray(0, jnp.int32))),
        **(config or {}),
    )
    settings = json.loads(json.dumps(settings))  # as it reads back from study.json
    fit_kw = dict(
        fit_intercept=fit_intercept, solver=solver, alpha=alpha, l1_ratio=l1_ratio, tol=tol,
        max_iter=max_iter, chunk_size=chunk_size,
    )
    opened = (_Store(out, settings, overwrite=overwrite, progress=progress)
              if out is not None else contextlib.nullcontext())
    with opened as store:
        if store is not None and store.finished is not None:
            return store.finished
        reference = None
        if X is not None:
            assert scheme is not None
            full = fit(X, y, **fit_kw)
            full_inf = inference(full, X, y, cov_type=cov_type, alpha=1.0 - level)
            reference = dict(
                params=np.asarray(full.params, np.float64),
                bse=np.asarray(full_inf.bse, np.float64), status=int(full.status), n=int(n),
                n_train=float(jnp.sum(_draw(_Window(scheme, jnp.asarray(0, jnp.int32), num=1),
                                            jnp.asarray(y, dtype), False)[0])),
                vif=np.asarray(variance_inflation_factors(X), np.float64),
            )
        chunk_kw = dict(fit_kw)
        if reference is not None and reference["status"] == int(Status.CONVERGED):
            # Every replicate starts from the full-data fit, whatever chunk it falls in, so a
            # replicate's fit does not depend on the chunking.
            chunk_kw["init"] = reference["params"]

        starts = list(range(0, num, batch))
        bar = _progress(len(starts), progress)
        pieces = []
        for s in starts:
            stop = min(s + batch, num)
            piece = store.load(s, stop) if store is not None else None
            if piece is None:
                first = max(0, min(s, num - batch))  # the last chunk overlaps, keeping its shape
                piece = _run_chunk(first, batch, X, y, scheme, generate, chunk_kw, cov_type)
                piece = {key: v[s - first:] for key, v in piece.items()}
                if store is not None:
                    store.save(s, stop, piece)
            pieces.append(piece)
            bar.update()
        bar.close()
        reps = {key: np.concatenate([p[key] for p in pieces]) for key in REPLICATE_FIELDS}

        summary = summarize(reps, true_params, level)
        result = StudyResult(names, true_params, reps, summary, reference, settings)
        if store is not None:
            store.finish(result)
    return result


def _recorded(value):
    """A setting as JSON for the record (``fit`` checks its value): None, a number or nested
    lists of numbers, else its ``repr``."""
    if value is None:
        return None
    try:
        value = np.asarray(value).tolist()
        json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)
    return value


def _run_chunk(first, size, X, y, scheme, generate, fit_kw, cov_type) -> dict:
    """Per-replicate arrays of replicates ``first .. first + size - 1``.

    The chunk's weights are drawn once, ``(size, n)``, and shared by the fit, the inference
    and the held-out metrics (memory ``O(size * n)``, the bound of a study chunk).
    """
    index = jnp.arange(size, dtype=jnp.int32) + first
    if generate is not None:
        X, y = _generate(generate, index)
    weights = held = None
    if scheme is not None:
        window = _Window(scheme, jnp.asarray(first, jnp.int32), num=size)
        weights, held = _draw(window, jnp.asarray(y, X.dtype), scheme.has_held_out)
    res = fit(X, y, weights=weights, **fit_kw)
    bse, valid = _standard_errors(res, X, y, weights, cov_type=cov_type)
    out = dict(
        index=np.asarray(index), params=np.asarray(res.params), bse=np.asarray(bse),
        status=np.asarray(res.status), n_iter=np.asarray(res.n_iter),
        valid=np.asarray(valid),
    )
    out.update(_held_out_metrics(X, y, res, held, size))
    return out


@functools.partial(jax.jit, static_argnames=("cov_type",))
def _standard_errors(res, X, y, weights, *, cov_type):
    """``(bse, valid)`` of :func:`jaxlogreg.inference` for a chunk's fits (data the fit has
    checked). Compiled as one program, of which XLA keeps only what these two need: not the
    intercept-only fits behind ``llnull``, the deviance or the tests (about a tenth of the
    whole inference's time on the seed study)."""
    inf = inference(res, X, y, weights=weights, cov_type=cov_type)
    return inf.bse, inf.valid


@functools.partial(jax.jit, static_argnums=(0,))
def _generate(generate, index):
    return jax.vmap(generate)(index)


@functools.partial(jax.jit, static_argnames=("has_held_out",))
def _draw(window, y, has_held_out):
    """``(num, n)`` training weights and held-out weights (None without) of a window."""
    index = jnp.arange(window.num, dtype=jnp.int32)
    in_y = None if y.ndim == 1 else 0
    weights = jax.vmap(window.weights, in_axes=(0, in_y))(index, y)
    held = jax.vmap(window.held_out, in_axes=(0, in_y))(index, y) if has_held_out else None
    return weights, held


def _held_out_metrics(X, y, res, held, size) -> dict:
    """Held-out log loss, Brier score, AUC, calibration and reliability of each replicate
    (NaN without a held-out part)."""
    nan = np.full((size,), np.nan)
    if held is None:
        bins = np.full((size, _RELIABILITY_BINS), np.nan)
        return dict(log_loss=nan, brier=nan, auc=nan, calibration_intercept=nan,
                    calibration_slope=nan, reliability_predicted=bins,
                    reliability_observed=bins, reliability_weight=np.zeros_like(bins))
    eta = _predict(X, res.params, res.fit_intercept)
    y_b = jnp.asarray(y, eta.dtype)
    rows = _held_out_columns(held)
    if rows is not None:
        # The metrics (two calibration fits, a sort for the AUC) then pass over a chunk's
        # held-out rows only: about a third of the rows of a 65% split.
        y_b, eta, held = _held_out_rows(y_b, eta, held, rows=rows)
    p = jax.nn.sigmoid(eta)
    cal = _metrics._calibration_logits(y_b, eta, held)
    curve = _metrics.reliability_curve(y_b, p, held, n_bins=_RELIABILITY_BINS)
    return dict(
        log_loss=np.asarray(_metrics.log_loss(y_b, p, held)),
        brier=np.asarray(_metrics.brier_score(y_b, p, held)),
        auc=np.asarray(_metrics.roc_auc(y_b, p, held)),
        calibration_intercept=np.asarray(cal.intercept),
        calibration_slope=np.asarray(cal.slope),
        reliability_predicted=np.asarray(curve.mean_predicted),
        reliability_observed=np.asarray(curve.fraction_positive),
        reliability_weight=np.asarray(curve.weight),
    )


def _held_out_columns(held) -> Optional[int]:
    """Columns that hold every replicate's held-out rows (the most any replicate of the chunk
    has, rounded up to a multiple of 32 so that chunks of one scheme share a compilation), or
    None when that is not fewer than ``n``."""
    most = int(jnp.max(jnp.sum(held != 0, axis=-1)))
    rows = -(-max(most, 1) // 32) * 32
    return rows if rows < held.shape[-1] else None


@functools.partial(jax.jit, static_argnames=("rows",))
def _held_out_rows(y, p, held, *, rows):
    """``(B, rows)`` labels, predictions (or logits) and weights of each replicate's held-out
    rows, in
    row order, then padding of weight 0. ``y`` is ``(n,)`` (shared) or ``(B, n)``; ``p`` and
    ``held`` are ``(B, n)``. Weighted metrics are unchanged, up to rounding."""
    nonzero = held != 0
    index = jax.vmap(lambda m: jnp.nonzero(m, size=rows, fill_value=0)[0])(nonzero)
    take = lambda a: jnp.take_along_axis(a, index, axis=-1)  # noqa: E731
    filled = jnp.arange(rows)[None, :] < jnp.sum(nonzero, axis=-1, keepdims=True)
    y_rows = y[index] if y.ndim == 1 else take(y)
    return y_rows, take(p), jnp.where(filled, take(held), 0)


@functools.partial(jax.jit, static_argnames=("fit_intercept",))
def _predict(X, params, fit_intercept):
    """``(B, n)`` linear predictors (logits) of every row for ``params (B, k)``; ``X`` shared
    ``(n, d)`` or per replicate ``(B, n, d)``. The metrics take their probabilities, the
    calibration fits the logits themselves."""
    if fit_intercept:
        X = jnp.concatenate([jnp.ones(X.shape[:-1] + (1,), X.dtype), X], axis=-1)
    return params @ X.T if X.ndim == 2 else jnp.einsum("bnk,bk->bn", X, params)


# --------------------------------------------------------------------------------------------
# Summaries
# --------------------------------------------------------------------------------------------


def summarize(reps: dict, true_params: np.ndarray, level: float) -> dict:
    """Per-coefficient and overall summaries of per-replicate arrays (module docstring)."""
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
        summary["reliability_predicted"] = np.where(
            total > 0, np.nansum(np.asarray(reps["reliability_predicted"])[ok] * w, axis=0) / safe, np.nan)
        summary["reliability_observed"] = np.where(
            total > 0, np.nansum(np.asarray(reps["reliability_observed"])[ok] * w, axis=0) / safe, np.nan)
        summary["reliability_weight"] = total
    return summary


def _predicted_flip(t: np.ndarray, se: np.ndarray) -> np.ndarray:
    """``mean_b Phi(-|t_j| / s_bj)`` per coefficient (NaN where ``t_j = 0``)."""
    vals = np.asarray(ndtr(jnp.asarray(-np.abs(t) / se)), np.float64)
    return np.where(t != 0, vals.mean(axis=0), np.nan)


# --------------------------------------------------------------------------------------------
# The plain-language reading
# --------------------------------------------------------------------------------------------


def _reading(result: StudyResult) -> str:
    """A few paragraphs explaining the table: which coefficients the data cannot pin down,
    why signs flip, how to read the standard errors, and what went wrong in fits."""
    s, t, names = result.summary, result.true_params, result.names
    ref = result.reference
    cfg = result.config
    intercept = 1 if cfg.get("fit_intercept", True) else 0
    paras = []
    n_fit = ref["n_train"] if ref is not None else cfg.get("n")
    weak = []
    for j in range(intercept, len(t)):
        if t[j] == 0 or not np.isfinite(s["mean_se"][j]):
            continue
        ratio = s["mean_se"][j] / abs(t[j])
        if ratio > 0.5:
            weak.append((j, ratio))
    if weak:
        parts = []
        for j, ratio in weak:
            parts.append(
                f"{names[j]} (true {t[j]:.4g}, standard error about {s['mean_se'][j]:.3g}, "
                f"{ratio:.1f} times the effect; a fresh sample would give the wrong sign with "
                f"probability about {s['predicted_flip'][j]:.0%})"
            )
        paras.append(
            f"Not identifiable at this sample size ({n_fit:.0f} rows per fit): "
            + "; ".join(parts)
            + ". When the standard error is comparable to the effect, the data cannot tell "
            "the effect's sign from noise: the estimate is roughly normal around the true value "
            "with that standard error, so its sign is close to a coin flip."
        )
    vif = None if ref is None else ref.get("vif")
    if vif is not None:
        high = [(names[j + intercept], v) for j, v in enumerate(vif) if np.isfinite(v) and v > 10]
        if high:
            paras.append(
                "Correlated features inflate those standard errors: variance inflation factors "
                + ", ".join(f"{nm} {v:.0f}" for nm, v in high)
                + " (a VIF of v multiplies a coefficient's standard error by sqrt(v)); "
                "features built from the same quantity carry largely the same information."
            )
    if ref is not None:
        f = ref["n_train"] / ref["n"]
        lines = []
        for j in range(intercept, len(t)):
            flip = s["sign_flip"][j]
            if not np.isfinite(flip) or flip < 0.2:
                continue
            b, se = ref["params"][j], ref["bse"][j]
            side = "the wrong sign" if np.sign(b) != np.sign(t[j]) else "the right sign"
            lines.append(
                f"{names[j]}: the full-data estimate is {b:.4g} (SE {se:.3g}), {side}, "
                f"and {flip:.0%} of the replicates have the wrong sign"
            )
        if lines:
            paras.append(
                "Why the signs flip across replicates: every replicate resamples the same "
                f"{ref['n']} rows, so the estimates scatter around the full-data estimate, not "
                "around the true value. " + "; ".join(lines) + ". The flip rate across "
                "replicates of one data set says where this sample happened to land; across "
                "fresh samples the wrong-sign rate would be near the predicted column."
            )
        if 0.0 < f < 1.0 and cfg.get("scheme", {}).get("kind") in ("Splits", "Subsample"):
            paras.append(
                f"Standard errors against the spread across replicates: each split keeps "
                f"{f:.0%} of the rows and shares most of them with every other split, so the "
                "estimates vary less across splits than across independent samples. The mean "
                "standard error should exceed their SD by about sqrt(1 / (1 - "
                f"{f:.2f})) = {1 / math.sqrt(1 - f):.2f} (the SE/SD column), and coverage of the "
                "true value reflects the full-data estimate's own error more than the "
                "intervals' calibration."
            )
    else:
        bad = [names[j] for j in range(len(t)) if np.isfinite(s["coverage"][j])
               and abs(s["coverage"][j] - cfg.get("level", 0.95)) > 0.03]
        paras.append(
            "With a fresh data set per replicate, the mean standard error should match the SD "
            "of the estimates (SE/SD near 1) and the intervals should cover the true value at "
            f"the nominal {cfg.get('level', 0.95):.0%}"
            + (f"; they do not for {', '.join(bad)}, a sign of small-sample bias or "
               "non-normality of the estimates." if bad else "; they do here.")
        )
    sep = s["separated_share"]
    if sep > 0:
        paras.append(
            f"{sep:.1%} of the replicates are separated (a combination of features predicts "
            "the outcome perfectly on their rows): no finite estimate exists for them, and they "
            "are left out of the table. Firth's correction or a penalty gives them finite "
            "estimates."
        )
    if np.isfinite(s.get("auc", np.nan)):
        paras.append(
            f"On the held-out rows: ROC AUC {s['auc']:.3f}, log loss {s['log_loss']:.3f}, "
            f"Brier score {s['brier']:.3f}, calibration slope {s['calibration_slope']:.2f} "
            "(1 is ideal; below 1 means the predictions are too extreme, the mark of "
            "overfitting) and calibration intercept "
            f"{s['calibration_intercept']:+.2f} (0 is ideal)."
        )
    return "\n\n".join(paras)


# --------------------------------------------------------------------------------------------
# Storage, progress, description
# --------------------------------------------------------------------------------------------


def _describe_scheme(scheme) -> Optional[dict]:
    """The scheme's class and settings (its key as data), for the record and for resuming."""
    if scheme is None:
        return None
    desc: dict[str, Any] = {"kind": type(scheme).__name__}
    for field in dataclasses.fields(scheme):
        value = getattr(scheme, field.name)
        if field.name == "key":
            key = value
            if jnp.issubdtype(jnp.asarray(key).dtype, jax.dtypes.prng_key):
                key = jax.random.key_data(key)
            desc["key"] = np.asarray(key).tolist()
        elif isinstance(value, (int, float, bool, str)):
            desc[field.name] = value
    return desc


def _digest(X, y) -> str:
    """A short hash of the data, so that a resumed study checks it resumes the same data."""
    h = hashlib.sha256()
    for a in (X, y):
        a = np.ascontiguousarray(np.asarray(a))
        h.update(str((a.shape, a.dtype)).encode())
        h.update(a.tobytes())
    return h.hexdigest()[:16]


def study_id(settings: dict) -> str:
    """The study's identity: 16 hex digits of the SHA-256 of ``settings`` as canonical JSON
    (sorted keys, no spaces)."""
    text = json.dumps(settings, sort_keys=True, separators=(",", ":"), allow_nan=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


_FORMAT = "jaxlogreg-study/1"
_RECORD, _LOCK, _MARKER = "study.json", ".study.lock", "outputs.json"
# Outputs of write_outputs, in the order written; the plots only with matplotlib, the
# calibration plot only with held-out rows.
OUTPUT_FILES = ("summary.json", "replicates.npz", "report.md", "coefficients.png",
                "calibration.png")
_CHUNK_NAME = re.compile(r"replicates_\d{10}_\d{10}\.npz")


class _Store:
    """A study's files in ``out``, held under its lock from ``__enter__`` to ``__exit__``
    (*Storage* in the module docstring). After ``__enter__``, ``finished`` is the finished
    study read back from ``out`` when there is one, else None."""

    def __init__(self, out, settings: dict, *, overwrite: bool = False, progress: bool = False):
        self.out = Path(out)
        self.settings = settings
        self.study_id = study_id(settings)
        self.overwrite = overwrite
        self.progress = progress
        self.manifest: dict[str, str] = {}  # chunk file name -> SHA-256 of its bytes
        self.finished: Optional[StudyResult] = None
        self._lock = contextlib.ExitStack()
        # What this run made, removed again if it fails before it has recorded a chunk:
        # folders (outermost first) and files (the lock, the record, an unrecorded chunk).
        self._made_dirs: list[Path] = []
        self._made_files: list[Path] = []
        self._recorded = False  # this run has recorded a chunk in the manifest

    @property
    def record(self) -> Path:
        return self.out / _RECORD

    def __enter__(self) -> "_Store":
        try:
            self._open()
        except BaseException:
            self._close(failed=True)
            raise
        return self

    def __exit__(self, kind, value, traceback) -> None:
        self._close(failed=kind is not None)

    def _open(self) -> None:
        out = self.out
        if out.exists() and not out.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, "a file, not a folder", str(out))
        self._made_dirs = [f for f in reversed([out, *out.parents]) if not f.exists()]
        out.mkdir(parents=True, exist_ok=True)
        if not (out / _LOCK).exists():
            self._made_files.append(out / _LOCK)
        self._lock.enter_context(_io.lock_directory(out, _LOCK, what="out"))
        if self.overwrite:
            self._clear()
        record = self._read_record()
        if record is None:
            stray = self._strays()
            if stray is not None:
                raise _io.StorageError(
                    f"out: {stray} is not part of a study recorded in {out} (there is no "
                    f"{_RECORD}), so it may belong to something else and is neither used nor "
                    f"overwritten; delete it, pass overwrite=True (--overwrite) to remove the "
                    f"study files in {out}, or choose another out (--out)"
                )
            self._made_files.append(self.record)
            self._write_record()
            return
        previous = record["settings"]
        if previous != self.settings:
            changed = sorted(k for k in set(previous) | set(self.settings)
                             if previous.get(k) != self.settings.get(k))
            raise ValueError(
                f"out: {out} holds a different study (settings differ: {', '.join(changed)}); "
                "pass overwrite=True (--overwrite) to replace it, or choose another out (--out)"
            )
        if record["study_id"] != self.study_id:
            raise _io.StorageError(
                f"{self.record}: its study id {record['study_id']} does not match its settings "
                f"(id {self.study_id}): the file was changed; delete it (and {out / 'chunks'}) "
                "or pass overwrite=True (--overwrite) to start the study afresh"
            )
        self.manifest = dict(record["chunks"])
        for tmp in (out / "chunks").glob(".replicates_*.tmp"):  # left by a killed run
            tmp.unlink(missing_ok=True)
        try:
            done = load(out)
        except ValueError:  # no complete outputs (yet): the study continues
            return
        if done.config == self.settings:
            self.finished = done
            if self.progress:
                print(f"study: {out} holds this study, finished; reading it back (pass "
                      "overwrite=True, --overwrite, to compute it again)", file=sys.stderr)

    def _read_record(self) -> Optional[dict]:
        """The study record, None when there is none; a ``StorageError`` when it is damaged."""
        fix = (f"delete it (and {self.out / 'chunks'}), pass overwrite=True (--overwrite) to "
               f"start the study afresh, or choose another out (--out)")
        try:
            record = _io.read_json(self.record)
        except FileNotFoundError:
            return None
        except _io.StorageError as e:
            raise _io.StorageError(f"{e}; {fix}") from None
        if not (isinstance(record, dict) and record.get("format") == _FORMAT
                and isinstance(record.get("study_id"), str)
                and isinstance(record.get("settings"), dict)
                and isinstance(record.get("chunks"), dict)):
            raise _io.StorageError(
                f"{self.record}: not a study record of this version of jaxlogreg "
                f"(format {_FORMAT}); {fix}"
            )
        return record

    def _write_record(self) -> None:
        _io.write_json(self.record, dict(format=_FORMAT, study_id=self.study_id,
                                         settings=self.settings, chunks=dict(sorted(self.manifest.items()))))

    def _strays(self) -> Optional[Path]:
        """A file in ``out`` that a study would use or overwrite though no study record
        claims it (any file in ``chunks/``, an output), or None."""
        chunks = self.out / "chunks"
        if chunks.is_dir() and any(chunks.iterdir()):
            return min(chunks.iterdir())
        for name in (*OUTPUT_FILES, _MARKER):
            if (self.out / name).exists():
                return self.out / name
        return None

    def _clear(self) -> None:
        """Remove the study files in ``out`` (record, chunks, outputs), nothing else."""
        chunks = self.out / "chunks"
        if chunks.is_dir():
            for path in chunks.iterdir():
                if _CHUNK_NAME.fullmatch(path.name) or (
                        path.name.startswith(".replicates_") and path.name.endswith(".tmp")):
                    path.unlink()
        for name in (_MARKER, *OUTPUT_FILES, _RECORD):  # the marker first: no half set is read
            (self.out / name).unlink(missing_ok=True)

    def _close(self, failed: bool) -> None:
        try:
            if failed and not self._recorded:
                # Failed before recording a chunk: nothing of value is lost by removing what
                # this run made (rmdir: only folders left empty).
                for path in reversed(self._made_files):
                    with contextlib.suppress(OSError):
                        path.unlink()
                for folder in reversed(self._made_dirs):
                    with contextlib.suppress(OSError):
                        folder.rmdir()
        finally:
            self._lock.close()

    def _path(self, start: int, stop: int) -> Path:
        return self.out / "chunks" / f"replicates_{start:010d}_{stop:010d}.npz"

    def load(self, start: int, stop: int) -> Optional[dict]:
        """Replicates ``start .. stop - 1`` from their chunk file, checked (module
        docstring); None when the manifest does not list it or the file is gone."""
        path = self._path(start, stop)
        digest = self.manifest.get(path.name)
        if digest is None:
            return None
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        fix = ("delete it and run the study again (the same settings, the same out) to "
               "compute it again, or choose another out (--out)")
        if _io.sha256(data) != digest:
            raise _io.StorageError(
                f"{path}: its contents do not match the checksum recorded in {self.record} "
                f"(damaged or replaced after it was written); {fix}"
            )
        try:
            arrays = _io.read_npz(path, data)
        except _io.StorageError as e:
            raise _io.StorageError(f"{e}; {fix}") from None
        owner = arrays.get("study_id")
        if owner is None or owner.shape != () or str(owner) != self.study_id:
            raise _io.StorageError(
                f"{path}: belongs to another study (id {owner if owner is None else str(owner)}"
                f", this study's is {self.study_id}); {fix}"
            )
        span = tuple(int(arrays[k]) if k in arrays and arrays[k].shape == ()
                     and np.issubdtype(arrays[k].dtype, np.integer) else None
                     for k in ("start", "stop"))
        if span != (start, stop):
            raise _io.StorageError(
                f"{path}: holds replicates start, stop = {span}, not {(start, stop)} as its "
                f"name says; {fix}"
            )
        k, rows = len(self.settings["names"]), stop - start
        for field in REPLICATE_FIELDS:
            tail = _FIELD_TAILS.get(field, ())
            want = (rows, *(k if t == "k" else t for t in tail))
            got = arrays[field].shape if field in arrays else None
            if got != want:
                raise _io.StorageError(
                    f"{path}: field {field!r} has shape {got}, expected {want}; {fix}"
                )
        if not np.array_equal(arrays["index"], np.arange(start, stop)):
            raise _io.StorageError(f"{path}: its replicate indices are not {start} .. {stop - 1}; {fix}")
        return {field: arrays[field] for field in REPLICATE_FIELDS}

    def save(self, start: int, stop: int, piece: dict) -> None:
        """Write replicates ``start .. stop - 1`` with the study's id and their range, then
        record the file's digest in the manifest."""
        path = self._path(start, stop)
        data = _io.npz_bytes(**piece, study_id=np.asarray(self.study_id),
                             start=np.asarray(start, np.int64), stop=np.asarray(stop, np.int64))
        if not path.parent.exists():
            self._made_dirs.append(path.parent)
        self._made_files.append(path)
        _io.write_bytes(path, data)
        self.manifest[path.name] = _io.sha256(data)
        self._write_record()
        self._recorded = True

    def finish(self, result: StudyResult) -> None:
        write_outputs(result, self.out)


# Trailing shapes of the per-replicate fields of a chunk ("k": one per parameter); () when
# not listed.
_FIELD_TAILS: dict[str, tuple] = {
    "params": ("k",), "bse": ("k",), "reliability_predicted": (_RELIABILITY_BINS,),
    "reliability_observed": (_RELIABILITY_BINS,), "reliability_weight": (_RELIABILITY_BINS,),
}


class _NoBar:
    def update(self, k: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


class _LineBar:
    """A one-line progress report on stderr, for when tqdm is not installed."""

    def __init__(self, total: int):
        self.total, self.done = total, 0

    def update(self, k: int = 1) -> None:
        self.done += k
        print(f"\rchunks {self.done}/{self.total}", end="", file=sys.stderr, flush=True)

    def close(self) -> None:
        print(file=sys.stderr)


def _progress(total: int, enabled: bool):
    if not enabled:
        return _NoBar()
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _LineBar(total)
    return tqdm(total=total, unit="chunk", desc="study")


# --------------------------------------------------------------------------------------------
# Outputs: summary.json, replicates.npz, report.md, plots
# --------------------------------------------------------------------------------------------


def _jsonable(v):
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, (np.ndarray, np.generic)):
        return np.asarray(v).tolist()
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v


def write_outputs(result: StudyResult, out) -> list[Path]:
    """Write ``summary.json``, ``replicates.npz``, ``report.md`` and (with matplotlib)
    ``coefficients.png`` and ``calibration.png`` to ``out``, then ``outputs.json`` with the
    digest of each, all or nothing (module docstring); returns the paths of the outputs."""
    out = Path(out)
    table, reading = result.table(), result.reading()
    summary = dict(
        config=result.config, names=list(result.names), true_params=result.true_params,
        summary=result.summary, reference=result.reference, table=table, reading=reading,
    )
    files = {
        "summary.json": _io.json_bytes(_jsonable(summary)),
        "replicates.npz": _io.npz_bytes(**result.replicates),
    }
    plots = _plots(result)
    lines = [
        "# Coefficient-recovery study", "",
        f"{result.summary['replicates']} replicates ({result.summary['used']} used: converged "
        f"with an invertible information matrix); source: {result.config.get('source')}; "
        f"scheme: {json.dumps(result.config.get('scheme'))}.", "",
        "```", table, "```", "",
        "Columns: true value, mean estimate, bias, SD of the estimates, mean model-based SE, "
        "their ratio, RMSE, share of wrong signs (flip), the share predicted from the SE "
        "(pred.), and coverage of the Wald interval.", "",
        reading, "",
    ]
    for name in plots:
        lines += [f"![{Path(name).stem}]({name})", ""]
    files["report.md"] = "\n".join(lines).encode("utf-8")
    files.update(plots)
    _io.replace_set(out, files, _MARKER, stale=OUTPUT_FILES,
                    extra=dict(format=_FORMAT, study_id=study_id(result.config)))
    return [out / name for name in files]


def _plots(result: StudyResult) -> dict[str, bytes]:
    """``{file name: PNG bytes}``: histograms of every coefficient and the pooled
    calibration curve (needs matplotlib; nothing is drawn without it)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return {}
    import io

    s, reps = result.summary, result.replicates
    ok = (np.asarray(reps["status"]) == int(Status.CONVERGED)) & np.asarray(reps["valid"], bool)
    params = np.asarray(reps["params"], np.float64)[ok]
    k = len(result.names)
    cols = min(4, k)
    rows = -(-k // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows), squeeze=False)
    for j, ax in enumerate(axes.ravel()):
        if j >= k:
            ax.axis("off")
            continue
        v = params[:, j]
        m, se, t = s["mean"][j], s["mean_se"][j], result.true_params[j]
        ends = [t] + ([v.min(), v.max()] if len(v) else [])
        if np.isfinite(se) and se > 0:
            ends += [m - 3.5 * se, m + 3.5 * se]
        lo, hi = min(ends), max(ends)
        if len(v):
            ax.hist(v, bins=50, range=(lo, hi), density=True, color="0.75")
        if np.isfinite(se) and se > 0:
            grid = np.linspace(lo, hi, 200)
            ax.plot(grid, np.exp(-0.5 * ((grid - m) / se) ** 2) / (se * math.sqrt(2 * math.pi)),
                    color="C0", lw=1.2, label="N(mean, mean SE)")
        ax.axvline(t, color="C3", lw=1.5, label="true")
        if lo < 0.0 < hi:
            ax.axvline(0.0, color="k", lw=0.6, ls=":")
        ax.set_title(result.names[j], fontsize=9)
        ax.tick_params(labelsize=7)
    axes.ravel()[0].legend(fontsize=7)
    fig.tight_layout()
    plots = {}
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    plots["coefficients.png"] = buf.getvalue()
    pred, obs = s["reliability_predicted"], s["reliability_observed"]
    if np.any(np.isfinite(pred)):
        fig, ax = plt.subplots(figsize=(4, 4))
        ax.plot([0, 1], [0, 1], color="0.6", lw=1, ls="--", label="perfect")
        ax.plot(pred, obs, "o-", color="C0", label="held-out rows, pooled")
        ax.set_xlabel("mean predicted probability")
        ax.set_ylabel("observed frequency")
        lim = float(np.nanmax(np.concatenate([pred, obs]))) * 1.05
        ax.set_xlim(0, max(lim, 0.05))
        ax.set_ylim(0, max(lim, 0.05))
        ax.legend(fontsize=8)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110)
        plt.close(fig)
        plots["calibration.png"] = buf.getvalue()
    return plots


def load(out) -> StudyResult:
    """The :class:`StudyResult` of a finished study directory (``summary.json`` and
    ``replicates.npz``, as :func:`write_outputs` writes them, checked against
    ``outputs.json``).

    Raises:
      ValueError: no such directory, or its outputs are incomplete, changed or damaged
        (:class:`jaxlogreg._io.StorageError`), naming the file.
    """
    out = Path(out)
    if not out.is_dir():
        raise ValueError(f"out: no finished study in {out} (no such folder)")
    fix = "run the study again with the same settings into this folder to write them again"
    try:
        marker, files = _io.read_set(out, _MARKER, what="the study's outputs")
        record = _io.read_json(out / "summary.json", files["summary.json"])
        reps = _io.read_npz(out / "replicates.npz", files["replicates.npz"])
        if marker.get("study_id") != study_id(record["config"]):
            raise _io.StorageError(f"{out / _MARKER}: belongs to another study than {out / 'summary.json'}")
        missing = [k for k in REPLICATE_FIELDS if k not in reps]
        if missing:
            raise _io.StorageError(f"{out / 'replicates.npz'}: lacks the fields {missing}")
        summary = {k: np.asarray(v, np.float64) if isinstance(v, list) else v
                   for k, v in record["summary"].items()}
        reference = record["reference"]
        names, true_params, config = record["names"], record["true_params"], record["config"]
    except _io.StorageError as e:
        raise _io.StorageError(f"{e}; {fix}") from None
    except (KeyError, TypeError, AttributeError) as e:
        raise _io.StorageError(f"{out / 'summary.json'}: not a study summary ({e!r}); {fix}") from None
    if reference is not None:
        reference = {k: np.asarray(v, np.float64) if isinstance(v, list) else v
                     for k, v in reference.items()}
    return StudyResult(tuple(names), np.asarray(true_params, np.float64), reps, summary,
                       reference, config)
