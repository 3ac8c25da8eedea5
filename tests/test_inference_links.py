"""Reference tests: inference for every link, binomial trials, class weights, the observed
information, and the Laplace approximation (`jaxlogreg._inference`).

Every expected value comes from something other than the code under test: statsmodels'
``GLM(family=Binomial(link=...))`` (IRLS: the expected information; its ``model.hessian(...,
observed=True)`` and ``get_influence(observed=...)``), ``Probit`` (the observed information),
GLM on binomial counts ``[successes, failures]``, the data with every row repeated ``w_i``
times, numpy formulas, scipy's optimiser and central differences of a numpy gradient for the
posterior, numerical integration for the predictive, and single-model calls in a loop.

Conventions checked here (module docstring of ``jaxlogreg._inference``): ``nobs = sum f t``
(frequency weights times trials); HC0 and cluster treat a row as the observation and its
frequency weight as copies of it, so the references are statsmodels on repeated rows or on
counts, and class weights are statsmodels' ``var_weights``; statsmodels' GLM robust
covariances use the observed information in the bread, so they are compared with
``information="observed"``; with ``trials`` statsmodels' ``llf`` adds ``sum log C(t, y)``.

Tolerances: ``fit`` and statsmodels each stop within ~1e-10 of the optimum, so quantities
derived from the estimates are compared at ``rtol = 1e-7``; numpy formulas at the same
parameters at 1e-9; batched versus looped at 1e-10; central differences of the posterior's
gradient at 1e-6.

Compilation dominates: every data shape and static setting (link, information, trials,
class_weight) compiles once, so the tests share one design (n = 400, d = 3) with weights and
an offset, use statsmodels' estimates where no fit of ours is under test, and build batches
from perturbed or stacked single-model parameters.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import numpy as np
import pytest
import statsmodels.api as sm
from scipy import optimize, special, stats
from statsmodels.stats import sandwich_covariance
from test_inference import assert_same_inference, close, host, inference

import jaxlogreg
from jaxlogreg import FitResult, Status
from jaxlogreg._inference import (
    LaplaceResult,
    _null_loglik,
    laplace,
    predictive,
    score_test,
    summary,
)

LINKS = sm.families.links
SM_LINK = {"logit": LINKS.Logit, "probit": LINKS.Probit, "cloglog": LINKS.CLogLog,
           "cauchit": LINKS.Cauchy}
RTOL = 1e-7
SAME_PARAMS_RTOL = 1e-9
BATCH_RTOL = 1e-10
N, D = 400, 3


# --------------------------------------------------------------------------------------------
# Data and references
# --------------------------------------------------------------------------------------------


@functools.cache
def data():
    """``X (400, 3)``, 0/1 ``y`` from a probit model with an offset, integer weights 1..3."""
    rng = np.random.default_rng(404)
    X = rng.normal(size=(N, D))
    o = rng.normal(0.0, 0.5, size=N)
    eta = 0.2 + X @ np.array([0.7, -0.5, 0.3]) + o
    y = (rng.uniform(size=N) < stats.norm.cdf(eta)).astype(np.float64)
    w = rng.integers(1, 4, size=N).astype(np.float64)
    return X, y, w, o


@functools.cache
def groups():
    return np.random.default_rng(405).integers(0, 30, size=N) * 3 + 11


@functools.cache
def fitted(link, alpha=0.0, penalty_factor=None):
    """``jaxlogreg.fit`` to ``data()`` for the logit and probit (end to end); for cloglog and
    cauchit, which only the statsmodels comparisons use, statsmodels' own estimates (no fit
    to compile)."""
    X, y, w, o = data()
    if link in ("cloglog", "cauchit"):
        assert alpha == 0.0
        return as_fit(sm_glm(link).params, link)
    res = jaxlogreg.fit(X, y, weights=w, offset=o, link=link, alpha=alpha,
                        penalty_factor=None if penalty_factor is None else list(penalty_factor))
    assert int(res.status) == Status.CONVERGED
    assert res.link == link
    return res


@functools.cache
def inferred(link, information="expected", cov_type="nonrobust"):
    X, y, w, o = data()
    kw = {"groups": groups()} if cov_type == "cluster" else {}
    return inference(fitted(link), X, y, weights=w, offset=o, information=information,
                     cov_type=cov_type, **kw)


def family(link):
    return sm.families.Binomial(link=SM_LINK[link]())


@functools.cache
def sm_glm(link, expanded=False, cov_type="nonrobust"):
    """statsmodels GLM (IRLS) with freq_weights, or on the rows repeated ``w_i`` times."""
    X, y, w, o = data()
    kw = {}
    if expanded:
        idx = expand()
        X, y, o, w = X[idx], y[idx], o[idx], None
        if cov_type == "cluster":
            kw = {"cov_type": "cluster", "cov_kwds": {"groups": groups()[idx]}}
        elif cov_type != "nonrobust":
            kw = {"cov_type": cov_type}
    model = sm.GLM(y, sm.add_constant(X), family=family(link), freq_weights=w, offset=o)
    res = model.fit(tol=1e-14, maxiter=300, **kw)
    assert res.converged
    return res


def expand():
    """Row index with row ``i`` repeated ``w_i`` times."""
    return np.repeat(np.arange(N), data()[2].astype(np.int64))


def influence(glm, observed):
    infl = glm.get_influence(observed=observed)
    return infl.hat_matrix_diag, infl.cooks_distance[0]


def assert_matches(inf, params, cov, rtol=RTOL, err_msg=""):
    bse = np.sqrt(np.diag(cov))
    close(inf.params, params, rtol, atol=1e-9 * bse, err_msg=f"{err_msg} params")
    close(inf.bse, bse, rtol, err_msg=f"{err_msg} bse")
    close(inf.cov_params, cov, rtol, atol=rtol * np.outer(bse, bse), err_msg=f"{err_msg} cov")


# --------------------------------------------------------------------------------------------
# Links against statsmodels GLM (expected information)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("link", ["probit", "cloglog", "cauchit"])
def test_links_match_glm_freq_weights(link):
    inf = inferred(link)
    glm = sm_glm(link)
    assert inf.link == link and inf.information == "expected" and bool(inf.valid)
    assert_matches(inf, glm.params, glm.cov_params(), err_msg=link)
    for field in ("llf", "aic", "deviance", "pearson_chi2"):
        close(getattr(inf, field), getattr(glm, field), err_msg=field)
    close(inf.tvalues, glm.tvalues, atol=1e-8, err_msg="tvalues")
    close(inf.pvalues, glm.pvalues, atol=1e-12, err_msg="pvalues")  # tiny ones are relative z^2
    close(inf.bic, glm.bic_llf)
    close(inf.nobs, np.sum(data()[2]), rtol=0)
    close(inf.resid_response, glm.resid_response, atol=1e-12, err_msg="resid_response")
    close(inf.resid_pearson, glm.resid_pearson, atol=1e-10, err_msg="resid_pearson")
    close(inf.resid_dev, glm.resid_deviance, atol=1e-10, err_msg="resid_dev")
    hat, cooks = influence(glm, observed=False)
    close(inf.hat_matrix_diag, hat, atol=1e-13, err_msg="hat")
    close(inf.cooks_distance, cooks, atol=1e-15, err_msg="cooks")
    # llnull: the intercept-and-offset model with the same link and weights, fitted apart.
    X, y, w, o = data()
    null = sm.GLM(y, np.ones((N, 1)), family=family(link), freq_weights=w, offset=o)
    close(inf.llnull, null.fit(tol=1e-14, maxiter=300).llf, rtol=1e-11)
    close(inf.llnull, glm.llnull, rtol=1e-7)
    # The link matters: the logit's numbers are others.
    logit = sm.GLM(y, sm.add_constant(X), family=family("logit"), freq_weights=w, offset=o)
    assert abs(float(inf.llf) - logit.fit().llf) > 1e-3


def test_llnull_without_offset_is_the_closed_form():
    """Every link's intercept-only model puts F(a) at the weighted mean response."""
    X, y, w, _ = data()
    m = np.sum(w * y) / np.sum(w)
    expected = np.sum(w) * (m * np.log(m) + (1 - m) * np.log1p(-m))
    for link in ("probit", "cloglog", "cauchit"):
        glm = sm.GLM(y, sm.add_constant(X), family=family(link), freq_weights=w).fit(tol=1e-14)
        inf = inference(as_fit(glm.params, link), X, y, weights=w)
        close(inf.llnull, expected, rtol=1e-13, err_msg=link)
        close(inf.bse, glm.bse, err_msg=link)


