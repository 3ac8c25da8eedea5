"""Reference tests: `jaxlogreg._metrics` against scikit-learn, statsmodels, brute force and loops.

Expected values come from: scikit-learn's ``log_loss``, ``brier_score_loss``,
``roc_auc_score``, ``calibration_curve`` and ``_sigmoid_calibration`` (the fit behind
``CalibratedClassifierCV(method="sigmoid")``); statsmodels ``GLM(Binomial)`` with
``freq_weights`` and ``offset`` (IRLS to ``tol=1e-14``); an O(n^2) Mann-Whitney double sum;
a NumPy loop over the documented weighted-quantile rule; closed forms; and single-model
calls in a loop.

Held-out 0/1 weights are checked against the references run on the subset of rows, integer
weights against repeated rows (or the references' own frequency weights).

Tolerances: direct formulas agree to rounding (``1e-12``); calibration fits stop within
~1e-10 of the optimum, so they are compared with statsmodels at ``rtol = 1e-8``;
scikit-learn's Platt fit is L-BFGS with ``gtol = 1e-6`` (on a sum over rows), so at
``1e-5``. Float32 results are compared with the float64 references at ``1e-5`` for direct
formulas and ``2e-3`` for fitted ones (float32's tolerance on the gradient is ``1e-5``).

Compilation dominates the run time, so every test uses the one data set below (batch of
seven models over ``n = 200`` rows) or single rows of it.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import expit, logit
from sklearn.calibration import _sigmoid_calibration, calibration_curve
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.metrics import log_loss as sk_log_loss

from jaxlogreg import Status
from jaxlogreg._metrics import (
    CalibrationResult,
    PlattCalibrator,
    ReliabilityCurve,
    _weighted_quantiles,
    brier_score,
    calibration,
    log_loss,
    platt_scaling,
    reliability_curve,
    roc_auc,
)

N, HELD_OUT = 200, 70
ORDINARY = range(5)  # models 0-3 held-out 0/1 weights, 4 integer weights
ONE_CLASS, EMPTY = 5, 6


@functools.cache
def data():
    """``y (N,)``; per-model predictions ``P (7, N)``, tied scores ``S (7, N)``, weights
    ``W (7, N)``: models 0-3 weight 1 on 70 held-out rows, 0 elsewhere; model 4 integer
    weights 0..3; model 5 weight 1 on 70 rows with ``y = 0`` only; model 6 all zero."""
    rng = np.random.default_rng(7)
    x = rng.normal(size=N)
    eta = -0.4 + 1.2 * x
    y = (rng.uniform(size=N) < expit(eta)).astype(np.float64)
    shift = np.array([0.0, 0.5, -0.3, 0.2, -0.6, 0.1, 0.0])[:, None]
    scale = np.array([1.0, 0.6, 1.5, 0.9, 1.2, 1.0, 1.0])[:, None]
    P = expit(shift + scale * eta + 0.4 * rng.normal(size=(7, N)))
    S = np.round(logit(P) * 4) / 4  # many tied scores
    W = np.zeros((7, N))
    for b in range(4):
        W[b, rng.permutation(N)[:HELD_OUT]] = 1.0
    W[4] = rng.integers(0, 4, size=N)
    W[ONE_CLASS, rng.permutation(np.flatnonzero(y == 0))[:HELD_OUT]] = 1.0
    return y, P, S, W


def held_out(b):
    """Rows of model ``b`` with positive weight (the subset its 0/1 weights select)."""
    return data()[3][b] > 0


def glm(endog, exog, w=None, offset=None):
    """statsmodels' weighted binomial GLM, fitted to 1e-14."""
    model = sm.GLM(endog, exog, family=sm.families.Binomial(), freq_weights=w, offset=offset)
    return model.fit(tol=1e-14, maxiter=200).params


# --------------------------------------------------------------------------- log loss, Brier


