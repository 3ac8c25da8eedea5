"""Reference tests: `jaxlogreg._inference` against statsmodels, expanded rows, numpy and loops.

Every expected value comes from something other than the code under test: statsmodels'
``Logit`` (Newton, ``tol=1e-12``), ``GLM(family=Binomial(), freq_weights=w)`` and their
``get_influence()``, ``wald_test``, ``score_test``, ``compare_lr_test``,
``sandwich_covariance``, ``variance_inflation_factor`` and summary text; ``Logit`` on the data
with every row repeated ``w_i`` times; direct numpy formulas; single-model calls in a loop.

Degrees-of-freedom conventions checked here (see the module docstring of
``jaxlogreg._inference``): ``nobs = sum w``, ``df_model = k - 1``, ``df_resid = nobs - k``;
HC1 = HC0 * nobs / (nobs - k) (statsmodels' ``cov_white_simple(use_correction=True)``; its
Logit ``cov_type="HC1"`` applies no factor); cluster = CRV1 * G / (G - 1) * (nobs - 1) /
(nobs - k) with ``G`` the groups present in the model. With frequency weights the reference is
Logit on repeated rows, because statsmodels GLM's ``freq_weights`` robust covariances and
``nobs`` count rows, not weights (GLM's HC0 is even NaN with a zero weight).

Tolerances: ``fit`` and statsmodels each stop within ~1e-10 of the optimum, so quantities
derived from the estimates are compared at ``rtol = 1e-7``. Observed: everything agrees to
1e-9 or better except ``llr_pvalue`` (to 5e-8: statsmodels fits its null model only to about
1e-11, and a p-value of 1e-185 magnifies that); ``llnull`` itself is checked against its
closed form at 1e-13. Numpy formulas evaluated at the same parameters are compared at
``1e-9``; batched versus looped results, with the same parameters, at ``1e-10``.

Compilation dominates the run time: every data shape and static setting compiles once, so the
tests reuse few shapes: the batch of twelve models is built by stacking single fits (one
compiled fit, shared with the "offset" data set's, which has the seed data's shape) rather
than by compiling the batched solver. Assertions index results as NumPy arrays (``host``):
indexing a JAX array compiles a program per shape.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import re
import warnings

import jax
import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats
from statsmodels.regression.linear_model import RegressionResults
from statsmodels.stats import sandwich_covariance
from statsmodels.stats.outliers_influence import variance_inflation_factor

import jaxlogreg
from _data import simulate
from jaxlogreg import FitResult, Status
from jaxlogreg._inference import (
    InferenceResult,
    csv_columns,
    lr_test,
    score_test,
    summary,
    to_csv,
    to_dict,
    variance_inflation_factors,
    wald_test,
)


def inference(*args, rows=True, **kwargs):
    """:func:`jaxlogreg.inference` with its per-row fields (``rows=True``), which most tests
    here compare with statsmodels' residuals and influence measures."""
    return jaxlogreg.inference(*args, rows=rows, **kwargs)


RTOL = 1e-7
SAME_PARAMS_RTOL = 1e-9
BATCH_RTOL = 1e-10


# --------------------------------------------------------------------------------------------
# Data (fixed seeds)
# --------------------------------------------------------------------------------------------


@functools.cache
def dataset(name):
    """``(X, y, weights or None, offset or None)``. The ``n = 2000, d = 3`` sets share
    compilations; the "offset" set has the seed data's shape ``(1000, 6)``, so that its fit
    (with an offset) is the one the batch's models compile."""
    if name == "seed":
        d = jaxlogreg.make_seed_data()
        return d.X, d.y, None, None
    n = 2000
    if name == "imbalanced":
        rng = np.random.default_rng(101)
        X = rng.normal(size=(n, 3))
        return X, simulate(rng, X, -4.2, [0.8, -0.5, 0.3]), None, None
    if name == "weights":
        rng = np.random.default_rng(103)
        X = rng.normal(size=(n, 3))
        y = simulate(rng, X, 0.3, [1.0, -1.0, 0.5])
        return X, y, rng.integers(0, 4, size=n).astype(np.float64), None
    if name == "offset":
        rng = np.random.default_rng(104)
        n = 1000
        X = rng.normal(size=(n, 6))
        o = rng.normal(0.0, 1.5, size=n)
        return X, simulate(rng, X, 0.3, [1.0, -1.0, 0.5, 0.3, -0.3, 0.2], offset=o), None, o
    raise KeyError(name)


@functools.cache
def fitted(name):
    X, y, w, o = dataset(name)
    res = jaxlogreg.fit(X, y, weights=w, offset=o)
    assert int(res.status) == Status.CONVERGED
    return res


@functools.cache
def inferred(name, cov_type="nonrobust"):
    X, y, w, o = dataset(name)
    kw = {"groups": groups_for(name)} if cov_type == "cluster" else {}
    return inference(fitted(name), X, y, weights=w, offset=o, cov_type=cov_type, **kw)


@functools.cache
def groups_for(name):
    """Cluster labels: about 40 groups, labels neither consecutive nor starting at 0."""
    n = dataset(name)[0].shape[0]
    rng = np.random.default_rng(301)
    return rng.integers(0, 40, size=n) * 7 + 100


def expand(name):
    """The weighted data set with row ``i`` repeated ``w_i`` times, and the row index."""
    X, y, w, _ = dataset(name)
    idx = np.repeat(np.arange(len(y)), w.astype(np.int64))
    return X[idx], y[idx], idx


# --------------------------------------------------------------------------------------------
# statsmodels references
# --------------------------------------------------------------------------------------------


@functools.cache
def sm_logit(name, cov_type="nonrobust", expanded=False, columns=None):
    """statsmodels Logit on ``add_constant(X)`` (or its expanded rows / a subset of columns)."""
    X, y, w, o = dataset(name)
    groups = groups_for(name)
    if expanded:
        X, y, idx = expand(name)
        groups = groups[idx]
    if columns is not None:
        X = X[:, list(columns)]
    kw = {}
    if cov_type == "cluster":
        kw = {"cov_type": "cluster", "cov_kwds": {"groups": groups}}
    elif cov_type != "nonrobust":
        kw = {"cov_type": cov_type}
    model = sm.Logit(y, sm.add_constant(X, has_constant="add"), offset=o)
    res = model.fit(method="newton", tol=1e-12, maxiter=100, disp=0, **kw)
    assert res.mle_retvals["converged"]
    return res