@pytest.mark.parametrize("link", ["probit", "cauchit"])
def test_null_model_with_wide_offsets_matches_scipy(link):
    """Offsets of 400 on 5% of the rows put the start (which subtracts the mean offset) far
    out, where the cauchit's log-likelihood is convex: the safeguarded iteration steps outward
    and bisects (probit: Newton throughout). Against scipy's bounded scalar minimiser on the
    numpy log-likelihood."""
    X, y, w, _ = data()
    rng = np.random.default_rng(410)
    o = np.where(rng.uniform(size=N) < 0.05, 400.0, rng.normal(0.0, 1.0, size=N))
    dist = stats.norm if link == "probit" else stats.cauchy

    def loglik(a):
        return np.sum(w * (y * dist.logcdf(a + o) + (1 - y) * dist.logsf(a + o)))

    best = optimize.minimize_scalar(lambda a: -loglik(a), bounds=(-30, 30), method="bounded",
                                    options={"xatol": 1e-12})
    got = jax.jit(_null_loglik, static_argnames="link")(y, w, o, link=link)
    close(got, loglik(best.x), rtol=1e-12)
    assert float(got) >= loglik(best.x) - 1e-9


# --------------------------------------------------------------------------------------------
# The observed information
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("link", ["probit", "cauchit"])
def test_observed_information_matches_glm_hessian_and_influence(link):
    inf = inferred(link, "observed")
    glm = sm_glm(link)
    assert inf.information == "observed"
    cov = np.linalg.inv(-glm.model.hessian(glm.params, observed=True))
    assert_matches(inf, glm.params, cov, err_msg=link)
    if link == "cauchit":
        # Some rows have a negative observed weight: statsmodels' influence takes its square
        # root (NaN). The leverages still sum to k, the trace of the hat matrix.
        assert np.any(np.asarray(inf.hat_matrix_diag) < 0)
        close(np.sum(np.asarray(inf.hat_matrix_diag)), D + 1, rtol=1e-12)
    else:
        hat, cooks = influence(glm, observed=True)
        close(inf.hat_matrix_diag, hat, atol=1e-13, err_msg="hat")
        close(inf.cooks_distance, cooks, atol=1e-15, err_msg="cooks")
    # The two informations differ for a non-canonical link, and agree asymptotically.
    ratio = np.asarray(inf.bse) / np.asarray(inferred(link).bse)
    assert np.all(np.abs(ratio - 1) < 0.1) and np.any(np.abs(ratio - 1) > 1e-4)
    # Nothing else depends on it.
    for field in ("llf", "llnull", "deviance", "resid_pearson"):
        close(getattr(inf, field), getattr(inferred(link), field), rtol=1e-14, err_msg=field)


