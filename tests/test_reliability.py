"""Statuses that mean what they say at the edges: rare events in float32, large offsets,
huge weights, settings that cannot work, a covariance that cannot be formed, and models
that must not touch their neighbours."""

from __future__ import annotations

import warnings

import jax
import numpy as np
import pytest
import statsmodels.api as sm

import jaxlogreg
from _data import simulate
from jaxlogreg import Status


def _rare(n=100_000, d=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = np.zeros(n)
    y[rng.integers(n)] = 1.0
    return X, y


def test_float32_rare_events_converge_to_float64_precision_or_say_not():
    """One positive in 100,000 rows: the mean loss's gradient and decrement scale with the
    positive rate, so an absolute test was met after one step. Against statsmodels: float64
    to 1e-7, float32 to float32 accuracy (or a status other than CONVERGED)."""
    X, y = _rare()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = sm.Logit(y, sm.add_constant(X)).fit(disp=0, method="newton", maxiter=100).params
    r64 = jaxlogreg.fit(X, y)
    assert int(r64.status) == int(Status.CONVERGED)
    np.testing.assert_allclose(r64.params, ref, rtol=1e-7)
    r32 = jaxlogreg.fit(X.astype(np.float32), y.astype(np.float32))
    if int(r32.status) == int(Status.CONVERGED):
        np.testing.assert_allclose(np.asarray(r32.params, np.float64), ref, rtol=1e-3)


@pytest.mark.parametrize("dtype, offset", [(np.float64, 30.0), (np.float64, 100.0),
                                           (np.float32, 30.0), (np.float32, 100.0)])
def test_a_large_offset_is_fitted(dtype, offset):
    """The default start takes the offset into account: statsmodels' GLM with ``offset=``."""
    rng = np.random.default_rng(1)
    n = 500
    X = rng.normal(size=(n, 2))
    y = simulate(rng, X, -0.5, [0.8, -0.4])
    o = np.full(n, offset)
    ref = sm.GLM(y, sm.add_constant(X), family=sm.families.Binomial(), offset=o).fit().params
    res = jaxlogreg.fit(X.astype(dtype), y.astype(dtype), offset=o.astype(dtype))
    assert int(res.status) == int(Status.CONVERGED)
    rtol = 1e-9 if dtype == np.float64 else 1e-4
    np.testing.assert_allclose(np.asarray(res.params, np.float64), ref, rtol=rtol, atol=rtol)


@pytest.mark.parametrize("dtype, scale", [(np.float64, 1e160), (np.float32, 1e19)])
def test_huge_weights_give_the_unweighted_fit(dtype, scale):
    """Weights near the square root of the largest float: the gradient's rounding bound no
    longer overflows (which let every model pass as converged); the fit is the unweighted
    one, with a gradient norm below the tolerance."""
    rng = np.random.default_rng(2)
    X = rng.normal(size=(300, 3)).astype(dtype)
    y = simulate(rng, X, 0.2, [0.5, -1.0, 0.3]).astype(dtype)
    plain = jaxlogreg.fit(X, y)
    heavy = jaxlogreg.fit(X, y, weights=np.full(300, scale, dtype))
    assert int(heavy.status) == int(Status.CONVERGED)
    tol = 1e-10 if dtype == np.float64 else 1e-5
    assert float(heavy.grad_norm) <= tol
    np.testing.assert_allclose(heavy.params, plain.params, rtol=10 * tol, atol=10 * tol)


@pytest.mark.parametrize("kwargs, message", [
    (dict(tol=np.inf), "tol: must be below 1"),
    (dict(tol=1e300), "tol: must be below 1"),
    (dict(tol=-1.0), "tol: must be positive"),
    (dict(max_iter=2**31), "max_iter: must be at most 2147483647"),
    (dict(max_iter=2.5), "max_iter: expected an integer"),
    (dict(max_iter=True), "max_iter: expected an integer"),
    (dict(chunk_size=1.7), "chunk_size: must be a positive integer"),
    (dict(chunk_size=0), "chunk_size: must be a positive integer"),
    (dict(fit_intercept="no"), "fit_intercept: expected True or False"),
])
def test_settings_that_cannot_work_are_refused(kwargs, message):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(40, 2))
    y = (rng.random(40) < 0.5) * 1.0
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(").replace(")", r"\)")
                       .replace("[", r"\[").replace("]", r"\]")):
        jaxlogreg.fit(X, y, weights=np.ones((2, 40)), **kwargs)


def test_complex_data_are_refused():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(40, 2))
    y = (rng.random(40) < 0.5) * 1.0
    with pytest.raises(ValueError, match="^X: expected real values"):
        jaxlogreg.fit(X + 1j, y)
    with pytest.raises(ValueError, match="^weights: expected real values"):
        jaxlogreg.fit(X, y, weights=np.ones(40) + 0j)


def test_cluster_covariance_of_one_cluster_is_not_valid():
    """A single cluster leaves the CRV1 correction undefined: NaN standard errors and
    ``valid`` False (two clusters: finite and valid)."""
    rng = np.random.default_rng(5)
    X = rng.normal(size=(60, 2))
    y = simulate(rng, X, 0.0, [0.7, -0.3])
    res = jaxlogreg.fit(X, y)
    one = jaxlogreg.inference(res, X, y, cov_type="cluster", groups=np.zeros(60, int))
    assert not bool(one.valid) and np.all(np.isnan(one.bse))
    assert np.isnan(float(one.llr_pvalue))
    two = jaxlogreg.inference(res, X, y, cov_type="cluster", groups=np.arange(60) % 2)
    assert bool(two.valid) and np.all(np.isfinite(two.bse))


def test_invalid_models_leave_the_others_as_the_valid_members_alone_would():
    """Under jit, a NaN weight and a negative weight stop their models (NONFINITE, INVALID)
    and stay out of the pooled start: the other models' answers are those of a batch of the
    valid members alone."""
    rng = np.random.default_rng(6)
    n, B = 200, 30
    X = rng.normal(size=(n, 3))
    y = simulate(rng, X, -0.2, [0.6, -0.4, 0.2])
    W = (rng.random((B, n)) < 0.7) * 1.0
    bad = W.copy()
    bad[3, 5], bad[7, 2] = np.nan, -1.0
    fit = jax.jit(lambda W: jaxlogreg.fit(X, y, weights=W))
    res = fit(bad)
    assert int(res.status[3]) == int(Status.NONFINITE)
    assert int(res.status[7]) == int(Status.INVALID)
    rest = np.setdiff1d(np.arange(B), [3, 7])
    alone = jaxlogreg.fit(X, y, weights=W[rest])
    np.testing.assert_array_equal(np.asarray(res.status)[rest], alone.status)
    np.testing.assert_array_equal(np.asarray(res.n_iter)[rest], alone.n_iter)
    np.testing.assert_allclose(np.asarray(res.params)[rest], alone.params, rtol=1e-13,
                               atol=1e-15)
