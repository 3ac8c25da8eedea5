"""Behaviour of `jaxlogreg.fit` on hard data and under JAX transformations.

References: a linear program deciding whether each model's maximum-likelihood estimate
exists (scipy's HiGHS), statsmodels (its PerfectSeparationWarning and its fits), numpy's
matrix rank, single fits in a loop, and statsmodels' one Newton step.

The "mixed" data set is built exactly as in ``test_fit_reference.py`` (same shapes, so the two
files share compilations when run together).
"""

from __future__ import annotations

import functools
import warnings

import jax
import numpy as np
import pytest
import statsmodels.api as sm
from scipy.optimize import linprog
from statsmodels.tools.sm_exceptions import ConvergenceWarning, PerfectSeparationWarning

import jaxlogreg
import jaxlogreg._fit
from _data import mixed_data, simulate
from jaxlogreg import FitResult, Status

RTOL = 1e-8
ATOL_SCALED = 1e-10
# Every leaf of a FitResult: the results and the fit's recorded alpha and penalty factors.
FIELDS = ("coef", "intercept", "status", "n_iter", "loss", "grad_norm", "alpha", "penalty_factor")


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------


@functools.cache
def mixed_batch():
    X, Y, W, O = mixed_data()
    return jaxlogreg.fit(X, Y, weights=W, offset=O)


# --------------------------------------------------------------------------------------------
# References
# --------------------------------------------------------------------------------------------


def mle_exists(X, y, w):
    """Whether the logistic MLE (with intercept) exists, by linear programming.

    It does not exist iff some direction b moves no positively weighted row towards the
    wrong class and some row strictly away: s_i x_i^T b >= 0 for all i, sum_i s_i x_i^T b > 0
    (s_i = 2 y_i - 1). Maximise that sum over the box |b_j| <= 1."""
    keep = w > 0
    Xc = np.column_stack([np.ones(keep.sum()), X[keep]])
    A = (2.0 * y[keep] - 1.0)[:, None] * Xc
    res = linprog(
        -A.sum(axis=0),
        A_ub=-A,
        b_ub=np.zeros(A.shape[0]),
        bounds=[(-1.0, 1.0)] * Xc.shape[1],
        method="highs",
    )
    assert res.status == 0, res.message
    return -res.fun < 1e-7


def sm_fit(X, y, w=None, o=None):
    """statsmodels' fit and every warning it raised (caught here, never left to pytest)."""
    Xc = sm.add_constant(X, has_constant="add")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if w is None and o is None:
            res = sm.Logit(y, Xc).fit(method="newton", tol=1e-12, maxiter=100, disp=0)
        else:
            glm = sm.GLM(y, Xc, family=sm.families.Binomial(), freq_weights=w, offset=o)
            res = glm.fit(tol=1e-14, maxiter=200)
    return res, {c.category for c in caught}


def assert_params_close(actual, desired, X, rtol=RTOL, atol=ATOL_SCALED):
    """Params (intercept first) agree to ``rtol`` with an absolute slack of ``atol`` in units of
    each coefficient's natural scale (1 for the intercept, 1 / std(x_j) for a slope)."""
    X = np.asarray(X, dtype=np.float64)
    scale = np.concatenate([[1.0], np.std(X.reshape(-1, X.shape[-1]), axis=0)])
    np.testing.assert_allclose(
        np.asarray(actual, np.float64) * scale,
        np.asarray(desired, np.float64) * scale,
        rtol=rtol,
        atol=atol,
    )


# --------------------------------------------------------------------------------------------
# Separation
# --------------------------------------------------------------------------------------------