@functools.cache
def sm_glm(name):
    X, y, w, o = dataset(name)
    glm = sm.GLM(y, sm.add_constant(X), family=sm.families.Binomial(), freq_weights=w, offset=o)
    res = glm.fit(tol=1e-14, maxiter=200)
    assert res.converged
    return res


def close(actual, desired, rtol=RTOL, atol=0.0, err_msg=""):
    """``|actual - desired| <= atol + rtol |desired|`` elementwise (``atol`` may be an array
    broadcasting against them, e.g. a per-coefficient scale); NaN matches only NaN."""
    a = np.asarray(actual, dtype=np.float64)
    d = np.asarray(desired, dtype=np.float64)
    assert a.shape == d.shape, (err_msg, a.shape, d.shape)
    bound = np.broadcast_to(np.asarray(atol) + rtol * np.abs(d), d.shape)
    bad = ~((np.abs(a - d) <= bound) | (a == d) | (np.isnan(a) & np.isnan(d)))
    if bad.any():
        i = tuple(int(j) for j in np.argwhere(bad)[0]) if bad.ndim else ()
        with np.errstate(divide="ignore", invalid="ignore"):
            worst = np.nanmax(np.abs(a - d) / np.abs(d), initial=0.0)
        raise AssertionError(
            f"{err_msg}: {bad.sum()} of {bad.size} differ; first at {i}: {a[i]!r} vs {d[i]!r} "
            f"(bound {bound[i]:.3g}, max rel {worst:.3g})"
        )


def host(result):
    """A result with its arrays as NumPy arrays: indexing these compiles nothing (indexing a
    JAX array compiles a program per shape)."""
    return jax.tree_util.tree_map(np.asarray, result)


def assert_matches_logit(inf, ref, rtol=RTOL):
    """Every field statsmodels' Logit reports, field by field."""
    params = np.asarray(ref.params)
    bse = np.asarray(ref.bse)
    close(inf.params, params, rtol, atol=1e-9 * bse, err_msg="params")
    close(inf.bse, bse, rtol, err_msg="bse")
    close(inf.cov_params, ref.cov_params(), rtol, atol=rtol * np.outer(bse, bse), err_msg="cov")
    close(inf.tvalues, ref.tvalues, rtol, atol=1e-8, err_msg="tvalues")
    close(inf.pvalues, ref.pvalues, rtol, atol=1e-12, err_msg="pvalues")
    close(inf.conf_int, ref.conf_int(alpha=inf.alpha), rtol, atol=1e-9 * bse[:, None], err_msg="ci")
    close(inf.odds_ratios, np.exp(params), rtol, err_msg="odds_ratios")
    close(inf.odds_ratios_conf_int, np.exp(ref.conf_int(alpha=inf.alpha)), rtol, err_msg="or ci")
    for field in ("llf", "llnull", "llr", "llr_pvalue", "prsquared", "aic", "bic"):
        close(getattr(inf, field), getattr(ref, field), rtol, err_msg=field)
    for field in ("df_model", "df_resid", "nobs"):
        close(getattr(inf, field), getattr(ref, field), rtol=0, err_msg=field)


# --------------------------------------------------------------------------------------------
# Single models against statsmodels
# --------------------------------------------------------------------------------------------


def test_datasets_are_what_they_claim():
    _, y, _, _ = dataset("imbalanced")
    assert 0.015 < y.mean() < 0.045
    _, _, w, _ = dataset("weights")
    assert np.all(w == np.round(w)) and (w == 0).any() and (w > 1).any()
    # Cluster labels: not consecutive, and about 40 of them.
    g = groups_for("seed")
    assert g.min() >= 100 and 35 <= len(np.unique(g)) <= 40


@pytest.mark.parametrize("name", ["seed", "imbalanced", "offset"])
def test_nonrobust_matches_logit(name):
    inf = inferred(name)
    assert isinstance(inf, InferenceResult)
    k = dataset(name)[0].shape[1] + 1
    assert inf.params.shape == (k,) and inf.cov_params.shape == (k, k)
    assert inf.conf_int.shape == (k, 2) and inf.llf.shape == ()
    assert bool(inf.valid) and int(inf.status) == Status.CONVERGED
    assert_matches_logit(inf, sm_logit(name))
    if name != "offset":
        # Without an offset the null model has a closed form (statsmodels fits it, to ~1e-11).
        y = dataset(name)[1]
        m = y.mean()
        close(inf.llnull, len(y) * (m * np.log(m) + (1 - m) * np.log1p(-m)), rtol=1e-13)


def test_weighted_nonrobust_matches_expanded_rows_and_glm_freq_weights():
    inf = inferred("weights")
    # Frequency weights are repeated rows: Logit on the expanded data.
    assert_matches_logit(inf, sm_logit("weights", expanded=True))
    # ... and GLM with freq_weights.
    glm = sm_glm("weights")
    for field in ("params", "bse", "llf", "llnull", "aic", "deviance", "pearson_chi2"):
        close(getattr(inf, field), getattr(glm, field), err_msg=field)
    close(inf.bic, glm.bic_llf)
    close(inf.df_resid, glm.df_resid, rtol=0)
    # The weights matter: the unweighted model is a different one.
    X, y, _, _ = dataset("weights")
    plain = sm.Logit(y, sm.add_constant(X)).fit(method="newton", disp=0)
    assert np.max(np.abs(np.asarray(inf.bse) / plain.bse - 1)) > 0.05


@pytest.mark.parametrize("name", ["seed", "imbalanced", "weights"])
def test_glm_quantities_residuals_and_influence(name):
    inf = inferred(name)
    glm = sm_glm(name)
    for field in ("deviance", "pearson_chi2"):
        close(getattr(inf, field), getattr(glm, field), err_msg=field)
    close(inf.resid_response, glm.resid_response, atol=1e-12)
    close(inf.resid_pearson, glm.resid_pearson, atol=1e-10)
    close(inf.resid_dev, glm.resid_deviance, atol=1e-10)
    hat, cooks = glm_influence(glm)
    close(inf.hat_matrix_diag, hat, atol=1e-14)
    close(inf.cooks_distance, cooks, atol=1e-16)
    assert inf.hat_matrix_diag.shape == inf.resid_pearson.shape == dataset(name)[1].shape
    # The leverages of a model with an intercept sum to k (trace of the hat matrix).
    close(np.sum(np.asarray(inf.hat_matrix_diag)), inf.params.shape[-1], rtol=1e-10)