@pytest.mark.parametrize("cov_type", ["HC0", "cluster"])
@pytest.mark.parametrize("link", ["probit", "cauchit"])
def test_robust_observed_matches_glm_on_repeated_rows(link, cov_type):
    """statsmodels' GLM robust covariances use the observed information in the bread."""
    X, y, w, o = data()
    kw = {"groups": groups()} if cov_type == "cluster" else {}
    inf = inference(fitted(link), X, y, weights=w, offset=o, information="observed",
                    cov_type=cov_type, **kw)
    ref = sm_glm(link, expanded=True, cov_type=cov_type)
    assert_matches(inf, ref.params, ref.cov_params(), err_msg=f"{link} {cov_type}")


def test_probit_observed_matches_discrete_probit():
    """statsmodels' Probit (the observed Hessian) on the repeated rows, with the offset: the
    covariance (nonrobust, HC0, cluster), llf, llnull, the LR test and the summary table."""
    X, y, _, o = data()
    idx = expand()
    model = sm.Probit(y[idx], sm.add_constant(X[idx]), offset=o[idx])
    fit = functools.partial(model.fit, method="newton", tol=1e-12, maxiter=100, disp=0)
    plain = fit()
    inf = inferred("probit", "observed")
    assert_matches(inf, plain.params, plain.cov_params())
    for field in ("llf", "llnull", "llr", "llr_pvalue", "prsquared", "aic", "bic"):
        close(getattr(inf, field), getattr(plain, field), err_msg=field)
    for field in ("df_model", "df_resid", "nobs"):
        close(getattr(inf, field), getattr(plain, field), rtol=0, err_msg=field)
    robust = fit(cov_type="HC0")
    assert_matches(inferred("probit", "observed", "HC0"), robust.params, robust.cov_params())
    clustered = fit(cov_type="cluster", cov_kwds={"groups": groups()[idx]})
    got = inferred("probit", "observed", "cluster")
    assert_matches(got, clustered.params, clustered.cov_params())
    ours, ref = summary(inf).splitlines(), plain.summary().as_text().splitlines()
    assert ours[0].strip() == ref[0].strip() == "Probit Regression Results"
    start = next(i for i, s in enumerate(ref) if s.strip().startswith("coef"))
    mine = next(i for i, s in enumerate(ours) if s.strip().startswith("coef"))
    assert ours[mine:mine + 6] == ref[start:start + 6]


