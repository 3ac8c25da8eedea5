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
    n = 150  # the shape of _closed_over_data(): the float64 fit's program serves both
    X = rng.normal(size=(n, 3)).astype(dtype)
    y = simulate(rng, X, 0.2, [0.5, -1.0, 0.3]).astype(dtype)
    plain = jaxlogreg.fit(X, y)
    heavy = jaxlogreg.fit(X, y, weights=np.full(n, scale, dtype))
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
    n = 400  # the shape of the proportions test below: one fit and inference program for both
    X = rng.normal(size=(n, 2))
    y = simulate(rng, X, 0.0, [0.7, -0.3])
    res = jaxlogreg.fit(X, y)
    one = jaxlogreg.inference(res, X, y, cov_type="cluster", groups=np.zeros(n, int))
    assert not bool(one.valid) and np.all(np.isnan(one.bse))
    assert np.isnan(float(one.llr_pvalue))
    two = jaxlogreg.inference(res, X, y, cov_type="cluster", groups=np.arange(n) % 2)
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
    status = np.asarray(res.status)  # indexed in NumPy
    assert int(status[3]) == int(Status.NONFINITE)
    assert int(status[7]) == int(Status.INVALID)
    rest = np.setdiff1d(np.arange(B), [3, 7])
    alone = jaxlogreg.fit(X, y, weights=W[rest])
    np.testing.assert_array_equal(status[rest], alone.status)
    np.testing.assert_array_equal(np.asarray(res.n_iter)[rest], alone.n_iter)
    np.testing.assert_allclose(np.asarray(res.params)[rest], alone.params, rtol=1e-13,
                               atol=1e-15)


def _closed_over_data():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(150, 3))
    y = simulate(rng, X, -0.3, [0.8, -0.5, 0.1])
    return jax.device_put(X), jax.device_put(y)


@pytest.mark.parametrize("traced", ["alpha", "tol", "max_iter"])
def test_fit_under_jit_with_jax_arrays_closed_over(traced):
    """``jax.jit(lambda a: fit(X, y, alpha=a))`` with ``X``, ``y`` JAX arrays closed over
    (concrete inside the trace, their values checked at the call), and traced ``tol`` or
    ``max_iter``: the eager fit's answer."""
    X, y = _closed_over_data()
    value = {"alpha": 0.5, "tol": 1e-10, "max_iter": 50}[traced]
    eager = jaxlogreg.fit(X, y, **{traced: value})
    res = jax.jit(lambda v: jaxlogreg.fit(X, y, **{traced: v}))(value)
    assert int(res.status) == int(eager.status) == int(Status.CONVERGED)
    np.testing.assert_allclose(res.params, eager.params, rtol=1e-12, atol=1e-14)


def test_inference_under_jit_with_jax_arrays_closed_over():
    X, y = _closed_over_data()
    res = jaxlogreg.fit(X, y)
    eager = jaxlogreg.inference(res, X, y)
    inf = jax.jit(lambda r: jaxlogreg.inference(r, X, y))(res)
    np.testing.assert_allclose(inf.bse, eager.bse, rtol=1e-12)
    np.testing.assert_allclose(inf.llf, eager.llf, rtol=1e-12)


def test_bad_data_closed_over_a_jit_is_named_at_the_call():
    """Concrete data inside a trace are checked when the trace runs: the ValueError names
    the argument, as in an eager call."""
    X, y = _closed_over_data()
    X = np.array(X)  # the NaN set in NumPy, the data back on the device as a JAX array
    X[4, 1] = np.nan
    X = jax.device_put(X)
    with pytest.raises(ValueError, match=r"X: non-finite value nan at index \(4, 1\)"):
        jax.jit(lambda a: jaxlogreg.fit(X, y, alpha=a))(0.5)


