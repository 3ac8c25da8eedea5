"""Reference tests: `jaxlogreg.fit` against statsmodels, scikit-learn and loops of single fits.

Every expected value comes from something other than the code path under test:
statsmodels' Newton / IRLS fits, scikit-learn's Newton-Cholesky solver, the data set expanded
into repeated rows, or a Python loop of single fits.

Tolerances. ``fit`` stops when ``max_j |grad_j| <= 1e-10`` and the Newton decrement
``lambda^2 / 2 <= 1e-10`` (float64). Coefficients are required to agree with the references
to ``rtol = 1e-8``, with an absolute slack of ``1e-10`` in units of each coefficient's natural
scale (``1 / std(x_j)``; 1 for the intercept). The loss is required to agree to ``rtol = 1e-12``
with an absolute slack of ``1e-10``: the decrement bound above is the stopping rule's own
guarantee on the loss gap.

Compilation dominates the run time, so data sets share shapes where they can: the four
``n = 2000, d = 3`` sets share one compilation, and the "mixed" batch is built identically in
``test_fit_behaviour.py``.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
import statsmodels.api as sm
from sklearn.linear_model import LogisticRegression

import jaxlogreg
from _data import mixed_data, simulate
from jaxlogreg import Status

RTOL = 1e-8
ATOL_SCALED = 1e-10
LOSS_RTOL = 1e-12
LOSS_ATOL = 1e-10


# --------------------------------------------------------------------------------------------
# Data sets (fixed seeds)
# --------------------------------------------------------------------------------------------


@functools.cache
def dataset(name):
    """``(X, y, weights or None, offset or None)``, float64."""
    if name == "seed":
        d = jaxlogreg.make_seed_data()
        return d.X, d.y, None, None
    n = 2000
    if name == "imbalanced":
        rng = np.random.default_rng(101)
        X = rng.normal(size=(n, 3))
        return X, simulate(rng, X, -4.2, [0.8, -0.5, 0.3]), None, None
    if name == "scales":
        rng = np.random.default_rng(102)
        Z = rng.normal(size=(n, 3))
        y = simulate(rng, Z, -0.5, [1.0, -0.7, 0.5])
        return Z * np.array([1e-3, 1.0, 1e3]), y, None, None
    if name == "weights":
        rng = np.random.default_rng(103)
        X = rng.normal(size=(n, 3))
        y = simulate(rng, X, 0.3, [1.0, -1.0, 0.5])
        return X, y, rng.integers(0, 4, size=n).astype(np.float64), None
    if name == "offset":
        rng = np.random.default_rng(104)
        X = rng.normal(size=(n, 3))
        o = rng.normal(0.0, 1.5, size=n)
        return X, simulate(rng, X, 0.3, [1.0, -1.0, 0.5], offset=o), None, o
    raise KeyError(name)


DATASETS = ["seed", "imbalanced", "scales", "weights", "offset"]


MIXED_CONVERGING = (0, 5)
MIXED_SEPARATED = (1, 2, 3, 4, 6)


# --------------------------------------------------------------------------------------------
# References and comparison helpers
# --------------------------------------------------------------------------------------------


def sm_reference(X, y, w=None, o=None):
    """statsmodels' maximum-likelihood fit: ``(params, -llf / sum(w))``."""
    Xc = sm.add_constant(X, has_constant="add")
    if w is None and o is None:
        res = sm.Logit(y, Xc).fit(method="newton", tol=1e-12, maxiter=100, disp=0)
        assert res.mle_retvals["converged"]
        return np.asarray(res.params), -res.llf / len(y)
    glm = sm.GLM(y, Xc, family=sm.families.Binomial(), freq_weights=w, offset=o)
    res = glm.fit(tol=1e-14, maxiter=200)
    assert res.converged
    total = len(y) if w is None else np.sum(w)
    return np.asarray(res.params), -res.llf / total


def sk_reference(X, y, w=None):
    """scikit-learn without penalty. ``penalty=None`` is deprecated since 1.8 (FutureWarning);
    ``C=np.inf`` is the replacement it names."""
    m = LogisticRegression(C=np.inf, solver="newton-cholesky", tol=1e-12, max_iter=1000)
    m.fit(X, y, sample_weight=w)
    return np.concatenate([m.intercept_, m.coef_[0]])