def test_expected_hc0_is_the_sandwich_with_fisher_bread():
    """``information="expected"``: HC0 = E^-1 M E^-1 with the Fisher information E (numpy,
    probit formulas written out here; R's sandwich::vcovHC(glm) convention)."""
    X, y, w, o = data()
    inf = inference(fitted("probit"), X, y, weights=w, offset=o, cov_type="HC0")
    Xc = sm.add_constant(X)
    eta = Xc @ np.asarray(inf.params) + o
    mu, dens = stats.norm.cdf(eta), stats.norm.pdf(eta)
    score = dens * (y - mu) / (mu * (1 - mu))
    bread = np.linalg.inv(Xc.T @ (Xc * (w * dens**2 / (mu * (1 - mu)))[:, None]))
    meat = Xc.T @ (Xc * (w * score**2)[:, None])
    close(inf.cov_params, bread @ meat @ bread, rtol=SAME_PARAMS_RTOL)


# --------------------------------------------------------------------------------------------
# Binomial trials and class weights
# --------------------------------------------------------------------------------------------


@functools.cache
def counts():
    """Aggregated data: the design's first 150 rows, 1..8 trials each, successes drawn from a
    logit model."""
    X = data()[0][:150]
    rng = np.random.default_rng(406)
    t = rng.integers(1, 9, size=150).astype(np.float64)
    p = 1.0 / (1.0 + np.exp(-(0.3 + X @ np.array([0.8, -0.6, 0.4]))))
    return X, rng.binomial(t.astype(np.int64), p).astype(np.float64), t


@pytest.mark.parametrize("link", ["logit", "probit"])
def test_trials_match_glm_on_counts(link):
    X, s, t = counts()
    endog = np.column_stack([s, t - s])
    glm = sm.GLM(endog, sm.add_constant(X), family=family(link)).fit(tol=1e-14)
    res = as_fit(glm.params, link)
    # For the logit the observed information is the expected one that GLM (IRLS) reports.
    information = "observed" if link == "logit" else "expected"
    inf = inference(res, X, s, trials=t, information=information)
    assert_matches(inf, glm.params, glm.cov_params(), err_msg=link)
    for field in ("deviance", "pearson_chi2"):
        close(getattr(inf, field), getattr(glm, field), err_msg=field)
    close(inf.resid_response, glm.resid_response, atol=1e-11, err_msg="resid_response")
    close(inf.resid_pearson, glm.resid_pearson, atol=1e-10, err_msg="resid_pearson")
    close(inf.resid_dev, glm.resid_deviance, atol=1e-10, err_msg="resid_dev")
    hat, cooks = influence(glm, observed=False)
    close(inf.hat_matrix_diag, hat, atol=1e-13, err_msg="hat")
    close(inf.cooks_distance, cooks, atol=1e-15, err_msg="cooks")
    # statsmodels' llf adds the log binomial coefficients; ours is the expanded 0/1 data's.
    log_comb = np.sum(special.gammaln(t + 1) - special.gammaln(s + 1) - special.gammaln(t - s + 1))
    close(np.asarray(inf.llf) + log_comb, glm.llf, rtol=1e-10)
    close(np.asarray(inf.llnull) + log_comb, glm.llnull, rtol=1e-10)
    close(inf.nobs, np.sum(t), rtol=0)
    rows = np.repeat(np.arange(len(t)), t.astype(np.int64))
    ones = np.concatenate([np.arange(t[i]) < s[i] for i in range(len(t))]).astype(np.float64)
    expanded = sm.GLM(ones, sm.add_constant(X[rows]), family=family(link))
    close(inf.llf, expanded.loglike(glm.params), rtol=1e-8)
    # A row is the observation of HC0 (statsmodels' GLM on counts; its bread is observed,
    # the same as expected for the logit).
    if link == "logit":
        hc0 = inference(res, X, s, trials=t, cov_type="HC0", information=information)
        ref = sm.GLM(endog, sm.add_constant(X), family=family(link)).fit(tol=1e-14, cov_type="HC0")
        assert_matches(hc0, ref.params, ref.cov_params())
        # HC1's factor counts rows (observations), not trials: statsmodels' cov_white_simple.
        hc1 = inference(res, X, s, trials=t, cov_type="HC1", information=information)
        close(hc1.cov_params, sandwich_covariance.cov_white_simple(ref, use_correction=True),
              rtol=RTOL, atol=RTOL * np.max(np.abs(ref.cov_params())))
    # The score test of the last column, at the restricted fit of statsmodels' counts GLM.
    restricted = sm.GLM(endog, sm.add_constant(X[:, :2]), family=family(link)).fit(tol=1e-14)
    res_r = as_fit(restricted.params, link)
    got = score_test(res_r, X, s, trials=t, restricted_columns=[0, 1], information=information)
    full = sm.GLM(endog, sm.add_constant(X), family=family(link))
    want = full.score_test(np.append(restricted.params, 0.0), k_constraints=1,
                           observed=information == "observed")
    close(got.statistic, np.squeeze(want[0]), rtol=SAME_PARAMS_RTOL)
    close(got.pvalue, np.squeeze(want[1]), rtol=1e-8)
    if link == "probit":
        # Batched: the restricted fit and a perturbed copy, stacked, against single calls.
        res_b = stack(res_r, as_fit(restricted.params + 0.01, link))
        batch = score_test(res_b, X, np.stack([s, s]), trials=np.stack([t, t]),
                           restricted_columns=[0, 1])
        one = score_test(res_b[1], X, s, trials=t, restricted_columns=[0, 1])
        close(batch.statistic, [float(got.statistic), float(one.statistic)], rtol=BATCH_RTOL)
        assert abs(float(one.statistic) / float(got.statistic) - 1) > 1e-3