def test_log_loss_and_brier_match_sklearn_including_clipping():
    y, P, _, W = data()
    P = P.copy()
    P[0, :3] = [0.0, 1.0, 1.0]  # a confident miss or two: clipped to [eps, 1 - eps]
    P[1, :2] = [0.0, 1.0]
    ll, bs = np.asarray(log_loss(y, P, W)), np.asarray(brier_score(y, P, W))
    assert ll.shape == bs.shape == (7,)
    for b in range(EMPTY):
        np.testing.assert_allclose(ll[b], sk_log_loss(y, P[b], sample_weight=W[b]), rtol=1e-12)
        np.testing.assert_allclose(
            bs[b], brier_score_loss(y, P[b], sample_weight=W[b]), rtol=1e-12
        )
    for b in range(4):  # 0/1 weights: the held-out subset
        m = held_out(b)
        np.testing.assert_allclose(ll[b], sk_log_loss(y[m], P[b, m], labels=[0, 1]), rtol=1e-12)
        np.testing.assert_allclose(bs[b], brier_score_loss(y[m], P[b, m]), rtol=1e-12)
    assert np.isnan(ll[EMPTY]) and np.isnan(bs[EMPTY])
    # No weights: every row once.
    np.testing.assert_allclose(np.asarray(log_loss(y, P))[2], sk_log_loss(y, P[2]), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(brier_score(y, P))[2], brier_score_loss(y, P[2]),
                               rtol=1e-12)


# --------------------------------------------------------------------------- ROC AUC


def mann_whitney(y, s, w):
    """O(n^2) double sum over positive-negative pairs, ties counted 1/2."""
    pos, neg = w * y, w * (1 - y)
    win = (s[:, None] > s[None, :]) + 0.5 * (s[:, None] == s[None, :])
    return pos @ win @ neg / (pos.sum() * neg.sum())