def assert_params_close(actual, desired, X, rtol=RTOL, atol=ATOL_SCALED):
    """``(..., p)`` params (intercept first) agree to ``rtol``, with an absolute slack of ``atol``
    times each coefficient's natural scale (1 for the intercept, 1 / std(x_j) for a slope)."""
    actual = np.asarray(actual, dtype=np.float64)
    desired = np.asarray(desired, dtype=np.float64)
    X = np.asarray(X, dtype=np.float64)
    scale = np.concatenate([[1.0], np.std(X.reshape(-1, X.shape[-1]), axis=0)])
    np.testing.assert_allclose(actual * scale, desired * scale, rtol=rtol, atol=atol)


def assert_loss_close(actual, desired):
    np.testing.assert_allclose(
        np.asarray(actual, dtype=np.float64), desired, rtol=LOSS_RTOL, atol=LOSS_ATOL
    )


def flat(res):
    """The fields of a FitResult as numpy arrays with the batch axes flattened to one."""
    B = int(np.prod(res.batch_shape))
    out = {}
    for k in ("coef", "intercept", "status", "n_iter", "loss", "grad_norm", "params"):
        v = np.asarray(getattr(res, k))
        out[k] = v.reshape((B,) + v.shape[len(res.batch_shape):])
    return out


# --------------------------------------------------------------------------------------------
# Single fits against statsmodels and scikit-learn
# --------------------------------------------------------------------------------------------


def test_datasets_are_what_they_claim():
    _, y, _, _ = dataset("imbalanced")
    assert 0.015 < y.mean() < 0.045
    X, _, _, _ = dataset("scales")
    sd = X.std(axis=0)
    np.testing.assert_allclose(sd / sd[1], [1e-3, 1.0, 1e3], rtol=0.1)
    _, _, w, _ = dataset("weights")
    assert np.all(w == np.round(w)) and (w == 0).any() and (w > 1).any()


@pytest.mark.parametrize("name", DATASETS)
def test_matches_statsmodels(name):
    X, y, w, o = dataset(name)
    res = jaxlogreg.fit(X, y, weights=w, offset=o)
    assert int(res.status) == Status.CONVERGED
    assert bool(res.converged)
    assert res.coef.shape == (X.shape[1],) and res.intercept.shape == ()
    assert res.params.shape == (X.shape[1] + 1,)
    params, loss = sm_reference(X, y, w, o)
    assert_params_close(res.params, params, X)
    assert_loss_close(res.loss, loss)
    assert float(res.grad_norm) <= 1e-10


@pytest.mark.parametrize("name", ["seed", "imbalanced", "scales", "weights"])
def test_matches_sklearn(name):
    X, y, w, _ = dataset(name)
    res = jaxlogreg.fit(X, y, weights=w)
    assert_params_close(res.params, sk_reference(X, y, w), X)


def test_frequency_weights_equal_repeated_rows():
    X, y, w, _ = dataset("weights")
    res = jaxlogreg.fit(X, y, weights=w)
    idx = np.repeat(np.arange(len(y)), w.astype(np.int64))
    ref = sm.Logit(y[idx], sm.add_constant(X[idx])).fit(
        method="newton", tol=1e-12, maxiter=100, disp=0
    )
    assert ref.mle_retvals["converged"]
    assert_params_close(res.params, ref.params, X)
    assert_loss_close(res.loss, -ref.llf / len(idx))
    # The weights matter: the unweighted fit is a different model.
    plain = np.asarray(jaxlogreg.fit(X, y).params)
    assert np.max(np.abs(plain - np.asarray(res.params))) > 1e-3


def test_offset_matches_logit_with_offset():
    X, y, _, o = dataset("offset")
    res = jaxlogreg.fit(X, y, offset=o)
    ref = sm.Logit(y, sm.add_constant(X), offset=o).fit(
        method="newton", tol=1e-12, maxiter=100, disp=0
    )
    assert ref.mle_retvals["converged"]
    assert_params_close(res.params, ref.params, X)
    assert_loss_close(res.loss, -ref.llf / len(y))
    plain = np.asarray(jaxlogreg.fit(X, y).params)
    assert np.max(np.abs(plain - np.asarray(res.params))) > 1e-3


# --------------------------------------------------------------------------------------------
# Batches against loops of single fits
# --------------------------------------------------------------------------------------------

B_BOOT = 20
BOOT_CHUNK = 8  # 20 models in chunks of 8: the last chunk is partial / overlapping.