def test_separated_models_in_a_batch_with_converging_ones():
    X, Y, W, O = mixed_data()
    res = mixed_batch()
    status = np.asarray(res.status)
    exists = np.array([mle_exists(X, Y[m], W[m]) for m in range(len(Y))])
    # The construction is what the docstring says (guards the reference itself).
    np.testing.assert_array_equal(exists, [True, False, False, False, False, True, False])
    expected = np.where(exists, int(Status.CONVERGED), int(Status.SEPARATED))
    np.testing.assert_array_equal(status, expected)
    assert np.all(np.isfinite(np.asarray(res.params)))
    # The models that converge are statsmodels' models, separated neighbours notwithstanding.
    params, loss = np.asarray(res.params), np.asarray(res.loss)
    for m in np.flatnonzero(exists):
        ref, cats = sm_fit(X, Y[m], W[m], O[m])
        assert not cats & {PerfectSeparationWarning, ConvergenceWarning}
        assert_params_close(params[m], ref.params, X)
        total = W[m].sum()
        np.testing.assert_allclose(loss[m], -ref.llf / total, rtol=1e-12, atol=1e-10)


@pytest.mark.parametrize("m", [1, 3, 4])
def test_statsmodels_flags_the_completely_separated_models(m):
    """statsmodels warns PerfectSeparationWarning for complete separation (every row fitted
    perfectly); model 4 is fitted on its positively weighted rows (its weights are 0/1)."""
    X, Y, W, _ = mixed_data()
    keep = W[m] > 0
    _, cats = sm_fit(X[keep], Y[m][keep])
    assert PerfectSeparationWarning in cats
    assert int(np.asarray(mixed_batch().status)[m]) == Status.SEPARATED


def test_statsmodels_does_not_converge_on_the_quasi_separated_model():
    X, Y, _, _ = mixed_data()
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        ref = sm.Logit(Y[2], sm.add_constant(X)).fit(method="newton", maxiter=30, disp=0)
    # Its x1 coefficient runs off towards +inf.
    assert not ref.mle_retvals["converged"] or ref.params[1] > 10
    assert int(np.asarray(mixed_batch().status)[2]) == Status.SEPARATED


def test_all_zero_labels_alone_are_separated():
    X, _, _, _ = mixed_data()
    y = np.zeros(X.shape[0])
    assert not mle_exists(X, y, np.ones_like(y))
    res = jaxlogreg.fit(X, y)
    assert int(res.status) == Status.SEPARATED
    assert not bool(res.converged)
    assert np.all(np.isfinite(np.asarray(res.params)))


# --------------------------------------------------------------------------------------------
# Singular designs and overflow (per-model X, same shape as the broadcast mixed batch)
# --------------------------------------------------------------------------------------------


@functools.cache
def design_batch():
    """Seven designs ``(7, 300, 3)`` for the ordinary responses of the mixed data:
    0 the mixed design; 1 x3 = x1 + x2; 2 x3 = 3 (a constant besides the intercept);
    3 x3 = 0; 4 the mixed design; 5 x3 * 1e300; 6 x3 * 1e-3 (badly scaled, not singular)."""
    X, Y, _, _ = mixed_data()
    x1, x2, x3 = X.T
    cols = [x3, x1 + x2, np.full_like(x3, 3.0), np.zeros_like(x3), x3, x3 * 1e300, x3 * 1e-3]
    Xs = np.stack([np.column_stack([x1, x2, c]) for c in cols])
    Ys = np.stack([Y[0], Y[0], Y[0], Y[0], Y[5], Y[0], Y[0]])
    return Xs, Ys


@functools.cache
def design_results():
    Xs, Ys = design_batch()
    ones = np.ones_like(Ys)
    return jaxlogreg.fit(Xs, Ys, weights=ones, offset=np.zeros_like(Ys))


def test_singular_designs_in_a_batch_with_converging_ones():
    Xs, Ys = design_batch()
    res = design_results()
    status = np.asarray(res.status)
    params = np.asarray(res.params)
    for m in (0, 1, 2, 3, 4, 6):
        Xc = np.column_stack([np.ones(Xs.shape[1]), Xs[m]])
        full_rank = np.linalg.matrix_rank(Xc) == Xc.shape[1]
        assert status[m] == (Status.CONVERGED if full_rank else Status.SINGULAR), m
        assert np.all(np.isfinite(params[m])), m
        if full_rank:
            ref, cats = sm_fit(Xs[m], Ys[m])
            assert not cats
            assert_params_close(params[m], ref.params, Xs[m])
    np.testing.assert_array_equal(status[[1, 2, 3]], int(Status.SINGULAR))