def test_roc_auc_matches_sklearn_with_ties_and_weights():
    y, P, S, W = data()
    rng = np.random.default_rng(3)
    Wr = W * rng.uniform(0.2, 3.0, size=W.shape)  # non-integer weights
    auc, auc_r = np.asarray(roc_auc(y, S, W)), np.asarray(roc_auc(y, S, Wr))
    assert auc.shape == (7,)
    for b in ORDINARY:
        for got, w in ((auc[b], W[b]), (auc_r[b], Wr[b])):
            np.testing.assert_allclose(got, roc_auc_score(y, S[b], sample_weight=w), rtol=1e-12)
        np.testing.assert_allclose(auc_r[b], mann_whitney(y, S[b], Wr[b]), rtol=1e-12)
    for b in range(4):
        m = held_out(b)
        np.testing.assert_allclose(auc[b], roc_auc_score(y[m], S[b, m]), rtol=1e-12)
    # One class present, or nothing at all: undefined.
    assert np.isnan(auc[ONE_CLASS]) and np.isnan(auc[EMPTY])
    # Continuous scores without weights; probabilities as scores.
    np.testing.assert_allclose(np.asarray(roc_auc(y, P))[1], roc_auc_score(y, P[1]), rtol=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(0, 1), min_size=12, max_size=12),
    st.lists(st.integers(-2, 2), min_size=12, max_size=12),
    st.lists(st.sampled_from([0.0, 0.5, 1.0, 2.0]), min_size=12, max_size=12),
)
def test_roc_auc_equals_pair_count(y, s, w):
    y, s, w = (np.asarray(a, np.float64) for a in (y, s, w))
    got = float(roc_auc(y, s, w))
    if (w * y).sum() == 0 or (w * (1 - y)).sum() == 0:
        assert np.isnan(got)
    else:
        np.testing.assert_allclose(got, mann_whitney(y, s, w), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_roc_auc_of_scores_ulps_apart(dtype):
    """Scores a few ulps apart, decreasing along the rows: the fast path's packed sort
    (score bits above, row index below) cannot order them; the answer must still be the
    exact pair count, batched with ordinary rows, in float64 and float32."""
    rng = np.random.default_rng(11)
    n = 40
    y = rng.integers(0, 2, size=n).astype(dtype)
    w = rng.uniform(0.5, 2.0, size=n).astype(dtype)
    base = np.full(n, 0.37, dtype)
    close = base + np.arange(n)[::-1].astype(dtype) * np.spacing(base)  # distinct, descending
    close[::7] = close[1::7][: len(close[::7])]  # and some exact ties
    ordinary = rng.normal(size=n).astype(dtype)
    S = np.stack([close, ordinary, close[::-1]])
    got = np.asarray(roc_auc(y, S, w))
    for b in range(3):
        s64, y64, w64 = (a.astype(np.float64) for a in (S[b], y, w))
        np.testing.assert_allclose(got[b], mann_whitney(y64, s64, w64),
                                   rtol=1e-6 if dtype == np.float32 else 1e-12)
        np.testing.assert_allclose(got[b], roc_auc_score(y, S[b], sample_weight=w),
                                   rtol=1e-6 if dtype == np.float32 else 1e-12)


def test_roc_auc_in_float32_without_x64_sorts_key_index_pairs():
    """Without 64-bit types (float32, the natural mode on a GPU) the AUC sorts (key,
    index) pairs: no fallback search in the program, and the exact pair count for scores
    ulps apart, ties and ordinary scores alike."""
    rng = np.random.default_rng(12)
    n = 40
    y = rng.integers(0, 2, size=n).astype(np.float32)
    w = rng.uniform(0.5, 2.0, size=n).astype(np.float32)
    base = np.full(n, 0.37, np.float32)
    close = base + np.arange(n)[::-1].astype(np.float32) * np.spacing(base)
    close[::7] = close[1::7][: len(close[::7])]
    S = np.stack([close, rng.normal(size=n).astype(np.float32)])
    with jax.enable_x64(False):
        got = np.asarray(roc_auc(y, S, w))
        program = str(jax.make_jaxpr(lambda s: roc_auc(y, s, w))(S))
    assert got.dtype == np.float32
    assert "cond" not in program
    for b in range(2):
        s64, y64, w64 = (a.astype(np.float64) for a in (S[b], y, w))
        np.testing.assert_allclose(got[b], mann_whitney(y64, s64, w64), rtol=1e-6)
        np.testing.assert_allclose(got[b], roc_auc_score(y, S[b], sample_weight=w), rtol=1e-6)


# --------------------------------------------------------------------------- reliability curve


def model(result, b):
    """Model ``b`` of a batched result, as NumPy arrays (indexing a JAX array compiles a
    program per shape; NumPy's compiles nothing)."""
    return jax.tree_util.tree_map(lambda a: np.asarray(a)[b], result)


def assert_curve_matches(curve, y, p, n_bins, strategy):
    """``curve`` (one model) equals scikit-learn's curve on its nonempty bins."""
    frac, mean = calibration_curve(y, p, n_bins=n_bins, strategy=strategy)
    nonempty = np.asarray(curve.weight) > 0
    np.testing.assert_allclose(curve.mean_predicted[nonempty], mean, rtol=1e-12)
    np.testing.assert_allclose(curve.fraction_positive[nonempty], frac, rtol=1e-12)
    assert np.all(np.isnan(curve.mean_predicted[~nonempty]))
    assert np.all(np.isnan(curve.fraction_positive[~nonempty]))


def test_reliability_uniform_matches_sklearn_and_its_edge_convention():
    y, P, _, W = data()
    P = P.copy()
    # Values on bin edges (sklearn puts them in the lower bin), at 0 and 1, and an empty bin.
    P[0, :8] = [0.0, 0.1, 0.2, 0.5, 0.7, 0.9, 1.0, 0.3]
    P[3] = np.where((P[3] > 0.4) & (P[3] <= 0.5), 0.55, P[3])
    curve = reliability_curve(y, P, n_bins=10)
    assert isinstance(curve, ReliabilityCurve)
    assert curve.mean_predicted.shape == curve.weight.shape == (7, 10)
    for b in range(7):
        assert_curve_matches(model(curve, b), y, P[b], 10, "uniform")
        ids = np.searchsorted(np.linspace(0, 1, 11)[1:-1], P[b])
        np.testing.assert_array_equal(model(curve, b).weight, np.bincount(ids, minlength=10))
    assert np.asarray(curve.weight)[3, 4] == 0
    # Integer weights are repeated rows; 0/1 weights are the subset.
    wc = reliability_curve(y, P, W, n_bins=10)
    rep = W[4].astype(int)
    assert_curve_matches(model(wc, 4), np.repeat(y, rep), np.repeat(P[4], rep), 10, "uniform")
    for b in range(4):
        m = held_out(b)
        assert_curve_matches(model(wc, b), y[m], P[b, m], 10, "uniform")
    empty = model(wc, EMPTY)
    assert np.all(empty.weight == 0) and np.all(np.isnan(empty.mean_predicted))


def weighted_quantile_loop(x, w, q):
    """The documented rule, one level at a time: positions S_j - w_j / 2 of the rows with
    positive weight, rescaled to [0, 1], linear interpolation between neighbours."""
    keep = w > 0
    order = np.argsort(x[keep], kind="stable")
    xs, ws = x[keep][order], w[keep][order]
    c = np.cumsum(ws) - ws / 2
    pos = (c - c[0]) / (c[-1] - c[0])
    out = []
    for level in q:
        j = max(k for k in range(len(xs)) if pos[k] <= level)
        if j == len(xs) - 1:
            out.append(xs[j])
        else:
            t = (level - pos[j]) / (pos[j + 1] - pos[j])
            out.append(xs[j] + t * (xs[j + 1] - xs[j]))
    return np.array(out)


def test_reliability_quantile_matches_sklearn_and_weighted_rule():
    # n_bins = 7 and subsets of 70 rows: no quantile falls exactly on a data point
    # (7 divides neither 199 nor 69), where ulp-level differences could move it across.
    y, P, _, W = data()
    curve = reliability_curve(y, P, n_bins=7, strategy="quantile")
    for b in range(7):
        assert_curve_matches(model(curve, b), y, P[b], 7, "quantile")
    weighted = reliability_curve(y, P, W, n_bins=7, strategy="quantile")
    for b in range(4):  # 0/1 weights: quantiles of the subset
        m = held_out(b)
        assert_curve_matches(model(weighted, b), y[m], P[b, m], 7, "quantile")
    # The edges themselves: NumPy's percentiles for 0/1 weights, the documented rule (a
    # loop) for the integer weights 0..3 of model 4.
    levels = np.linspace(0, 1, 8)[1:-1]
    edges = np.asarray(jax.jit(lambda p, w: _weighted_quantiles(p, w, levels))(P, W))
    for b in range(4):
        expect = np.percentile(P[b, held_out(b)], 100 * levels)
        np.testing.assert_allclose(edges[b], expect, rtol=1e-12)
    np.testing.assert_allclose(edges[4], weighted_quantile_loop(P[4], W[4], levels), rtol=1e-12)
    # Bins of model 4 from those edges, as np.searchsorted.
    edges = weighted_quantile_loop(P[4], W[4], levels)
    ids = np.searchsorted(edges, P[4])
    total = np.bincount(ids, weights=W[4], minlength=7)
    np.testing.assert_allclose(model(weighted, 4).weight, total, rtol=1e-12)
    expect = np.bincount(ids, weights=W[4] * y, minlength=7) / total
    np.testing.assert_allclose(model(weighted, 4).fraction_positive, expect, rtol=1e-12)
    # Quantiles do not depend on the scale of the weights.
    rescaled = reliability_curve(y, P, 3.0 * W, n_bins=7, strategy="quantile")
    np.testing.assert_allclose(model(rescaled, 4).mean_predicted,
                               model(weighted, 4).mean_predicted, rtol=1e-12)
    assert np.all(model(weighted, EMPTY).weight == 0)


def test_reliability_quantile_with_ties_leaves_bins_empty():
    # Heavy ties make several edges equal; scikit-learn then drops bins, here they are NaN.
    y, P, _, _ = data()
    coarse = np.round(P * 4) / 4
    curve = reliability_curve(y, coarse, n_bins=7, strategy="quantile")
    for b in range(7):
        assert_curve_matches(model(curve, b), y, coarse[b], 7, "quantile")
    assert np.any(np.asarray(curve.weight) == 0)


# --------------------------------------------------------------------------- calibration


def calibration_reference(y, p, w=None):
    """Intercept (offset logit, no other term) and slope (on logit, with intercept)."""
    eps = np.finfo(np.float64).eps
    lp = logit(np.clip(p, eps, 1 - eps))
    intercept = glm(y, np.ones((len(y), 1)), w, offset=lp)[0]
    slope = glm(y, sm.add_constant(lp), w)[1]
    return intercept, slope


def test_calibration_matches_statsmodels():
    y, P, _, W = data()
    res = calibration(y, P, W)
    assert isinstance(res, CalibrationResult) and res.slope.shape == (7,)
    res = jax.tree_util.tree_map(np.asarray, res)
    for b in range(4):  # 0/1 weights: statsmodels on the held-out rows only
        m = held_out(b)
        np.testing.assert_allclose((res.intercept[b], res.slope[b]),
                                   calibration_reference(y[m], P[b, m]), rtol=1e-8)
    np.testing.assert_allclose((res.intercept[4], res.slope[4]),
                               calibration_reference(y, P[4], W[4]), rtol=1e-8)
    # One class only (no finite estimate) or no rows: NaN.
    for b in (ONE_CLASS, EMPTY):
        assert np.isnan(res.intercept[b]) and np.isnan(res.slope[b])


# --------------------------------------------------------------------------- Platt scaling


def platt_targets(y, w):
    """Platt's smoothed targets, as scikit-learn's ``_sigmoid_calibration`` builds them."""
    n_pos, n_neg = (w * y).sum(), (w * (1 - y)).sum()
    return np.where(y > 0, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))


