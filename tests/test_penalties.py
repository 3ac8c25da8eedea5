"""Penalties, class weights, binomial counts and regularisation paths of `jaxlogreg.fit`.

References: scikit-learn's `LogisticRegression` (whose objective is ours times
``C * sum w``, so ``alpha = 1 / (C * sum w)``), statsmodels' binomial GLM on counts, the data
expanded into repeated rows, the optimality (KKT) conditions evaluated in NumPy, and
independent fits at each strength of a path.
"""

from __future__ import annotations

import functools
import re
import warnings

import jax
import numpy as np
import pytest
import statsmodels.api as sm
from sklearn.linear_model import LogisticRegression

import jaxlogreg
from _data import simulate
from jaxlogreg import Status

RTOL = 1e-7


@functools.cache
def data(seed=0, n=400):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)) * np.array([1.0, 2.0, 0.5, 1.0])
    y = simulate(rng, X, -1.0, [0.9, -0.4, 0.6, 0.0])
    w = rng.integers(1, 4, size=n).astype(np.float64)
    return X, y, w


def sk_fit(X, y, C, sw=None, **kw):
    m = LogisticRegression(C=C, tol=1e-13, max_iter=100_000, **kw).fit(X, y, sample_weight=sw)
    return np.concatenate([m.intercept_, m.coef_.ravel()])


def kkt_gradient(X, y, w, params, l2, pf):
    """Gradient of the penalised objective in NumPy, intercept first and unpenalised."""
    Xc = np.column_stack([np.ones(len(y)), X])
    mu = 1.0 / (1.0 + np.exp(-(Xc @ params)))
    g = Xc.T @ (w * (mu - y)) / w.sum()
    return g + l2 * np.concatenate([[0.0], pf]) * params


# --------------------------------------------------------------------------------------------
# L2
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("C", [0.01, 0.3, 10.0])
def test_l2_matches_scikit_learn_with_C_mapped(C):
    X, y, w = data()
    res = jaxlogreg.fit(X, y, weights=w, alpha=1.0 / (C * w.sum()))
    model = LogisticRegression(C=C, tol=1e-13, max_iter=100_000).fit(X, y, sample_weight=w)
    expected = np.concatenate([model.intercept_, model.coef_.ravel()])
    assert int(res.status) == Status.CONVERGED
    np.testing.assert_allclose(res.params, expected, rtol=1e-6, atol=1e-9)


def test_batched_alpha_equals_a_loop_and_shrinks():
    X, y, w = data()
    alphas = np.array([0.0, 1e-3, 1e-2, 1e-1, 1.0])
    batch = jaxlogreg.fit(X, y, weights=w, alpha=alphas)
    assert batch.coef.shape == (5, 4)
    params = np.asarray(batch.params)  # indexed in NumPy: no program per index
    for k, a in enumerate(alphas):
        one = jaxlogreg.fit(X, y, weights=w, alpha=a)
        np.testing.assert_allclose(params[k], one.params, rtol=RTOL, atol=1e-10)
    norms = np.linalg.norm(np.asarray(batch.coef), axis=1)
    assert np.all(np.diff(norms) < 0)


def test_alpha_broadcasts_with_a_weights_batch():
    X, y, w = data()
    W = np.stack([w, np.ones_like(w), w[::-1]])
    alphas = np.array([[0.01], [0.1]])  # (2, 1) against (3,) models: batch (2, 3)
    res = jaxlogreg.fit(X, y, weights=W, alpha=alphas)
    assert res.coef.shape == (2, 3, 4)
    params = np.asarray(res.params)  # indexed in NumPy: no program per index
    for i in range(2):
        for j in range(3):
            one = jaxlogreg.fit(X, y, weights=W[j], alpha=alphas[i, 0])
            np.testing.assert_allclose(params[i, j], one.params, rtol=RTOL, atol=1e-10)