def stack(*fits):
    """The fits as one batch, stacked in NumPy (no program to compile)."""
    return jax.tree_util.tree_map(lambda *a: np.stack(a), *fits)


def as_fit(params, link):
    """A converged single-model FitResult holding given parameters (intercept first), its
    arrays NumPy arrays (converting or indexing them compiles nothing)."""
    return FitResult(coef=np.asarray(params[1:]), intercept=np.asarray(params[0]),
                     status=np.asarray(int(Status.CONVERGED), np.int32),
                     n_iter=np.zeros((), np.int32), loss=np.zeros(()),
                     grad_norm=np.zeros(()), link=link)


def test_class_weight_is_glm_var_weights():
    """``class_weight="balanced"`` (c_k = n_w / (2 n_wk), scikit-learn's on repeated rows)
    is statsmodels' GLM with ``var_weights = c_y``: estimates, llf, deviance, the nonrobust
    covariance (also freq_weights') and HC0 (a row stays one observation, its score times its
    class weight); nobs does not count class weights."""
    X, y, w, o = data()
    counts_w = np.array([np.sum(w * (1 - y)), np.sum(w * y)])
    c = np.sum(w) / (2.0 * counts_w)
    model = sm.GLM(y, sm.add_constant(X), family=family("logit"), freq_weights=w,
                   var_weights=c[y.astype(int)], offset=o)
    glm = model.fit(tol=1e-14)
    res = as_fit(glm.params, "logit")
    inf = inference(res, X, y, weights=w, offset=o, class_weight="balanced")
    assert_matches(inf, glm.params, glm.cov_params())
    for field in ("llf", "llnull", "deviance", "pearson_chi2"):
        close(getattr(inf, field), getattr(glm, field), err_msg=field)
    close(inf.nobs, np.sum(w), rtol=0)
    # statsmodels' HC0 with freq_weights on repeated rows (its freq-weighted meat counts
    # copies, as here).
    hc0 = inference(res, X, y, weights=w, offset=o, class_weight="balanced", cov_type="HC0")
    ref = model.fit(tol=1e-14, cov_type="HC0")
    assert_matches(hc0, ref.params, ref.cov_params())
    # Not the HC0 of the rows repeated c_y times: a row is one observation.
    copies = sm.GLM(y, sm.add_constant(X), family=family("logit"), offset=o,
                    freq_weights=w * c[y.astype(int)]).fit(tol=1e-14, cov_type="HC0")
    assert np.max(np.abs(np.asarray(hc0.bse) / copies.bse - 1)) > 1e-3


# --------------------------------------------------------------------------------------------
# Score test with a link
# --------------------------------------------------------------------------------------------


