"""The proximal Newton solver (L1 and elastic net) against scikit-learn, Newton, KKT
conditions checked in NumPy, and the closed-form lasso threshold.

One batch of ten models over one shared design (``n = 200``, ``d = 6``, correlated columns)
is solved once, vmapped with a named axis over ``Problem.products`` as ``fit`` runs it, and
most tests read from it; the same compiled function serves the NaN, ``max_iter``, resume
and float32 variants, and one compilation of a single model (no products, no axis) serves
the unbatched and random-problem tests.
Penalties follow :mod:`jaxlogreg._loss`: scikit-learn's ``C`` is ``alpha = 1 / (C sum w)``,
``l1 = alpha l1_ratio``, ``l2 = alpha (1 - l1_ratio)``.

Tolerances. The solver stops when every least subgradient entry is at most ``TOL = 1e-10``;
KKT conditions recomputed in NumPy must hold to ``1e-9``. scikit-learn's SAGA (``tol =
1e-12``) converges linearly, so coefficients are compared to ``1e-6`` and the zero patterns
exactly; the objective at our solution must not exceed the objective at SAGA's by more than
rounding.
"""

from __future__ import annotations

import functools
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import expit
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from _data import simulate
from jaxlogreg import Status, _loss
from jaxlogreg.solvers import Context, Problem, context, newton
from jaxlogreg.solvers import _prox_newton as pn

TOL = 1e-10
MAX_ITER = 100
N, D = 200, 6

# Model roles in the batch (rows of Y, W, O and entries of L1, L2).
NEWTON = 0  # l1 = l2 = 0: plain Newton's optimum
LASSO = (1, 2)  # scikit-learn SAGA, l1_ratio = 1 (model 2 with integer weights)
ENET = (3, 4)  # scikit-learn SAGA, l1_ratio = 0.5 and 0.3
OFFSET = 5  # lasso with weights and an offset: KKT only
ABOVE, BELOW = 6, 7  # l1 just above / below alpha_max
SEPARABLE = 8  # y = 1{x0 > 0}: separated, but the L1 penalty bounds the slopes
ALL_ZERO = 9  # every y = 0: the unpenalised intercept runs off to -inf

SKLEARN = {1: (0.1, 1.0), 2: (0.5, 1.0), 3: (0.2, 0.5), 4: (0.05, 0.3)}  # model: (C, l1_ratio)


def _grad(X1, y, w, o, beta, l2, pf):
    """Smooth-part gradient in NumPy: X^T (w (mu - y)) / sum w + l2 pf beta."""
    mu = expit(X1 @ beta + o)
    return X1.T @ (w * (mu - y)) / w.sum() + l2 * pf * beta


@functools.cache
def _data():
    """Shared design, ``(10, n)`` labels, weights, offsets, and per-model l1, l2."""
    rng = np.random.default_rng(7)
    X = rng.normal(size=(N, D))
    X[:, 1] += 0.8 * X[:, 0]
    X[:, 2] = 0.5 * X[:, 2] + 1.0  # a column with a nonzero mean couples to the intercept
    coef = np.array([1.0, -0.6, 0.4, 0.0, 0.2, 0.0])
    Y = np.stack([simulate(rng, X, 0.3, coef) for _ in range(10)])
    W = np.ones_like(Y)
    O = np.zeros_like(Y)
    W[2] = rng.integers(0, 4, size=N)
    W[OFFSET] = rng.integers(1, 3, size=N)
    O[OFFSET] = rng.normal(0.0, 0.5, size=N)
    Y[SEPARABLE] = (X[:, 0] > 0).astype(float)
    Y[ALL_ZERO] = 0.0
    L1 = np.zeros(10)
    L2 = np.zeros(10)
    for k, (C, ratio) in SKLEARN.items():
        alpha = 1.0 / (C * W[k].sum())
        L1[k], L2[k] = alpha * ratio, alpha * (1.0 - ratio)
    L1[OFFSET] = L1[SEPARABLE] = L1[ALL_ZERO] = 0.02
    # alpha_max = max_j |g_j(beta_null)| / pf_j at the intercept-only optimum beta_null
    # (closed form for unit weights and no offset: the intercept is the logit of the mean).
    X1 = np.column_stack([np.ones(N), X])
    ybar = Y[ABOVE].mean()
    null = np.r_[np.log(ybar / (1 - ybar)), np.zeros(D)]
    g_null = _grad(X1, Y[ABOVE], W[ABOVE], O[ABOVE], null, 0.0, 1.0)
    alpha_max = np.max(np.abs(g_null[1:]))
    Y[BELOW] = Y[ABOVE]
    L1[ABOVE], L1[BELOW] = alpha_max * (1 + 1e-6), alpha_max * (1 - 1e-3)
    return X, Y, W, O, L1, L2, (null, g_null)


