"""The solvers' one driver: its stopping decision for every solver on crafted models, the
lanes that refill as models stop, the "auto" rule, the default tolerance for every link, and
what a fit compiles."""

from __future__ import annotations

import collections
import itertools
import os
import subprocess
import sys
import textwrap
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import statsmodels.api as sm

import jaxlogreg
from _data import mixed_data, simulate
from jaxlogreg import Status, _fit, solvers
from jaxlogreg.solvers import _driver

S = Status

# --------------------------------------------------------------------------------------------
# The decision
# --------------------------------------------------------------------------------------------


# The decision as the solvers run it, inside a trace: one program for every row of the table
# (called eagerly, each of its jax.numpy operations would compile a program of its own).
_decide = jax.jit(_driver.decide)


@pytest.mark.parametrize("finite, singular, recession, converged, out, certain",
                         list(itertools.product([False, True], repeat=6)))
def test_decide_is_the_documented_table(finite, singular, recession, converged, out, certain):
    """First match wins: NONFINITE, SINGULAR (SEPARATED if some row is fitted with
    probability 1), SEPARATED, CONVERGED, MAX_ITER (SEPARATED likewise), else RUNNING."""
    if not finite:
        expected = S.NONFINITE
    elif singular:
        expected = S.SEPARATED if certain else S.SINGULAR
    elif recession:
        expected = S.SEPARATED
    elif converged:
        expected = S.CONVERGED
    elif out:
        expected = S.SEPARATED if certain else S.MAX_ITER
    else:
        expected = S.RUNNING
    b = lambda v: jnp.asarray(v)  # noqa: E731
    got = _decide(b(finite), b(singular), b(recession), b(converged),
                  jnp.int32(5 if out else 2), jnp.int32(5), b(certain))
    assert int(got) == int(expected)


def _crafted():
    """Eight models over one n = 300 design with a fourth column (x1 again for the
    singular model, noise otherwise): ordinary, complete separation, all labels 0, a
    singular design, a NaN offset, a negative weight, ordinary (for max_iter = 1), ordinary
    with integer weights and an offset."""
    X, Y, W, O = mixed_data()
    n = X.shape[0]
    rng = np.random.default_rng(5)
    Xs = np.repeat(np.column_stack([X, rng.normal(size=n)])[None], 8, axis=0)
    Xs[3, :, 3] = X[:, 0]  # collinear with x1
    ys = np.stack([Y[0], Y[1], Y[3], Y[0], Y[0], Y[0], Y[0], Y[5]])
    ws = np.stack([W[0], W[1], W[3], W[0], W[0], W[0], W[0], W[5]])
    os_ = np.stack([O[0], O[1], O[3], O[0], O[0], O[0], O[0], O[5]])
    os_[4, 7] = np.nan
    ws[5, 11] = -1.0
    return Xs, ys, ws, os_


CASES = ["ordinary", "separated", "all zero", "singular", "NaN offset", "negative weight",
         "max_iter 1", "weighted"]

# Expected status of each case by solver. Proximal Newton has no SINGULAR (coordinate descent
# converges to one of the minimisers); Firth's estimate exists under separation; SGD and Adam
# stop at their epochs here (their default 20 epochs do not reach tol = 1e-10) and test
# separation only at the end, on beta itself.
TABLE = {
    "newton": [S.CONVERGED, S.SEPARATED, S.SEPARATED, S.SINGULAR, S.NONFINITE, S.INVALID,
               S.MAX_ITER, S.CONVERGED],
    "prox_newton": [S.CONVERGED, S.SEPARATED, S.SEPARATED, S.CONVERGED, S.NONFINITE,
                    S.INVALID, S.MAX_ITER, S.CONVERGED],
    "lbfgs": [S.CONVERGED, S.SEPARATED, S.SEPARATED, None, S.NONFINITE, S.INVALID,
              S.MAX_ITER, S.CONVERGED],
    "firth": [S.CONVERGED, S.CONVERGED, S.CONVERGED, S.SINGULAR, S.NONFINITE, S.INVALID,
              S.MAX_ITER, S.CONVERGED],
    "sgd": [S.MAX_ITER, None, None, S.MAX_ITER, S.NONFINITE, S.INVALID, S.MAX_ITER,
            S.MAX_ITER],
}