def test_score_test_probit_with_class_weights_matches_glm():
    """Observed information and class weights (statsmodels' var_weights); the expected
    information is checked with trials, below."""
    X, y, w, o = data()
    cw = {0: 1.0, 1: 2.5}
    c = np.where(y == 1, cw[1], cw[0])
    glm = functools.partial(sm.GLM, y, family=family("probit"), freq_weights=w, var_weights=c,
                            offset=o)
    restricted = glm(sm.add_constant(X[:, [0, 2]])).fit(tol=1e-14)
    got = score_test(as_fit(restricted.params, "probit"), X, y, weights=w, offset=o,
                     restricted_columns=[0, 2], information="observed", class_weight=cw)
    embedded = np.insert(restricted.params, 2, 0.0)
    want = glm(sm.add_constant(X)).score_test(embedded, k_constraints=1, observed=True)
    close(got.statistic, np.squeeze(want[0]), rtol=SAME_PARAMS_RTOL)
    close(got.pvalue, np.squeeze(want[1]), rtol=1e-8)
    assert float(got.df) == 1


# --------------------------------------------------------------------------------------------
# Batches: every new option, batched equals looped, failures are NaN
# --------------------------------------------------------------------------------------------

B = 6
CHUNK = 4  # the last chunk overlaps the one before it


@functools.cache
def batch_data(with_trials):
    """Six models over the shared design: 0-3 bootstrap weights (with zeros) and offsets,
    4 the data as they are, 5 completely separated (successes only where x1 > 0). With
    trials, 1..4 trials per row and binomial successes."""
    X, y, w, o = data()
    rng = np.random.default_rng(407)
    W = np.ones((B, N))
    W[:4] = rng.multinomial(N, np.full(N, 1.0 / N), size=4)
    W[4] = w
    O = np.broadcast_to(o, (B, N)).copy()
    O[5] = 0.0
    if with_trials:
        T = rng.integers(1, 5, size=(B, N)).astype(np.float64)
        Y = rng.binomial(T.astype(np.int64), stats.norm.cdf(0.2 + X @ [0.7, -0.5, 0.3] + O))
        Y = Y.astype(np.float64)
    else:
        T = None
        Y = np.broadcast_to(y, (B, N)).copy()
    Y[5] = (X[:, 0] > 0) * (1.0 if T is None else T[5])
    return X, Y, W, O, T


@functools.cache
def batch_fit(link):
    """Six models' parameters: the link's fit to ``data()``, perturbed model by model, and
    model 5 marked SEPARATED. (Inference is a function of the parameters; batched must equal
    looped whatever they are, and no fit is compiled for these options.)"""
    P = np.asarray(fitted(link).params) + 0.05 * np.random.default_rng(409).normal(size=(B, D + 1))
    status = np.full(B, int(Status.CONVERGED), np.int32)
    status[5] = int(Status.SEPARATED)
    zeros = np.zeros(B)
    return FitResult(coef=P[:, 1:], intercept=P[:, 0], status=status,
                     n_iter=np.zeros(B, np.int32), loss=zeros, grad_norm=zeros, link=link)


OPTIONS = [
    # link, information, trials, class_weight, cov_type
    ("probit", "observed", True, ((0, 1.0), (1, 2.5)), "HC1"),
    ("cloglog", "expected", False, None, "cluster"),
]


@pytest.mark.parametrize("link, information, with_trials, class_weight, cov_type", OPTIONS)
def test_batch_equals_loop_for_every_option(link, information, with_trials, class_weight,
                                            cov_type):
    X, Y, W, O, T = batch_data(with_trials)
    res = batch_fit(link)
    cw = dict(class_weight) if class_weight else None
    kw = dict(information=information, class_weight=cw, cov_type=cov_type)
    if cov_type == "cluster":
        kw["groups"] = groups()
    batch = inference(res, X, Y, weights=W, offset=O, trials=T, chunk_size=CHUNK, **kw)
    assert batch.batch_shape == (B,) and batch.link == link
    models = host(batch)
    for b in range(B):
        single = inference(res[b], X, Y[b], weights=W[b], offset=O[b],
                           trials=None if T is None else T[b], **kw)
        assert_same_inference(models[b], single, rtol=BATCH_RTOL, err_msg=f"model {b}")
    valid = np.asarray(batch.valid)
    assert np.all(valid[:5]) and not valid[5]
    for field in ("bse", "pvalues", "hat_matrix_diag", "cooks_distance"):
        assert np.all(np.isnan(np.asarray(getattr(batch, field))[5])), field
        assert np.all(np.isfinite(np.asarray(getattr(batch, field))[:5])), field
    assert np.ptp(np.asarray(batch.bse)[:4, 1]) > 1e-3  # the models differ


# --------------------------------------------------------------------------------------------
# Laplace approximation
# --------------------------------------------------------------------------------------------

ALPHA = 0.02
PF = (1.0, 0.0, 2.0)  # the second slope unpenalised: a flat prior


