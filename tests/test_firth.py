"""Firth's bias-reduced logistic regression: the solver and the profile penalised-likelihood
intervals and tests.

References, all computed here in NumPy/SciPy and float64: the penalised log-likelihood
``l* = l + 1/2 log det I`` and Firth's modified score (checked against central finite
differences of ``l*``); its maximum by ``scipy.optimize.minimize``; the profile statistic
``2 (l*(beta_hat) - max_{beta_j = b} l*)`` by constrained SciPy fits (a continuation from
the estimate and a direct start, the best taken); frequency weights against the rows
repeated. Compilation dominates the run time, so every check shares one batch over one
design: ``X`` holds every base row twice, which lets a weighted model and its expanded
twin share it.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize as so
import scipy.stats as ss

from jaxlogreg import Status, _loss
from jaxlogreg._firth_profile import firth_lr_test, firth_profile, firth_profile_intervals
from jaxlogreg.solvers import Context
from jaxlogreg.solvers import _firth as firth

TOL = 1e-10
MAX_ITER = 100
NAMES = ("ordinary", "complete", "quasi", "weighted", "expanded", "offset", "singular")


@functools.cache
def data():
    """Shared design (300, 3): 150 base rows (x1 in -2..2, x2 and x3 normal), each twice.
    Models, in the order of NAMES: ordinary labels; complete separation y = 1{x1 > 0};
    quasi-complete (random labels where x1 == 0); integer weights 0..2 on the first copy;
    the same rows expanded (weight 1 on the first copy of every row with k >= 1, on the
    second of every row with k = 2), with the same offset; ordinary with an offset; and
    weight only on rows with x1 == 0, where x1 is a zero column (singular)."""
    rng = np.random.default_rng(7)
    m = 150
    x1 = rng.integers(-2, 3, size=m).astype(np.float64)
    Xb = np.stack([x1, rng.normal(size=m), rng.normal(size=m)], axis=1)
    X = np.concatenate([Xb, Xb])
    twice = lambda a: np.concatenate([a, a])  # noqa: E731

    def labels(intercept, coef, offset=0.0):
        eta = intercept + Xb @ np.asarray(coef) + offset
        return twice((rng.uniform(size=m) < 1 / (1 + np.exp(-eta))).astype(np.float64))

    k = rng.integers(0, 3, size=m).astype(np.float64)
    o = twice(rng.normal(0.0, 0.5, size=m))
    y_w = labels(-0.3, [0.6, 0.4, -0.5], o[:m])
    ties = twice((rng.uniform(size=m) < 0.5) * 1.0)
    Y = np.stack([
        labels(0.2, [0.8, -0.5, 0.3]),
        twice((x1 > 0) * 1.0),
        np.where(twice(x1) > 0, 1.0, np.where(twice(x1) < 0, 0.0, ties)),
        y_w,
        y_w,
        labels(0.1, [-0.4, 0.7, 0.2], o[:m]),
        labels(0.0, [0.0, 0.5, 0.5]),
    ])
    W = np.ones_like(Y)
    W[3] = np.concatenate([k, np.zeros(m)])
    W[4] = np.concatenate([(k >= 1) * 1.0, (k == 2) * 1.0])
    W[6] = (X[:, 0] == 0) * 1.0
    O = np.zeros_like(Y)
    O[3] = O[4] = O[5] = o
    return X, Y, W, O


# --------------------------------------------------------------------------------------------
# The reference, in NumPy
# --------------------------------------------------------------------------------------------


def neg_penalised(beta, X1, y, w, o):
    """``-(l + 1/2 log det I)`` for one model (X1 with its column of ones)."""
    eta = X1 @ beta + o
    mu = 1 / (1 + np.exp(-eta))
    ll = np.sum(w * (y * eta - np.logaddexp(0.0, eta)))
    sign, logdet = np.linalg.slogdet(X1.T @ (X1 * (w * mu * (1 - mu))[:, None]))
    return -(ll + 0.5 * logdet) if sign > 0 else np.inf


def modified_score(beta, X1, y, w, o):
    """Firth's ``U*_j = sum_i [w_i (y_i - mu_i) + h_i (1/2 - mu_i)] x_ij``, with the hat
    values ``h = diag(W^1/2 X I^-1 X^T W^1/2)``, ``W = diag(w mu (1 - mu))``."""
    mu = 1 / (1 + np.exp(-(X1 @ beta + o)))
    v = w * mu * (1 - mu)
    info = X1.T @ (X1 * v[:, None])
    h = v * np.einsum("ij,jk,ik->i", X1, np.linalg.inv(info), X1)
    return X1.T @ (w * (y - mu) + h * (0.5 - mu))


def reference_fit(X1, y, w, o, x0=None):
    x0 = np.zeros(X1.shape[1]) if x0 is None else np.asarray(x0, dtype=float)
    res = so.minimize(
        neg_penalised, x0, args=(X1, y, w, o), method="BFGS",
        jac=lambda b, *a: -modified_score(b, *a), options=dict(gtol=1e-9, maxiter=10_000),
    )
    return res.x, res.fun


def constrained(X1, y, w, o, j, b, x0):
    """``min -l*`` over ``beta`` with ``beta_j = b``, from ``x0`` (the other entries)."""
    free = np.arange(X1.shape[1]) != j

    def full(u):
        beta = np.array(x0, dtype=float)
        beta[free] = u
        beta[j] = b
        return beta

    res = so.minimize(
        lambda u: neg_penalised(full(u), X1, y, w, o), np.asarray(x0, float)[free],
        jac=lambda u: -modified_score(full(u), X1, y, w, o)[free], method="BFGS",
        options=dict(gtol=1e-9, maxiter=10_000),
    )
    return res.fun, full(res.x)


def profile_statistic(X1, y, w, o, beta_hat, f_hat, j, b, steps=4):
    """``2 (l*(beta_hat) - max_{beta_j = b} l*)``, the best of a continuation along
    ``beta_j`` from the estimate and a direct start at the estimate."""
    direct, _ = constrained(X1, y, w, o, j, b, beta_hat)
    x = np.array(beta_hat)
    for t in np.linspace(0.0, 1.0, steps + 1)[1:]:
        along, x = constrained(X1, y, w, o, j, beta_hat[j] + t * (b - beta_hat[j]), x)
    return 2 * (min(direct, along) - f_hat)


def model(i):
    X, Y, W, O = data()
    return np.column_stack([np.ones(len(X)), X]), Y[i], W[i], O[i]


def test_reference_score_is_the_gradient():
    X1, y, w, o = model(3)
    beta = np.array([0.3, -0.7, 0.4, 0.2])
    eps = 1e-6
    fd = [
        (neg_penalised(beta - eps * e, X1, y, w, o) - neg_penalised(beta + eps * e, X1, y, w, o))
        / (2 * eps)
        for e in np.eye(4)
    ]
    np.testing.assert_allclose(modified_score(beta, X1, y, w, o), fd, rtol=1e-6, atol=1e-7)


# --------------------------------------------------------------------------------------------
# The solver, on one batch over the shared design (one compilation)
# --------------------------------------------------------------------------------------------


@functools.partial(jax.jit, static_argnames=("config",))
def _batch(X1, Y, W, O, config=firth.Firth()):
    products = _loss.column_products(X1)
    p = X1.shape[1]

    def one(y, w, o):
        prob = _loss.Problem(X1, y, w, o, jnp.zeros((), X1.dtype), jnp.zeros((p,), X1.dtype),
                             products)
        return firth.run(prob, jnp.zeros((p,), X1.dtype), Context(TOL, MAX_ITER, "models"),
                         config)

    return jax.vmap(one, axis_name="models")(Y, W, O)


@functools.cache
def batch(order=None):
    """The solver's state for the models ``order`` (default all), as NumPy arrays, so that
    the checks index and compare them without compiling anything."""
    X, Y, W, O = data()
    idx = np.arange(len(Y)) if order is None else np.asarray(order)
    X1 = np.column_stack([np.ones(len(X)), X])
    state = _batch(*jax.device_put((X1, Y[idx], W[idx], O[idx])))
    return jax.tree_util.tree_map(np.asarray, state)


@pytest.mark.parametrize("i", [0, 1, 2, 3, 5])
def test_matches_direct_maximisation(i):
    state = batch()
    assert int(state.status[i]) == Status.CONVERGED, NAMES[i]
    X1, y, w, o = model(i)
    ref, f_ref = reference_fit(X1, y, w, o, x0=np.asarray(state.beta[i]) * 0.9)
    ref0, _ = reference_fit(X1, y, w, o)  # and from zero: the same optimum
    np.testing.assert_allclose(state.beta[i], ref, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(ref0, ref, rtol=1e-5, atol=1e-6)
    # loss is the normalised negative penalised log-likelihood
    np.testing.assert_allclose(float(state.loss[i]) * w.sum(), f_ref, rtol=1e-10, atol=1e-10)
    # the modified score vanishes at the solution
    score = modified_score(np.asarray(state.beta[i]), X1, y, w, o)
    assert np.max(np.abs(score)) / w.sum() < 1e-9
    np.testing.assert_allclose(-np.asarray(state.grad[i]) * w.sum(), score, atol=1e-9)


def test_separation_gives_finite_estimates():
    state = batch()
    X, Y, _, _ = data()
    for i in (1, 2):
        beta = np.asarray(state.beta[i])
        assert int(state.status[i]) == Status.CONVERGED and np.all(np.isfinite(beta))
        assert 1 < beta[1] < 20  # the separating slope: large, finite
    # Firth's estimates shrink the maximum-likelihood fitted probabilities towards 1/2
    # but keep every row on its side under complete separation.
    eta = np.column_stack([np.ones(len(X)), X]) @ np.asarray(state.beta[1])
    assert np.all((eta > 0) == (Y[1] == 1))


def test_frequency_weights_equal_expanded_rows():
    state = batch()
    assert int(state.status[4]) == Status.CONVERGED
    np.testing.assert_allclose(state.beta[3], state.beta[4], rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(state.loss[3], state.loss[4], rtol=1e-11)


def test_rank_deficient_design_is_singular():
    state = batch()
    assert int(state.status[6]) == Status.SINGULAR
    assert int(state.n_iter[6]) == 0


def test_batched_equals_looped():
    """Each model alone (a batch of copies of it, the same compiled function) gives what it
    gets in the mixed batch: stopped models are frozen, the loops' batch-wide predicates
    change nothing."""
    mixed = batch()
    for i in range(len(NAMES)):
        alone = batch((i,) * len(NAMES))
        np.testing.assert_array_equal(alone.status[0], mixed.status[i])
        np.testing.assert_array_equal(alone.n_iter[0], mixed.n_iter[i])
        np.testing.assert_allclose(alone.beta[0], mixed.beta[i], rtol=1e-12, atol=1e-14)


def test_observed_hessian_and_steps():
    """The Hessian of the objective matches finite differences of the NumPy score, and the
    Newton iteration on it needs few steps, separated models included."""
    X1, y, w, o = model(3)
    beta = np.asarray(batch().beta[3]) + np.array([0.2, -0.1, 0.3, 0.1])
    prob = _loss.Problem(*jax.device_put((X1, y, w, o, np.zeros(()), np.zeros(4))))
    eps = 1e-6
    fd = np.stack([
        (modified_score(beta - eps * e, X1, y, w, o) - modified_score(beta + eps * e, X1, y, w, o))
        / (2 * eps * w.sum())
        for e in np.eye(4)
    ])
    np.testing.assert_allclose(jax.jit(firth.hessian)(jax.device_put(beta), prob), fd, rtol=1e-6,
                               atol=1e-8)
    state = batch()
    assert np.all(np.asarray(state.n_iter[:6]) <= 15)


# --------------------------------------------------------------------------------------------
# Profile penalised-likelihood intervals and tests (one compilation)
# --------------------------------------------------------------------------------------------

PROFILED = (0, 1, 2, 3, 4)


@functools.cache
def profile():
    X, Y, W, O = data()
    idx = list(PROFILED)
    params = np.asarray(batch().beta)[idx]
    res = firth_profile(X, Y[idx], params, weights=W[idx], offset=O[idx])
    return jax.tree_util.tree_map(np.asarray, res)  # NumPy, for the checks to index


@pytest.mark.parametrize("i", [0, 1, 2, 3])
def test_profile_ends_solve_the_profile_equation(i):
    res = profile()
    X1, y, w, o = model(i)
    beta_hat, f_hat = reference_fit(X1, y, w, o, x0=np.asarray(batch().beta[i]))
    ci = np.asarray(res.conf_int[PROFILED.index(i)])
    q = ss.chi2.ppf(0.95, 1)
    assert np.all(np.isfinite(ci))
    assert np.all(ci[:, 0] < beta_hat) and np.all(beta_hat < ci[:, 1])
    for j in range(4):
        for b in ci[j]:
            D = profile_statistic(X1, y, w, o, beta_hat, f_hat, j, b)
            assert abs(D - q) < 1e-6, (NAMES[i], j, b, D)
        D0 = profile_statistic(X1, y, w, o, beta_hat, f_hat, j, 0.0)
        np.testing.assert_allclose(res.statistic[PROFILED.index(i), j], D0, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(
            res.pvalue[PROFILED.index(i), j], ss.chi2.sf(D0, 1), rtol=1e-5, atol=1e-300
        )


def test_profile_weighted_equals_expanded_and_wrappers():
    res = profile()
    np.testing.assert_allclose(res.conf_int[3], res.conf_int[4], rtol=1e-7)
    np.testing.assert_allclose(res.statistic[3], res.statistic[4], rtol=1e-7, atol=1e-10)
    # Profile intervals are not the Wald intervals: under separation the interval of the
    # separating slope is far from symmetric about the estimate.
    beta = np.asarray(batch().beta[1])
    lo, hi = np.asarray(res.conf_int[1, 1])
    assert (hi - beta[1]) > 1.5 * (beta[1] - lo)


# --------------------------------------------------------------------------------------------
# float32
# --------------------------------------------------------------------------------------------


def test_float32_with_per_model_designs():
    """float32, each model with its own design (no column products): the estimates of the
    float64 batch to float32 accuracy (looser under separation, where the objective is flat
    along the separating direction and rounding of the score moves the estimate more)."""
    X, Y, W, O = data()
    idx = [0, 1, 2, 3]
    X1 = np.column_stack([np.ones(len(X)), X]).astype(np.float32)
    f32 = jnp.float32

    @jax.jit
    def run(Xs, Y, W, O):
        def one(Xm, y, w, o):
            prob = _loss.Problem(Xm, y, w, o, jnp.zeros((), f32), jnp.zeros((4,), f32))
            return firth.run(prob, jnp.zeros((4,), f32), Context(jnp.asarray(1e-5, f32), MAX_ITER))

        return jax.vmap(one)(Xs, Y, W, O)

    state = run(*jax.device_put((np.stack([X1] * len(idx)), Y[idx].astype(np.float32),
                                 W[idx].astype(np.float32), O[idx].astype(np.float32))))
    assert state.beta.dtype == jnp.float32
    state = jax.tree_util.tree_map(np.asarray, state)
    np.testing.assert_array_equal(state.status, Status.CONVERGED)
    ref = np.asarray(batch().beta)[idx]
    for i, tol in zip(idx, [1e-4, 1e-2, 1e-2, 1e-4], strict=True):
        np.testing.assert_allclose(state.beta[i], ref[i], rtol=tol, atol=tol / 5, err_msg=NAMES[i])


def test_bad_arguments():
    X, Y, W, O = data()
    with pytest.raises(ValueError, match="hessian"):
        firth.Firth(hessian="exact")
    with pytest.raises(ValueError, match="params"):
        firth_profile_intervals(X, Y[0], np.zeros(3))
    with pytest.raises(ValueError, match="columns"):
        firth_lr_test(X, Y[0], np.zeros(4), columns=[7])
    with pytest.raises(ValueError, match="logit"):
        prob = _loss.Problem(np.ones((3, 1)), np.ones(3), np.ones(3), np.zeros(3),
                             np.zeros(()), np.zeros(1), link="probit")
        firth.objective(np.zeros(1), prob)