def test_overflowing_design_does_not_converge_and_does_not_raise():
    # x3 ~ 1e300: X^T diag(v) X overflows to inf in float64. No honest answer is possible;
    # the model must say so (SINGULAR or NONFINITE) instead of claiming convergence.
    res = design_results()
    statuses = np.asarray(res.status)
    status = int(statuses[5])
    assert status not in (Status.CONVERGED, Status.RUNNING)
    assert status in (Status.SINGULAR, Status.NONFINITE, Status.MAX_ITER, Status.LINESEARCH_FAILED)
    assert not bool(np.asarray(res.converged)[5])
    # Its neighbours in the batch are unaffected.
    assert int(statuses[0]) == Status.CONVERGED and int(statuses[6]) == Status.CONVERGED


def test_overflowing_offset_is_nonfinite():
    # An offset of 1e308 on rows with y = 0 makes the loss sum overflow to inf: the documented
    # first stopping rule (loss or gradient not finite) gives NONFINITE.
    X, Y, _, _ = mixed_data()
    y = Y[0]
    offset = np.where(y == 0, 1e308, 0.0)
    res = jaxlogreg.fit(X, y, offset=offset)
    assert int(res.status) == Status.NONFINITE
    assert not bool(res.converged)


# --------------------------------------------------------------------------------------------
# jit, vmap, retracing
# --------------------------------------------------------------------------------------------


