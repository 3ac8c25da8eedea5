"""Batched evaluation metrics and calibration tools for probability predictions.

Every function here evaluates many models at once, e.g. every replicate of a Monte Carlo
study on its held-out rows, and is pure, jittable and vmappable.

Conventions
-----------
* Shapes: labels ``y (..., n)`` in {0, 1}; predicted probabilities ``p (..., n)`` or real
  scores ``score (..., n)``; nonnegative frequency weights ``weights (..., n)`` (None for
  ones; a weight of 2 counts the row twice, a weight of 0 drops it, so held-out 0/1 weights
  ``(B, n)`` evaluate each replicate on its held-out rows). The leading axes broadcast
  together; a result has the broadcast batch shape ``(...)`` (with a trailing axis where
  stated).
* Every average is a weighted mean, ``sum_i w_i v_i / sum_i w_i``.
* Computation is in the floating dtype of ``p`` (or ``score``), or JAX's default float when
  that is not floating; ``y`` and ``weights`` are cast to it.
* Nothing raises inside ``jit``: a model whose metric is undefined (all weights zero, a
  class with zero weight for the AUC, a calibration fit that does not converge) gets NaN.
  Shapes and static arguments are checked at the Python boundary (``ValueError`` naming the
  argument); values (labels in {0, 1}, ``p`` in [0, 1], finite scores) are not checked.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from . import _validate
from ._fit import fit
from ._result import Batched
from ._typing import ArrayLike, Bool, Float, Int32, Numeric
from ._validate import float_dtype

Array = jax.Array

__all__ = [
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


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class CalibrationResult(Batched):
    """Calibration intercept and slope of each model (see :func:`calibration`).

    Attributes:
      intercept: ``(...)`` calibration-in-the-large: 0 when the predictions are right on
        average, negative when they are too high.
      slope: ``(...)`` calibration slope: 1 for calibrated predictions, below 1 when they
        are too extreme (overfitting), above 1 when too moderate.
    """

    intercept: Float[Array, "*batch"]
    slope: Float[Array, "*batch"]


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class ReliabilityCurve(Batched):
    """A reliability diagram per model (see :func:`reliability_curve`).

    Attributes:
      mean_predicted: ``(..., n_bins)`` weighted mean of ``p`` in each bin (NaN if empty).
      fraction_positive: ``(..., n_bins)`` weighted mean of ``y`` in each bin (NaN if empty).
      weight: ``(..., n_bins)`` total weight in each bin (0 if empty).
    """

    mean_predicted: Float[Array, "*batch n_bins"]
    fraction_positive: Float[Array, "*batch n_bins"]
    weight: Float[Array, "*batch n_bins"]


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class PlattCalibrator(Batched):
    """Platt's sigmoid calibration of scores, one per model (see :func:`platt_scaling`).

    Attributes:
      a: ``(...)`` slope on the score.
      b: ``(...)`` intercept.
      status: ``(...)`` int32 :class:`~jaxlogreg.Status` code of each model's fit. ``a`` and
        ``b`` are the fit's last iterate whatever the status.

    Calling it maps scores ``(..., m)`` (leading axes broadcasting against ``(...)``) to
    calibrated probabilities ``sigmoid(a * score + b)`` of the broadcast shape.
    """

    a: Float[Array, "*batch"]
    b: Float[Array, "*batch"]
    status: Int32[Array, "*batch"]

    def __call__(self, score: Numeric[ArrayLike, "*#batch m"]) -> Float[Array, "*#batch m"]:
        score = jnp.asarray(score, self.a.dtype)
        if score.ndim < 1:
            raise ValueError(f"score: expected shape (..., m), got shape {score.shape}")
        a, b = self.a[..., None], self.b[..., None]
        try:
            shape = np.broadcast_shapes(a.shape, score.shape)
        except ValueError:
            raise ValueError(
                f"score: batch axes {score.shape[:-1]} do not broadcast with the "
                f"calibrator's {self.a.shape}"
            ) from None
        eta = jnp.broadcast_to(a, shape) * jnp.broadcast_to(score, shape)
        return jax.nn.sigmoid(eta + jnp.broadcast_to(b, shape))


# ---------------------------------------------------------------------------------------
# Checks at the Python boundary (shapes only: they are static, so this also runs under jit).


def _as_array(name: str, a, dtype) -> Array:
    return _validate._as_array(name, a, dtype, min_ndim=1)


def _inputs(y, pred, weights, pred_name: str) -> tuple[Array, Array, Array]:
    """``(y, pred, weights)`` as arrays in ``pred``'s floating dtype, ``weights`` ones
    ``(n,)`` when None; shapes checked: one ``n``, batch axes that broadcast, ``n >= 1``."""
    dtype = float_dtype(pred)
    pred = _as_array(pred_name, pred, dtype)
    n = pred.shape[-1]
    y = _as_array("y", y, dtype)
    weights = jnp.ones((n,), dtype) if weights is None else _as_array("weights", weights, dtype)
    for name, a in (("y", y), ("weights", weights)):
        if a.shape[-1] != n:
            raise ValueError(
                f"{name}: last axis has length {a.shape[-1]} but {pred_name} has n = {n} "
                f"({name} shape {a.shape}, {pred_name} shape {pred.shape})"
            )
    try:
        np.broadcast_shapes(y.shape, pred.shape, weights.shape)
    except ValueError:
        raise ValueError(
            f"y, {pred_name}, weights: batch axes do not broadcast: y {y.shape[:-1]}, "
            f"{pred_name} {pred.shape[:-1]}, weights {weights.shape[:-1]}"
        ) from None
    if n == 0:
        raise ValueError(f"{pred_name}: no observations (n = 0)")
    return y, pred, weights


# ---------------------------------------------------------------------------------------
# Kernels.


def _weighted_mean(v: Array, w: Array) -> Array:
    """``sum(w * v) / sum(w)`` over the last axis; NaN where ``sum(w) == 0``."""
    total = jnp.sum(w, axis=-1)
    ok = total > 0
    return jnp.where(ok, jnp.sum(w * v, axis=-1) / jnp.where(ok, total, 1), jnp.nan)


def _clip(p: Array) -> Array:
    """``p`` clipped to ``[eps, 1 - eps]``, ``eps`` the machine epsilon of its dtype."""
    eps = jnp.finfo(p.dtype).eps
    return jnp.clip(p, eps, 1 - eps)


@jax.jit
def _log_loss(y, p, w):
    y, p, w = jnp.broadcast_arrays(y, p, w)
    p = _clip(p)
    return _weighted_mean(-(y * jnp.log(p) + (1 - y) * jnp.log1p(-p)), w)


@jax.jit
def _brier(y, p, w):
    y, p, w = jnp.broadcast_arrays(y, p, w)
    return _weighted_mean((p - y) ** 2, w)


def _order_key(x: Array) -> Array:
    """Integers of ``x``'s width that sort as ``x`` does: ``x < x'`` iff ``key < key'``.

    IEEE bits read as a signed integer order the nonnegative floats; flipping the magnitude
    bits of the negative ones reverses theirs. ``-0.0`` becomes ``+0.0`` first and every NaN
    the largest key, so equal floats get equal keys. XLA sorts integers several times faster
    than floats, whose comparator handles NaN and signed zero.
    """
    bits = jnp.iinfo(jnp.dtype(f"int{8 * x.dtype.itemsize}"))
    x = jnp.where(x == 0, jnp.zeros((), x.dtype), x)
    k = jax.lax.bitcast_convert_type(x, bits.dtype)
    k = jnp.where(k < 0, k ^ bits.dtype.type(bits.max), k)
    return jnp.where(jnp.isnan(x), bits.max, k)


def _wins_by_search(key: Array, pos: Array, neg: Array) -> Array:
    """``(m,)`` AUC numerators ``sum_i pos_i (negative weight below s_i + half that tied
    with it)`` of ``m`` rows of ``n`` scores (order keys ``key``, weights ``pos``, ``neg``).

    Each row's tie group is named by its first place in the sorted row (the number of
    scores strictly below it): one integer sort and a binary search per row. Exact for any
    keys; the fallback of :func:`_roc_auc`.
    """
    m, n = key.shape
    first = jax.vmap(lambda s, k: jnp.searchsorted(s, k, side="left"))(jnp.sort(key, axis=-1), key)
    # Negative weight of each group at its place, then the weight of all groups below.
    ids = (first + (jnp.arange(m) * n)[:, None]).reshape(-1)
    group = jax.ops.segment_sum(neg.reshape(-1), ids, m * n).reshape(m, n)
    below = jnp.cumsum(group, axis=-1) - group
    # A positive beats the negative weight below its group and ties half of its group's.
    per_row = jnp.take_along_axis(below + group / 2, first, axis=-1)
    return jnp.sum(pos * per_row, axis=-1)


def _wins_in_order(ks: Array, pos: Array, neg: Array) -> Array:
    """The numerators of :func:`_wins_by_search` from rows already sorted: ``ks`` ``(m, n)``
    nondecreasing keys, ``pos`` and ``neg`` their weights in that order (ties adjacent).

    With ``C`` the cumulative negative weight, a row's tie group has ``C`` just before its
    first place below it and ``C`` at its last place up to and including it: a running
    maximum from each group's first place and a running minimum back from its last.
    """
    m = ks.shape[0]
    C = jnp.cumsum(neg, axis=-1)
    new = ks[:, 1:] != ks[:, :-1]
    edge = jnp.ones((m, 1), bool)
    below = jax.lax.cummax(jnp.where(jnp.concatenate([edge, new], axis=-1), C - neg, 0.0), axis=1)
    upto = jax.lax.cummin(jnp.where(jnp.concatenate([new, edge], axis=-1), C, jnp.inf), axis=1,
                          reverse=True)
    return 0.5 * jnp.sum(pos * (below + upto), axis=-1)


@jax.jit
def _roc_auc(y, score, w):
    y, score, w = jnp.broadcast_arrays(y, score, w)
    batch, n = score.shape[:-1], score.shape[-1]
    m = math.prod(batch)
    key = _order_key(score).reshape(m, n)
    pos = (w * y).reshape(m, n)
    neg = (w * (1 - y)).reshape(m, n)
    in_order = lambda ks, idx: _wins_in_order(  # noqa: E731
        ks, jnp.take_along_axis(pos, idx, axis=-1), jnp.take_along_axis(neg, idx, axis=-1))
    wide = jax.dtypes.canonicalize_dtype(jnp.int64)  # int32 unless 64-bit types are enabled
    if jnp.dtype(wide).itemsize < 8:
        # No 64-bit integers (float32 without x64, the natural mode on a GPU): a 32-bit key
        # has no free bits for the index, so (key, index) pairs are sorted instead, which
        # orders the rows by score exactly.
        index = jnp.broadcast_to(jnp.arange(n, dtype=jnp.int32), key.shape)
        wins = in_order(*jax.lax.sort((key, index), dimension=-1, num_keys=1))
    else:
        if key.dtype.itemsize < 8:
            key = key.astype(wide) << 32  # the same order, with 32 free bits below
        # One sort of single integers carrying each row's index: the key's top bits with
        # the index in the low ``bits`` (XLA sorts one integer operand several times faster
        # than it sorts a key with a payload, or an argsort). It orders the rows by score
        # unless two different scores agree in all but those bits (for float64 scores,
        # relative gaps below about 2**(bits - 52); never for float32 ones); then, checked
        # on the exact keys, the exact search is used.
        bits = max(1, (n - 1).bit_length())
        packed = ((key >> bits) << bits) | jnp.arange(n, dtype=key.dtype)[None, :]
        idx = (jnp.sort(packed, axis=-1) & ((1 << bits) - 1)).astype(jnp.int32)
        ks = jnp.take_along_axis(key, idx, axis=-1)
        wins = jax.lax.cond(jnp.all(ks[:, 1:] >= ks[:, :-1]), lambda: in_order(ks, idx),
                            lambda: _wins_by_search(key, pos, neg))
    wins = wins.reshape(batch)
    pairs = (jnp.sum(pos, axis=-1) * jnp.sum(neg, axis=-1)).reshape(batch)
    ok = pairs > 0
    return jnp.where(ok, wins / jnp.where(ok, pairs, 1), jnp.nan)


def _weighted_quantiles(x: Array, w: Array, q: np.ndarray) -> Array:
    """Weighted quantiles ``(..., k)`` of ``x (..., n)`` at levels ``q (k,)`` in [0, 1].

    Rows with positive weight, sorted by ``x``, sit at positions ``c_j = S_j - w_j / 2``
    (``S_j`` the cumulative weight: the midpoint of row ``j``'s share of the total),
    rescaled to run from 0 at the smallest to 1 at the largest value; the quantile at ``q``
    interpolates ``x`` linearly in position. With equal weights the positions are
    ``(j - 1) / (m - 1)``, NumPy's default ``"linear"`` method (Hyndman and Fan's type 7);
    rows of weight 0 are ignored.
    """
    key = jnp.where(w > 0, x, jnp.inf)  # rows of weight 0 sort last
    order = jnp.argsort(key, axis=-1)
    xs = jnp.take_along_axis(x, order, axis=-1)
    ws = jnp.take_along_axis(w, order, axis=-1)
    last = jnp.maximum(jnp.sum(w > 0, axis=-1, keepdims=True) - 1, 0)
    c = jnp.cumsum(ws, axis=-1) - ws / 2
    span = jnp.take_along_axis(c, last, axis=-1) - c[..., :1]
    pos = (c - c[..., :1]) / jnp.where(span > 0, span, 1)
    # Rows of weight 0 become flat copies of the largest value at position 1.
    pos = jnp.where(ws > 0, pos, 1)
    xs = jnp.where(ws > 0, xs, jnp.take_along_axis(xs, last, axis=-1))
    levels = jnp.asarray(q, x.dtype)
    interp = jnp.vectorize(lambda xp, fp: jnp.interp(levels, xp, fp), signature="(n),(n)->(k)")
    return interp(pos, xs)


def _bin_sums(bins: Array, values: Array, n_bins: int) -> Array:
    """Sums ``(..., n_bins, m)`` of ``values (..., n, m)`` over the rows in each bin, with
    ``bins (..., n)`` the bin of each row: one scatter-add over the flattened batch."""
    batch, n, m = bins.shape[:-1], bins.shape[-1], values.shape[-1]
    B = math.prod(batch)
    ids = bins.reshape(B, n) + (jnp.arange(B) * n_bins)[:, None]
    sums = jax.ops.segment_sum(values.reshape(B * n, m), ids.reshape(B * n), B * n_bins)
    return sums.reshape(batch + (n_bins, m))


@functools.partial(jax.jit, static_argnames=("n_bins", "strategy"))
def _reliability(y, p, w, *, n_bins, strategy):
    y, p, w = jnp.broadcast_arrays(y, p, w)
    levels = np.linspace(0.0, 1.0, n_bins + 1)[1:-1]
    if strategy == "uniform":
        inner = jnp.broadcast_to(jnp.asarray(levels, p.dtype), p.shape[:-1] + levels.shape)
    else:
        inner = _weighted_quantiles(p, w, levels)
    # As np.searchsorted(inner, p) (side="left"): the number of inner edges below p.
    bins = jnp.sum(p[..., :, None] > inner[..., None, :], axis=-1)
    sums = _bin_sums(bins, jnp.stack([w, w * p, w * y], axis=-1), n_bins)
    weight, wp, wy = sums[..., 0], sums[..., 1], sums[..., 2]
    ok = weight > 0
    safe = jnp.where(ok, weight, 1)
    return ReliabilityCurve(
        mean_predicted=jnp.where(ok, wp / safe, jnp.nan),
        fraction_positive=jnp.where(ok, wy / safe, jnp.nan),
        weight=weight,
    )


def _calibrated_step(y, p, w, logit):
    """The Newton step of each calibration fit from calibrated predictions (intercept 0,
    slope 1), where the fitted probabilities are ``p`` themselves: ``(slope fit (..., 2),
    intercept fit (..., 1))`` starting points, from sums over rows (no pass of the fits).

    With ``r = w (p - y)`` and ``c = w p (1 - p)``, the slope fit's gradient is ``(sum r,
    sum r l)`` and its Hessian ``[[sum c, sum c l], [sum c l, sum c l^2]]`` (``l`` the
    logit of ``p``); the intercept fit's are the first entries. Where a system is singular
    or the step not finite, the start stays at the calibrated point.
    """
    y, p, w, logit = jnp.broadcast_arrays(y, p, w, logit)
    r, c = w * (p - y), w * p * (1 - p)
    g0, g1 = jnp.sum(r, axis=-1), jnp.sum(r * logit, axis=-1)
    h00, h01, h11 = (jnp.sum(c, axis=-1), jnp.sum(c * logit, axis=-1),
                     jnp.sum(c * logit * logit, axis=-1))
    det = h00 * h11 - h01 * h01
    ok = jnp.isfinite(det) & (det > 1e-12 * h00 * h11)
    safe = jnp.where(ok, det, 1.0)
    intercept = jnp.where(ok, -(h11 * g0 - h01 * g1) / safe, 0.0)
    slope = jnp.where(ok, 1.0 - (h00 * g1 - h01 * g0) / safe, 1.0)
    a = jnp.where(h00 > 0, -g0 / jnp.where(h00 > 0, h00, 1.0), 0.0)
    start = jnp.stack([intercept, slope], axis=-1)
    fine = jnp.all(jnp.isfinite(start), axis=-1, keepdims=True)
    start = jnp.where(fine, start, jnp.asarray([0.0, 1.0], p.dtype))
    return start, jnp.where(jnp.isfinite(a), a, 0.0)[..., None]


@jax.jit
def _calibration(y, p, w):
    return _calibration_logits(y, jax.scipy.special.logit(_clip(p)), w)


@jax.jit
def _calibration_logits(y, logit, w):
    """:func:`calibration` from the predictions' logits (clipped as ``p`` is there)."""
    eps = jnp.finfo(logit.dtype).eps
    bound = jnp.log1p(-eps) - jnp.log(eps)  # the logit of 1 - eps
    logit = jnp.clip(logit, -bound, bound)
    p = jax.nn.sigmoid(logit)
    # No broadcasting here: a p shared by the batch stays one shared design for fit.
    # Both fits start one Newton step from calibrated predictions (intercept 0, slope 1),
    # near where useful predictions' estimates lie, a step found without a pass of theirs.
    slope_start, large_start = _calibrated_step(y, p, w, logit)
    slope_fit = fit(logit[..., None], y, weights=w, init=slope_start)
    large = fit(jnp.zeros(logit.shape[-1:] + (0,), p.dtype), y, weights=w, offset=logit,
                init=large_start)
    return CalibrationResult(
        intercept=jnp.where(large.converged, large.intercept, jnp.nan),
        slope=jnp.where(slope_fit.converged, slope_fit.coef[..., 0], jnp.nan),
    )