def _pf(dtype):
    return _loss.default_penalty_factor(D + 1, True, dtype)


@jax.jit
def _vmapped_run(X, Y, W, O, L1, L2, tol, beta0, max_iter):
    X1 = _loss.add_intercept(X)
    Z = _loss.column_products(X1)
    pf = _pf(X.dtype)

    def one(y, w, o, l1, l2, b0, m):
        prob = Problem(X1, y, w, o, l2, pf, Z, l1)
        return pn.run(prob, b0, Context(tol, m, "b"))

    return jax.vmap(one, axis_name="b")(Y, W, O, L1, L2, beta0, max_iter)


def _run_batch(X, Y, W, O, L1, L2, tol=TOL, beta0=None, max_iter=MAX_ITER):
    """All models vmapped with a named axis over the shared design's column products (as
    ``fit`` runs them), from ``beta0`` ``(10, p)`` (zeros if None) with per-model
    ``max_iter``; arguments are cast so that every call of a dtype shares one compilation."""
    dtype = np.asarray(X).dtype
    beta0 = np.zeros((10, D + 1), dtype) if beta0 is None else beta0
    max_iter = np.broadcast_to(np.asarray(max_iter, np.int32), (10,))
    state = _vmapped_run(X, Y, W, O, L1, L2, dtype.type(tol), np.asarray(beta0, dtype),
                         max_iter)
    return jax.tree_util.tree_map(np.asarray, state)


# One model alone (no column products, no axis), as a user drives the solver by hand.
_run_one = jax.jit(lambda prob, beta0, tol, max_iter: pn.run(prob, beta0, Context(tol, max_iter)))


def _problem(k):
    """Model ``k`` alone (no column products), float64."""
    X, Y, W, O, L1, L2, _ = _data()
    X1 = _loss.add_intercept(jnp.asarray(X))
    return Problem(X1, jnp.asarray(Y[k]), jnp.asarray(W[k]), jnp.asarray(O[k]),
                   jnp.asarray(L2[k]), _pf(jnp.float64), None, jnp.asarray(L1[k]))


@functools.cache
def _batch():
    X, Y, W, O, L1, L2, _ = _data()
    return _run_batch(X, Y, W, O, L1, L2)


@functools.cache
def _saga(k):
    X, Y, W, *_ = _data()
    C, ratio = SKLEARN[k]
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        m = LogisticRegression(C=C, l1_ratio=ratio, solver="saga", tol=1e-12, max_iter=200_000)
        m.fit(X, Y[k], sample_weight=W[k])
    return np.r_[m.intercept_, m.coef_[0]]


def _kkt_violation(k, beta):
    """Largest violation of the optimality conditions of model ``k`` at ``beta``, in NumPy."""
    X, Y, W, O, L1, L2, _ = _data()
    X1 = np.column_stack([np.ones(N), X])
    pf = np.asarray(_pf(jnp.float64))
    g = _grad(X1, Y[k], W[k], O[k], np.asarray(beta, np.float64), L2[k], pf)
    c = L1[k] * pf
    nonzero = np.abs(g + c * np.sign(beta))
    at_zero = np.maximum(np.abs(g) - c, 0.0)
    return np.max(np.where(np.asarray(beta) != 0, nonzero, at_zero))


def test_statuses():
    state = _batch()
    expected = np.full(10, int(Status.CONVERGED))
    expected[ALL_ZERO] = int(Status.SEPARATED)
    np.testing.assert_array_equal(state.status, expected)


@pytest.mark.parametrize("k", [NEWTON, *LASSO, *ENET, OFFSET, ABOVE, BELOW, SEPARABLE])
def test_kkt_conditions(k):
    assert _kkt_violation(k, _batch().beta[k]) <= 1e-9


