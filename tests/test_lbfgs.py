"""The L-BFGS solver, driven by hand and vmapped over batches of seven models.

References: the Newton solver's optimum with a bound from the Hessian's conditioning,
scikit-learn's ``LogisticRegression(solver="lbfgs")``, a linear program deciding whether each
model's maximum-likelihood estimate exists (scipy's HiGHS), the dense BFGS inverse-Hessian
recursion in NumPy, and the Wolfe conditions checked with an objective written here.

Every batch has the shape of ``_data.mixed_data`` (7 models, n = 300, p = 4, every field
mapped), so that the tests share a handful of compilations. Inputs are built and results
read in NumPy, which compiles nothing.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import linprog
from sklearn.linear_model import LogisticRegression

from _data import mixed_data, simulate
from jaxlogreg import Status, _loss
from jaxlogreg.solvers import Context, Problem, _common, newton
from jaxlogreg.solvers import _lbfgs as lbfgs

N, D, B = 300, 3, 7
P = D + 1
TOL64 = 1e-10
TOL32 = 1e-5


def _problem(X, y, w=None, o=None, l2=0.0, dtype=np.float64):
    """One model, its leaves NumPy arrays: the design with the package's intercept column
    (``_loss.add_intercept``) and its default penalty factors."""
    n = X.shape[0]
    w = np.ones(n) if w is None else w
    o = np.zeros(n) if o is None else o
    return Problem(
        np.asarray(_loss.add_intercept(jax.device_put(np.asarray(X, dtype)))),
        np.asarray(y, dtype),
        np.asarray(w, dtype),
        np.asarray(o, dtype),
        np.asarray(l2, dtype),
        np.asarray(_loss.default_penalty_factor(P, True, dtype)),
    )


def _stack(problems):
    """The models stacked in NumPy, then placed on the device once."""
    return jax.device_put(jax.tree_util.tree_map(lambda *a: np.stack(a), *problems))


def _cast(batch, dtype):
    return jax.device_put(jax.tree_util.tree_map(lambda a: np.asarray(a).astype(dtype), batch))


def _numpy(tree):
    """A state or problem with NumPy leaves, for checks that index it."""
    return jax.tree_util.tree_map(np.asarray, tree)


# L2 strength of the ridge models, as scikit-learn's C for n = 300 unit-weight rows.
C_RIDGE = 0.05
L2_RIDGE = 1.0 / (C_RIDGE * N)
CASES = ("well", "scales", "ridge", "strong ridge", "weights", "offset", "correlated")


@functools.cache
def smooth_batch():
    """Seven models with finite optima: well conditioned; columns of scale 0.01, 1, 100;
    ridge (scikit-learn's C = 0.05); a stronger ridge; integer weights; an offset; two
    columns with correlation 0.99."""
    rng = np.random.default_rng(7)
    problems = []
    for case in CASES:
        X = rng.normal(size=(N, D))
        coef = np.array([0.8, -0.6, 0.4])
        w = o = None
        l2 = 0.0
        if case == "scales":
            scale = np.array([0.01, 1.0, 100.0])
            X, coef = X * scale, coef / scale
        elif case == "ridge":
            l2 = L2_RIDGE
        elif case == "strong ridge":
            l2 = 0.1
        elif case == "weights":
            w = rng.integers(0, 4, size=N).astype(np.float64)
            w[0] = 1.0
        elif case == "offset":
            o = rng.normal(0.0, 1.0, size=N)
        elif case == "correlated":
            X[:, 1] = 0.99 * X[:, 0] + np.sqrt(1 - 0.99**2) * X[:, 1]
        y = simulate(rng, X, 0.2, coef, offset=0.0 if o is None else o)
        problems.append(_problem(X, y, w, o, l2))
    return _stack(problems)


@functools.cache
def mixed_batch():
    """``_data.mixed_data``: converging, completely and quasi-completely separated models."""
    X, Y, W, O = mixed_data()
    return _stack([_problem(X, Y[b], W[b], O[b]) for b in range(B)])


# A start with the wrong sign on x1, so that no model is certified at its first iterate.
START = np.array([0.3, -1.0, 0.5, 0.2])


@functools.partial(jax.jit, static_argnames=("config", "axis"))
def _solve(batch, beta0, tol, max_iter, config, axis):
    module = lbfgs if isinstance(config, lbfgs.LBFGS) else newton
    name = "models" if axis else None
    return jax.vmap(
        lambda pr, b: module.run(pr, b, Context(tol, max_iter, name), config), axis_name="models"
    )(batch, beta0)


def solve(batch, start=None, tol=TOL64, max_iter=200, config=lbfgs.LBFGS(), axis=True):
    """``config``'s solver run on every model of ``batch`` from ``start`` (default 0); the
    state comes back in NumPy."""
    dtype = batch.X.dtype
    beta0 = np.zeros((B, P)) if start is None else np.broadcast_to(np.asarray(start), (B, P))
    tol, max_iter = np.asarray(tol, dtype), np.asarray(max_iter, np.int32)
    return _numpy(_solve(batch, beta0.astype(dtype), tol, max_iter, config, axis))


@functools.cache
def newton_optimum():
    state = solve(smooth_batch(), tol=1e-14, config=newton.Newton())
    assert np.all(np.asarray(state.status) == Status.CONVERGED)
    return np.asarray(state.beta)


def _f64(b: int, batch) -> Problem:
    """Model ``b`` of ``batch`` in float64, as NumPy arrays."""
    return jax.tree_util.tree_map(lambda a: np.asarray(a)[b].astype(np.float64), batch)


def _error_bound(b: int, grad_norm: float) -> float:
    """Bound on ``||beta - beta*||_2`` from a gradient of norm ``grad_norm`` near ``beta*``:
    ``||g|| / lambda_min(H(beta*))``, with a factor 2 for the Hessian's change nearby."""
    pr = _f64(b, smooth_batch())
    mu = 1.0 / (1.0 + np.exp(-(pr.X @ newton_optimum()[b] + pr.offset)))
    s = pr.weights * mu * (1.0 - mu) / pr.weights.sum()
    H = pr.X.T @ (s[:, None] * pr.X) + np.diag(pr.l2 * pr.penalty_factor)
    return 2.0 * grad_norm / np.linalg.eigvalsh(H)[0]


def _nll(beta, pr: Problem):
    """The objective written independently: weighted mean of logaddexp(0, eta) - y eta,
    plus the ridge term."""
    eta = pr.X @ beta + pr.offset
    data = jnp.sum(pr.weights * (jnp.logaddexp(0.0, eta) - pr.y * eta)) / jnp.sum(pr.weights)
    return data + 0.5 * pr.l2 * jnp.sum(pr.penalty_factor * beta**2)


# The objective and its gradient, compiled once for every check that evaluates them.
_value_and_grad = jax.jit(jax.value_and_grad(_nll))
_gradient_floor = jax.jit(_common.gradient_floor)


# --------------------------------------------------------------------------------------------
# The optimum
# --------------------------------------------------------------------------------------------


def test_reaches_newtons_optimum_within_the_conditioning_bound():
    state = solve(smooth_batch())
    np.testing.assert_array_equal(state.status, np.full(B, int(Status.CONVERGED)))
    beta = np.asarray(state.beta)
    for b in range(B):
        assert np.max(np.abs(np.asarray(state.grad[b]))) <= TOL64
        err = np.linalg.norm(beta[b] - newton_optimum()[b])
        assert err <= _error_bound(b, np.sqrt(P) * TOL64) + 1e-12, CASES[b]


def test_ridge_matches_scikit_learn():
    """scikit-learn minimises C * sum_i l_i + |coef|^2 / 2: ours times C * n."""
    b = CASES.index("ridge")
    pr = _f64(b, smooth_batch())
    X, y = pr.X[:, 1:], pr.y
    ref = LogisticRegression(C=C_RIDGE, solver="lbfgs", tol=1e-12, max_iter=10_000).fit(X, y)
    beta = solve(smooth_batch()).beta[b]
    np.testing.assert_allclose(beta[0], ref.intercept_[0], rtol=1e-6)
    np.testing.assert_allclose(beta[1:], ref.coef_[0], rtol=1e-6)


def test_float32_reaches_the_optimum_at_a_looser_tolerance():
    batch32 = _cast(smooth_batch(), jnp.float32)
    state = solve(batch32, tol=TOL32)
    np.testing.assert_array_equal(state.status, np.full(B, int(Status.CONVERGED)))
    assert state.beta.dtype == jnp.float32
    models32 = _numpy(batch32)
    for b in range(B):
        beta = np.asarray(state.beta[b], np.float64)
        # the float64 gradient at the float32 answer: the float32 tolerance plus rounding
        g = np.asarray(_value_and_grad(beta, _f64(b, smooth_batch()))[1])
        model_b = jax.tree_util.tree_map(lambda a: a[b], models32)  # noqa: B023 (used at once)
        floor = np.asarray(_gradient_floor(model_b))
        assert np.all(np.abs(g) <= 2 * np.maximum(TOL32, floor)), CASES[b]
        err = np.linalg.norm(beta - newton_optimum()[b])
        assert err <= _error_bound(b, np.linalg.norm(g)), CASES[b]


def test_nan_data_is_nonfinite_and_leaves_the_others_alone():
    clean = solve(smooth_batch())
    X = np.array(smooth_batch().X)
    X[0, 5, 2] = np.nan
    dirty = smooth_batch()._replace(X=jax.device_put(X))
    state = solve(dirty)
    assert int(state.status[0]) == Status.NONFINITE
    for name in ("beta", "status", "n_iter", "loss"):
        np.testing.assert_array_equal(getattr(state, name)[1:], getattr(clean, name)[1:])


# --------------------------------------------------------------------------------------------
# Separation
# --------------------------------------------------------------------------------------------


def mle_exists(X, y, w) -> bool:
    """No direction b with s_i x_i^T b >= 0 for every weighted row and a positive sum
    (s_i = 2 y_i - 1): maximise that sum over the box |b_j| <= 1."""
    A = ((2.0 * y - 1.0)[:, None] * X)[w > 0]
    res = linprog(-A.sum(0), A_ub=-A, b_ub=np.zeros(len(A)), bounds=[(-1, 1)] * X.shape[1])
    assert res.status == 0, res.message
    return -res.fun < 1e-7


def test_separated_models_stop_separated_beside_converging_ones():
    batch = mixed_batch()
    state = solve(batch, start=START)
    ref = solve(batch, start=START, config=newton.Newton())
    for b in range(B):
        pr = _f64(b, batch)
        exists = mle_exists(pr.X, pr.y, pr.weights)
        if exists:
            assert int(state.status[b]) == Status.CONVERGED
            np.testing.assert_allclose(state.beta[b], ref.beta[b], rtol=1e-7, atol=1e-9)
        else:
            assert int(state.status[b]) == Status.SEPARATED, b
    # complete separation (model 1, y = 1{x1 > 0}) is certified within a few iterations
    assert 0 < int(state.n_iter[1]) <= 30


def test_margin_test_at_max_iter_reports_separation():
    """Out of iterations on the quasi-separated model: some row is fitted with probability
    1 to working precision by then (checked here), so it is SEPARATED, not MAX_ITER."""
    state = solve(mixed_batch(), start=START, max_iter=45)
    pr = _f64(2, mixed_batch())
    eta = pr.X @ state.beta[2]
    margin = np.max(np.where(np.asarray(pr.y) == 1, eta, -eta))
    assert int(state.n_iter[2]) == 45 and margin > -np.log(np.finfo(np.float64).eps)
    assert int(state.status[2]) == Status.SEPARATED
    assert int(state.status[0]) == Status.CONVERGED


# --------------------------------------------------------------------------------------------
# Driven by hand
# --------------------------------------------------------------------------------------------


# Driven by hand without an axis name (vmap then batches the loop predicates itself); `run`
# in `solve` uses one. The two must agree bit for bit.


@jax.jit
def _init(batch, beta0):
    tol, mi = jnp.asarray(TOL64), jnp.asarray(200, jnp.int32)
    return jax.vmap(lambda pr, b: lbfgs.init(pr, b, Context(tol, mi)))(batch, beta0)


@functools.partial(jax.jit, static_argnames="config")
def _step(batch, state, config=lbfgs.LBFGS()):
    tol, mi = jnp.asarray(TOL64), jnp.asarray(200, jnp.int32)
    return jax.vmap(lambda pr, s: lbfgs.step(pr, s, Context(tol, mi), config))(batch, state)


@functools.cache
def path(which="mixed"):
    """States from init (at ``START`` for the mixed batch, 0 for the smooth one) until
    every model of the batch has stopped, then 3 more (copied to NumPy; each step takes
    the device's state)."""
    batch, start = (mixed_batch(), START) if which == "mixed" else (smooth_batch(), np.zeros(P))
    state = _init(batch, np.broadcast_to(start, (B, P)))
    states = [_numpy(state)]
    extra = 0
    while extra < 3:
        state = _step(batch, state)
        states.append(_numpy(state))
        extra += bool(np.all(states[-1].status != Status.RUNNING))
    return states


def _model(state, b):
    return [np.asarray(leaf[b]) for leaf in jax.tree_util.tree_leaves(state)]


@pytest.mark.parametrize("which", ["mixed", "smooth"])
def test_step_by_hand_equals_run_and_stopped_models_are_frozen(which):
    states = path(which)
    final = solve(mixed_batch(), start=START) if which == "mixed" else solve(smooth_batch())
    for b in range(B):
        stopped = next(k for k, s in enumerate(states) if int(s.status[b]) != Status.RUNNING)
        # Each call makes one trial; n_iter counts the accepted ones (one per call, or fewer
        # where the search needed several trials).
        steps = [int(s.n_iter[b]) for s in states[: stopped + 1]]
        assert all(0 <= b - a <= 1 for a, b in zip(steps, steps[1:], strict=False))
        assert steps[0] == 0 and steps[-1] <= stopped
        for later in states[stopped + 1 :]:
            for x, y in zip(_model(states[stopped], b), _model(later, b), strict=True):
                np.testing.assert_array_equal(x, y)
        np.testing.assert_array_equal(states[-1].beta[b], final.beta[b])
        assert int(states[-1].n_iter[b]) == int(final.n_iter[b])
        assert int(states[-1].status[b]) == int(final.status[b])


@pytest.mark.parametrize("which", ["mixed", "smooth"])
def test_every_step_satisfies_the_strong_wolfe_conditions(which):
    """Checked with the objective written here, on every step of every model; the smooth
    batch's path includes steps the search lengthened and shortened."""
    config = lbfgs.LBFGS()
    grad = _value_and_grad
    batch = mixed_batch() if which == "mixed" else smooth_batch()
    checked = 0
    for before, after in zip(path(which)[:-1], path(which)[1:], strict=True):
        for b in range(B):
            # A step accepted in this call (a call whose trial was rejected moves nothing).
            if int(after.n_iter[b]) != int(before.n_iter[b]) + 1 or int(before.n_iter[b]) < 0:
                continue
            pr = _f64(b, batch)
            d = np.asarray(before.direction[b])
            step = np.asarray(after.beta[b]) - np.asarray(before.beta[b])
            t = step @ d / (d @ d)
            f0, g0 = grad(before.beta[b], pr)
            f1, g1 = grad(after.beta[b], pr)
            slope = float(np.asarray(g0) @ d)
            rounding = 1e-14 * (1.0 + abs(float(f0)))
            assert slope < 0 and t > 0
            assert float(f1) <= float(f0) + config.armijo * t * slope + rounding
            assert abs(float(np.asarray(g1) @ d)) <= config.curvature * abs(slope) + 1e-12
            checked += 1
    assert checked > 50


def test_line_search_failure_is_reported_and_the_model_kept():
    """One trial only, from beta = 0: the first trial -g / max|g| moves the coefficient of
    the column of scale 100 by 1, and the Armijo condition (checked here) fails there."""
    config = lbfgs.LBFGS(max_linesearch=1)
    b = CASES.index("scales")
    start = _init(smooth_batch(), np.zeros((B, P)))
    state = _numpy(_step(smooth_batch(), start, config))
    start = _numpy(start)
    pr = _f64(b, smooth_batch())
    f0, g = _value_and_grad(np.zeros(P), pr)
    g = np.asarray(g)
    t = 1.0 / np.max(np.abs(g))
    f1, _ = _value_and_grad(-t * g, pr)
    assert float(f1) > float(f0) - config.armijo * t * float(g @ g)
    assert int(state.status[b]) == Status.LINESEARCH_FAILED
    assert int(state.n_iter[b]) == 0
    # all but the status
    for x, y in zip(_model(start, b)[:-1], _model(state, b)[:-1], strict=True):
        np.testing.assert_array_equal(x, y)
    # a model whose first trial is acceptable moved on
    assert int(state.status[0]) == Status.RUNNING and int(state.n_iter[0]) == 1


# --------------------------------------------------------------------------------------------
# Pieces
# --------------------------------------------------------------------------------------------


def test_two_loop_equals_the_dense_bfgs_recursion_over_a_wrapped_buffer():
    """m = 4 slots after 7 stored pairs: slots hold pairs 4..7, newest at slot 2."""
    rng = np.random.default_rng(0)
    m, p, count = 4, 6, 7
    A = rng.normal(size=(p, p))
    A = A @ A.T + p * np.eye(p)  # pairs of a convex quadratic: y = A s
    pairs = [(s, A @ s) for s in rng.normal(size=(count, p))]
    S, Y = np.zeros((m, p)), np.zeros((m, p))
    for k, (s, y) in enumerate(pairs):
        S[k % m], Y[k % m] = s, y
    rho = 1.0 / np.einsum("ij,ij->i", S, Y)
    g = rng.normal(size=p)
    memory = lbfgs.Memory(S, Y, rho, np.asarray(count))
    d = jax.jit(lbfgs._two_loop)(g, memory)  # compiled once, as the solver runs it

    s_new, y_new = pairs[-1]
    H = (s_new @ y_new) / (y_new @ y_new) * np.eye(p)
    for s, y in pairs[-m:]:
        V = np.eye(p) - np.outer(y, s) / (y @ s)
        H = V.T @ H @ V + np.outer(s, s) / (y @ s)
    np.testing.assert_allclose(d, -H @ g, rtol=1e-10)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(memory=0), "memory"),
        (dict(max_linesearch=0), "max_linesearch"),
        (dict(armijo=0.95), "armijo"),
        (dict(curvature=1.0), "curvature"),
    ],
)
def test_bad_settings_raise(kwargs, name):
    with pytest.raises(ValueError, match=name):
        lbfgs.LBFGS(**kwargs)
