"""Results carry their fit (issue 19 item 2): a :class:`~jaxlogreg.FitResult` records the
fit's ``alpha``, ``penalty_factor``, ``l1_ratio`` and ``class_weight``, and ``inference``,
``influence``, ``laplace`` and ``score_test`` read them from it.

References: statsmodels' GLM with ``var_weights`` for class weights (as in
``tests/test_inference_links.py``), central finite differences of refits for the influence
function, and the numpy negative log posterior for the Laplace approximation. Mismatched
arguments are refused by name; indexing a result by model, ``jax.jit`` and ``jax.vmap``
keep the specification with its models. The sharded fits' records are checked against the
one-device fit in ``tests/test_sharding.py`` (several devices need a subprocess); here the
one-device mesh.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import numpy as np
import pytest
import statsmodels.api as sm
from test_inference import assert_same_inference, close, inference
from test_inference_links import (
    BATCH_RTOL,
    RTOL,
    SAME_PARAMS_RTOL,
    assert_matches,
    data,
    family,
    neg_log_posterior,
)

import jaxlogreg
from jaxlogreg import FitResult, Status, _spec
from jaxlogreg._inference import laplace, score_test

D = 3
CW = {0: 1.0, 1: 2.5}
PF = (1.0, 0.0, 2.0)  # the second slope unpenalised
ALPHA = 0.02
B = 4
TIGHT = 1e-13
H = 1e-5  # finite-difference step of a weight


@functools.cache
def weights_batch():
    """``(B, n)`` bootstrap-like integer weights over ``data()``."""
    n = data()[0].shape[0]
    return np.random.default_rng(31).integers(0, 3, size=(B, n)).astype(np.float64)


@functools.cache
def balanced():
    """The logit fit of ``data()`` with balanced class weights (the default tolerance)."""
    X, y, w, o = data()
    res = jaxlogreg.fit(X, y, weights=w, offset=o, class_weight="balanced")
    assert int(res.status) == Status.CONVERGED
    return res


@functools.cache
def ridge(class_weight=None, tol=TIGHT):
    """A ridge fit with penalty factors (and class weights), to a tight tolerance."""
    X, y, w, o = data()
    cw = None if class_weight is None else dict(class_weight)
    res = jaxlogreg.fit(X, y, weights=w, offset=o, alpha=ALPHA, penalty_factor=list(PF),
                        class_weight=cw, tol=tol)
    assert int(res.status) == Status.CONVERGED
    return res


@functools.cache
def elastic():
    """An elastic-net fit with penalty factors and class weights (proximal Newton)."""
    X, y, w, o = data()
    res = jaxlogreg.fit(X, y, weights=w, offset=o, alpha=ALPHA, l1_ratio=0.4,
                        penalty_factor=list(PF), class_weight=CW, solver="prox_newton", tol=TIGHT)
    assert int(res.status) == Status.CONVERGED
    return res


@functools.cache
def batch():
    """``B`` ridge fits over a shared design, one strength each, balanced class weights."""
    X, y, _, o = data()
    alphas = np.linspace(0.01, 0.04, B)
    res = jaxlogreg.fit(X, y, weights=weights_batch(), offset=o, alpha=alphas,
                        penalty_factor=list(PF), class_weight="balanced")
    assert np.all(np.asarray(res.status) == Status.CONVERGED)
    return res, alphas


# --------------------------------------------------------------------------------------------
# What the result records
# --------------------------------------------------------------------------------------------


def test_a_single_fit_records_its_specification():
    res = elastic()
    assert res.alpha.shape == () and float(res.alpha) == ALPHA
    np.testing.assert_array_equal(res.penalty_factor, PF)
    assert res.l1_ratio == 0.4
    assert res.class_weight == ((0, 1.0), (1, 2.5)) and hash(res.class_weight) is not None
    # The recorded class weights give fit its mapping back: the same fit, bit for bit.
    X, y, w, o = data()
    again = jaxlogreg.fit(X, y, weights=w, offset=o, alpha=res.alpha, l1_ratio=res.l1_ratio,
                          penalty_factor=res.penalty_factor,
                          class_weight=dict(res.class_weight), solver="prox_newton", tol=TIGHT)
    np.testing.assert_array_equal(again.params, res.params)
    # Defaults: no penalty, factors of ones, no class weights; "balanced" as it is.
    plain = jaxlogreg.fit(X, y)
    assert float(plain.alpha) == 0.0 and plain.l1_ratio == 0.0 and plain.class_weight is None
    np.testing.assert_array_equal(plain.penalty_factor, np.ones(D))
    assert balanced().class_weight == "balanced"
    assert plain.alpha.dtype == plain.penalty_factor.dtype == plain.coef.dtype


def test_a_result_built_by_hand_records_nothing():
    """The six arrays alone still make a FitResult: no specification recorded."""
    res = balanced()
    bare = FitResult(res.coef, res.intercept, res.status, res.n_iter, res.loss, res.grad_norm)
    assert bare.alpha is None and bare.penalty_factor is None
    assert bare.l1_ratio == 0.0 and bare.class_weight is None
    assert not _spec.recorded(bare) and _spec.recorded(res)
    assert len(jax.tree_util.tree_leaves(bare)) == 6
    assert bare[()].alpha is None  # indexing keeps the None leaves None


def test_a_batch_records_alpha_and_penalty_factors_per_model():
    """A (2, 1) strength grid over B weight vectors: alpha (2, B), penalty factors
    (2, B, d); indexing by model keeps them aligned with the models."""
    X, y, _, o = data()
    grid = np.array([[0.01], [0.1]])
    res = jaxlogreg.fit(X, y, weights=weights_batch(), offset=o, alpha=grid,
                        penalty_factor=list(PF), chunk_size=2)
    assert res.batch_shape == (2, B)
    np.testing.assert_array_equal(res.alpha, np.broadcast_to(grid, (2, B)))
    np.testing.assert_array_equal(res.penalty_factor, np.broadcast_to(PF, (2, B, D)))
    one = res[1, 2]
    assert one.batch_shape == () and float(one.alpha) == 0.1
    np.testing.assert_array_equal(one.penalty_factor, PF)
    row = res[0]
    assert row.alpha.shape == (B,) and row.penalty_factor.shape == (B, D)
    kept = res[np.asarray(res.converged)]
    assert kept.alpha.shape == kept.intercept.shape
    assert kept.penalty_factor.shape == kept.coef.shape


def test_a_resampling_batch_records_its_strength_for_its_models():
    """A scheme's batch runs in a program for the next power of two of models and keeps
    the first B: the records are cut with the models."""
    X, y, _, _ = data()
    res = jaxlogreg.fit(X, y, weights=jaxlogreg.Bootstrap(jax.random.key(3), 20), alpha=0.05,
                        class_weight=CW, chunk_size=8)
    assert res.batch_shape == (20,)
    np.testing.assert_array_equal(res.alpha, np.full(20, 0.05))
    np.testing.assert_array_equal(res.penalty_factor, np.ones((20, D)))
    assert res.class_weight == ((0, 1.0), (1, 2.5))


def test_a_path_records_each_steps_strength():
    X, y, _, o = data()
    p = jaxlogreg.path(X, y, offset=o, l1_ratio=0.5, n_alphas=4, penalty_factor=list(PF),
                       class_weight="balanced")
    np.testing.assert_array_equal(p.fits.alpha, p.alphas)
    np.testing.assert_array_equal(p.fits.penalty_factor, np.broadcast_to(PF, (4, D)))
    assert p.fits.l1_ratio == 0.5 and p.fits.class_weight == "balanced"
    last = p[-1]
    assert float(last.fits.alpha) == float(np.asarray(p.alphas)[-1])
    # A batch along the path: strengths (K, B).
    pb = jaxlogreg.path(X, y, offset=o, l1_ratio=0.0, alphas=[0.1, 0.01],
                        weights=weights_batch())
    np.testing.assert_array_equal(pb.fits.alpha, np.broadcast_to([[0.1], [0.01]], (2, B)))
    assert pb.fits.penalty_factor.shape == (2, B, D) and pb.fits.l1_ratio == 0.0
    # (K,) strengths shared by the batch: each model's step is its own fit at that strength.
    direct = jaxlogreg.fit(X, y, offset=o, alpha=0.01, weights=weights_batch(), tol=TIGHT)
    close(np.asarray(pb.fits.params)[1], direct.params, rtol=1e-6, atol=1e-8)


@pytest.mark.slow  # sharded fits: the slow tier (README)
def test_sharded_fits_on_one_device_record_the_specification():
    """The model-sharded fit over a one-device mesh and the row-sharded fit (several
    devices: tests/test_sharding.py)."""
    X, y, _, o = data()
    W = weights_batch()
    sharded = jaxlogreg.fit(X, y, weights=W, offset=o, alpha=0.03, penalty_factor=list(PF),
                            class_weight=CW, devices=1)
    single = jaxlogreg.fit(X, y, weights=W, offset=o, alpha=0.03, penalty_factor=list(PF),
                           class_weight=CW)
    for field in ("alpha", "penalty_factor"):
        np.testing.assert_array_equal(getattr(sharded, field), getattr(single, field))
    assert sharded.class_weight == single.class_weight and sharded.l1_ratio == single.l1_ratio
    close(sharded.params, single.params, rtol=1e-12, atol=1e-14)
    rows = jaxlogreg.fit_rows_sharded(X, y, offset=o, devices=1)
    np.testing.assert_array_equal(rows.alpha, 0.0)
    np.testing.assert_array_equal(rows.penalty_factor, np.ones(D))
    assert rows.l1_ratio == 0.0 and rows.class_weight is None


def test_derivatives_reach_the_recorded_strength():
    """``res.alpha`` is the argument broadcast: its derivative is one."""
    X, y, _, _ = data()
    value, tangent = jax.jvp(lambda a: jaxlogreg.fit(X, y, alpha=a).alpha, (0.1,), (1.0,))
    assert float(value) == 0.1 and float(tangent) == 1.0


# --------------------------------------------------------------------------------------------
# The functions read it: against statsmodels, finite differences, the posterior
# --------------------------------------------------------------------------------------------


def test_inference_takes_the_class_weights_from_the_fit():
    """``inference(res, X, y)`` of a class-weighted fit is the explicit call, and
    statsmodels' GLM with ``var_weights = c_y`` (nonrobust and HC0)."""
    X, y, w, o = data()
    res = balanced()
    inf = inference(res, X, y, weights=w, offset=o)
    explicit = inference(res, X, y, weights=w, offset=o, class_weight="balanced")
    assert_same_inference(inf, explicit, rtol=0)
    counts = np.array([np.sum(w * (1 - y)), np.sum(w * y)])
    c = np.sum(w) / (2.0 * counts)
    model = sm.GLM(y, sm.add_constant(X), family=family("logit"), freq_weights=w,
                   var_weights=c[y.astype(int)], offset=o)
    glm = model.fit(tol=1e-14)
    assert_matches(inf, glm.params, glm.cov_params())
    for field in ("llf", "llnull", "deviance"):
        close(getattr(inf, field), getattr(glm, field), rtol=RTOL, err_msg=field)
    hc0 = inference(res, X, y, weights=w, offset=o, cov_type="HC0")
    ref = model.fit(tol=1e-14, cov_type="HC0")
    assert_matches(hc0, ref.params, ref.cov_params())