def test_pseudo_r_squared():
    for name in ("seed", "imbalanced"):
        inf = inferred(name)
        glm = sm_glm(name)
        close(inf.prsquared_cox_snell, glm.pseudo_rsquared("cs"))
        close(inf.prsquared, glm.pseudo_rsquared("mcf"))
        n = dataset(name)[0].shape[0]
        max_cs = 1.0 - np.exp(2.0 * glm.llnull / n)
        close(inf.prsquared_nagelkerke, glm.pseudo_rsquared("cs") / max_cs)
    # With weights, nobs = sum w (repeated rows; GLM's own pseudo_rsquared uses the row count).
    inf = inferred("weights")
    X, y, _ = expand("weights")
    glm_rows = sm.GLM(y, sm.add_constant(X), family=sm.families.Binomial()).fit(tol=1e-14)
    close(inf.prsquared_cox_snell, glm_rows.pseudo_rsquared("cs"))
    max_cs = 1.0 - np.exp(2.0 * glm_rows.llnull / len(y))
    close(inf.prsquared_nagelkerke, glm_rows.pseudo_rsquared("cs") / max_cs)


def test_influence_matches_logit_mle_influence():
    """Logit's generic MLEInfluence agrees with GLM's formulas for this canonical link."""
    inf = inferred("seed")
    influence = sm_logit("seed").get_influence()
    close(inf.hat_matrix_diag, influence.hat_matrix_diag, atol=1e-14)
    close(inf.cooks_distance, influence.cooks_distance[0], atol=1e-16)


def test_weighted_leverage_is_the_leverage_of_all_copies():
    inf = inferred("weights")
    X, y, idx = expand("weights")
    rows = sm.GLM(y, sm.add_constant(X), family=sm.families.Binomial()).fit(tol=1e-14)
    hat_rows = rows.get_hat_matrix_diag()
    n = dataset("weights")[0].shape[0]
    expected = np.bincount(idx, weights=hat_rows, minlength=n)
    close(inf.hat_matrix_diag, expected, atol=1e-14)
    # Per-row residuals are those of any one copy.
    first = np.unique(idx, return_index=True)[1]
    close(np.asarray(inf.resid_pearson)[idx[first]], rows.resid_pearson[first], atol=1e-10)


def test_llnull_with_offset_is_the_intercept_and_offset_model():
    inf = inferred("offset")
    X, y, _, o = dataset("offset")
    null = sm.GLM(y, np.ones((len(y), 1)), family=sm.families.Binomial(), offset=o).fit(tol=1e-14)
    close(inf.llnull, null.llf, rtol=1e-12)
    close(inf.llnull, sm_logit("offset").llnull)
    # The offset matters: without it the null model is another.
    mean = y.mean()
    no_offset = len(y) * (mean * np.log(mean) + (1 - mean) * np.log1p(-mean))
    assert abs(float(inf.llnull) - no_offset) > 1.0


@pytest.mark.parametrize(
    "name, cov_type", [("seed", "HC0"), ("imbalanced", "HC0"), ("imbalanced", "cluster")]
)
def test_robust_cov_matches_logit(name, cov_type):
    inf = inferred(name, cov_type)
    assert inf.cov_type == cov_type
    assert_matches_logit(inf, sm_logit(name, cov_type))


def test_hc1_is_hc0_with_small_sample_factor():
    ref = sm_logit("seed", "HC0")
    expected = sandwich_covariance.cov_white_simple(ref, use_correction=True)
    inf = inferred("seed", "HC1")
    close(inf.cov_params, expected, atol=1e-12 * np.max(np.abs(expected)))
    nobs, k = 1000, 7
    hc0 = np.asarray(inferred("seed", "HC0").cov_params)
    close(inf.cov_params, hc0 * nobs / (nobs - k), rtol=1e-12)
    # (statsmodels' own Logit(cov_type="HC1") applies no factor: it returns HC0.)
    assert np.all(np.asarray(inf.bse) / sm_logit("seed", "HC0").bse > 1.003)


@pytest.mark.parametrize("cov_type", ["HC0", "HC1", "cluster"])
def test_weighted_robust_cov_matches_expanded_rows(cov_type):
    inf = inferred("weights", cov_type)
    if cov_type == "HC1":
        ref = sm_logit("weights", "HC0", expanded=True)
        expected = sandwich_covariance.cov_white_simple(ref, use_correction=True)
        close(inf.cov_params, expected, atol=1e-12 * np.max(np.abs(expected)))
    else:
        assert_matches_logit(inf, sm_logit("weights", cov_type, expanded=True))


def test_alpha_sets_the_interval_level():
    X, y, _, _ = dataset("seed")
    inf = inference(fitted("seed"), X, y, alpha=0.1)
    assert inf.alpha == 0.1
    ref = sm_logit("seed")
    close(inf.conf_int, ref.conf_int(alpha=0.1), atol=1e-9 * ref.bse[:, None])
    assert np.all(np.asarray(inf.conf_int)[:, 0] > np.asarray(inferred("seed").conf_int)[:, 0])


def test_no_intercept_fit_on_add_constant_equals_intercept_fit():
    """A FitResult with fit_intercept=False holding the same estimates, over add_constant(X)
    (what fit(add_constant(X), y, fit_intercept=False) returns, to its tolerance), is the same
    model: every number agrees, and statsmodels' conventions (df_model = k - 1, llnull of the
    model with a constant) hold as they do for its Logit on add_constant(X)."""
    X, y, _, _ = dataset("seed")
    res = fitted("seed")
    k = X.shape[1] + 1
    no_int = FitResult(
        coef=res.params, intercept=np.zeros(()), status=res.status, n_iter=res.n_iter,
        loss=res.loss, grad_norm=res.grad_norm, fit_intercept=False,
    )
    inf = inference(no_int, sm.add_constant(X), y)
    assert not inf.fit_intercept
    assert_matches_logit(inf, sm_logit("seed"))
    ref = inferred("seed")
    for field in ("hat_matrix_diag", "cooks_distance", "resid_dev", "df_model"):
        close(getattr(inf, field), getattr(ref, field), rtol=1e-10, atol=1e-16, err_msg=field)
    assert float(inf.df_model) == k - 1