@jax.jit
def _platt(score, y, w, prior_correction):
    y, w = jnp.broadcast_arrays(y, w)
    n = score.shape[-1]
    n_pos = jnp.sum(w * y, axis=-1, keepdims=True)
    n_neg = jnp.sum(w * (1 - y), axis=-1, keepdims=True)
    smoothed = y * (n_pos + 1) / (n_pos + 2) + (1 - y) / (n_neg + 2)
    t = jnp.where(prior_correction, smoothed, y)
    # Every row twice: label 1 with weight w t, label 0 with weight w (1 - t). The
    # weighted log-likelihood equals that of the fractional targets t.
    X2 = jnp.concatenate([score, score], axis=-1)[..., None]
    y2 = jnp.concatenate([jnp.ones((n,), score.dtype), jnp.zeros((n,), score.dtype)])
    w2 = jnp.concatenate([w * t, w * (1 - t)], axis=-1)
    res = fit(X2, y2, weights=w2)
    return PlattCalibrator(a=res.coef[..., 0], b=res.intercept, status=res.status)


# ---------------------------------------------------------------------------------------
# Public functions.


def log_loss(
    y: Numeric[ArrayLike, "*#batch n"],
    p: Numeric[ArrayLike, "*#batch n"],
    weights: Numeric[ArrayLike, "*#batch n"] | None = None,
) -> Float[Array, "*batch"]:
    """Weighted mean log loss (binary cross-entropy) of each model.

    ``sum_i w_i l_i / sum_i w_i`` with ``l_i = -[y_i log p_i + (1 - y_i) log(1 - p_i)]``,
    ``p`` first clipped to ``[eps, 1 - eps]`` with ``eps`` the machine epsilon of the dtype,
    as :func:`sklearn.metrics.log_loss` does, so a confident mistake costs at most
    ``-log(eps)`` (36.0 in float64, 15.9 in float32).

    Args:
      y: ``(..., n)`` labels in {0, 1}.
      p: ``(..., n)`` predicted probabilities of label 1.
      weights: ``(..., n)`` nonnegative weights, or None for ones.

    Returns:
      ``(...)`` log loss; NaN for a model whose weights are all zero.
    """
    return _log_loss(*_inputs(y, p, weights, "p"))