@pytest.fixture(scope="module")
def crafted():
    return _crafted()


@pytest.mark.parametrize("solver", list(TABLE))
def test_every_solver_reports_each_crafted_case(solver, crafted):
    """Under ``jax.jit`` (so that the boundary's checks cannot raise), one batch per solver;
    the max_iter case is the ordinary model with one step allowed (``max_iter`` is traced:
    the same program)."""
    X, Y, W, O = crafted

    @jax.jit
    def run(max_iter):
        return jaxlogreg.fit(X, Y, weights=W, offset=O, solver=solver, max_iter=max_iter)

    res = run(1000 if solver != "sgd" else 40)
    one = run(1)
    got = np.asarray(res.status).copy()
    got[CASES.index("max_iter 1")] = np.asarray(one.status)[CASES.index("max_iter 1")]
    for case, want, status, n_iter in zip(CASES, TABLE[solver], got, np.asarray(res.n_iter),
                                          strict=True):
        if want is None:  # not a certainty for this solver (left to its own tests)
            continue
        assert int(status) == int(want), (solver, case, S(int(status)).name)
        if case in ("NaN offset", "negative weight"):
            assert n_iter == 0, (solver, case)
    # Every solver's ordinary fits agree with Newton's (Firth's objective differs).
    if solver not in ("firth", "sgd"):
        ref = jaxlogreg.fit(X[0], Y[0], weights=W[0], offset=O[0])
        np.testing.assert_allclose(np.asarray(res.params)[0], ref.params, rtol=1e-6, atol=1e-8)


def test_line_search_failure_keeps_the_model():
    """A Newton step that Armijo's condition with c = 0.49 refuses, and no halving allowed:
    LINESEARCH_FAILED at the start, the start kept."""
    X, Y, W, O = mixed_data()
    start = np.array([0.0, 3.0, -2.0, 1.0])
    res = jaxlogreg.fit(X, Y[0], init=start, solver=jaxlogreg.Newton(armijo=0.49, max_halvings=0))
    assert int(res.status) == int(S.LINESEARCH_FAILED)
    assert int(res.n_iter) == 0
    np.testing.assert_array_equal(res.params, start)


# --------------------------------------------------------------------------------------------
# Lanes
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("lanes", [1, 3, 4, 64])
def test_a_model_is_its_own_whatever_the_lanes(lanes):
    """Each model's status, steps and coefficients equal its solo fit, for lane counts that
    leave models waiting for a lane (1, 3, 4: refilled as models stop) and one lane per
    model and more (64)."""
    X, Y, W, O = mixed_data()
    start = np.zeros(X.shape[1] + 1)
    batch = jaxlogreg.fit(X, Y, weights=W, offset=O, init=start, chunk_size=lanes)
    # Indexed in NumPy: an eager index of a JAX array compiles a program per shape.
    status, n_iter, params = map(np.asarray, (batch.status, batch.n_iter, batch.params))
    for b in range(Y.shape[0]):
        solo = jaxlogreg.fit(X, Y[b], weights=W[b], offset=O[b], init=start)
        assert int(status[b]) == int(solo.status), b
        assert int(n_iter[b]) == int(solo.n_iter), b
        np.testing.assert_allclose(params[b], solo.params, rtol=1e-12, atol=1e-12)