def test_platt_scaling_matches_sklearn_and_statsmodels():
    y, _, S, W = data()
    cal = platt_scaling(S, y, W)
    assert isinstance(cal, PlattCalibrator) and cal.a.shape == cal.status.shape == (7,)
    got = jax.tree_util.tree_map(np.asarray, cal)
    for b in ORDINARY:
        assert got.status[b] == Status.CONVERGED
        A, B = _sigmoid_calibration(S[b], y, sample_weight=W[b])
        np.testing.assert_allclose((got.a[b], got.b[b]), (-A, -B), rtol=1e-5)  # a = -A, b = -B
        b_ref, a_ref = glm(platt_targets(y, W[b]), sm.add_constant(S[b]), W[b])
        np.testing.assert_allclose((got.a[b], got.b[b]), (a_ref, b_ref), rtol=1e-8)
    for b in range(4):  # 0/1 weights: the held-out rows only
        m = held_out(b)
        b_ref, a_ref = glm(platt_targets(y[m], np.ones(m.sum())), sm.add_constant(S[b, m]))
        np.testing.assert_allclose((got.a[b], got.b[b]), (a_ref, b_ref), rtol=1e-8)
    # One class: every target is 1 / (N- + 2), so a = 0 and b = logit(1 / (N- + 2)).
    assert got.status[ONE_CLASS] == Status.CONVERGED
    np.testing.assert_allclose(got.a[ONE_CLASS], 0.0, atol=1e-10)
    np.testing.assert_allclose(got.b[ONE_CLASS], logit(1 / (HELD_OUT + 2)), rtol=1e-10)
    assert got.status[EMPTY] != Status.CONVERGED
    # Calling it: scikit-learn's predict, on new scores shared by the batch.
    new = np.linspace(-4, 4, 9)
    A, B = _sigmoid_calibration(S[1], y, sample_weight=W[1])
    np.testing.assert_allclose(np.asarray(cal(new))[1], expit(-(A * new + B)), rtol=1e-5)
    a, b = np.asarray(cal.a)[:, None], np.asarray(cal.b)[:, None]
    np.testing.assert_allclose(cal(new), expit(a * new + b), rtol=1e-12)