def test_penalty_factor_equals_rescaled_columns():
    """A ridge penalty factor pf_j equals unit penalty on column j divided by sqrt(pf_j)."""
    X, y, w = data()
    pf = np.array([0.25, 1.0, 4.0, 2.0])
    alpha = 0.05
    res = jaxlogreg.fit(X, y, weights=w, alpha=alpha, penalty_factor=pf)
    scaled = sk_fit(X / np.sqrt(pf), y, 1.0 / (alpha * w.sum()), sw=w)
    expected = np.concatenate([scaled[:1], scaled[1:] / np.sqrt(pf)])
    np.testing.assert_allclose(res.params, expected, rtol=1e-6, atol=1e-9)


def test_zero_penalty_factor_leaves_a_coefficient_unpenalised():
    X, y, w = data()
    pf = np.array([1.0, 0.0, 1.0, 1.0])
    alpha = 0.5
    res = jaxlogreg.fit(X, y, weights=w, alpha=alpha, penalty_factor=pf)
    g = kkt_gradient(X, y, w, np.asarray(res.params), alpha, pf)
    np.testing.assert_allclose(g, 0.0, atol=1e-9)
    # the unpenalised coefficient keeps its size while the others shrink a lot
    free = jaxlogreg.fit(X, y, weights=w)
    shrink = np.abs(np.asarray(res.coef)) / np.abs(np.asarray(free.coef))
    assert shrink[1] > 0.5 and np.all(shrink[[0, 2]] < 0.5)


# --------------------------------------------------------------------------------------------
# Class weights, binomial counts
# --------------------------------------------------------------------------------------------


def test_balanced_class_weight_matches_scikit_learn():
    X, y, _ = data(seed=1)
    res = jaxlogreg.fit(X, y, class_weight="balanced")
    expected = sk_fit(X, y, np.inf, class_weight="balanced")
    np.testing.assert_allclose(res.params, expected, rtol=1e-6, atol=1e-9)


def test_class_weight_mapping_matches_scikit_learn_with_penalty():
    X, y, _ = data(seed=1)
    C = 0.5
    # The objective's normalising sum is that of the class-weighted weights.
    total = np.sum(np.where(y == 1, 2.5, 0.3))
    res = jaxlogreg.fit(X, y, class_weight={0: 0.3, 1: 2.5}, alpha=1.0 / (C * total))
    expected = sk_fit(X, y, C, class_weight={0: 0.3, 1: 2.5})
    np.testing.assert_allclose(res.params, expected, rtol=1e-6, atol=1e-9)


def test_balanced_with_frequency_weights_equals_expanded_rows():
    X, y, w = data(seed=2)
    res = jaxlogreg.fit(X, y, weights=w, class_weight="balanced")
    reps = w.astype(int)
    expanded = jaxlogreg.fit(np.repeat(X, reps, axis=0), np.repeat(y, reps),
                             class_weight="balanced")
    np.testing.assert_allclose(res.params, expanded.params, rtol=1e-9, atol=1e-12)


def test_balanced_is_per_model_in_a_batch():
    X, y, w = data(seed=3)
    W = np.stack([np.ones_like(w), w])
    res = jaxlogreg.fit(X, y, weights=W, class_weight="balanced")
    params = np.asarray(res.params)  # indexed in NumPy: no program per index
    for b in range(2):
        one = jaxlogreg.fit(X, y, weights=W[b], class_weight="balanced")
        np.testing.assert_allclose(params[b], one.params, rtol=RTOL, atol=1e-10)


@functools.cache
def counts(seed=4, n=120):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    trials = rng.integers(0, 6, size=n).astype(np.float64)
    trials[0] = 3.0
    p = 1.0 / (1.0 + np.exp(-(0.3 + X @ np.array([0.8, -0.6]))))
    successes = rng.binomial(trials.astype(int), p).astype(np.float64)
    return X, successes, trials