def neg_log_posterior(link, X, y, w, o, alpha, pf):
    """``U(beta) = -sum w log p(y | beta) + 1/2 sum prec beta^2`` and its gradient, in numpy,
    with ``prec = alpha * sum(w) * (0, *pf)`` (the intercept flat)."""
    Xc = sm.add_constant(X)
    prec = alpha * np.sum(w) * np.concatenate([[0.0], pf])
    if link == "logit":
        cdf, logcdf = special.expit, lambda e: -np.logaddexp(0.0, -e)
    else:
        cdf, logcdf = stats.norm.cdf, stats.norm.logcdf

    def value(beta):
        eta = Xc @ beta + o
        return -np.sum(w * (y * logcdf(eta) + (1 - y) * logcdf(-eta))) + 0.5 * prec @ beta**2

    def grad(beta):
        eta = Xc @ beta + o
        if link == "logit":
            d_eta = cdf(eta) - y
        else:
            dens = stats.norm.pdf(eta)
            d_eta = -y * dens / cdf(eta) + (1 - y) * dens / cdf(-eta)
        return Xc.T @ (w * d_eta) + prec * beta

    return value, grad


@pytest.mark.parametrize("link", ["logit", "probit"])
def test_laplace_matches_direct_posterior(link):
    X, y, w, o = data()
    res = fitted(link, ALPHA, PF)
    lap = laplace(res, X, y, weights=w, offset=o, alpha=ALPHA, penalty_factor=list(PF))
    assert isinstance(lap, LaplaceResult) and bool(lap.valid) and lap.link == link
    value, grad = neg_log_posterior(link, X, y, w, o, ALPHA, np.asarray(PF))
    # The mode: scipy's optimiser on the unnormalised log posterior finds the fit.
    direct = optimize.minimize(value, np.zeros(D + 1), jac=grad, method="BFGS",
                               options={"gtol": 1e-9, "maxiter": 1000})
    close(lap.mean, direct.x, rtol=1e-6, atol=1e-7)
    assert np.max(np.abs(grad(np.asarray(lap.mean)))) < 1e-6
    # The covariance: the inverse of a central-difference Hessian of the numpy gradient.
    mean, h = np.asarray(lap.mean), 1e-5
    hess = np.stack([(grad(mean + h * e) - grad(mean - h * e)) / (2 * h) for e in np.eye(D + 1)])
    cov = np.linalg.inv(0.5 * (hess + hess.T))
    close(lap.cov, cov, rtol=1e-6, atol=1e-6 * np.sqrt(np.outer(np.diag(cov), np.diag(cov))))
    close(lap.sd, np.sqrt(np.diag(cov)), rtol=1e-6)
    # The prior shrinks the penalised slopes' posterior, not the flat one's much.
    flat = laplace(fitted(link), X, y, weights=w, offset=o)
    assert np.all(np.asarray(lap.sd)[[1, 3]] < np.asarray(flat.sd)[[1, 3]])


def test_laplace_without_penalty_is_the_observed_covariance():
    X, y, w, o = data()
    lap = laplace(fitted("probit"), X, y, weights=w, offset=o)
    inf = inferred("probit", "observed")
    close(lap.cov, inf.cov_params, rtol=SAME_PARAMS_RTOL)
    close(lap.mean, inf.params, rtol=0)