def brier_score(
    y: Numeric[ArrayLike, "*#batch n"],
    p: Numeric[ArrayLike, "*#batch n"],
    weights: Numeric[ArrayLike, "*#batch n"] | None = None,
) -> Float[Array, "*batch"]:
    """Weighted mean Brier score ``sum_i w_i (p_i - y_i)^2 / sum_i w_i`` of each model
    (Brier 1950; :func:`sklearn.metrics.brier_score_loss`).

    Args:
      y: ``(..., n)`` labels in {0, 1}.
      p: ``(..., n)`` predicted probabilities of label 1.
      weights: ``(..., n)`` nonnegative weights, or None for ones.

    Returns:
      ``(...)`` Brier score; NaN for a model whose weights are all zero.
    """
    return _brier(*_inputs(y, p, weights, "p"))


def roc_auc(
    y: Numeric[ArrayLike, "*#batch n"],
    score: Numeric[ArrayLike, "*#batch n"],
    weights: Numeric[ArrayLike, "*#batch n"] | None = None,
) -> Float[Array, "*batch"]:
    """Area under the ROC curve of each model: the weighted Mann-Whitney statistic.

    ``AUC = sum_{i: y_i=1} sum_{j: y_j=0} w_i w_j ([s_i > s_j] + [s_i = s_j] / 2)
    / (W+ W-)``, with ``W+`` and ``W-`` the total weight of the positives and of the
    negatives: the probability that a random positive scores above a random negative,
    ties counted 1/2 (Hanley and McNeil 1982). It equals
    :func:`sklearn.metrics.roc_auc_score` with ``sample_weight=weights``. Computed with one
    sort per model, ``O(n log n)``: each positive counts the negative weight below its
    group of tied scores plus half of the group's own (exact for any scores; ties and
    scores a few ulps apart included).

    Args:
      y: ``(..., n)`` labels in {0, 1}.
      score: ``(..., n)`` any real score, larger meaning label 1 is more likely.
      weights: ``(..., n)`` nonnegative weights, or None for ones.

    Returns:
      ``(...)`` AUC in [0, 1]; NaN for a model where either class has zero weight.
    """
    return _roc_auc(*_inputs(y, score, weights, "score"))