# --------------------------------------------------------------------------------------------
# Batches
# --------------------------------------------------------------------------------------------

B = 12
CHUNK = 5  # 12 models in chunks of 5: the last chunk overlaps the one before it.
CONVERGING = tuple(range(8))
FAILING = (8, 9, 10, 11)
OFFSET_MODEL = 6


@functools.cache
def batch_data():
    """Twelve models over the shared seed design ``X (1000, 6)``, with ``Y, W, O`` ``(12, n)``:

    0-7  bootstrap resamples of the seed labels; models 0, 2, 4, 6 also lose 1-4 whole
         clusters of ``groups_for("seed")`` (so the number of clusters differs by model);
         model 6 has an offset (its llnull needs the Newton iteration);
    8    complete separation: y = Y5 (a 0/1 column);
    9    all y = 0;
    10   the seed labels, weight 0 on rows where y != Y5 (separated through its weights);
    11   weight only on rows with Y5 = 0: the Y5 column is all zero there (singular).
    """
    X, y, _, _ = dataset("seed")
    g = groups_for("seed")
    rng = np.random.default_rng(201)
    n = len(y)
    W = np.ones((B, n))
    W[:8] = rng.multinomial(n, np.full(n, 1.0 / n), size=8)
    labels = np.unique(g)
    for b in range(0, 8, 2):
        W[b, np.isin(g, rng.choice(labels, size=b // 2 + 1, replace=False))] = 0.0
    Y = np.broadcast_to(y, (B, n)).copy()
    Y[8] = X[:, 4]
    Y[9] = 0.0
    W[10] = (y == X[:, 4]).astype(np.float64)
    W[11] = (X[:, 4] == 0).astype(np.float64)
    O = np.zeros((B, n))
    O[OFFSET_MODEL] = rng.normal(0.0, 1.0, size=n)
    return X, Y, W, O


@functools.cache
def batch_fit():
    """The fits of the twelve models: single fits (one compiled fit, the "offset" set's) stacked
    into one batch FitResult -- what ``fit(X, Y, weights=W, offset=O)`` returns, to the
    solver's tolerance, without compiling the batched solver in this file. Stacked in NumPy,
    so that neither the stacking nor a test's ``res[b]`` compiles a program."""
    X, Y, W, O = batch_data()
    fits = [jaxlogreg.fit(X, Y[b], weights=W[b], offset=O[b]) for b in range(B)]
    return jax.tree_util.tree_map(lambda *a: np.stack(a), *fits)


@functools.cache
def batch_inference(cov_type="nonrobust"):
    X, Y, W, O = batch_data()
    kw = {"groups": groups_for("seed")} if cov_type == "cluster" else {}
    return inference(
        batch_fit(), X, Y, weights=W, offset=O, cov_type=cov_type, chunk_size=CHUNK, **kw
    )


def test_batch_statuses():
    status = np.asarray(batch_fit().status)
    np.testing.assert_array_equal(status[list(CONVERGING)], int(Status.CONVERGED))
    np.testing.assert_array_equal(status[[8, 9, 10]], int(Status.SEPARATED))
    assert status[11] == Status.SINGULAR
    # statsmodels agrees that model 11's design is rank deficient on its weighted rows.
    X, _, W, _ = batch_data()
    rows = W[11] > 0
    assert np.linalg.matrix_rank(sm.add_constant(X)[rows]) == X.shape[1]


def assert_same_inference(a, b, rtol=BATCH_RTOL, err_msg=""):
    """Field by field, NaN where the other is NaN, static metadata equal."""
    for field in dataclasses.fields(InferenceResult):
        x, y = getattr(a, field.name), getattr(b, field.name)
        if field.metadata.get("static"):
            assert x == y, field.name
            continue
        y = np.asarray(y)
        scale = np.max(np.abs(y[np.isfinite(y)]), initial=0.0) if y.dtype.kind == "f" else 0.0
        if field.name == "llr":  # a difference of log-likelihoods: rounding is relative to them
            scale = max(scale, float(np.max(np.abs(np.asarray(b.llf)))))
        if field.name.startswith("prsquared"):  # 1 - a ratio: rounding is relative to 1
            scale = max(scale, 1.0)
        # A residual moves with the fitted mean over sqrt(mu (1 - mu)): the two fits' 1e-13
        # relative agreement becomes about 1e-12 of the largest residual where mu nears a
        # label (the deviance residual, a square root of a difference, is then tiny).
        floor = 1e-11 if field.name.startswith("resid") else 1e-13
        np.testing.assert_allclose(
            np.asarray(x), y, rtol=rtol, atol=floor * scale, err_msg=f"{err_msg} {field.name}"
        )


@pytest.mark.parametrize("cov_type", ["nonrobust", "HC1"])
def test_batch_equals_loop_of_single_models(cov_type):
    X, Y, W, O = batch_data()
    res = batch_fit()
    batch = batch_inference(cov_type)
    assert batch.batch_shape == (B,)
    assert batch.cov_params.shape == (B, 7, 7) and batch.conf_int.shape == (B, 7, 2)
    assert batch.hat_matrix_diag.shape == (B, X.shape[0])
    kw = {"groups": groups_for("seed")} if cov_type == "cluster" else {}
    models = host(batch)
    for b in range(B):
        single = inference(res[b], X, Y[b], weights=W[b], offset=O[b], cov_type=cov_type, **kw)
        assert_same_inference(models[b], single, err_msg=f"model {b}")
    # The models really differ, so a batch that mixed them up would fail above.
    assert np.ptp(np.asarray(batch.bse)[:8, 5]) > 1e-3


COVARIANCE_FIELDS = ("cov_params", "bse", "tvalues", "pvalues", "conf_int",
                     "odds_ratios_conf_int", "llr_pvalue", "hat_matrix_diag", "cooks_distance")


@pytest.mark.parametrize("cov_type", ["nonrobust", "cluster"])
def test_failed_models_get_nan_and_the_others_are_right(cov_type):
    res = batch_fit()
    inf = batch_inference(cov_type)
    valid = np.zeros(B, bool)
    valid[list(CONVERGING)] = True
    np.testing.assert_array_equal(np.asarray(inf.valid), valid)
    np.testing.assert_array_equal(np.asarray(inf.status), np.asarray(res.status))
    for field in COVARIANCE_FIELDS:
        a = np.asarray(getattr(inf, field))
        assert np.all(np.isnan(a[~valid])), field
        assert np.all(np.isfinite(a[valid])), field
    # The fitted values of every model are still reported.
    assert np.all(np.isfinite(np.asarray(inf.llf)))
    np.testing.assert_array_equal(np.asarray(inf.params), np.asarray(res.params))
    # All-zero labels: the intercept-only model is separated too; its supremum is 0.
    assert float(np.asarray(inf.llnull)[9]) == 0.0


def glm_influence(glm):
    """statsmodels' GLM influence with the expected information (the same as the observed
    one for this canonical link); the observed one divides by freq_weights, 0/0 on rows of
    weight 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        influence = glm.get_influence(observed=False)
        return influence.hat_matrix_diag, influence.cooks_distance[0]


@pytest.mark.parametrize("b", [0, OFFSET_MODEL, 7])
def test_batch_matches_glm_freq_weights(b):
    X, Y, W, O = batch_data()
    inf = host(batch_inference())
    glm = sm.GLM(Y[b], sm.add_constant(X), family=sm.families.Binomial(), freq_weights=W[b],
                 offset=O[b]).fit(tol=1e-14)
    for field in ("params", "bse", "pvalues", "llf", "llnull", "deviance", "pearson_chi2"):
        close(getattr(inf, field)[b], getattr(glm, field), atol=1e-12, err_msg=field)
    close(inf.bic[b], glm.bic_llf)
    hat, cooks = glm_influence(glm)
    close(inf.hat_matrix_diag[b], hat, atol=1e-14, err_msg="hat")
    close(inf.cooks_distance[b], cooks, atol=1e-16, err_msg="cooks")
    close(inf.resid_dev[b], glm.resid_deviance, atol=1e-10)


@pytest.mark.parametrize("b", [1, 4, OFFSET_MODEL])
def test_batch_cluster_counts_only_groups_present_in_each_model(b):
    """Model 4 has three whole clusters dropped: statsmodels on its expanded rows sees three
    groups fewer, and so must the correction factor here. (The cluster batch is checked model
    by model against statsmodels rather than against a loop of single calls.)"""
    X, Y, W, O = batch_data()
    g = groups_for("seed")
    inf = host(batch_inference("cluster"))[b]
    idx = np.repeat(np.arange(X.shape[0]), W[b].astype(np.int64))
    ref = sm.Logit(Y[b][idx], sm.add_constant(X[idx]), offset=O[b][idx]).fit(
        method="newton", tol=1e-12, disp=0, cov_type="cluster", cov_kwds={"groups": g[idx]}
    )
    assert_matches_logit(inf, ref)
    assert len(np.unique(g[W[4] > 0])) == len(np.unique(g)) - 3


def test_per_model_design_and_two_dimensional_batch():
    """``X (3, 4, n, d)`` (a copy per model) with a (3, 4) batch gives the shared-X results."""
    X, Y, W, O = batch_data()
    grid = jax.tree_util.tree_map(lambda a: a.reshape((3, 4) + a.shape[1:]), batch_fit())
    Xs = np.broadcast_to(X, (3, 4) + X.shape)
    r = lambda a: a.reshape((3, 4, -1))  # noqa: E731
    inf = inference(grid, Xs, r(Y), weights=r(W), offset=r(O), cov_type="HC0")
    assert inf.batch_shape == (3, 4)
    assert inf.cov_params.shape == (3, 4, 7, 7) and inf.conf_int.shape == (3, 4, 7, 2)
    assert inf.resid_pearson.shape == (3, 4, X.shape[0])
    shared = inference(batch_fit(), X, Y, weights=W, offset=O, cov_type="HC0", chunk_size=CHUNK)
    flat = jax.tree_util.tree_map(lambda a: np.asarray(a).reshape((B,) + a.shape[2:]), inf)
    assert_same_inference(flat, shared)


def test_singular_design_gives_nan_even_if_reported_converged():
    X, y, _, _ = dataset("imbalanced")
    Xs = X.copy()
    Xs[:, 2] = Xs[:, 0] + Xs[:, 1]
    res = jaxlogreg.fit(Xs, y)
    assert int(res.status) == Status.SINGULAR
    inf = inference(res, Xs, y)
    assert not bool(inf.valid)
    assert np.all(np.isnan(np.asarray(inf.bse)))
    # A result claiming convergence on a singular design: the information matrix's own
    # factorisation still refuses it.
    forced = dataclasses.replace(res, status=np.asarray(int(Status.CONVERGED), np.int32))
    inf = inference(forced, Xs, y)
    assert not bool(inf.valid)
    assert np.all(np.isnan(np.asarray(inf.bse))) and np.isnan(float(inf.llr_pvalue))
    assert np.isfinite(float(inf.llf))


def test_jit_equals_eager():
    """The whole call inside the user's jit (values unchecked, cluster labels traced, so the
    ids come from jnp.unique) gives the eager results."""
    X, y, w, _ = dataset("weights")
    res = fitted("weights")
    eager = inferred("weights", "cluster")

    @jax.jit
    def run(res, X, y, w, groups):
        return inference(res, X, y, weights=w, cov_type="cluster", groups=groups)

    jitted = run(res, X, y, w, groups_for("weights"))
    assert isinstance(jitted, InferenceResult) and jitted.cov_type == "cluster"
    assert_same_inference(jitted, eager, rtol=1e-12)


def test_inference_result_is_a_pytree_with_static_metadata():
    inf = batch_inference("HC1")
    leaves, treedef = jax.tree_util.tree_flatten(inf)
    static = ("alpha", "cov_type", "fit_intercept", "link", "information", "names", "yname")
    assert len(leaves) == len(dataclasses.fields(InferenceResult)) - len(static)
    back = jax.tree_util.tree_unflatten(treedef, leaves)
    assert back.cov_type == "HC1" and back.alpha == 0.05 and back.fit_intercept
    assert back.link == "logit" and back.information == "expected"
    sub = inf[2:5]
    assert sub.batch_shape == (3,) and sub.hat_matrix_diag.shape == (3, 1000)
    np.testing.assert_array_equal(np.asarray(sub.bse), np.asarray(inf.bse)[2:5])


# --------------------------------------------------------------------------------------------
# Tests of hypotheses
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cov_type", ["nonrobust", "HC0"])
def test_wald_test_matches_statsmodels(cov_type):
    inf = inferred("seed", cov_type)
    ref = sm_logit("seed", cov_type)
    R = np.zeros((2, 7))
    R[0, 1] = 1.0
    R[1, 2], R[1, 3] = 1.0, -1.0
    for q in (None, np.array([0.01, -0.02])):
        got = wald_test(inf, R, q)
        want = ref.wald_test(R if q is None else (R, q), scalar=True, use_f=False)
        close(got.statistic, want.statistic, err_msg=str(q))
        close(got.pvalue, want.pvalue, err_msg=str(q))
        assert float(got.df) == want.df_denom == 2
    R1 = np.zeros((2, 7))
    R1[0, 4] = 1.0
    R1[1, 4] = 2.0  # rank 1: R V R^T is singular
    assert np.isnan(float(wald_test(inf, R1).statistic))


def test_wald_test_batched_and_degenerate():
    inf = batch_inference()
    cols = [1, 2, 5]
    R = np.broadcast_to(np.eye(7)[cols], (B, 3, 7)).copy()
    got = host(wald_test(inf, R))
    assert got.statistic.shape == (B,)
    assert np.all(np.isnan(np.asarray(got.statistic)[list(FAILING)]))
    for b in CONVERGING:
        V = np.asarray(inf.cov_params)[b][np.ix_(cols, cols)]
        r = np.asarray(inf.params)[b][cols]
        close(got.statistic[b], r @ np.linalg.solve(V, r), rtol=SAME_PARAMS_RTOL)
        close(got.pvalue[b], stats.chi2.sf(float(got.statistic[b]), 3), rtol=SAME_PARAMS_RTOL)
    # A rank-deficient R in one model: NaN there, not an exception, and the others unchanged.
    R[3, 2] = R[3, 0]
    got_b = host(wald_test(inf, R))
    assert np.isnan(float(got_b.statistic[3])) and np.isnan(float(got_b.pvalue[3]))
    others = lambda t: np.delete(np.asarray(t.statistic), 3)  # noqa: E731
    close(others(got_b), others(got), rtol=1e-12)


@functools.cache
def restricted():
    """The "imbalanced" model without its second column, fitted and inferred."""
    X, y, _, _ = dataset("imbalanced")
    cols = [0, 2]
    res = jaxlogreg.fit(X[:, cols], y)
    assert int(res.status) == Status.CONVERGED
    return cols, res, inference(res, X[:, cols], y)


def test_lr_test_matches_compare_lr_test():
    cols, _, inf_r = restricted()
    inf_f = inferred("imbalanced")
    got = lr_test(inf_r, inf_f)
    full, restr = sm_logit("imbalanced"), sm_logit("imbalanced", columns=tuple(cols))
    want = RegressionResults.compare_lr_test(full, restr)
    close(got.statistic, want.statistic)
    close(got.pvalue, want.pvalue)
    assert float(got.df_diff) == want.df_diff == 1
    # Batched: a batch of restricted and full results stacked from the two data sets' models.
    stack = lambda *r: jax.tree_util.tree_map(lambda *a: np.stack(a), *r)  # noqa: E731
    batch = lr_test(stack(inf_r, inf_r), stack(inf_f, inf_f))
    assert batch.statistic.shape == (2,)
    close(batch.statistic, [float(got.statistic)] * 2, rtol=1e-14)


def score_reference(X, y, w, params, offset=0.0):
    """``g^T I^-1 g`` of the full model at ``params``, directly in numpy."""
    Xc = np.column_stack([np.ones(len(y)), X])
    mu = 1.0 / (1.0 + np.exp(-(Xc @ params + offset)))
    g = Xc.T @ (w * (y - mu))
    info = Xc.T @ (Xc * (w * mu * (1.0 - mu))[:, None])
    return g @ np.linalg.solve(info, g)


def test_score_test_matches_statsmodels_and_numpy():
    cols, res_r, _ = restricted()
    X, y, _, _ = dataset("imbalanced")
    got = score_test(res_r, X, y, restricted_columns=cols)
    want = sm_logit("imbalanced", columns=tuple(cols)).score_test(exog_extra=X[:, [1]])
    close(got.statistic, want.statistic[0])
    close(got.pvalue, want.pvalue[0])
    assert float(got.df) == 1
    full_params = np.zeros(4)
    full_params[[0, 1, 3]] = np.asarray(res_r.params)
    close(got.statistic, score_reference(X, y, np.ones(len(y)), full_params), rtol=SAME_PARAMS_RTOL)
    # The three classical tests agree asymptotically; here they are all decisive or not alike.
    lr = lr_test(restricted()[2], inferred("imbalanced"))
    assert abs(float(got.statistic) / float(lr.statistic) - 1) < 0.2


def test_score_test_batched_weighted_and_column_order():
    """The restricted models are the batch's twelve fits on the seed data; the full model has
    one extra column inserted in the middle, so restricted_columns is not a prefix."""
    X, Y, W, O = batch_data()
    res = batch_fit()
    extra = np.random.default_rng(7).normal(size=X.shape[0]) * 10 + X[:, 0] * 0.1
    X_full = np.column_stack([X[:, :2], extra, X[:, 2:]])
    cols = [0, 1, 3, 4, 5, 6]
    got = host(score_test(res, X_full, Y, weights=W, offset=O, restricted_columns=cols,
                          chunk_size=CHUNK))
    assert got.statistic.shape == (B,)
    np.testing.assert_array_equal(np.asarray(got.df), 1.0)
    assert np.all(np.isnan(np.asarray(got.statistic)[list(FAILING)]))
    for b in CONVERGING:
        params = np.zeros(8)
        params[[0, 1, 2, 4, 5, 6, 7]] = np.asarray(res.params)[b]
        want = score_reference(X_full, Y[b], W[b], params, O[b])
        close(got.statistic[b], want, rtol=SAME_PARAMS_RTOL)
    b = 3
    y = Y[b]
    idx = np.repeat(np.arange(len(y)), W[b].astype(np.int64))
    ref = sm.Logit(y[idx], sm.add_constant(X[idx])).fit(method="newton", tol=1e-12, disp=0)
    want = ref.score_test(exog_extra=extra[idx][:, None])
    close(got.statistic[b], want.statistic[0])
    close(got.pvalue[b], want.pvalue[0])


# --------------------------------------------------------------------------------------------
# Variance inflation factors
# --------------------------------------------------------------------------------------------


def sm_vif(design, standardize):
    """statsmodels' VIF of every column (its ill-conditioning UserWarning silenced)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return [variance_inflation_factor(design, j, standardize=standardize)
                for j in range(design.shape[1])]


@functools.cache
def vif_designs():
    """Three designs of one shape ``(3, 1000, 7)``: add_constant(seed X) (a constant: centered
    R^2); the seed X and one more column (no constant: uncentered unless standardized); three
    dummies of a category and four normal columns (an implicit constant)."""
    X = dataset("seed")[0]
    rng = np.random.default_rng(5)
    cat = rng.integers(0, 3, size=X.shape[0])
    dummies = np.column_stack([(cat == c).astype(float) for c in range(3)])
    return np.stack([
        sm.add_constant(X),
        np.column_stack([X, np.sqrt(X[:, 0])]),
        np.column_stack([dummies, rng.normal(size=(X.shape[0], 4))]),
    ])


@pytest.mark.parametrize("standardize", [True, False])
def test_vif_matches_statsmodels(standardize):
    designs = vif_designs()
    got = np.asarray(variance_inflation_factors(designs, standardize=standardize))
    assert got.shape == (3, 7)
    for m in range(3):
        if standardize and m == 2:
            # Standardized, the three dummies are exactly collinear with no constant in their
            # span; statsmodels' pinv then keeps a singular value of 1e-14 and is off by 5e-4.
            continue
        close(got[m], sm_vif(designs[m], standardize), rtol=SAME_PARAMS_RTOL, err_msg=str(m))
    # The designs differ where they should (else the loop above could not tell them apart).
    assert got[0, 0] != got[1, 0]


def test_vif_of_add_constant_does_not_depend_on_standardizing():
    a = np.asarray(variance_inflation_factors(vif_designs(), standardize=True))[0]
    b = np.asarray(variance_inflation_factors(vif_designs(), standardize=False))[0]
    close(a[1:], b[1:], rtol=SAME_PARAMS_RTOL)
    assert a[0] == 1.0 and b[0] > 1.0


# --------------------------------------------------------------------------------------------
# Reports
# --------------------------------------------------------------------------------------------


def test_summary_reproduces_statsmodels_numbers():
    ref = sm_logit("seed").summary().as_text()
    ours = summary(inferred("seed"))
    ref_lines, our_lines = ref.splitlines(), ours.splitlines()
    # The coefficient table, line for line (header, rule, one row per parameter, rule).
    start = next(i for i, s in enumerate(ref_lines) if s.strip().startswith("coef"))
    ours_start = next(i for i, s in enumerate(our_lines) if s.strip().startswith("coef"))
    assert our_lines[ours_start:ours_start + 9] == ref_lines[start:start + 9]
    for label in ("No. Observations:", "Df Residuals:", "Df Model:", "Pseudo R-squ.:",
                  "Log-Likelihood:", "LL-Null:", "LLR p-value:", "converged:",
                  "Covariance Type:", "Dep. Variable:"):
        value = lambda text: text.split(label)[1].split()[0]  # noqa: E731, B023 (used at once)
        assert value(ours) == value(ref), label
    # Names, and a model chosen from a batch.
    names = list(jaxlogreg.make_seed_data().feature_names)
    text = summary(batch_inference(), index=4, names=names)
    assert "Y5" in text and "const" in text
    row = next(s for s in text.splitlines() if s.startswith("Y5")).split()
    assert row[1] == f"{float(np.asarray(batch_inference().params)[4, 5]):.4f}"
    with pytest.raises(ValueError, match="index"):
        summary(batch_inference())
    with pytest.raises(ValueError, match="names"):
        summary(inferred("seed"), names=["a", "b"])


def test_summary_of_a_failed_model_says_so():
    text = summary(batch_inference(), index=8)
    assert "SEPARATED" in text and "nan" in text and "converged:" in text


def test_an_undefined_pseudo_r_squared_is_printed_nan_with_a_note():
    """A target of one class: LL-Null is 0, so McFadden's ``1 - llf / llnull`` has no value
    (statsmodels' Logit refuses such data as perfectly separated). The summary prints
    ``nan``, never ``inf``, and says why; a defined one gets no note."""
    X, _, _, _ = dataset("seed")
    y = np.zeros(X.shape[0])
    inf = inference(jaxlogreg.fit(X, y), X, y)
    assert float(inf.llnull) == 0 and not np.isfinite(float(inf.prsquared))
    text = summary(inf)
    assert text.split("Pseudo R-squ.:")[1].split()[0] == "nan"
    assert not re.search(r"\binf\b", text)
    assert text.splitlines()[-1] == (
        "Note: Pseudo R-squ. is nan: McFadden's 1 - llf / llnull is undefined because LL-Null "
        "is 0: the intercept alone fits every observation exactly (y holds one class), and the "
        "ratio divides by it.")
    assert "Pseudo R-squ. is nan" not in summary(inferred("seed"))


def test_to_dict_and_to_csv_round_trip(tmp_path):
    inf = batch_inference("cluster")
    d = to_dict(inf)
    assert all(isinstance(v, np.ndarray) for v in d.values())
    np.testing.assert_array_equal(d["bse"], np.asarray(inf.bse))
    assert d["hat_matrix_diag"].shape == (B, 1000)
    assert str(d["cov_type"]) == "cluster" and float(d["alpha"]) == 0.05
    assert str(d["link"]) == inf.link == "logit" and str(d["information"]) == "expected"
    path = tmp_path / "inference.csv"
    names = list(jaxlogreg.make_seed_data().feature_names)
    to_csv(inf, path, names=names)
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[1:]
    assert header == csv_columns(inf, names)
    assert len(body) == B
    col = {name: j for j, name in enumerate(header)}
    assert "coef_const" in col and "bse_Y5" in col and "llr_pvalue" in col
    values = lambda name: np.array([float(r[col[name]]) for r in body])  # noqa: E731
    np.testing.assert_array_equal(values("coef_Y5"), np.asarray(inf.params)[:, 5])
    np.testing.assert_array_equal(values("bse_const"), np.asarray(inf.bse)[:, 0])  # NaN too
    np.testing.assert_array_equal(values("ci_upper_Y1"), np.asarray(inf.conf_int)[:, 1, 1])
    np.testing.assert_array_equal(values("llf"), np.asarray(inf.llf))
    np.testing.assert_array_equal(values("nobs"), np.asarray(inf.nobs))
    status, valid = np.asarray(inf.status), np.asarray(inf.valid)
    assert [r[col["status"]] for r in body] == [Status(int(c)).name for c in status]
    assert [r[col["valid"]] for r in body] == [str(int(v)) for v in valid]


# --------------------------------------------------------------------------------------------
# Bad input at the boundary
# --------------------------------------------------------------------------------------------


def test_bad_input_raises_value_error_naming_the_argument():
    X, y, _, _ = dataset("seed")
    res = fitted("seed")
    with pytest.raises(ValueError, match="cov_type"):
        inference(res, X, y, cov_type="HC3")
    with pytest.raises(ValueError, match="groups"):
        inference(res, X, y, cov_type="cluster")
    with pytest.raises(ValueError, match="groups"):
        inference(res, X, y, cov_type="cluster", groups=np.zeros(5, int))
    with pytest.raises(ValueError, match="groups"):
        inference(res, X, y, cov_type="cluster", groups=np.zeros(len(y)))
    with pytest.raises(ValueError, match="groups"):
        inference(res, X, y, groups=np.zeros(len(y), int))
    for alpha in (0.0, 1.0, 1.5, -0.1, "0.05"):
        with pytest.raises(ValueError, match="alpha"):
            inference(res, X, y, alpha=alpha)
    with pytest.raises(ValueError, match="y"):
        inference(res, X, np.full_like(y, 2.0))
    with pytest.raises(ValueError, match="weights"):
        inference(res, X, y, weights=-np.ones_like(y))
    with pytest.raises(ValueError, match="res"):
        inference(res, X[:, :5], y)
    with pytest.raises(ValueError, match="res"):
        inference(batch_fit(), X, y, weights=np.ones((5, len(y))))  # 12 fits, 5 models' data
    with pytest.raises(ValueError, match="res"):
        inference(np.zeros(7), X, y)
    inf = inferred("seed")
    with pytest.raises(ValueError, match="R"):
        wald_test(inf, np.ones((2, 6)))
    with pytest.raises(ValueError, match="q"):
        wald_test(inf, np.ones((2, 7)), q=np.zeros(3))
    with pytest.raises(ValueError, match="inf_full"):
        lr_test(inferred("seed"), inferred("imbalanced"))
    cols, res_r, _ = restricted()
    Xi, yi, _, _ = dataset("imbalanced")
    for bad in ([0], [0, 5], [0, 0], [0, 1, 2]):
        with pytest.raises(ValueError, match="restricted_columns"):
            score_test(res_r, Xi, yi, restricted_columns=bad)
    with pytest.raises(ValueError, match="X"):
        variance_inflation_factors(np.ones(5))


def test_batched_fit_then_inference_matches_statsmodels_per_split():
    """The main Monte Carlo path: one batched fit over a shared X, then batched inference;
    every split's standard errors and p-values equal statsmodels Logit on its train rows."""
    data = jaxlogreg.make_seed_data(n=1000, seed=0)
    rng = np.random.default_rng(7)
    W = (rng.random((6, 1000)).argsort(axis=1) < 650).astype(float)
    batch = jaxlogreg.fit(data.X, data.y, weights=W)
    inf = host(jaxlogreg.inference(batch, data.X, data.y, weights=W))
    assert inf.bse.shape == (6, 7)
    converged = np.asarray(batch.converged)
    for b in range(6):
        rows = W[b] > 0
        ref = sm.Logit(data.y[rows], sm.add_constant(data.X[rows])).fit(
            method="newton", tol=1e-10, disp=0
        )
        if not converged[b]:
            assert np.all(np.isnan(np.asarray(inf.bse[b])))
            continue
        np.testing.assert_allclose(inf.params[b], ref.params, rtol=1e-8)
        np.testing.assert_allclose(inf.bse[b], ref.bse, rtol=1e-8)
        np.testing.assert_allclose(inf.pvalues[b], ref.pvalues, rtol=1e-6)
        np.testing.assert_allclose(inf.llf[b], ref.llf, rtol=1e-10)


def test_per_row_fields_only_on_request(tmp_path):
    """By default the per-row residuals, leverage and Cook's distances are None (their
    ``(B, n)`` arrays are not computed); ``rows=True`` adds them and changes nothing else.
    The exports work either way."""
    X, Y, W, O = batch_data()
    res = batch_fit()
    plain = jaxlogreg.inference(res, X, Y, weights=W, offset=O, chunk_size=CHUNK)
    full = jaxlogreg.inference(res, X, Y, weights=W, offset=O, chunk_size=CHUNK, rows=True)
    row_fields = ("resid_response", "resid_pearson", "resid_dev", "hat_matrix_diag",
                  "cooks_distance")
    for field in row_fields:
        assert getattr(plain, field) is None
        assert getattr(full, field).shape == Y.shape
    for field in ("params", "bse", "cov_params", "pvalues", "llf", "llnull", "deviance",
                  "pearson_chi2", "valid"):
        np.testing.assert_array_equal(getattr(plain, field), getattr(full, field))
    assert set(to_dict(full)) - set(to_dict(plain)) == set(row_fields)
    to_csv(plain, tmp_path / "plain.csv")
    to_csv(full, tmp_path / "full.csv")
    assert (tmp_path / "plain.csv").read_text() == (tmp_path / "full.csv").read_text()
    assert summary(plain, index=0) == summary(full, index=0)
    assert plain[2:5].batch_shape == (3,) and plain[2:5].hat_matrix_diag is None
    with pytest.raises(ValueError, match="rows: expected True or False"):
        jaxlogreg.inference(res, X, Y, weights=W, offset=O, rows="yes")