@pytest.mark.parametrize("k", [*LASSO, *ENET])
def test_matches_sklearn_saga(k):
    beta = _batch().beta[k]
    ref = _saga(k)
    assert _kkt_violation(k, ref) <= 1e-8  # SAGA stops on a step rule: check it got there
    np.testing.assert_array_equal(beta == 0, ref == 0)
    assert 0 < np.sum(beta == 0) < D  # the comparison covers both kinds of coefficient
    np.testing.assert_allclose(beta, ref, rtol=1e-6, atol=1e-8)
    prob = _problem(k)
    ours, theirs = (float(_loss.value(jnp.asarray(b), prob)) for b in (beta, ref))
    assert ours <= theirs + 1e-14 * abs(theirs)


def test_without_l1_reaches_newton_optimum():
    prob = _problem(NEWTON)._replace(l1=None)
    ref = jax.jit(newton.run)(prob, jnp.zeros(D + 1), context(TOL, MAX_ITER))
    assert int(ref.status) == int(Status.CONVERGED)
    np.testing.assert_allclose(_batch().beta[NEWTON], ref.beta, rtol=1e-8, atol=1e-12)
    assert np.all(_batch().beta[NEWTON] != 0)


def test_lasso_threshold_at_alpha_max():
    """At l1 just above alpha_max = max_j |g_j(beta_null)| every slope is exactly zero and
    the intercept is the null model's; just below, the slope with the largest |g_j| enters."""
    *_, (null, g_null) = _data()
    beta = _batch().beta
    np.testing.assert_array_equal(beta[ABOVE, 1:], 0.0)
    np.testing.assert_allclose(beta[ABOVE, 0], null[0], rtol=1e-9)
    entered = np.flatnonzero(beta[BELOW] != 0)
    np.testing.assert_array_equal(entered, [0, np.argmax(np.abs(g_null))])
    assert np.sign(beta[BELOW, entered[1]]) == -np.sign(g_null[entered[1]])


def test_separated_data_with_penalised_slopes_converge():
    """y = 1{x0 > 0} has no unpenalised optimum, but with every slope penalised it does."""
    beta = _batch().beta[SEPARABLE]
    assert np.all(np.isfinite(beta)) and beta[1] > 0