def test_platt_scaling_without_prior_correction_is_a_logistic_regression():
    y, _, S, W = data()
    cal = jax.tree_util.tree_map(np.asarray, platt_scaling(S, y, W, prior_correction=False))
    for b in ORDINARY:
        b_ref, a_ref = glm(y, sm.add_constant(S[b]), W[b])
        np.testing.assert_allclose((cal.a[b], cal.b[b]), (a_ref, b_ref), rtol=1e-8)
    assert cal.status[ONE_CLASS] != Status.CONVERGED  # labels all 0: no finite estimate


# --------------------------------------------------------------------------- batches, jit, dtypes


def test_batched_equals_loop_and_broadcasting():
    # log_loss and brier_score are compared model by model with scikit-learn above.
    y, P, S, W = data()
    auc = np.asarray(roc_auc(y, S, W))
    # Its arrays in NumPy: indexing them compiles nothing.
    curve = jax.tree_util.tree_map(
        np.asarray, reliability_curve(y, P, W, n_bins=7, strategy="quantile"))
    for b in range(7):
        np.testing.assert_allclose(roc_auc(y, S[b], W[b]), auc[b], rtol=1e-14, equal_nan=True)
        one = reliability_curve(y, P[b], W[b], n_bins=7, strategy="quantile")
        assert jax.tree_util.tree_structure(curve[b]) == jax.tree_util.tree_structure(one)
        for got, want in zip(jax.tree_util.tree_leaves(one), jax.tree_util.tree_leaves(curve[b]),
                             strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-14, equal_nan=True)
    # y shared by the batch is y repeated; weights (2, 7, N) against scores (7, N).
    np.testing.assert_array_equal(roc_auc(np.broadcast_to(y, S.shape), S, W), auc)
    W2 = np.stack([W, W[::-1]])
    auc2 = np.asarray(roc_auc(y, S, W2))
    assert auc2.shape == (2, 7)
    np.testing.assert_array_equal(auc2[0], auc)
    np.testing.assert_array_equal(auc2[1], roc_auc(y, S, W[::-1]))