def calibration(
    y: Numeric[ArrayLike, "*#batch n"],
    p: Numeric[ArrayLike, "*#batch n"],
    weights: Numeric[ArrayLike, "*#batch n"] | None = None,
) -> CalibrationResult:
    """Calibration intercept and slope of each model's predicted probabilities.

    With ``logit_i = log(p_i / (1 - p_i))`` (``p`` first clipped to ``[eps, 1 - eps]``,
    ``eps`` the machine epsilon of the dtype), two weighted logistic regressions of ``y``,
    fitted with :func:`jaxlogreg.fit`:

    * slope: the coefficient ``b`` of ``logit(P(y = 1)) = a + b * logit_i`` (Cox 1958);
    * intercept ("calibration-in-the-large"): ``a`` in ``logit(P(y = 1)) = a + logit_i``,
      the logit as an offset and no other term (Steyerberg, *Clinical Prediction Models*,
      2nd ed. 2019, ch. 15).

    Perfectly calibrated predictions give intercept 0 and slope 1.

    References: D. R. Cox (1958), "Two further applications of a model for binary
    regression", Biometrika 45, 562-565.

    Args:
      y: ``(..., n)`` labels in {0, 1}.
      p: ``(..., n)`` predicted probabilities of label 1. A ``(n,)`` array shared by a batch
        of weights is one shared design for the fits.
      weights: ``(..., n)`` nonnegative weights, or None for ones.

    Returns:
      :class:`CalibrationResult` of ``(...)`` arrays; an entry is NaN when its fit does not
      reach ``Status.CONVERGED`` (one class only, separation, all weights zero, ...).
    """
    return _calibration(*_inputs(y, p, weights, "p"))