def test_shared_start_evaluated_by_products_equals_the_pass():
    """A batch of many lane counts evaluates its models at the shared start by products
    (``_loss.shared_rows``); a smaller one by a pass over the rows. Same statuses, steps and
    coefficients to rounding."""
    X, Y, W, O = mixed_data()
    rng = np.random.default_rng(2)
    Wb = (rng.random((200, X.shape[0])) < 0.65).astype(float)
    big = jaxlogreg.fit(X, Y[0], weights=Wb, chunk_size=8)  # 200 >= 8 * 8: products
    assert Wb.shape[0] >= _fit._SHARED_START_MODELS * 8
    small = jaxlogreg.fit(X, Y[0], weights=Wb, chunk_size=64)  # 200 < 8 * 64: a pass
    np.testing.assert_array_equal(big.status, small.status)
    np.testing.assert_array_equal(big.n_iter, small.n_iter)
    np.testing.assert_allclose(big.params, small.params, rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------------------------
# "auto"
# --------------------------------------------------------------------------------------------


def test_auto_rule():
    top = solvers.AUTO_NEWTON_MAX_COLUMNS
    assert isinstance(solvers.auto(top), solvers.Newton)
    assert isinstance(solvers.auto(top + 1), solvers.LBFGS)
    assert isinstance(solvers.auto(3, l1_ratio=0.5), solvers.ProxNewton)
    assert isinstance(solvers.auto(500, l1_ratio=1.0), solvers.ProxNewton)


def test_auto_is_the_default_and_fits_elastic_net():
    """The default solver fits an elastic net (proximal Newton's result) and a wide design
    (L-BFGS, to Newton's optimum)."""
    rng = np.random.default_rng(0)
    n, d = 300, 4
    X = rng.normal(size=(n, d))
    y = simulate(rng, X, -0.3, [1.0, -0.5, 0.0, 0.2])
    enet = jaxlogreg.fit(X, y, alpha=0.02, l1_ratio=0.5)
    prox = jaxlogreg.fit(X, y, alpha=0.02, l1_ratio=0.5, solver="prox_newton")
    np.testing.assert_array_equal(enet.params, prox.params)
    d = solvers.AUTO_NEWTON_MAX_COLUMNS  # d + 1 parameters: past the rule's bound
    X = rng.normal(size=(n, d)) / np.sqrt(d)
    y = simulate(rng, X, 0.2, rng.normal(size=d))
    wide = jaxlogreg.fit(X, y, alpha=1e-2)
    lbfgs = jaxlogreg.fit(X, y, alpha=1e-2, solver="lbfgs")
    newton = jaxlogreg.fit(X, y, alpha=1e-2, solver="newton")
    np.testing.assert_array_equal(wide.params, lbfgs.params)
    assert bool(wide.converged)
    np.testing.assert_allclose(wide.params, newton.params, rtol=1e-6, atol=1e-7)


# --------------------------------------------------------------------------------------------
# The default tolerance, link by link
# --------------------------------------------------------------------------------------------


def _star98():
    data = sm.datasets.star98.load_pandas()
    successes = data.endog["NABOVE"].to_numpy(float)
    trials = successes + data.endog["NBELOW"].to_numpy(float)
    X = data.exog.to_numpy(float)
    return (X - X.mean(0)) / X.std(0), successes, trials


LINKS = {"logit": sm.families.links.Logit(), "probit": sm.families.links.Probit(),
         "cloglog": sm.families.links.CLogLog(), "cauchit": sm.families.links.Cauchy()}


@pytest.mark.parametrize("link", list(LINKS))
def test_default_tolerance_is_accurate_for_every_link(link):
    """R's star98 binomial counts (303 rows, 20 standardised columns), at the default tol:
    every parameter within 1e-8 relative of statsmodels' GLM converged to 1e-15."""
    X, successes, trials = _star98()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = sm.GLM(np.column_stack([successes, trials - successes]), sm.add_constant(X),
                     family=sm.families.Binomial(link=LINKS[link])).fit(tol=1e-15, maxiter=10_000)
    res = jaxlogreg.fit(X, successes, trials=trials, link=link)
    assert int(res.status) == int(S.CONVERGED)
    np.testing.assert_allclose(res.params, ref.params, rtol=1e-8, atol=0)


# --------------------------------------------------------------------------------------------
# What a fit compiles
# --------------------------------------------------------------------------------------------


def _compiles(f):
    """The number of XLA programs compiled while ``f`` runs."""
    events = collections.Counter()

    def listen(name, secs, **kw):
        events.update([name])

    jax.monitoring.register_event_duration_secs_listener(listen)
    try:
        jax.block_until_ready(f())
    finally:
        jax.monitoring.unregister_event_duration_listener(listen)
    return events["/jax/core/compile/backend_compile_duration"]


def test_a_fit_compiles_one_program_and_new_data_none():
    """A single fit compiles one program (the fit and its data checks), a batch over a
    shared design one more (its pooled start inside it); new data of the same shapes, new
    tol and max_iter compile nothing."""
    rng = np.random.default_rng(3)
    n, d, B = 137, 3, 40  # shapes no other test uses
    X = rng.normal(size=(n, d))
    y = simulate(rng, X, 0.1, [0.5, -0.5, 0.2])
    W = (rng.random((B, n)) < 0.7).astype(float)
    assert _compiles(lambda: jaxlogreg.fit(X, y).coef) == 1
    assert _compiles(lambda: jaxlogreg.fit(X, 1.0 - y, tol=1e-9, max_iter=7).coef) == 0
    assert _compiles(lambda: jaxlogreg.fit(X, y, weights=W).coef) == 1
    assert _compiles(lambda: jaxlogreg.fit(X + 1.0, 1.0 - y, weights=W[::-1]).coef) == 0


@pytest.mark.slow
def test_enable_compilation_cache_keeps_the_programs(tmp_path):
    """In a fresh process: the cache directory is made and filled by a fit; one that cannot
    be made gives a note and None."""
    script = textwrap.dedent(f"""
        import os, jax, numpy as np
        import jaxlogreg
        path = jaxlogreg.enable_compilation_cache({str(tmp_path / "cache")!r})
        assert path == {str(tmp_path / "cache")!r}, path
        rng = np.random.default_rng(0)
        X = rng.normal(size=(50, 2)); y = (rng.random(50) < 0.5) * 1.0
        jaxlogreg.fit(X, y).coef.block_until_ready()
        assert len(os.listdir(path)) > 0
        blocked = {str(tmp_path / "file")!r}
        open(blocked, "w").close()
        assert jaxlogreg.enable_compilation_cache(os.path.join(blocked, "sub")) is None
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env={**os.environ, "JAX_PLATFORMS": "cpu"}, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "no compilation cache" in proc.stderr


def test_resampling_batches_of_one_bucket_share_the_fit_program(monkeypatch):
    """Batches of one scheme over shared data run in a program for the next power of two
    of models that fits the first ``B`` (the count traced): B = 40 and B = 50 (chunks of 16)
    share the fit's program, and the models are those of an unpadded fit, bit for bit."""
    rng = np.random.default_rng(5)
    n, d = 151, 3  # shapes no other test uses
    X = rng.normal(size=(n, d))
    y = simulate(rng, X, 0.2, [0.8, -0.5, 0.3])
    key = jax.random.key(7)

    def programs():
        return sum(p._cache_size() for pair in (_fit._FIT, _fit._FIT_CHECKED)
                   for p in (pair.default, pair.quick))

    first = jaxlogreg.fit(X, y, weights=jaxlogreg.Splits(key, 40), chunk_size=16)
    before = programs()
    second = jaxlogreg.fit(X, y, weights=jaxlogreg.Splits(key, 50), chunk_size=16)
    assert programs() == before
    assert second.coef.shape == (50, d) and first.coef.shape == (40, d)

    monkeypatch.setattr(_fit, "_padded_size", lambda *args: None)
    exact = jaxlogreg.fit(X, y, weights=jaxlogreg.Splits(key, 50), chunk_size=16)
    assert programs() == before + 1  # without padding, a program of its own
    np.testing.assert_array_equal(second.status, exact.status)
    np.testing.assert_array_equal(second.n_iter, exact.n_iter)
    np.testing.assert_array_equal(second.params, exact.params)
    exact_params = np.asarray(exact.params)  # indexed in NumPy: no program for the slice
    np.testing.assert_array_equal(first.params, exact_params[:40])  # model b is model b