def test_score_test_takes_the_class_weights_of_the_restricted_fit():
    """A probit fit with class weights {0: 1, 1: 2.5} on columns 0 and 2: the score test of
    column 1 is statsmodels' GLM (var_weights) score test at the same parameters."""
    X, y, w, o = data()
    res_r = jaxlogreg.fit(X[:, [0, 2]], y, weights=w, offset=o, class_weight=CW, link="probit")
    assert int(res_r.status) == Status.CONVERGED
    got = score_test(res_r, X, y, weights=w, offset=o, restricted_columns=[0, 2],
                     information="observed")
    c = np.where(y == 1, CW[1], CW[0])
    full = sm.GLM(y, sm.add_constant(X), family=family("probit"), freq_weights=w,
                  var_weights=c, offset=o)
    embedded = np.insert(np.asarray(res_r.params), 2, 0.0)
    want = full.score_test(embedded, k_constraints=1, observed=True)
    close(got.statistic, np.squeeze(want[0]), rtol=SAME_PARAMS_RTOL)
    explicit = score_test(res_r, X, y, weights=w, offset=o, restricted_columns=[0, 2],
                          information="observed", class_weight={1: 2.5})
    np.testing.assert_array_equal(explicit.statistic, got.statistic)
    with pytest.raises(ValueError, match=r"class_weight: 'balanced' disagrees .*"
                                         r"res_restricted\.class_weight"):
        score_test(res_r, X, y, weights=w, offset=o, restricted_columns=[0, 2],
                   class_weight="balanced")