def reliability_curve(
    y: Numeric[ArrayLike, "*#batch n"],
    p: Numeric[ArrayLike, "*#batch n"],
    weights: Numeric[ArrayLike, "*#batch n"] | None = None,
    n_bins: int = 10,
    strategy: str = "uniform",
) -> ReliabilityCurve:
    """Reliability diagram of each model: mean prediction and observed frequency per bin.

    Bins follow :func:`sklearn.calibration.calibration_curve`: ``n_bins + 1`` edges
    ``e_0 <= ... <= e_{n_bins}``, and row ``i`` falls in bin ``k``, the number of inner edges
    ``e_1 .. e_{n_bins - 1}`` strictly below ``p_i`` (``np.searchsorted(e[1:-1], p)``); so
    bins are ``[e_0, e_1], (e_1, e_2], ..., (e_{n_bins - 1}, e_{n_bins}]`` and values
    beyond the outer edges land in the outer bins.

    * ``strategy="uniform"``: ``e = np.linspace(0, 1, n_bins + 1)`` (in ``p``'s dtype).
    * ``strategy="quantile"``: ``e_k`` is each model's weighted quantile of ``p`` at level
      ``k / n_bins``: rows with positive weight, sorted by ``p``, sit at positions
      ``S_j - w_j / 2`` (``S_j`` the cumulative weight), rescaled to run from 0 at the
      smallest ``p`` to 1 at the largest, and the quantile interpolates ``p`` linearly in
      position. With equal weights this is ``np.percentile``'s default ("linear") method,
      scikit-learn's edges; weight 0 drops a row. It does not treat a weight of 2 as a
      repeated row: no rule that is unchanged by rescaling the weights can, since the
      linear method itself changes when every row is repeated.

    Unlike scikit-learn, which drops empty bins, shapes are static: an empty bin gets NaN
    means and weight 0. Scikit-learn returns ``(fraction_positive, mean_predicted)`` of the
    nonempty bins, in that order.

    Args:
      y: ``(..., n)`` labels in {0, 1}.
      p: ``(..., n)`` predicted probabilities of label 1.
      weights: ``(..., n)`` nonnegative weights, or None for ones.
      n_bins: number of bins, at least 1 (static: each value compiles once).
      strategy: ``"uniform"`` or ``"quantile"`` (static).

    Returns:
      :class:`ReliabilityCurve` of ``(..., n_bins)`` arrays: ``mean_predicted =
      sum_{i in k} w_i p_i / W_k``, ``fraction_positive = sum_{i in k} w_i y_i / W_k``,
      ``weight = W_k = sum_{i in k} w_i``.
    """
    if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise ValueError(f"n_bins: must be an integer >= 1, got {n_bins!r}")
    if strategy not in ("uniform", "quantile"):
        raise ValueError(f'strategy: must be "uniform" or "quantile", got {strategy!r}')
    y, p, w = _inputs(y, p, weights, "p")
    return _reliability(y, p, w, n_bins=int(n_bins), strategy=strategy)