def test_laplace_batched_equals_looped_and_marks_failures():
    """Per-model strengths; model 4 is separated with a flat prior (singular), model 5 is
    given a strength other than its fit's (not a stationary point). The fits record their
    strengths, so the mismatch is refused by name; without the record (a result built by
    hand) the strength passed is used, and the stationarity check catches it."""
    X, Y, W, O, _ = batch_data(False)
    alphas = np.array([0.0, 0.01, 0.05, 0.2, 0.0, 0.1])
    Y = Y.copy()
    Y[4] = Y[5]  # separated
    fits = [jaxlogreg.fit(X, Y[b], weights=W[b], offset=O[b], alpha=alphas[b])
            for b in range(B)]
    recorded = stack(*fits)
    given = alphas.copy()
    given[5] = 0.5
    mismatch = r"alpha: 0.5 at index \(5,\) disagrees with the fit's 0.1"
    with pytest.raises(ValueError, match=mismatch):
        laplace(recorded, X, Y, weights=W, offset=O, alpha=given)
    res = dataclasses.replace(recorded, alpha=None, penalty_factor=None)
    lap = laplace(res, X, Y, weights=W, offset=O, alpha=given, chunk_size=CHUNK)
    assert lap.batch_shape == (B,) and lap.cov.shape == (B, D + 1, D + 1)
    np.testing.assert_array_equal(np.asarray(lap.valid), [True] * 4 + [False, False])
    for b in range(B):
        one = laplace(res[b], X, Y[b], weights=W[b], offset=O[b], alpha=given[b])
        for field in ("mean", "cov", "sd", "valid"):
            np.testing.assert_allclose(np.asarray(getattr(lap, field))[b],
                                       np.asarray(getattr(one, field)), rtol=BATCH_RTOL,
                                       atol=1e-15, err_msg=f"{b} {field}")
    assert np.all(np.isnan(np.asarray(lap.cov)[4:]))
    sd = np.asarray(lap.sd)
    assert sd[3, 1] < sd[2, 1] < sd[1, 1]  # a stronger prior, a tighter posterior
    # The predictive: MacKay's formula for every model and row, against numpy.
    Xn = X[:5]
    got = np.asarray(predictive(lap, Xn))
    assert got.shape == (B, 5) and np.all(np.isnan(got[4:]))
    Xc = sm.add_constant(Xn)
    for b in range(4):
        m = Xc @ np.asarray(lap.mean)[b]
        s2 = np.einsum("ij,jk,ik->i", Xc, np.asarray(lap.cov)[b], Xc)
        close(got[b], special.expit(m / np.sqrt(1 + np.pi * s2 / 8)), rtol=1e-12)
        # ... which approximates the integral of the sigmoid over N(m, s2) to about 0.02.
        exact = gauss_hermite(special.expit, m, s2)
        assert np.max(np.abs(got[b] - exact)) < 0.02


def gauss_hermite(F, m, s2, order=80):
    """``E[F(eta)]`` for ``eta ~ N(m, s2)`` by Gauss-Hermite quadrature."""
    x, wts = np.polynomial.hermite.hermgauss(order)
    eta = m[:, None] + np.sqrt(2 * s2)[:, None] * x[None, :]
    return F(eta) @ wts / np.sqrt(np.pi)


def test_probit_predictive_is_the_exact_integral():
    X, y, w, o = data()
    lap = laplace(fitted("probit", ALPHA, PF), X, y, weights=w, offset=o, alpha=ALPHA,
                  penalty_factor=list(PF))
    Xn, on = X[:20] * 3.0, o[:20]
    got = np.asarray(predictive(lap, Xn, offset=on))
    Xc = sm.add_constant(Xn)
    m = Xc @ np.asarray(lap.mean) + on
    s2 = np.einsum("ij,jk,ik->i", Xc, np.asarray(lap.cov), Xc)
    close(got, gauss_hermite(stats.norm.cdf, m, s2), rtol=1e-9, atol=1e-12)


# --------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------


def test_bad_input_raises_value_error_naming_the_argument():
    X, y, w, o = data()
    res = fitted("probit")
    with pytest.raises(ValueError, match="information"):
        inference(res, X, y, information="hessian")
    with pytest.raises(ValueError, match="class_weight"):
        inference(res, X, y, class_weight="equal")
    # Trials on the 150 rows of counts(): the program of the probit's trials test.
    with pytest.raises(ValueError, match="y"):
        inference(res, X[:150], y[:150] * 3, trials=np.ones(150))
    with pytest.raises(ValueError, match="trials"):
        inference(res, X[:150], y[:150], trials=-np.ones(150))
    with pytest.raises(ValueError, match="information"):
        score_test(res, np.column_stack([X, X[:, :1]]), y, restricted_columns=[0, 1, 2],
                   information="both")
    with pytest.raises(ValueError, match="alpha"):
        laplace(res, X, y, alpha=-1.0)
    with pytest.raises(ValueError, match="alpha"):
        laplace(res, X, y, alpha=[0.1, 0.2])  # a batch of two strengths, one fit
    with pytest.raises(ValueError, match="penalty_factor"):
        laplace(res, X, y, penalty_factor=[1.0, 1.0])
    with pytest.raises(ValueError, match="res"):
        laplace(res, X[:, :2], y)
    lap = laplace(res, X, y, weights=w, offset=o)
    with pytest.raises(ValueError, match="X"):
        predictive(lap, X[:, :2])
    with pytest.raises(ValueError, match="lap"):
        predictive(res, X)
    cloglog = LaplaceResult(lap.mean, lap.cov, lap.sd, lap.valid, link="cloglog")
    with pytest.raises(ValueError, match="lap"):
        predictive(cloglog, X)