def test_metrics_under_jit_and_vmap():
    y, P, S, W = data()
    jitted = jax.jit(lambda y, s, w: (roc_auc(y, s, w), log_loss(y, jax.nn.sigmoid(s), w)))
    auc, ll = jitted(y, S, W)
    np.testing.assert_allclose(auc, roc_auc(y, S, W), rtol=1e-14, equal_nan=True)
    np.testing.assert_allclose(ll, log_loss(y, expit(S), W), rtol=1e-12, equal_nan=True)
    vmapped = jax.vmap(lambda p, w: reliability_curve(y, p, w, n_bins=7, strategy="quantile"))(P, W)
    direct = reliability_curve(y, P, W, n_bins=7, strategy="quantile")
    for got, want in zip(jax.tree_util.tree_leaves(vmapped), jax.tree_util.tree_leaves(direct),
                         strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-14, equal_nan=True)


def test_float32():
    y, P, S, W = data()
    y32, P32, S32, W32 = (a.astype(np.float32) for a in (y, P, S, W))
    ll, bs, auc = log_loss(y32, P32, W32), brier_score(y32, P32, W32), roc_auc(y32, S32, W32)
    curve = reliability_curve(y32, P32, W32, n_bins=10)
    res = calibration(y32, P32, W32)
    for a in (ll, bs, auc, *jax.tree_util.tree_leaves(curve), res.intercept, res.slope):
        assert a.dtype == jnp.float32
    np.testing.assert_allclose(ll, log_loss(y, P, W), rtol=1e-5, equal_nan=True)
    np.testing.assert_allclose(bs, brier_score(y, P, W), rtol=1e-5, equal_nan=True)
    np.testing.assert_allclose(auc, roc_auc(y, S, W), rtol=1e-5, equal_nan=True)
    np.testing.assert_allclose(curve.weight, reliability_curve(y, P, W, n_bins=10).weight)
    res = jax.tree_util.tree_map(np.asarray, res)
    for b in ORDINARY:
        ref_i, ref_s = calibration_reference(y, P[b], W[b])
        np.testing.assert_allclose(
            (res.intercept[b], res.slope[b]), (ref_i, ref_s), rtol=2e-3, atol=2e-3
        )
    assert np.isnan(res.slope[ONE_CLASS]) and np.isnan(res.slope[EMPTY])


# --------------------------------------------------------------------------- validation


def test_bad_input_raises_naming_the_argument():
    y, P, S, W = data()
    with pytest.raises(ValueError, match="^weights: last axis"):
        log_loss(y, P, W[:, :-1])
    with pytest.raises(ValueError, match="^y: last axis"):
        roc_auc(y[:-1], S)
    with pytest.raises(ValueError, match="batch axes do not broadcast"):
        brier_score(y, P, W[:3])
    with pytest.raises(ValueError, match="^p: expected at least 1 dimension"):
        calibration(y, 0.5)
    with pytest.raises(ValueError, match="^score: no observations"):
        platt_scaling(np.zeros((3, 0)), np.zeros(0))
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="^n_bins:"):
            reliability_curve(y, P, n_bins=bad)
    with pytest.raises(ValueError, match="^strategy:"):
        reliability_curve(y, P, strategy="kmeans")
    cal = PlattCalibrator(np.zeros(7), np.zeros(7), np.zeros(7, np.int32))
    with pytest.raises(ValueError, match="^score: batch axes"):
        cal(np.zeros((3, 5)))
