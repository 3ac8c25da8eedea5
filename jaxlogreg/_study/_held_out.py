"""Held-out metrics of a chunk of replicates.

Per replicate, on its held-out rows: log loss, Brier score, ROC AUC, calibration intercept
and slope (:func:`jaxlogreg._metrics.calibration`), and a reliability curve. These pass over
the held-out rows alone, gathered per replicate into ``(B, rows)`` with padding of weight 0
(:func:`_held_out_rows`), not over all ``n`` rows with weight 0 on the training ones.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from .. import _metrics

# Bins of each replicate's reliability curve.
_RELIABILITY_BINS = 10


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


def _held_out_columns(held) -> int | None:
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