def test_trials_equal_expanded_zero_one_rows():
    X, k, t = counts()
    res = jaxlogreg.fit(X, k, trials=t)
    rows = np.repeat(np.arange(len(t)), t.astype(int))
    labels = np.concatenate([np.r_[np.ones(int(a)), np.zeros(int(b - a))]
                             for a, b in zip(k, t, strict=True)])
    expanded = jaxlogreg.fit(X[rows], labels)
    np.testing.assert_allclose(res.params, expanded.params, rtol=1e-9, atol=1e-12)


def test_trials_match_statsmodels_binomial_counts():
    X, k, t = counts()
    keep = t > 0
    endog = np.column_stack([k, t - k])[keep]
    ref = sm.GLM(endog, sm.add_constant(X[keep]), family=sm.families.Binomial()).fit(tol=1e-13)
    res = jaxlogreg.fit(X, k, trials=t)
    np.testing.assert_allclose(res.params, ref.params, rtol=1e-8)


def test_trials_with_class_weight_equal_expanded_rows():
    X, k, t = counts()
    cw = {0: 0.5, 1: 3.0}
    res = jaxlogreg.fit(X, k, trials=t, class_weight=cw)
    rows = np.repeat(np.arange(len(t)), t.astype(int))
    labels = np.concatenate([np.r_[np.ones(int(a)), np.zeros(int(b - a))]
                             for a, b in zip(k, t, strict=True)])
    expanded = jaxlogreg.fit(X[rows], labels, class_weight=cw)
    np.testing.assert_allclose(res.params, expanded.params, rtol=1e-9, atol=1e-12)


# --------------------------------------------------------------------------------------------
# Paths
# --------------------------------------------------------------------------------------------


@functools.cache
def ridge_path():
    """``(W, path)``: the ridge path of ``data()`` on its default grid of six strengths, for
    two models (the frequency weights, unit weights); one path (one set of programs) for the
    tests of the path and of its grid."""
    X, y, w = data()
    W = np.stack([w, np.ones_like(w)])
    return W, jaxlogreg.path(X, y, l1_ratio=0.0, n_alphas=6, weights=W)


def test_ridge_path_equals_independent_fits():
    X, y, _ = data()
    W, result = ridge_path()
    assert result.alphas.shape == (6, 2) and result.fits.coef.shape == (6, 2, 4)
    alphas = np.asarray(result.alphas)
    assert np.all(np.diff(alphas, axis=0) < 0)
    np.testing.assert_allclose(alphas[-1] / alphas[0], 1e-4, rtol=1e-12)
    independent = jaxlogreg.fit(X, y, weights=W, alpha=alphas)
    np.testing.assert_allclose(result.fits.params, independent.params, rtol=RTOL, atol=1e-9)
    assert np.all(np.asarray(result.fits.status) == Status.CONVERGED)


def test_ridge_alpha_max_is_glmnet_start():
    """The default grid starts at max_j |X_j^T r| / (sum w * 1e-3) for a ridge path, for
    each model of a batch (its own weights w)."""
    X, y, _ = data()
    W, result = ridge_path()
    first = np.asarray(result.alphas)[0]
    for b, w in enumerate(W):
        ybar = np.sum(w * y) / w.sum()
        r = w * (ybar - y)
        expected = np.max(np.abs(X.T @ r)) / (w.sum() * 1e-3)
        np.testing.assert_allclose(first[b], expected, rtol=1e-10)


def test_path_with_given_alphas_and_indexing():
    X, y, _ = data()
    alphas = [1.0, 0.1, 0.01]
    result = jaxlogreg.path(X, y, alphas, l1_ratio=0.0)
    for k, a in enumerate(alphas):
        one = jaxlogreg.fit(X, y, alpha=a)
        np.testing.assert_allclose(result[k].fits.params, one.params, rtol=RTOL, atol=1e-10)
        assert float(result[k].alphas) == a