def test_proportions_fit_as_statsmodels_binomial_glm_eagerly_and_under_jit():
    """A fractional response ``y`` in [0, 1]: the same fit eagerly and under ``jit``, equal
    to statsmodels' binomial GLM (coefficients and model-based standard errors)."""
    rng = np.random.default_rng(8)
    n = 400
    X = rng.normal(size=(n, 2))
    p = 1.0 / (1.0 + np.exp(-(0.3 + X @ np.array([0.7, -0.4]))))
    y = np.clip(p + rng.normal(scale=0.1, size=n), 0.0, 1.0)  # proportions, some 0 and 1
    glm = sm.GLM(y, sm.add_constant(X), family=sm.families.Binomial()).fit(tol=1e-12)
    eager = jaxlogreg.fit(X, y)
    traced = jax.jit(lambda y: jaxlogreg.fit(X, y))(y)
    for res in (eager, traced):
        assert int(res.status) == int(Status.CONVERGED)
        np.testing.assert_allclose(res.params, glm.params, rtol=1e-8)
    np.testing.assert_allclose(jaxlogreg.inference(eager, X, y).bse, glm.bse, rtol=1e-8)


@pytest.fixture
def one_gib(monkeypatch):
    """A device of 1 GiB (the check reads the limit through this function)."""
    from jaxlogreg import _batch

    monkeypatch.setattr(_batch, "device_memory", lambda platform=None: 2**30)


def test_a_batch_whose_results_cannot_fit_is_refused_before_it_starts(one_gib):
    """10^8 models of 4 parameters hold 4 + 4 float64 values each in their results,
    6.0 GiB: refused at the call, naming the batch, against the (faked) 1 GiB device."""
    X, y = _closed_over_data()
    assert f"{10**8 * 8 * 8 / 2**30:.1f}" == "6.0"
    with pytest.raises(ValueError, match=r"^batch: 100,000,000 models .* need 6\.0 GiB .* "
                                         r"more than the 1\.0 GiB of memory"):
        jaxlogreg.fit(X, y, weights=jaxlogreg.Bootstrap(jax.random.key(0), 10**8))
    with pytest.raises(ValueError, match=r"^batch: 100,000,000 models"):
        jaxlogreg.fit(X, y, alpha=np.broadcast_to(1.0, (10**4, 10**4)))


def test_rows_that_cannot_fit_are_refused_before_any_copy(one_gib):
    """A broadcast view costs nothing until copied: 10^9 rows are named before they are."""
    X = np.broadcast_to(np.float64(1.0), (10**9, 2))
    y = np.broadcast_to(np.float64(0.0), (10**9,))
    with pytest.raises(ValueError, match=r"^X: shape \(1000000000, 2\) with its intercept "
                                         r"column needs 22\.4 GiB in float64"):
        jaxlogreg.fit(X, y)


@pytest.mark.parametrize("make", [lambda k: jaxlogreg.Bootstrap(k, 2**31),
                                  lambda k: jaxlogreg.KFold(k, 4, repeats=2**30)])
def test_schemes_of_more_models_than_int32_indices_are_refused(make):
    with pytest.raises(ValueError, match=r"at most 2,147,483,647 \(2\*\*31 - 1\)"):
        make(jax.random.key(0))


@pytest.mark.slow
def test_dense_weights_are_moved_without_a_host_copy_and_fitted_without_a_copy():
    """A float64 weights array in a float64 fit: no host copy on the way to the device
    (NumPy's allocations, traced), and the fit's program holds no ``(B, n)`` temporary:
    XLA's memory analysis of the compiled fit grows by far less than the weights when the
    batch doubles."""
    import tracemalloc

    from jaxlogreg import _fit, _validate

    rng = np.random.default_rng(9)
    n, B = 500, 4000
    X = rng.normal(size=(n, 3))
    y = simulate(rng, X, -0.5, [0.5, -0.5, 0.25])
    W = (rng.random((2 * B, n)) < 0.65).astype(np.float64)
    tracemalloc.start()
    moved = _validate._as_array("weights", W, np.dtype(np.float64), 1)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < W.nbytes / 10

    def temporaries(weights):
        prep = _fit._prepare(X, y, weights, None, True, "auto", None, None, 0.0, 0.0, None,
                             None, None, None)
        data = prep.data
        compiled = _fit._fit.lower(
            data.X, data.y, data.weights, None, None, None, prep.alpha, prep.pf, prep.tol,
            prep.max_iter, None, config=prep.config, chunk_size=prep.chunk_size, **prep.statics,
        ).compile()
        return compiled.memory_analysis().temp_size_in_bytes

    growth = temporaries(moved) - temporaries(moved[:B])
    assert growth < 0.1 * (W.nbytes - W[:B].nbytes)