def test_jit_equals_eager():
    X, Y, _, _ = mixed_data()
    eager = jaxlogreg.fit(X, Y[0])
    jitted = jax.jit(lambda X, y: jaxlogreg.fit(X, y))(X, Y[0])
    assert isinstance(jitted, FitResult)
    assert int(jitted.status) == int(eager.status) == Status.CONVERGED
    assert int(jitted.n_iter) == int(eager.n_iter)
    assert_params_close(jitted.params, eager.params, X, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(float(jitted.loss), float(eager.loss), rtol=1e-14)
    ref, _ = sm_fit(X, Y[0])
    assert_params_close(jitted.params, ref.params, X)


def test_vmap_equals_batched_call():
    X, Y, W, O = mixed_data()
    batched = mixed_batch()
    mapped = jax.vmap(lambda y, w, o: jaxlogreg.fit(X, y, weights=w, offset=o))(Y, W, O)
    assert isinstance(mapped, FitResult)
    assert mapped.batch_shape == batched.batch_shape == (7,)
    np.testing.assert_array_equal(np.asarray(mapped.status), np.asarray(batched.status))
    conv = np.flatnonzero(np.asarray(batched.converged))
    assert conv.size == 2
    a, b = np.asarray(mapped.params), np.asarray(batched.params)
    loss_a, loss_b = np.asarray(mapped.loss), np.asarray(batched.loss)
    for m in conv:
        assert_params_close(a[m], b[m], X)
        np.testing.assert_allclose(float(loss_a[m]), float(loss_b[m]), rtol=1e-12, atol=1e-10)


def test_no_retrace_for_new_data_tol_or_max_iter():
    # The program every eager fit of one model on the default device runs.
    n, d = 97, 3  # a shape no other test uses
    fit_fn = jaxlogreg._fit._program(False, (), (jax.device_put(np.zeros((n, d))),))
    assert hasattr(fit_fn, "_cache_size")
    rng = np.random.default_rng(7)

    def data():
        X = rng.normal(size=(n, d))
        return X, simulate(rng, X, 0.1, [0.5, -0.5, 0.2])

    before = fit_fn._cache_size()
    first = jaxlogreg.fit(*data())
    after_first = fit_fn._cache_size()
    assert after_first == before + 1  # the counter does see a new compilation
    X2, y2 = data()
    second = jaxlogreg.fit(X2, y2)
    jaxlogreg.fit(X2, y2, tol=1e-6)
    jaxlogreg.fit(X2, y2, max_iter=3)
    jaxlogreg.fit(X2, y2, tol=1e-7, max_iter=50)
    # Warm calls with JAX arrays (whose boundary checks are reused) run the same program.
    X3, y3 = (jax.device_put(a) for a in data())
    for _ in range(2):
        third = jaxlogreg.fit(X3, y3, tol=1e-6)
    assert fit_fn._cache_size() == after_first
    assert int(third.status) == Status.CONVERGED
    # The second fit really used the new data.
    assert not np.allclose(np.asarray(first.params), np.asarray(second.params))
    ref, _ = sm_fit(X2, y2)
    assert_params_close(second.params, ref.params, X2)


def test_tol_and_max_iter_take_effect_without_retrace():
    X, Y, _, _ = mixed_data()
    y = Y[0]
    full = jaxlogreg.fit(X, y)
    loose = jaxlogreg.fit(X, y, tol=1e-2)
    assert int(full.status) == int(loose.status) == Status.CONVERGED
    assert int(loose.n_iter) < int(full.n_iter)
    assert float(loose.grad_norm) <= 1e-2


# --------------------------------------------------------------------------------------------
# max_iter
# --------------------------------------------------------------------------------------------


def test_max_iter_one_is_one_newton_step():
    d = jaxlogreg.make_seed_data()
    X, y = d.X, d.y
    full = jaxlogreg.fit(X, y)
    assert int(full.n_iter) > 1  # the model needs more than one step
    res = jaxlogreg.fit(X, y, max_iter=1)
    assert int(res.status) == Status.MAX_ITER
    assert int(res.n_iter) == 1
    assert not bool(res.converged)
    # Reference: one undamped Newton step of statsmodels from the documented start
    # (zero slopes, intercept at the logit of the mean); the full step passes Armijo here.
    # The Hessian is ill-conditioned (cond ~ 1e7 after scaling), so the two solves agree to
    # ~1e-9 relative, not to the last digit.
    start = np.zeros(X.shape[1] + 1)
    start[0] = np.log(y.mean() / (1.0 - y.mean()))
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        one = sm.Logit(y, sm.add_constant(X)).fit(
            method="newton", start_params=start, maxiter=1, disp=0
        )
    assert_params_close(res.params, one.params, X, rtol=1e-6, atol=1e-8)
    assert np.max(np.abs(np.asarray(res.params) - np.asarray(full.params))) > 1e-2


# --------------------------------------------------------------------------------------------
# FitResult
# --------------------------------------------------------------------------------------------


def test_fit_result_is_a_pytree():
    res = mixed_batch()
    leaves = jax.tree_util.tree_leaves(res)
    assert len(leaves) == len(FIELDS)
    doubled = jax.tree_util.tree_map(lambda a: a * 2, res)
    assert isinstance(doubled, FitResult) and doubled.fit_intercept == res.fit_intercept
    for f in FIELDS:
        np.testing.assert_array_equal(np.asarray(getattr(doubled, f)),
                                      2 * np.asarray(getattr(res, f)))
    as_numpy = jax.tree_util.tree_map(np.asarray, res)
    np.testing.assert_array_equal(as_numpy.params, np.asarray(res.params))
    # Through jit as an argument and as an output.
    out = jax.jit(lambda r: jax.tree_util.tree_map(lambda a: a + 0, r))(res)
    assert isinstance(out, FitResult)
    for f in FIELDS:
        np.testing.assert_array_equal(np.asarray(getattr(out, f)), np.asarray(getattr(res, f)))
    np.testing.assert_array_equal(
        np.asarray(jax.jit(lambda r: r.params)(res)), np.asarray(res.params)
    )


def test_fit_result_indexing():
    res = mixed_batch()
    for i in (0, 2, -1):
        one = res[i]
        assert isinstance(one, FitResult) and one.batch_shape == ()
        for f in FIELDS:
            np.testing.assert_array_equal(np.asarray(getattr(one, f)),
                                          np.asarray(getattr(res, f))[i])
        np.testing.assert_array_equal(np.asarray(one.params), np.asarray(res.params)[i])
    mask = np.asarray(res.converged)
    sub = res[mask]
    assert sub.batch_shape == (int(mask.sum()),)
    for f in FIELDS:
        np.testing.assert_array_equal(np.asarray(getattr(sub, f)),
                                      np.asarray(getattr(res, f))[mask])
    assert np.all(np.asarray(sub.converged))
    sl = res[1:4]
    np.testing.assert_array_equal(np.asarray(sl.coef), np.asarray(res.coef)[1:4])


def test_params_put_the_intercept_first():
    X, Y, _, _ = mixed_data()
    res = mixed_batch()
    params = np.asarray(res.params)
    assert params.shape == (7, X.shape[1] + 1)
    np.testing.assert_array_equal(params[:, 0], np.asarray(res.intercept))
    np.testing.assert_array_equal(params[:, 1:], np.asarray(res.coef))
    # statsmodels' order (add_constant puts the constant first) is the same.
    ref, _ = sm_fit(X, Y[0])
    assert_params_close(params[0], ref.params, X)


# --------------------------------------------------------------------------------------------
# Status
# --------------------------------------------------------------------------------------------


def test_status_members_and_messages():
    for name in ("CONVERGED", "MAX_ITER", "SEPARATED", "SINGULAR", "NONFINITE"):
        member = Status[name]
        msg = member.message
        assert isinstance(msg, str) and msg.strip(), name
        assert "\n" not in msg, name
    codes = [int(m) for m in Status]
    assert len(set(codes)) == len(codes)


def test_status_counts_match_bincount():
    status = np.concatenate(
        [np.asarray(mixed_batch().status), np.asarray(design_results().status)]
    ).reshape(2, 7)
    counts = Status.counts(status)
    tally = np.bincount(status.ravel(), minlength=max(int(m) for m in Status) + 1)
    for m in Status:
        if m is Status.RUNNING:
            continue
        assert counts[m.name] == tally[int(m)], m.name
    assert sum(counts.values()) == status.size
    assert counts["SEPARATED"] == 5 and counts["SINGULAR"] >= 3
    # Also on a jax array.
    assert Status.counts(jax.device_put(status)) == counts


def test_default_chunk_follows_the_platform_budget():
    """Models per chunk: a power of two near the platform's budget of values over n rows
    (2**17 on a CPU, 2**24 on an accelerator), clipped to its range."""
    from jaxlogreg._batch import default_chunk

    for n in (10, 333, 1000, 5000, 10**6, 10**8):
        for platform, budget, most in (("cpu", 2**17, 4096), ("gpu", 2**24, 65536)):
            chunk = default_chunk(n, platform)
            assert 8 <= chunk <= most and chunk & (chunk - 1) == 0
            if 8 < chunk < most:
                assert abs(np.log2(chunk) - np.log2(budget / n)) <= 0.5 + 1e-9
    assert default_chunk(1000) == default_chunk(1000, jax.default_backend())


def test_default_chunk_fits_a_design_sized_array_in_the_device_memory(monkeypatch):
    """On a (faked) 16 GiB device a chunk's ``(chunk, n, p)`` array takes at most 1/16 of
    it: the solver benchmark's wide problem (n = 5,000, 201 parameters) gets 256 models per
    chunk on an accelerator in float32 instead of 4,096; the seed problem keeps its budget."""
    from jaxlogreg import _batch

    monkeypatch.setattr(_batch, "device_memory", lambda platform=None: 16 * 2**30)
    wide = _batch.default_chunk(5000, "gpu", p=201, itemsize=4)
    assert wide * 5000 * 201 * 4 <= 2**30 < 2 * wide * 5000 * 201 * 4
    assert wide == 256
    assert _batch.default_chunk(1000, "gpu", p=7) == _batch.default_chunk(1000, "gpu")
    assert _batch.default_chunk(1000, "cpu", p=7) == _batch.default_chunk(1000, "cpu")
    monkeypatch.setattr(_batch, "device_memory", lambda platform=None: 2**20)
    assert _batch.default_chunk(1000, "cpu", p=7) == 8  # never below 8 models