def test_batched_equals_unbatched():
    """Each model solved alone (no column products, no axis) takes the same path: the same
    iterations and the same coefficients and zeros; stopped models were frozen in the batch."""
    state = _batch()
    for k in range(10):
        alone = _run_one(_problem(k), jnp.zeros(D + 1), TOL, MAX_ITER)
        assert int(alone.status) == int(state.status[k])
        assert int(alone.n_iter) == int(state.n_iter[k]), k
        np.testing.assert_array_equal(np.asarray(alone.beta) == 0, state.beta[k] == 0)
        np.testing.assert_allclose(alone.beta, state.beta[k], rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(alone.loss, state.loss[k], rtol=1e-13)


def test_stopped_state_is_frozen():
    prob = _problem(LASSO[0])
    final = _run_one(prob, jnp.zeros(D + 1), TOL, MAX_ITER)
    again = jax.jit(pn.step)(prob, final, context(TOL, MAX_ITER))
    for a, b in zip(jax.tree_util.tree_leaves(final),
                    jax.tree_util.tree_leaves(again), strict=True):
        np.testing.assert_array_equal(a, b)


def test_bad_models_leave_the_batch_alone():
    """A NaN offset gives NONFINITE and a negative weight INVALID, both at the start, and
    every other model's path is unchanged."""
    X, Y, W, O, L1, L2, _ = _data()
    O, W = O.copy(), W.copy()
    O[LASSO[0], 17] = np.nan
    W[ENET[0], 3] = -1.0
    state = _run_batch(X, Y, W, O, L1, L2)
    clean = _batch()
    assert int(state.status[LASSO[0]]) == int(Status.NONFINITE)
    assert int(state.status[ENET[0]]) == int(Status.INVALID)
    assert state.n_iter[LASSO[0]] == state.n_iter[ENET[0]] == 0
    rest = ~np.isin(np.arange(10), [LASSO[0], ENET[0]])
    np.testing.assert_array_equal(state.status[rest], clean.status[rest])
    np.testing.assert_array_equal(state.n_iter[rest], clean.n_iter[rest])
    np.testing.assert_allclose(state.beta[rest], clean.beta[rest], rtol=1e-12, atol=1e-15)


def test_float32():
    X, Y, W, O, L1, L2, _ = _data()
    f32 = [np.asarray(a, np.float32) for a in (X, Y, W, O, L1, L2)]
    state = _run_batch(*f32, tol=1e-5)
    assert state.beta.dtype == jnp.float32
    expected = np.full(10, int(Status.CONVERGED))
    expected[ALL_ZERO] = int(Status.SEPARATED)
    np.testing.assert_array_equal(state.status, expected)
    ok = np.arange(10) != ALL_ZERO
    np.testing.assert_allclose(state.beta[ok], _batch().beta[ok], rtol=1e-3, atol=1e-4)
    for k in (*LASSO, *ENET):
        assert _kkt_violation(k, state.beta[k]) <= 1e-5


def test_max_iter_and_resume_to_the_same_optimum():
    """``max_iter = 2`` stops the running models with MAX_ITER after two steps, and resuming
    them from their ``beta`` with the iterations they have left ends where the
    uninterrupted batch ended (the solver's state is its iterate: ``resumable``)."""
    X, Y, W, O, L1, L2, _ = _data()
    clean = _batch()
    short = _run_batch(X, Y, W, O, L1, L2, max_iter=2)
    slow = clean.n_iter > 2
    assert slow.sum() >= 8
    np.testing.assert_array_equal(short.status[slow], int(Status.MAX_ITER))
    np.testing.assert_array_equal(short.n_iter, np.minimum(clean.n_iter, 2))

    assert pn.ProxNewton.resumable
    rest = _run_batch(X, Y, W, O, L1, L2, beta0=short.beta, max_iter=MAX_ITER - short.n_iter)
    np.testing.assert_array_equal(rest.status[slow], clean.status[slow])
    np.testing.assert_array_equal((short.n_iter + rest.n_iter)[slow], clean.n_iter[slow])
    np.testing.assert_allclose(rest.beta[slow], clean.beta[slow], rtol=1e-9, atol=1e-12)


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    l1=st.floats(1e-3, 0.1),
    l2=st.sampled_from([0.0, 1e-2]),
    free=st.integers(0, D),
)
def test_kkt_on_random_problems(seed, l1, l2, free):
    """Random labels, weights and penalty factors (slope ``free`` unpenalised when ``free >
    0``): the solution satisfies the KKT conditions, checked in NumPy."""
    X, *_ = _data()
    rng = np.random.default_rng(seed)
    X1 = np.column_stack([np.ones(N), X])
    y = simulate(rng, X, rng.normal(), rng.normal(size=D))
    w = rng.integers(0, 3, size=N).astype(float)
    w[0] = 1.0
    pf = rng.uniform(0.5, 2.0, size=D + 1)
    pf[0] = pf[free] = 0.0
    prob = Problem(jnp.asarray(X1), jnp.asarray(y), jnp.asarray(w), jnp.zeros(N),
                   jnp.float64(l2), jnp.asarray(pf), None, jnp.float64(l1))
    state = _run_one(prob, jnp.zeros(D + 1), TOL, MAX_ITER)
    assert int(state.status) == int(Status.CONVERGED)
    beta = np.asarray(state.beta)
    g = _grad(X1, y, w, 0.0, beta, l2, pf)
    c = l1 * pf
    violation = np.where(beta != 0, np.abs(g + c * np.sign(beta)), np.maximum(np.abs(g) - c, 0))
    assert np.max(violation) <= 1e-9


def test_new_data_and_settings_do_not_retrace():
    X, Y, W, O, L1, L2, _ = _data()
    _batch()
    _run_one(_problem(0), jnp.zeros(D + 1), TOL, MAX_ITER)
    sizes = _vmapped_run._cache_size(), _run_one._cache_size()
    _run_batch(X, 1.0 - Y, W + 1.0, O, 2.0 * L1, L2, tol=1e-8, max_iter=7)
    _run_one(_problem(1), jnp.zeros(D + 1), 1e-8, 7)
    assert (_vmapped_run._cache_size(), _run_one._cache_size()) == sizes