def weighted_ridge():
    return ridge(tuple(CW.items()))


@pytest.mark.parametrize("fitted", [weighted_ridge, elastic], ids=["ridge", "elastic_net"])
def test_influence_takes_the_penalty_from_the_fit(fitted):
    """``influence(res, X, y)`` uses the fit's alpha, l1_ratio, penalty factors and class
    weights: it equals the explicit call, and central differences of refits in single
    weights (the elastic net keeps its active set under the small steps)."""
    X, y, w, o = data()
    res = fitted()
    infl = np.asarray(jaxlogreg.influence(res, X, y, weights=w, offset=o))  # rows in NumPy
    explicit = jaxlogreg.influence(
        res, X, y, weights=w, offset=o, alpha=ALPHA, l1_ratio=res.l1_ratio,
        penalty_factor=list(PF), class_weight=CW)
    np.testing.assert_array_equal(infl, explicit)
    solver = "prox_newton" if res.l1_ratio > 0 else "newton"
    for i in (0, 7):
        step = np.zeros_like(w)
        step[i] = H
        up, down = (jaxlogreg.fit(X, y, weights=w + s * step, offset=o, alpha=ALPHA,
                                  l1_ratio=res.l1_ratio, penalty_factor=list(PF),
                                  class_weight=CW, solver=solver,
                                  tol=TIGHT)
                    for s in (1.0, -1.0))
        fd = (np.asarray(up.params) - np.asarray(down.params)) / (2 * H)
        scale = np.max(np.abs(fd))
        assert np.max(np.abs(infl[i] - fd)) <= 1e-5 * scale