def platt_scaling(
    score: Numeric[ArrayLike, "*#batch n"],
    y: Numeric[ArrayLike, "*#batch n"],
    weights: Numeric[ArrayLike, "*#batch n"] | None = None,
    *,
    prior_correction: Bool[ArrayLike, ""] = True,
) -> PlattCalibrator:
    """Platt's sigmoid calibration of another model's scores, one per model.

    Fits ``P(y = 1 | score) = sigmoid(a * score + b)`` by weighted maximum likelihood to
    targets ``t_i``: with ``prior_correction=True`` Platt's smoothed targets
    ``(N+ + 1) / (N+ + 2)`` for positives and ``1 / (N- + 2)`` for negatives, where ``N+``
    and ``N-`` are the total weights of the positives and the negatives; with False, the
    labels themselves. The fit is :func:`jaxlogreg.fit` on every row twice: label 1 with
    weight ``w_i t_i`` and label 0 with weight ``w_i (1 - t_i)``, whose likelihood is that
    of the fractional targets.

    Sign convention: Platt (1999) and scikit-learn's ``_SigmoidCalibration`` (the
    ``method="sigmoid"`` of ``CalibratedClassifierCV``, same targets) write the probability
    as ``1 / (1 + exp(A * score + B))``; here ``a = -A`` and ``b = -B``.

    Reference: J. Platt (1999), "Probabilistic outputs for support vector machines and
    comparisons to regularized likelihood methods", Advances in Large Margin Classifiers.

    Args:
      score: ``(..., n)`` real scores of the model to calibrate (e.g. a decision function).
      y: ``(..., n)`` labels in {0, 1}.
      weights: ``(..., n)`` nonnegative weights, or None for ones.
      prior_correction: use Platt's smoothed targets (traced: does not recompile).

    Returns:
      :class:`PlattCalibrator` with ``(...)`` fields ``a``, ``b``, ``status``; call it on
      new scores for probabilities.
    """
    y, score, w = _inputs(y, score, weights, "score")
    return _platt(score, y, w, jnp.asarray(prior_correction, bool))