# --------------------------------------------------------------------------------------------
# Boundary checks
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(alpha=-1.0), "alpha: must be finite and nonnegative, got -1.0"),
        (dict(alpha=[0.1, np.nan]), "alpha: must be finite and nonnegative, got nan at index (1,)"),
        (dict(l1_ratio=1.5), "l1_ratio: must be in [0, 1], got 1.5"),
        (dict(l1_ratio="lasso"), "l1_ratio: must be a number in [0, 1]"),
        (dict(penalty_factor=[1.0, 1.0]), "penalty_factor: expected shape (d,) = (4,)"),
        (dict(penalty_factor=[1.0, -1.0, 1.0, 1.0]),
         "penalty_factor: must be finite and nonnegative, got -1.0 at index (1,)"),
        (dict(alpha=0.1, l1_ratio=0.5, solver="newton"),
         "solver: 'newton' handles smooth penalties only"),
        (dict(class_weight="auto"), "class_weight: expected 'balanced'"),
        (dict(class_weight={2: 1.0}), "class_weight: keys must be the labels 0 and 1"),
        (dict(class_weight={1: -1.0}),
         "class_weight: weight of class 1 must be finite and positive"),
        (dict(alpha=np.ones(3), weights=np.ones((2, 400))), "batch axes do not broadcast"),
    ],
)
def test_bad_penalty_arguments(kwargs, message):
    X, y, _ = data()
    with pytest.raises(ValueError, match=re.escape(message)):
        jaxlogreg.fit(X, y, **kwargs)


def test_bad_trials():
    X, k, t = counts()
    bad = t.copy()
    bad[5] = -1.0
    with pytest.raises(ValueError, match=re.escape(
            "trials: must be finite and nonnegative, got -1.0 at index (5,)")):
        jaxlogreg.fit(X, k, trials=bad)
    more = k.copy()
    more[0] = t[0] + 1
    with pytest.raises(ValueError, match=re.escape(
            "y: successes must be between 0 and trials, got 4.0 of 3.0 trials at index (0,)")):
        jaxlogreg.fit(X, more, trials=t)
    with pytest.raises(ValueError, match=re.escape("weights: all weights * trials are zero")):
        jaxlogreg.fit(X, k * 0, trials=t * 0)


def test_bad_path_arguments():
    X, y, _ = data()
    with pytest.raises(ValueError, match="n_alphas: must be a positive integer"):
        jaxlogreg.path(X, y, l1_ratio=0.0, n_alphas=0)
    with pytest.raises(ValueError, match="alpha_min_ratio: must be in"):
        jaxlogreg.path(X, y, l1_ratio=0.0, alpha_min_ratio=2.0)
    with pytest.raises(ValueError, match=re.escape(
            "alphas: must be finite and nonnegative, got -1.0 at index (1,)")):
        jaxlogreg.path(X, y, [1.0, -1.0], l1_ratio=0.0)


# --------------------------------------------------------------------------------------------
# Firth's method through fit
# --------------------------------------------------------------------------------------------