def test_laplace_takes_the_ridge_penalty_from_the_fit():
    """``laplace(res, X, y)`` of a ridge fit with penalty factors is the explicit call and
    the inverse of a central-difference Hessian of the numpy negative log posterior."""
    X, y, w, o = data()
    res = ridge()
    lap = laplace(res, X, y, weights=w, offset=o)
    explicit = laplace(res, X, y, weights=w, offset=o, alpha=ALPHA, penalty_factor=list(PF),
                       class_weight=None)
    for field in ("mean", "cov", "sd", "valid"):
        np.testing.assert_array_equal(getattr(lap, field), getattr(explicit, field))
    assert bool(lap.valid)
    _, grad = neg_log_posterior("logit", X, y, w, o, ALPHA, np.asarray(PF))
    mean, h = np.asarray(lap.mean), 1e-5
    hess = np.stack([(grad(mean + h * e) - grad(mean - h * e)) / (2 * h) for e in np.eye(D + 1)])
    cov = np.linalg.inv(0.5 * (hess + hess.T))
    close(lap.cov, cov, rtol=1e-6, atol=1e-6 * np.sqrt(np.outer(np.diag(cov), np.diag(cov))))


# --------------------------------------------------------------------------------------------
# Mismatches are refused by name
# --------------------------------------------------------------------------------------------