@functools.cache
def bootstrap_weights():
    X, y, _, _ = dataset("seed")
    rng = np.random.default_rng(201)
    n = len(y)
    return rng.multinomial(n, np.full(n, 1.0 / n), size=B_BOOT).astype(np.float64)


@functools.cache
def bootstrap_batch():
    X, y, _, _ = dataset("seed")
    return jaxlogreg.fit(X, y, weights=bootstrap_weights(), chunk_size=BOOT_CHUNK)


@functools.cache
def bootstrap_loop():
    X, y, _, _ = dataset("seed")
    return [flat_single(jaxlogreg.fit(X, y, weights=w)) for w in bootstrap_weights()]


def flat_single(res):
    return {k: np.asarray(getattr(res, k)) for k in ("params", "status", "n_iter", "loss")}


def assert_batch_matches_loop(batch, loop, X):
    """Same status, same model (to the reference tolerance), same loss, model by model.

    A shared-X batch starts from the pooled fit (documented default of ``init``), so the
    iterates and ``n_iter`` may differ from single fits; the optimum may not. Models without
    an optimum (separated) are compared by status only."""
    got = flat(batch)
    assert len(loop) == got["status"].shape[0]
    for b, single in enumerate(loop):
        assert got["status"][b] == single["status"], b
        if single["status"] == Status.CONVERGED:  # else there is no optimum to agree on
            assert_params_close(got["params"][b], single["params"], X)
            assert_loss_close(got["loss"][b], single["loss"])


def test_bootstrap_batch_equals_loop_of_single_fits():
    X, _, _, _ = dataset("seed")
    res = bootstrap_batch()
    assert res.batch_shape == (B_BOOT,)
    assert res.coef.shape == (B_BOOT, X.shape[1])
    assert np.all(np.asarray(res.status) == Status.CONVERGED)
    assert_batch_matches_loop(res, bootstrap_loop(), X)
    # The resamples really differ, so a batch that mixed up its weights would fail above.
    assert np.ptp(np.asarray(res.coef)[:, 4]) > 1e-2


def test_bootstrap_batch_matches_statsmodels_freq_weights():
    X, y, _, _ = dataset("seed")
    W = bootstrap_weights()
    got = flat(bootstrap_batch())
    for b in range(0, B_BOOT, 3):
        params, loss = sm_reference(X, y, W[b])
        assert_params_close(got["params"][b], params, X)
        assert_loss_close(got["loss"][b], loss)


@functools.cache
def grid_batch():
    """Weights ``(3, 4, n)`` (12 bootstrap resamples) and responses ``(4, n)`` over the seed
    design: batch shape ``(3, 4)``, model ``(i, j)`` = response ``j`` with resample
    ``4 i + j``."""
    X, _, _, _ = dataset("seed")
    Y = seed_responses()
    W = bootstrap_weights()[:12].reshape(3, 4, -1)
    return X, Y, W, jaxlogreg.fit(X, Y, weights=W)


@functools.cache
def seed_responses():
    """Four responses over the seed design, from four different coefficient vectors."""
    d = jaxlogreg.make_seed_data()
    rng = np.random.default_rng(204)  # no model of the grid is separated
    Y = []
    for _ in range(4):
        coef = np.asarray(d.coef) * rng.uniform(0.5, 1.5, size=len(d.coef))
        Y.append(simulate(rng, d.X, d.intercept + rng.normal(0.0, 0.3), coef))
    return np.stack(Y)


def test_two_dimensional_batch_shape():
    X, Y, W, res = grid_batch()
    d = X.shape[1]
    assert res.batch_shape == (3, 4)
    assert res.coef.shape == (3, 4, d)
    assert res.params.shape == (3, 4, d + 1)
    for field in ("intercept", "status", "n_iter", "loss", "grad_norm", "converged"):
        assert getattr(res, field).shape == (3, 4), field
    loop = [
        flat_single(jaxlogreg.fit(X, Y[j], weights=W[i, j])) for i in range(3) for j in range(4)
    ]
    assert_batch_matches_loop(res, loop, X)
    # Y5 is binary: a model with no weighted positive among the rows with Y5 = 1 is
    # quasi-completely separated (its Y5 coefficient runs to -inf); every other one has an MLE.
    status = np.asarray(res.status)
    for i in range(3):
        for j in range(4):
            rows = (X[:, 4] == 1) & (W[i, j] > 0)
            no_mle = Y[j][rows].sum() == 0
            expected = Status.SEPARATED if no_mle else Status.CONVERGED
            assert status[i, j] == expected, (i, j)


