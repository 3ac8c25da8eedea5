"""Tests of the link functions and row quantities in ``jaxlogreg._links``.

References, none sharing code with the module: statsmodels' link classes, scipy.stats'
logistic / norm / gumbel_l / cauchy distributions (cdf, sf, pdf and their logs), scipy's
``erfcx``, JAX autodiff and 5-point finite differences of the row loss, brute-force
long-double continued fractions and closed forms, and tail asymptotics. Tolerances are a
few ulps times the condition number of the quantity (``~ eta^2`` for probit's tails,
``~ exp(eta)`` for cloglog's, 1 for cauchit and logit).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.special as sp
import statsmodels.api as sm
from scipy import stats

from jaxlogreg import _links

EPS = np.finfo(np.float64).eps
EPS32 = np.finfo(np.float32).eps
# XLA on CPU flushes subnormal results to zero: below this, 0 is as good as the value.
TINY = np.finfo(np.float64).tiny
ROW_LINKS = ("probit", "cloglog", "cauchit")
DIST = {
    "logit": stats.logistic,
    "probit": stats.norm,
    "cloglog": stats.gumbel_l,
    "cauchit": stats.cauchy,
}
SM_LINK = {
    "logit": sm.families.links.Logit(),
    "probit": sm.families.links.Probit(),
    "cloglog": sm.families.links.CLogLog(),
    "cauchit": sm.families.links.Cauchy(),
}

# Two grids, so that each link compiles twice at most: moderate (161 points) and wide
# (241 points, |eta| up to 1e4, both signs, log-spaced).
MODERATE = np.linspace(-8.0, 8.0, 161)
WIDE = np.concatenate([-np.logspace(-2, 4, 120)[::-1], [0.0], np.logspace(-2, 4, 120)])

rows = jax.jit(_links.rows, static_argnums=0)
inverse = jax.jit(_links.inverse, static_argnums=0)
inverse_derivative = jax.jit(_links.inverse_derivative, static_argnums=0)
link_function = jax.jit(_links.link_function, static_argnums=0)


def _total_loss(link, eta, y):
    return jnp.sum(_links.rows(link, eta, y).loss)


def _total_score_ad(link, eta, y):
    return jnp.sum(jax.grad(_total_loss, argnums=1)(link, eta, y))


score_ad = jax.jit(jax.grad(_total_loss, argnums=1), static_argnums=0)
observed_ad = jax.jit(jax.grad(_total_score_ad, argnums=1), static_argnums=0)


def close(actual, desired, rtol, atol=0.0, err_msg=""):
    """``|actual - desired| <= rtol |desired| + atol`` elementwise (array tolerances allowed;
    equal infinities pass, NaN fails), reporting the worst entry."""
    actual = np.asarray(actual, np.float64)
    actual, desired = np.broadcast_arrays(actual, np.asarray(desired, np.float64))
    with np.errstate(all="ignore"):
        err = np.abs(actual - desired)
        bound = rtol * np.abs(desired) + atol
        ok = (actual == desired) | (err <= bound)
        ratio = np.where(ok, 0.0, np.nan_to_num(err / bound, nan=np.inf))
    if not ok.all():
        i = np.unravel_index(np.argmax(ratio), ratio.shape)
        raise AssertionError(
            f"{err_msg} {np.sum(~ok)} of {ok.size} entries off; worst at {i}: got {actual[i]!r}, "
            f"expected {desired[i]!r} (error / bound = {ratio[i]:.3g})"
        )


def cond(link, eta):
    """Relative condition number of the decaying quantities at ``eta`` (module doc)."""
    eta = np.asarray(eta, np.float64)
    if link == "probit":
        return 1.0 + eta**2
    if link == "cloglog":
        return 1.0 + np.exp(np.minimum(eta, 8.0))
    return np.full_like(eta, 2.0)


def pair(link, grid, dtype=np.float64):
    """Rows at ``grid`` for ``y = 1`` (index 0) and ``y = 0`` (index 1), as NumPy."""
    eta = np.stack([grid, grid]).astype(dtype)
    y = np.stack([np.ones_like(grid), np.zeros_like(grid)]).astype(dtype)
    return _links.Rows(*(np.asarray(a) for a in rows(link, eta, y)))


def reference(link, eta):
    """scipy float64 ``(loss1, loss0, score1, score0, fisher)`` for y = 1 and y = 0, and the
    relative error of each reference: an exponent ``s`` rounded in float64 makes ``exp(s)``
    off by ``eps |s|``, and the terms of ``s`` are as large as the log-densities."""
    dist = DIST[link]
    with np.errstate(all="ignore"):
        cdf, sf = dist.cdf(eta), dist.sf(eta)
        logpdf, logcdf, logsf = dist.logpdf(eta), dist.logcdf(eta), dist.logsf(eta)
        if link != "probit":  # log(cdf) of a cdf near 1 keeps no relative accuracy
            logcdf = np.where(cdf < 0.5, logcdf, np.log1p(-sf))
            logsf = np.where(sf < 0.5, logsf, np.log1p(-cdf))
        if link == "cloglog":  # cdf = exp(eta) (1 + O(exp(eta))) underflows: log(cdf) = eta
            logcdf = np.where(eta < -700.0, eta, logcdf)
        zero = np.isneginf(logpdf)  # the density underflows: 0, not NaN
        score0 = np.where(zero, 0.0, np.exp(logpdf - logsf))
        a, b, c = np.abs(logpdf), np.abs(logcdf), np.abs(logsf)
        error0 = 4 * EPS * (1 + a + c)
        if link == "cloglog":  # logpdf - logsf = eta - e + e cancels: use F'/(1-F) = e
            score0, error0 = np.exp(eta), 2 * EPS
        values = (
            -logcdf,
            -logsf,
            np.where(zero, 0.0, -np.exp(logpdf - logcdf)),
            score0,
            np.where(zero, 0.0, np.exp(2.0 * logpdf - logcdf - logsf)),
        )
        errors = (2 * EPS, 2 * EPS, 4 * EPS * (1 + a + b), error0, 4 * EPS * (1 + 2 * a + b + c))
    return values, errors


# ---------------------------------------------------------------------------------------
# F, F' and F^-1 against statsmodels and scipy.
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("link", _links.LINKS)
def test_inverse_derivative_and_link_match_statsmodels_and_scipy(link):
    sm_link, dist = SM_LINK[link], DIST[link]
    mu = np.asarray(inverse(link, MODERATE))
    deriv = np.asarray(inverse_derivative(link, MODERATE))
    close(mu, sm_link.inverse(MODERATE), rtol=1e-12)
    close(deriv, sm_link.inverse_deriv(MODERATE), rtol=1e-12, atol=TINY)
    close(mu, dist.cdf(MODERATE), rtol=4 * EPS * cond(link, MODERATE))
    close(deriv, dist.pdf(MODERATE), rtol=8 * EPS * cond(link, MODERATE), atol=TINY)

    p = np.linspace(0.001, 0.999, 161)
    eta = np.asarray(link_function(link, p))
    close(eta, sm_link(p), rtol=1e-12, atol=1e-14)
    close(eta, dist.ppf(p), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("link", _links.LINKS)
def test_link_function_inverts_inverse_over_a_wide_grid(link):
    mu = np.asarray(inverse(link, WIDE))
    back = np.asarray(link_function(link, mu))
    usable = (mu >= np.finfo(np.float64).tiny) & (mu < 1.0)
    assert usable.sum() > 120
    # Rounding mu by one ulp moves eta by eps * mu / F'(eta) (scipy's logcdf - logpdf).
    dist = DIST[link]
    with np.errstate(all="ignore"):
        spread = np.exp(np.where(mu < 0.5, dist.logcdf(WIDE), 0.0) - dist.logpdf(WIDE))
    bound = 4 * EPS * (np.abs(WIDE) + spread) + TINY
    err = np.abs(back - WIDE)
    assert np.all(err[usable] <= bound[usable]), WIDE[usable][np.argmax((err / bound)[usable])]


# ---------------------------------------------------------------------------------------
# Row quantities: derivatives of the loss, Fisher weights, tails.
# ---------------------------------------------------------------------------------------


def _five_point(f, eta, h):
    return (8.0 * (f(eta + h) - f(eta - h)) - (f(eta + 2 * h) - f(eta - 2 * h))) / (12.0 * h)


@pytest.mark.parametrize("link", ROW_LINKS)
def test_score_and_observed_are_the_derivatives_of_the_loss(link):
    eta = np.stack([MODERATE] * 3)
    y = np.stack([np.ones(161), np.zeros(161), np.full(161, 0.25)])
    r = _links.Rows(*(np.asarray(a) for a in rows(link, eta, y)))
    close(r.score, score_ad(link, eta, y), rtol=1e-11, atol=TINY)
    close(r.observed, observed_ad(link, eta, y), rtol=1e-9, atol=1e-12)

    def loss(e):
        return np.asarray(rows(link, e, y).loss)

    def score(e):
        return np.asarray(rows(link, e, y).score)

    close(r.score, _five_point(loss, eta, 1e-3), rtol=1e-8, atol=1e-9)
    close(r.observed, _five_point(score, eta, 1e-3), rtol=1e-8, atol=1e-9)
    # The loss is the Bernoulli negative log-likelihood (a proportion y is a weighted mix).
    (nll1, nll0, _, _, _), _ = reference(link, MODERATE)
    close(r.loss, y * nll1 + (1.0 - y) * nll0, rtol=8 * EPS * cond(link, MODERATE), atol=TINY)


@pytest.mark.parametrize("link", ROW_LINKS)
def test_fisher_matches_scipy_and_is_the_expected_observed_weight(link):
    r = pair(link, WIDE)
    (_, _, _, _, fisher), (_, _, _, _, ref_error) = reference(link, WIDE)
    close(r.fisher[0], fisher, rtol=8 * EPS * cond(link, WIDE) + ref_error, atol=TINY)
    np.testing.assert_array_equal(r.fisher[0], r.fisher[1])  # it does not depend on y

    # E_y[observed] = mu observed(y=1) + (1 - mu) observed(y=0) = fisher, y ~ Bernoulli(mu).
    with np.errstate(invalid="ignore", over="ignore"):
        mu, one_minus_mu = DIST[link].cdf(WIDE), DIST[link].sf(WIDE)
        terms = np.stack([mu * r.observed[0], one_minus_mu * r.observed[1]])
    finite = np.all(np.isfinite(terms), axis=0)  # cloglog's y = 0 weight overflows past ~709
    assert finite.sum() >= 215
    scale = np.abs(terms).sum(axis=0)
    err = np.abs(terms.sum(axis=0) - r.fisher[0])
    assert np.all(err[finite] <= 16 * EPS * (cond(link, WIDE) * scale)[finite] + TINY)


@pytest.mark.parametrize("link", ROW_LINKS)
def test_loss_and_score_tails_match_scipy(link):
    r = pair(link, WIDE)
    (loss1, loss0, score1, score0, _), (_, _, error1, error0, _) = reference(link, WIDE)
    tol = 8 * EPS * cond(link, WIDE)
    with np.errstate(over="ignore"):
        close(r.mu, DIST[link].cdf(np.stack([WIDE, WIDE])), rtol=tol, atol=TINY)
    close(r.loss[0], loss1, rtol=tol, atol=TINY)
    close(r.score[0], score1, rtol=tol + error1, atol=TINY)
    ok = np.isfinite(loss0)  # cloglog: exp(eta) overflows past ~709.78, ours too
    np.testing.assert_array_equal(np.isinf(r.loss[1]), ~ok)
    close(r.loss[1][ok], loss0[ok], rtol=tol[ok])
    ok &= np.isfinite(score0)
    close(r.score[1][ok], score0[ok], rtol=(tol + error0)[ok], atol=TINY)
    # Large losses (|eta| to 1e4) are accurate to a few ulps, whatever the conditioning.
    big = loss1 > 1.0
    close(r.loss[0][big], loss1[big], rtol=8 * EPS)


def _laplace_tail_longdouble(x, terms=4000):
    """R(x) = 1 / (x + 2 / (x + 3 / ...)) in long double, by brute force."""
    x = np.asarray(x, np.longdouble)
    f = x.copy()
    for k in range(terms, 1, -1):
        f = x + np.longdouble(k) / f
    return 1.0 / f


def test_probit_lower_tail_mills_ratio_and_observed():
    r = pair("probit", WIDE)
    lower = WIDE < -1.0
    x = -WIDE[lower]
    # -score(y = 1) = phi / Phi, the inverse Mills ratio, via scipy's (Faddeeva) erfcx: a
    # few ulps with no conditioning loss, all the way to eta = -1e4.
    mills = np.sqrt(2.0 / np.pi) / sp.erfcx(x / np.sqrt(2.0))
    close(-r.score[0][lower], mills, rtol=8 * EPS)
    # observed(y = 1) = q (q - x) with q - x = R(x): brute force below x = 1000, and the
    # asymptotic series 1 - 1/x^2 + 6/x^4 + O(x^-6) beyond.
    mid = x <= 1000.0
    R = _laplace_tail_longdouble(x[mid])
    close(r.observed[0][lower][mid], np.float64((x[mid] + R) * R), rtol=16 * EPS)
    far = x[~mid]
    close(r.observed[0][lower][~mid], 1 - far**-2 + 6 * far**-4, rtol=4 * EPS)
    # Symmetry: the y = 0 row at eta is the y = 1 row at -eta.
    flipped = pair("probit", -WIDE)
    for a, b in [(r.loss[1], flipped.loss[0]), (r.observed[1], flipped.observed[0])]:
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(r.score[1], -flipped.score[0])


def test_cloglog_observed_against_closed_forms():
    r = pair("cloglog", WIDE)
    # Far below 0: A'' = e/2 - e^2/6 + O(e^3), e = exp(eta).
    far = WIDE <= -40.0
    close(r.observed[0][far], np.exp(WIDE[far]) / 2, rtol=4 * EPS)
    # Moderate: A'' = (F'/F)^2 - F''/F with F'' = F' (1 - e), in long double (no cancellation
    # to speak of for eta >= -3); past eta ~ 6.6 it underflows to 0.
    mid = (WIDE >= -3.0) & (WIDE <= 10.0)
    t = WIDE[mid].astype(np.longdouble)
    e = np.exp(t)
    F, Fp = -np.expm1(-e), np.exp(t - e)
    expected = np.float64((Fp / F) ** 2 - Fp * (1 - e) / F)
    close(r.observed[0][mid], expected, rtol=16 * EPS * cond("cloglog", WIDE[mid]), atol=TINY)
    # y = 0: B = B' = B'' = exp(eta).
    ok = WIDE < 700.0
    for a in (r.loss[1], r.score[1], r.observed[1]):
        close(a[ok], np.exp(WIDE[ok]), rtol=2 * EPS)


def test_cauchit_observed_against_long_double_closed_form():
    r = pair("cauchit", WIDE)
    t = WIDE.astype(np.longdouble)
    pi = 4 * np.arctan(np.longdouble(1.0))
    Fp, Fpp = 1 / (pi * (1 + t * t)), -2 * t / (pi * (1 + t * t) ** 2)
    one = np.longdouble(1.0)
    for y, G in [(1, np.arctan2(one, -t) / pi), (0, np.arctan2(one, t) / pi)]:
        # y = 1: A'' = (F'/F)^2 - F''/F; y = 0: B'' = (F'/(1-F))^2 + F''/(1-F).
        sign = 1 if y == 0 else -1
        first, second = (Fp / G) ** 2, sign * Fpp / G
        expected = np.float64(first + second)
        scale = np.float64(np.abs(first) + np.abs(second))  # exact 0 crossing: relative to terms
        err = np.abs(r.observed[1 - y] - expected)
        assert np.all(err <= 8 * EPS * scale), WIDE[np.argmax(err / scale)]
    assert (r.observed[0] < 0).any()  # the far lower tail: negative observed information


@pytest.mark.parametrize("link", ROW_LINKS)
def test_rows_are_finite_and_float32_agrees_with_float64(link):
    r64 = pair(link, WIDE)
    overflow = np.zeros_like(r64.loss, dtype=bool)
    if link == "cloglog":
        overflow[1] = WIDE > np.log(np.finfo(np.float64).max)
    for name, a in zip(r64._fields, r64, strict=True):
        assert not np.isnan(a).any(), name
        if name in ("loss", "score", "observed"):
            np.testing.assert_array_equal(np.isinf(a), overflow, err_msg=name)
        else:
            assert np.isfinite(a).all(), name

    grid = np.clip(WIDE, -30.0, 30.0)
    r32 = pair(link, grid, np.float32)
    r64 = pair(link, grid)
    tol = 64 * EPS32 * cond(link, grid)
    for name, a32, a64 in zip(r64._fields, r32, r64, strict=True):
        assert a32.dtype == np.float32, name
        assert np.isfinite(a32).all(), name
        atol = 64 * EPS32 if name == "observed" else 1e-37  # cauchit's observed crosses 0
        close(a32, a64, rtol=tol, atol=atol, err_msg=name)


def test_bad_link_names_raise():
    with pytest.raises(ValueError, match=r"_loss\.pointwise"):
        _links.rows("logit", jnp.zeros(3), jnp.zeros(3))
    for fn in (_links.rows, _links.inverse, _links.inverse_derivative, _links.link_function):
        args = (jnp.zeros(3), jnp.zeros(3)) if fn is _links.rows else (jnp.zeros(3),)
        with pytest.raises(ValueError, match="link: expected one of"):
            fn("probitt", *args)
    with pytest.raises(ValueError, match="link: expected one of"):
        _links.inverse(None, jnp.zeros(3))
