"""Tests of ``jaxlogreg._simulate.simulate``.

References: scipy.stats distribution functions for each inverse link and
``scipy.optimize.brentq`` for the intercept that meets a positive rate; statsmodels fits
(Logit, Probit, GLM Binomial with the CLogLog or Cauchy link) for coefficient recovery;
binomial and normal sampling errors for rates, calibration and feature moments.

Every draw shares one shape (N rows, D features) so that a configuration compiles once.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import statsmodels.api as sm
from scipy import optimize, stats

from jaxlogreg import _links
from jaxlogreg._simulate import Simulated, simulate

N, D = 20_000, 3
COEF = np.array([0.8, -0.5, 0.3])
RATE = 0.3
DIST = {
    "logit": stats.logistic,
    "probit": stats.norm,
    "cloglog": stats.gumbel_l,
    "cauchit": stats.cauchy,
}
COV = np.array([[2.0, 0.6, 0.0], [0.6, 1.0, -0.3], [0.0, -0.3, 0.5]])


@functools.cache
def drawn(link: str) -> Simulated:
    """One data set per link, its intercept solved for RATE (cached across tests)."""
    seed = _links.LINKS.index(link)
    sim = simulate(jax.random.key(seed), N, COEF, positive_rate=RATE, link=link)
    return Simulated(*(np.asarray(a) for a in sim))


def _as_numpy(sim):
    return Simulated(*(np.asarray(a) for a in sim))


@pytest.mark.parametrize("link", _links.LINKS)
def test_intercept_meets_the_positive_rate(link):
    sim = drawn(link)
    F = DIST[link].cdf
    offset = sim.X @ COEF
    # The solved intercept is brentq's root of mean F(a + X coef) = RATE on the same X.
    root = optimize.brentq(lambda a: F(a + offset).mean() - RATE, -50.0, 50.0, xtol=1e-14)
    assert abs(sim.intercept - root) <= 1e-10
    assert abs(F(sim.intercept + offset).mean() - RATE) <= 1e-12
    # The labels meet it up to binomial sampling error given X.
    se = np.sqrt(np.sum(sim.mu * (1.0 - sim.mu))) / N
    assert abs(sim.y.mean() - RATE) <= 4 * se


@pytest.mark.parametrize("link", _links.LINKS)
def test_labels_follow_the_inverse_link(link):
    sim = drawn(link)
    assert sim.X.shape == (N, D) and sim.y.shape == (N,) and sim.intercept.shape == ()
    np.testing.assert_array_equal(sim.coef, COEF)
    np.testing.assert_allclose(sim.eta, sim.intercept + sim.X @ COEF, rtol=1e-13, atol=1e-13)
    F = DIST[link].cdf(sim.eta)
    np.testing.assert_allclose(sim.mu, F, rtol=1e-13, atol=1e-300)
    assert set(np.unique(sim.y)) == {0.0, 1.0}
    # Calibration: in 20 quantile bins of eta, the count of y = 1 against sum F(eta),
    # sum_b (O_b - E_b)^2 / V_b ~ chi2(20) when y ~ Bernoulli(F(eta)) independently.
    bins = np.array_split(np.argsort(sim.eta), 20)
    observed = np.array([sim.y[b].sum() for b in bins])
    expected = np.array([F[b].sum() for b in bins])
    variance = np.array([(F[b] * (1 - F[b])).sum() for b in bins])
    statistic = np.sum((observed - expected) ** 2 / variance)
    assert statistic < stats.chi2.ppf(1 - 1e-4, df=20)


@pytest.mark.parametrize("link", _links.LINKS)
def test_statsmodels_recovers_the_coefficients(link):
    sim = drawn(link)
    exog = sm.add_constant(sim.X)
    if link == "logit":
        res = sm.Logit(sim.y, exog).fit(disp=0)
    elif link == "probit":
        res = sm.Probit(sim.y, exog).fit(disp=0)
    else:
        sm_link = sm.families.links.CLogLog() if link == "cloglog" else sm.families.links.Cauchy()
        res = sm.GLM(sim.y, exog, family=sm.families.Binomial(link=sm_link)).fit()
    truth = np.concatenate([[sim.intercept], COEF])
    z = (res.params - truth) / res.bse
    assert np.all(np.abs(z) < 4.0), z


@pytest.mark.parametrize(
    "options, sigma",
    [
        ({}, np.eye(D)),
        ({"features": "correlated", "correlation": 0.5}, 0.5 + 0.5 * np.eye(D)),
        ({"features": "correlated", "correlation": -0.4}, -0.4 + 1.4 * np.eye(D)),
        ({"features": "correlated", "cov": COV}, COV),
    ],
)
def test_feature_moments_match_the_covariance(options, sigma):
    if options:
        sim = _as_numpy(simulate(jax.random.key(11), N, COEF, positive_rate=RATE, **options))
    else:
        sim = drawn("logit")
    X = sim.X
    # Means: N(0, sigma_jj / N); covariances: Var(s_ij) = (sigma_ii sigma_jj + sigma_ij^2) / N.
    np.testing.assert_array_less(np.abs(X.mean(axis=0)), 4 * np.sqrt(np.diag(sigma) / N))
    s = np.cov(X, rowvar=False)
    se = np.sqrt((np.outer(np.diag(sigma), np.diag(sigma)) + sigma**2) / N)
    np.testing.assert_array_less(np.abs(s - sigma), 4 * se)


def test_replicates_are_deterministic_and_independent_of_their_number():
    key = jax.random.key(5)
    one = drawn("logit")  # key(0); below: key(5)
    draw = functools.partial(simulate, n=N, coef=COEF, positive_rate=RATE)
    three = _as_numpy(draw(key, num=3))
    two = _as_numpy(draw(key, num=2))
    again = _as_numpy(draw(key, num=3))
    alone = _as_numpy(draw(key))
    assert three.X.shape == (3, N, D) and three.y.shape == (3, N) and three.intercept.shape == (3,)
    for a, b in zip(three, again, strict=True):
        np.testing.assert_array_equal(a, b)
    # Replicate b does not depend on how many are drawn; one data set is replicate 0.
    for name, a3, a2, a1 in zip(Simulated._fields, three, two, alone, strict=True):
        if name == "coef":
            continue
        np.testing.assert_allclose(a3[:2], a2, rtol=1e-13, atol=1e-13, err_msg=name)
        np.testing.assert_allclose(a3[0], a1, rtol=1e-13, atol=1e-13, err_msg=name)
    # Replicates differ from each other and from another key, and each meets the rate.
    assert not np.allclose(three.X[0], three.X[1]) and not np.allclose(three.X[0], one.X)
    assert len(set(three.intercept)) == 3
    for b in range(3):
        assert abs(DIST["logit"].cdf(three.eta[b]).mean() - RATE) <= 1e-12
    # A raw uint32 key of the same seed gives the same draws as the typed key.
    raw = _as_numpy(draw(jax.random.PRNGKey(5)))
    for a, b in zip(raw, alone, strict=True):
        np.testing.assert_array_equal(a, b)


def test_user_design_is_kept_and_only_labels_are_redrawn():
    X = drawn("probit").X
    sim = _as_numpy(simulate(jax.random.key(3), None, COEF, -0.25, X=X, link="probit", num=3))
    assert sim.X.shape == (N, D) and sim.y.shape == (3, N) and sim.intercept.shape == (3,)
    np.testing.assert_array_equal(sim.X, X)
    np.testing.assert_array_equal(sim.intercept, -0.25)
    eta = np.broadcast_to(-0.25 + X @ COEF, (3, N))
    np.testing.assert_allclose(sim.eta, eta, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(sim.mu, stats.norm.cdf(sim.eta), rtol=1e-13, atol=1e-300)
    assert not np.array_equal(sim.y[0], sim.y[1])
    # Independent replicates: their labels agree at rate sum mu^2 + (1 - mu)^2, not 1.
    agree = np.mean(sim.y[0] == sim.y[1])
    p = np.mean(sim.mu[0] ** 2 + (1 - sim.mu[0]) ** 2)
    assert abs(agree - p) <= 4 * np.sqrt(p * (1 - p) / N)


def test_float32():
    key = jax.random.key(2)
    sim = simulate(key, N, COEF, positive_rate=RATE, link="cloglog", dtype=jnp.float32)
    for name, a in zip(Simulated._fields, sim, strict=True):
        assert a.dtype == jnp.float32, name
    mu = stats.gumbel_l.cdf(np.asarray(sim.eta, np.float64))
    assert abs(mu.mean() - RATE) <= 1e-5
    assert abs(float(jnp.mean(sim.y)) - RATE) <= 4 * np.sqrt(RATE * (1 - RATE) / N)


KEY = jax.random.key(0)
ASYMMETRIC = np.array([[1.0, 0.5, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
INDEFINITE = np.array([[1.0, 2.0, 0.0], [2.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
BAD = [
    (dict(key=np.arange(3.0)), "key:"),
    (dict(key=jax.random.split(KEY, 2)), "key:"),
    (dict(n=0), "n:"),
    (dict(n=2.5), "n:"),
    (dict(n=True), "n:"),
    (dict(n=None), "n:"),
    (dict(coef=np.ones((2, 2))), "coef:"),
    (dict(coef=[]), "coef:"),
    (dict(coef=[1.0, np.nan]), r"coef: non-finite value nan at index \(1,\)"),
    (dict(intercept=None), "intercept, positive_rate"),
    (dict(positive_rate=0.5), "intercept, positive_rate"),
    (dict(intercept=None, positive_rate=1.0), "positive_rate:"),
    (dict(intercept=None, positive_rate=0.0), "positive_rate:"),
    (dict(intercept=[0.0, 1.0]), "intercept:"),
    (dict(intercept=np.inf), "intercept:"),
    (dict(features="uniform"), "features:"),
    (dict(correlation=0.5), "features:"),
    (dict(features="correlated", correlation=-0.5), "correlation:"),
    (dict(features="correlated", correlation=1.0), "correlation:"),
    (dict(features="correlated", cov=np.eye(2)), "cov:"),
    (dict(features="correlated", cov=ASYMMETRIC), r"cov: not symmetric: cov\[0, 1\]"),
    (dict(features="correlated", cov=INDEFINITE), "cov: not positive definite"),
    (dict(features="correlated", cov=np.eye(3), correlation=0.2), "correlation:"),
    (dict(X=np.ones((4, 2))), "X:"),
    (dict(X=np.ones(4)), "X:"),
    (dict(X=np.ones((4, 3))), "n:"),
    (dict(X=np.ones((5, 3)), n=5, features="correlated"), "X:"),
    (dict(X=np.full((5, 3), np.inf), n=5), r"X: non-finite value inf at index \(0, 0\)"),
    (dict(link="log"), "link:"),
    (dict(num=0), "num:"),
    (dict(num=2.0), "num:"),
    (dict(dtype=jnp.int32), "dtype:"),
]


@pytest.mark.parametrize("changes, message", BAD)
def test_bad_arguments_raise_value_errors(changes, message):
    args = dict(key=KEY, n=10, coef=[1.0, 2.0, 3.0], intercept=0.1)
    args.update(changes)
    key, n, coef, intercept = (args.pop(k) for k in ("key", "n", "coef", "intercept"))
    with pytest.raises(ValueError, match=message):
        simulate(key, n, coef, intercept, **args)
