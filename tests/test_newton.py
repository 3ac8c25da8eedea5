"""The Newton solver driven by hand, and the curvature bound that lets it skip the loss."""

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import jaxlogreg
from jaxlogreg import _loss
from jaxlogreg.solvers import Problem, context, newton
from jaxlogreg.solvers._driver import certificate


def _problem(seed, n=80, d=3, scale=1.0):
    rng = np.random.default_rng(seed)
    X = _loss.add_intercept(jnp.asarray(rng.normal(size=(n, d)) * scale))
    y = jnp.asarray((rng.random(n) < 0.4) * 1.0)
    w = rng.integers(0, 3, n) * 1.0
    w[0] = 1.0  # in NumPy: an update of a JAX array (.at[].set) compiles programs
    pf = _loss.default_penalty_factor(d + 1, True, jnp.float64)
    return Problem(X, y, jax.device_put(w), jnp.zeros(n), jnp.zeros(()), pf)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), scale=st.floats(0.1, 3.0), step=st.floats(0.0, 3.0))
def test_certified_steps_satisfy_armijo(seed, scale, step):
    """Whenever the bound certifies the full Newton step, Armijo holds when checked. The
    step and its reach are worked out in NumPy from the kernels' f, g, H."""
    prob = _problem(seed, scale=scale)
    rng = np.random.default_rng(seed + 1)
    beta = rng.normal(size=prob.X.shape[1]) * step / (1 + scale)
    f, g, H = (np.asarray(a) for a in _loss.value_grad_hess(jnp.asarray(beta), prob))
    X, w = np.asarray(prob.X), np.asarray(prob.weights)
    delta = -np.linalg.solve(H, g)
    reach = float(np.max(np.where(w > 0, np.abs(X @ delta), 0.0)))
    decrease = float(_loss.value(jnp.asarray(beta + delta), prob)) - float(f)
    lam2 = float(-(g @ delta))
    m = max(reach, 1e-12)
    bound = -lam2 * (1.0 - (np.expm1(m) - m) / m**2)
    assert decrease <= bound + 1e-12 * (1 + abs(float(f)))
    lam2_ = jnp.asarray(lam2)
    if bool(certificate(-lam2_, lam2_, jnp.asarray(reach), 1e-4)):
        assert decrease <= 1e-4 * float(g @ delta) + 1e-12 * (1 + abs(float(f)))


def test_run_by_hand_equals_fit():
    prob = _problem(3)
    X = np.asarray(prob.X)[:, 1:]
    res = jaxlogreg.fit(X, prob.y, weights=prob.weights, init=jnp.zeros(4))
    ctx = context(1e-10, 100)
    state = newton.init(prob, jnp.zeros(4), ctx)
    steps = 0
    while int(state.status) == int(jaxlogreg.Status.RUNNING):
        state = jax.jit(newton.step)(prob, state, ctx)
        steps += 1
    assert int(state.status) == int(jaxlogreg.Status.CONVERGED)
    assert int(state.n_iter) == steps == int(res.n_iter)
    np.testing.assert_allclose(state.beta, res.params, rtol=1e-12)
    assert float(_loss.value(state.beta, prob)) == float(res.loss)


def test_stopped_state_is_frozen():
    prob = _problem(4)
    ctx = context(1e-10, 100)
    final = newton.run(prob, jnp.zeros(4), ctx)
    again = newton.step(prob, final, ctx)
    for a, b in zip(jax.tree_util.tree_leaves(final),
                    jax.tree_util.tree_leaves(again), strict=True):
        np.testing.assert_array_equal(a, b)


def test_forced_line_search_reaches_the_same_optimum():
    """A strict Armijo constant that no curvature bound certifies (c = 0.49 needs
    reach below about 0.04) forces the searched path; both paths must agree."""
    prob = _problem(5, scale=2.0)
    X = np.asarray(prob.X)[:, 1:]
    a = jaxlogreg.fit(X, prob.y, weights=prob.weights)
    b = jaxlogreg.fit(X, prob.y, weights=prob.weights, solver=jaxlogreg.Newton(armijo=0.49))
    assert bool(a.converged) and bool(b.converged)
    np.testing.assert_allclose(a.params, b.params, rtol=1e-9)