def test_batched_y_with_shared_X_matches_statsmodels():
    X, Y, W, res = grid_batch()
    got = flat(res)
    for i, j in [(0, 0), (1, 1), (2, 2), (2, 3)]:
        params, loss = sm_reference(X, Y[j], W[i, j])
        assert_params_close(got["params"][4 * i + j], params, X)
        assert_loss_close(got["loss"][4 * i + j], loss)
    # Different responses give different models (y really is mapped over the batch).
    coef = np.asarray(res.coef)
    assert np.max(np.abs(coef[0, 0] - coef[0, 1])) > 1e-3


@functools.cache
def mixed_results():
    X, Y, W, O = mixed_data()
    shared = jaxlogreg.fit(X, Y, weights=W, offset=O)
    per_model = jaxlogreg.fit(np.broadcast_to(X, Y.shape + (X.shape[1],)), Y, weights=W, offset=O)
    solo = [flat_single(jaxlogreg.fit(X, Y[b], weights=W[b], offset=O[b])) for b in range(len(Y))]
    return shared, per_model, solo


def test_mixed_batch_statuses():
    shared, per_model, solo = mixed_results()
    expected = np.full(7, int(Status.SEPARATED))
    expected[list(MIXED_CONVERGING)] = Status.CONVERGED
    np.testing.assert_array_equal(np.asarray(shared.status), expected)
    np.testing.assert_array_equal(np.asarray(per_model.status), expected)
    np.testing.assert_array_equal([s["status"] for s in solo], expected)


def test_shared_X_equals_broadcast_X():
    X, Y, W, O = mixed_data()
    shared, per_model, _ = mixed_results()
    assert per_model.batch_shape == shared.batch_shape == (7,)
    np.testing.assert_array_equal(np.asarray(per_model.status), np.asarray(shared.status))
    a, b = flat(shared), flat(per_model)
    for m in MIXED_CONVERGING:
        assert_params_close(a["params"][m], b["params"][m], X)
        assert_loss_close(a["loss"][m], b["loss"][m])
        params, loss = sm_reference(X, Y[m], W[m], O[m])
        assert_params_close(a["params"][m], params, X)
        assert_loss_close(a["loss"][m], loss)


def test_n_iter_is_per_model_in_a_mixed_batch():
    """With per-model X every model starts where a single fit starts, so a model that stops is
    frozen: its n_iter and coefficients are those of its single fit, however long the
    separated models beside it keep the batch running."""
    X, _, _, _ = mixed_data()
    _, per_model, solo = mixed_results()
    got = flat(per_model)
    n_iter = got["n_iter"]
    # The batch runs longer than the easy models need (else this test could not fail).
    assert n_iter.max() > n_iter[0]
    for m in range(7):
        assert n_iter[m] == solo[m]["n_iter"], m
    for m in MIXED_CONVERGING:
        assert_params_close(got["params"][m], solo[m]["params"], X, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(got["loss"][m], solo[m]["loss"], rtol=1e-14)


def test_converged_is_status_converged():
    for res in (mixed_results()[0], mixed_results()[1], bootstrap_batch(), grid_batch()[3]):
        status = np.asarray(res.status)
        converged = np.asarray(res.converged)
        assert converged.dtype == np.bool_
        np.testing.assert_array_equal(converged, status == Status.CONVERGED)
    assert set(np.asarray(mixed_results()[0].status).tolist()) == {
        int(Status.CONVERGED),
        int(Status.SEPARATED),
    }


# --------------------------------------------------------------------------------------------
# float32
# --------------------------------------------------------------------------------------------


def test_float32_fit_is_float32_and_agrees_with_float64():
    X, y, _, _ = dataset("seed")
    res32 = jaxlogreg.fit(X.astype(np.float32), y)
    for field in ("coef", "intercept", "loss", "grad_norm", "params"):
        assert getattr(res32, field).dtype == np.float32, field
    assert res32.status.dtype == np.int32 and res32.n_iter.dtype == np.int32
    assert int(res32.status) == Status.CONVERGED
    params64, loss64 = sm_reference(X, y)
    # Single precision on an ill-conditioned design (four columns share the factor Y1):
    # 1e-4 relative, a few hundred float32 ulps.
    assert_params_close(res32.params, params64, X, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(float(res32.loss), loss64, rtol=1e-5)