def test_a_mismatched_specification_raises_naming_the_argument_and_both_values():
    X, y, w, o = data()
    res = elastic()
    kw = dict(weights=w, offset=o)
    cases = [
        (lambda: inference(balanced(), X, y, class_weight=None, **kw),
         r"class_weight: None disagrees with the fit's class weights 'balanced' "
         r"\(res\.class_weight\)"),
        (lambda: inference(res, X, y, class_weight={0: 1.0, 1: 2.0}, **kw),
         r"class_weight: \{0: 1.0, 1: 2.0\} disagrees .*\(\(0, 1.0\), \(1, 2.5\)\)"),
        (lambda: jaxlogreg.influence(res, X, y, alpha=0.5, **kw),
         r"alpha: 0.5 disagrees with the fit's 0.02 \(res\.alpha\)"),
        (lambda: jaxlogreg.influence(res, X, y, l1_ratio=0.0, **kw),
         r"l1_ratio: 0.0 disagrees with the fit's l1_ratio 0.4"),
        (lambda: jaxlogreg.influence(res, X, y, penalty_factor=[1.0, 1.0, 2.0], **kw),
         r"penalty_factor: 1.0 at index \(1,\) disagrees with the fit's 0.0"),
        (lambda: jaxlogreg.influence(res, X, y, class_weight="balanced", **kw),
         r"class_weight: 'balanced' disagrees"),
        (lambda: laplace(ridge(), X, y, alpha=0.1, **kw),
         r"alpha: 0.1 disagrees with the fit's 0.02"),
        (lambda: laplace(ridge(), X, y, penalty_factor=None, **kw),
         r"penalty_factor: 1.0 at index \(1,\) disagrees with the fit's 0.0"),
        (lambda: laplace(ridge(), X, y, class_weight=CW, **kw), r"class_weight: \{0: 1.0"),
        (lambda: laplace(res, X, y, **kw), r"res: fitted with an L1 term \(l1_ratio = 0.4\)"),
        (lambda: jaxlogreg.influence(batch()[0], X, y, weights=weights_batch(), offset=o,
                                     alpha=np.full(B, 0.01)),
         r"alpha: 0.01 at index \(1,\) disagrees with the fit's 0.02"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=message):
            call()
    # Agreeing values pass: the mapping's items, a mapping with the default weight of 0
    # left out, class weights of ones for none.
    inference(res, X, y, class_weight=res.class_weight, **kw)
    inference(res, X, y, class_weight={1: 2.5}, **kw)
    ones = jaxlogreg.fit(X, y, weights=w, offset=o, class_weight={0: 1, 1: 1})
    inference(ones, X, y, class_weight=None, **kw)


def test_a_result_without_a_record_takes_the_arguments_as_given():
    """A FitResult built by hand (alpha None) is checked against nothing: the class weights
    passed are used, as before results recorded them."""
    X, y, w, o = data()
    res = balanced()
    bare = dataclasses.replace(res, alpha=None, penalty_factor=None, class_weight=None)
    given = inference(bare, X, y, weights=w, offset=o, class_weight="balanced")
    assert_same_inference(given, inference(res, X, y, weights=w, offset=o), rtol=0)
    plain = inference(bare, X, y, weights=w, offset=o)  # its own field: no class weights
    assert not np.allclose(plain.bse, given.bse)


# --------------------------------------------------------------------------------------------
# Indexing, jit and vmap keep the specification with its models
# --------------------------------------------------------------------------------------------


def test_indexing_a_batch_keeps_each_models_specification():
    """Model ``b`` of a batch of strengths, indexed out, is what the batch says of it."""
    X, y, _, o = data()
    res, alphas = batch()
    W = weights_batch()
    infl = np.asarray(jaxlogreg.influence(res, X, y, weights=W, offset=o))  # models in NumPy
    lap = laplace(res, X, y, weights=W, offset=o)
    lap_cov = np.asarray(lap.cov)
    inf = inference(res, X, y, weights=W, offset=o)
    for b in (0, 3):
        one = res[b]
        assert float(one.alpha) == alphas[b] and one.class_weight == "balanced"
        np.testing.assert_array_equal(one.penalty_factor, PF)
        close(jaxlogreg.influence(one, X, y, weights=W[b], offset=o), infl[b], rtol=BATCH_RTOL,
              atol=1e-12 * float(np.max(np.abs(infl[b]))))
        single = laplace(one, X, y, weights=W[b], offset=o)
        close(single.cov, lap_cov[b], rtol=BATCH_RTOL)
        assert bool(single.valid)
        assert_same_inference(inference(one, X, y, weights=W[b], offset=o), inf[b],
                              rtol=BATCH_RTOL)
    # The strengths differ by model: a model's own is no other's.
    with pytest.raises(ValueError, match="alpha"):
        jaxlogreg.influence(res[1], X, y, weights=W[1], offset=o, alpha=alphas[0])


def test_functions_of_a_result_under_jit_trace_once_per_specification():
    """A jitted function of a FitResult traces once for fits of one static specification:
    alpha and the penalty factors are leaves (a new strength runs the same program);
    the class weights are static (new ones trace again)."""
    X, y, w, o = data()
    traces = []

    @jax.jit
    def influence_of(res):
        traces.append(None)
        return jaxlogreg.influence(res, X, y, weights=w, offset=o)

    first = weighted_ridge()
    other = jaxlogreg.fit(X, y, weights=w, offset=o, alpha=0.05, penalty_factor=[1.0, 1.0, 1.0],
                          class_weight=CW, tol=TIGHT)
    np.testing.assert_allclose(influence_of(first),
                               jaxlogreg.influence(first, X, y, weights=w, offset=o),
                               rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(influence_of(other),
                               jaxlogreg.influence(other, X, y, weights=w, offset=o),
                               rtol=1e-12, atol=1e-15)
    assert len(traces) == 1
    influence_of(ridge())  # no class weights: another static specification
    assert len(traces) == 2

    bse = jax.jit(lambda r: inference(r, X, y, weights=w, offset=o).bse)
    close(bse(balanced()), inference(balanced(), X, y, weights=w, offset=o).bse, rtol=1e-12)


def test_vmap_over_results_reads_each_models_specification():
    X, y, _, o = data()
    res, _ = batch()
    W = weights_batch()
    mapped = jax.vmap(lambda r, wb: jaxlogreg.influence(r, X, y, weights=wb, offset=o))(res, W)
    close(mapped, jaxlogreg.influence(res, X, y, weights=W, offset=o), rtol=BATCH_RTOL,
          atol=1e-12 * float(np.max(np.abs(np.asarray(mapped)))))
    # A fit under vmap records its lane's strength.
    fits = jax.vmap(lambda a: jaxlogreg.fit(X, y, offset=o, alpha=a))(np.array([0.01, 0.1]))
    np.testing.assert_array_equal(fits.alpha, [0.01, 0.1])
    assert fits.penalty_factor.shape == (2, D)