def test_fit_firth_maximises_the_penalised_likelihood_under_separation():
    """``fit(firth=True)`` on completely separated data: finite estimates at a stationary
    point of l(beta) + 1/2 log det I(beta), whose gradient is computed here in NumPy by
    central differences."""
    rng = np.random.default_rng(9)
    X = rng.normal(size=(40, 2))
    y = (X[:, 0] > 0).astype(float)
    assert int(jaxlogreg.fit(X, y).status) == Status.SEPARATED
    res = jaxlogreg.fit(X, y, firth=True)
    assert int(res.status) == Status.CONVERGED and np.all(np.isfinite(res.params))
    Xc = np.column_stack([np.ones(40), X])

    def penalised(beta):
        eta = Xc @ beta
        mu = 1 / (1 + np.exp(-eta))
        loglik = np.sum(y * eta - np.logaddexp(0, eta))
        return loglik + 0.5 * np.linalg.slogdet(Xc.T @ (Xc * (mu * (1 - mu))[:, None]))[1]

    beta = np.asarray(res.params)
    h = 1e-5
    grad = [(penalised(beta + h * e) - penalised(beta - h * e)) / (2 * h) for e in np.eye(3)]
    np.testing.assert_allclose(grad, 0.0, atol=1e-6)
    with pytest.raises(ValueError, match="alpha: Firth's method takes no other penalty"):
        jaxlogreg.fit(X, y, firth=True, alpha=0.1)
    with pytest.raises(ValueError, match="link: Firth's method is for the logit link"):
        jaxlogreg.fit(X, y, firth=True, link="probit")
    # Inside the caller's jit: the default alpha (a number) is still known to be 0.
    jitted = jax.jit(lambda X, y: jaxlogreg.fit(X, y, firth=True))(X, y)
    np.testing.assert_allclose(jitted.params, res.params, rtol=1e-10)
    with pytest.raises(ValueError, match="alpha: Firth's method takes no other penalty"):
        jax.jit(lambda X, y, a: jaxlogreg.fit(X, y, firth=True, alpha=a))(X, y, 0.0)


# --------------------------------------------------------------------------------------------
# Elastic net against glum, whose objective is this library's (the glmnet convention)
# --------------------------------------------------------------------------------------------


def test_elastic_net_matches_glum():
    """Elastic net (``l1_ratio`` in (0, 1)), with frequency weights and per-coefficient
    penalty factors, one batched call over a grid of strengths: the same coefficients, zero
    pattern and objective value as glum's ``GeneralizedLinearRegressor(family="binomial")``
    (its ``P1``, ``P2`` are the penalty factors), the objective evaluated here in NumPy."""
    from glum import GeneralizedLinearRegressor

    rng = np.random.default_rng(3)
    n, d = 300, 6
    X = rng.normal(size=(n, d)) @ np.linalg.cholesky(0.5 * np.eye(d) + 0.5).T
    beta = np.array([1.0, -0.8, 0.0, 0.0, 0.4, 0.0])
    y = (rng.random(n) < 1 / (1 + np.exp(-(-0.5 + X @ beta)))).astype(float)
    w = rng.integers(1, 4, size=n).astype(float)
    pf = np.array([1.0, 1.0, 2.0, 1.0, 0.5, 1.0])
    alphas = np.array([0.1, 0.05, 0.02, 0.005])

    def objective(b0, b, alpha, ratio):
        eta = b0 + X @ b
        nll = np.sum(w * (np.logaddexp(0, eta) - y * eta)) / w.sum()
        return nll + alpha * (ratio * np.sum(pf * np.abs(b)) + (1 - ratio) / 2 * np.sum(pf * b * b))

    for ratio in (0.3, 0.7):
        res = jaxlogreg.fit(X, y, weights=w, alpha=alphas, l1_ratio=ratio, penalty_factor=pf,
                            solver="prox_newton")
        assert np.all(np.asarray(res.status) == Status.CONVERGED)
        # Indexed in NumPy: an eager index of a JAX array compiles a program per shape.
        coefs, intercepts = np.asarray(res.coef), np.asarray(res.intercept)
        for i, alpha in enumerate(alphas):
            ref = GeneralizedLinearRegressor(
                family="binomial", alpha=alpha, l1_ratio=ratio, P1=pf, P2=pf,
                gradient_tol=1e-12, max_iter=1000,
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # glum's line search at its optimum
                ref.fit(X, y, sample_weight=w)
            coef = coefs[i]
            np.testing.assert_array_equal(coef == 0, ref.coef_ == 0)
            np.testing.assert_allclose(coef, ref.coef_, rtol=1e-7, atol=1e-9)
            ours = objective(float(intercepts[i]), coef, alpha, ratio)
            assert ours <= objective(ref.intercept_, ref.coef_, alpha, ratio) + 1e-14
