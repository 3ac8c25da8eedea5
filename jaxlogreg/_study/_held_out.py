"""Held-out metrics of a chunk of replicates.

Per replicate, on its held-out rows: log loss, Brier score, ROC AUC, calibration intercept
and slope (:func:`jaxlogreg._metrics.calibration`), and a reliability curve. These pass over
the held-out rows alone, gathered per replicate into ``(B, rows)`` with padding of weight 0
(:func:`_held_out_rows`), not over all ``n`` rows with weight 0 on the training ones.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .. import _dispatch, _metrics

# Bins of each replicate's reliability curve.
_RELIABILITY_BINS = 10


def _held_out_metrics(X, y, res, held, size, work: int | None = None) -> dict:
    """Held-out log loss, Brier score, AUC, calibration and reliability of each replicate
    (NaN without a held-out part), as NumPy arrays: one compiled program
    (:func:`_metrics_of`) and one transfer of its results. ``work``, the study's
    replicates times rows, chooses how the program compiles
    (:class:`jaxlogreg._dispatch.Programs`; None: XLA's defaults)."""
    if held is None:
        return _no_metrics(size)
    args = (X, y, res.params, held)
    program = _METRICS.default if work is None else _METRICS.pick(work, X, args)
    metrics = program(*args, fit_intercept=res.fit_intercept, rows=_held_out_columns(held))
    return {key: np.asarray(value) for key, value in jax.device_get(metrics).items()}


def _no_metrics(size: int) -> dict:
    """The metrics of ``size`` replicates without held-out rows: NaN, and reliability bins
    of weight 0."""
    nan = np.full((size,), np.nan)
    bins = np.full((size, _RELIABILITY_BINS), np.nan)
    return dict(log_loss=nan, brier=nan, auc=nan, calibration_intercept=nan,
                calibration_slope=nan, reliability_predicted=bins, reliability_observed=bins,
                reliability_weight=np.zeros_like(bins))


def _metrics_of(X, y, params, held, *, fit_intercept, rows):
    """The held-out metrics of a chunk of replicates with parameters ``params (B, k)``
    and held-out weights ``held (B, n)``, as a dict of ``(B,)`` and ``(B, bins)`` arrays.

    With ``rows`` (an int), the metrics (two calibration fits, a sort for the AUC) pass over
    each replicate's held-out rows only, gathered into ``(B, rows)`` with padding of weight 0
    (:func:`_held_out_rows`): about a third of the rows of a 65% split. Only those rows' logits
    are computed (a gathered product, no ``(B, n)`` array of them).
    """
    y = jnp.asarray(y, params.dtype)
    if rows is None:
        eta, y_b, w = _predict(X, params, fit_intercept), y, held
    else:
        y_b, index, w = _held_out_rows(y, held, rows=rows)
        eta = _predict_rows(X, params, index, fit_intercept)
    p = jax.nn.sigmoid(eta)
    cal = _metrics._calibration_logits(y_b, eta, w)
    curve = _metrics._reliability(y_b, p, w, n_bins=_RELIABILITY_BINS, strategy="uniform")
    return dict(
        log_loss=_metrics._log_loss(y_b, p, w),
        brier=_metrics._brier(y_b, p, w),
        auc=_metrics._roc_auc(y_b, p, w),
        calibration_intercept=cal.intercept,
        calibration_slope=cal.slope,
        reliability_predicted=curve.mean_predicted,
        reliability_observed=curve.fraction_positive,
        reliability_weight=curve.weight,
    )


# The metrics as a program of their own (a chunk whose held-out width is read from its
# draw), compiled quickly for a small study on a CPU (jaxlogreg._dispatch.QUICK_STUDY_WORK);
# _metrics_program is the default one, which a chunk's program calls under its own trace.
_METRICS = _dispatch.Programs(_metrics_of, ("fit_intercept", "rows"),
                              quick_work=_dispatch.QUICK_STUDY_WORK)
_metrics_program = _METRICS.default


def _held_out_columns(held) -> int | None:
    """:func:`_columns` for the most held-out rows any replicate of the chunk ``held (B, n)``
    has (read from the device)."""
    return _columns(int(jnp.max(jnp.sum(held != 0, axis=-1))), held.shape[-1])


def _columns(most: int, n: int) -> int | None:
    """Columns that hold ``most`` held-out rows of ``n``: ``most`` rounded up to a multiple
    of 32 (so that chunks whose counts differ a little share a compilation), or None when
    that is not fewer than ``n`` (the metrics then pass over every row)."""
    rows = -(-max(most, 1) // 32) * 32
    return rows if rows < n else None


def _held_out_rows(y, held, *, rows):
    """``(y_rows, index, w_rows)``, each ``(B, rows)``: the labels, the row numbers and the
    weights of each replicate's held-out rows, in row order, then padding (row 0) of weight
    0. ``y`` is ``(n,)`` (shared) or ``(B, n)``; ``held`` is ``(B, n)``. Weighted metrics
    over these rows equal those over all ``n``, up to rounding.

    A held-out row's place is the count of held-out rows before it (:func:`_places`), and
    the row numbers are scattered to their places (cheaper on a CPU than ``jnp.nonzero``)."""
    n = held.shape[-1]
    nonzero = held != 0
    place = _places(nonzero)
    target = jnp.where(nonzero & (place < rows), place, rows)  # rows: dropped
    row = jnp.arange(n, dtype=jnp.int32)
    index = jax.vmap(lambda t: jnp.zeros((rows,), jnp.int32).at[t].set(row, mode="drop"))(target)
    count = jnp.sum(nonzero, axis=-1, dtype=jnp.int32)
    filled = jnp.arange(rows)[None, :] < count[:, None]
    y_rows = y[index] if y.ndim == 1 else jnp.take_along_axis(y, index, axis=-1)
    return y_rows, index, jnp.where(filled, jnp.take_along_axis(held, index, axis=-1), 0)


def _places(flags):
    """``(B, n)`` int32: for each entry of ``flags (B, n)`` bool, how many flags before it in
    its row are set (an exclusive running count).

    The flags are packed 32 to a word: an entry's count is the population count of the bits
    below it in its word, plus a running sum over the ``n / 32`` words' counts: cheaper on a
    CPU than a running sum over all ``n`` entries."""
    B, n = flags.shape
    words = -(-n // 32)
    bit = jnp.arange(32, dtype=jnp.uint32)[None, None, :]
    packed = jnp.pad(flags, ((0, 0), (0, 32 * words - n))).reshape(B, words, 32)
    word = jnp.sum(jnp.where(packed, jnp.uint32(1) << bit, jnp.uint32(0)), axis=2,
                   dtype=jnp.uint32)
    count = jax.lax.population_count(word).astype(jnp.int32)
    before = jnp.cumsum(count, axis=1, dtype=jnp.int32) - count  # set in earlier words
    below = jax.lax.population_count(word[:, :, None] & ((jnp.uint32(1) << bit) - 1))
    return (before[:, :, None] + below.astype(jnp.int32)).reshape(B, -1)[:, :n]


def _predict_rows(X, params, index, fit_intercept):
    """``(B, rows)`` logits of the rows ``index (B, rows)`` of ``X`` (shared ``(n, d)`` or per
    replicate ``(B, n, d)``) for ``params (B, k)``, intercept first when ``fit_intercept``.

    A shared ``X`` is read a column at a time (``X[index, j]``, gathered from one ``(n,)``
    column into the running sum), which XLA fuses into one pass over the output; gathering
    whole rows (``X[index]``, ``(B, rows, d)``) first is several times slower on a CPU.
    """
    coef = params[:, 1:] if fit_intercept else params
    eta = jnp.broadcast_to(params[:, :1] if fit_intercept else jnp.zeros((), params.dtype),
                           index.shape)
    for j in range(coef.shape[-1]):
        column = X[..., j]
        taken = column[index] if X.ndim == 2 else jnp.take_along_axis(column, index, axis=-1)
        eta = eta + coef[:, j:j + 1] * taken
    return eta


def _predict(X, params, fit_intercept):
    """``(B, n)`` linear predictors (logits) of every row for ``params (B, k)``; ``X`` shared
    ``(n, d)`` or per replicate ``(B, n, d)``. The metrics take their probabilities, the
    calibration fits the logits themselves."""
    if fit_intercept:
        X = jnp.concatenate([jnp.ones(X.shape[:-1] + (1,), X.dtype), X], axis=-1)
    return params @ X.T if X.ndim == 2 else jnp.einsum("bnk,bk->bn", X, params)
