"""Derivatives of `fit` by implicit differentiation, the influence function, and `fit`
under the user's JAX transformations.

References: central finite differences of refits (float64, refit at ``tol = 1e-13``);
autodiff through a fixed-count Newton iteration written here, on an objective written here
independently of ``jaxlogreg._loss``; each model of a batch fitted and differentiated
alone; refits without one observation; statsmodels' ``MLEInfluence``.

Compilation dominates the run time, so every test uses one design shape ``(N, D) = (200,
3)`` and most share the jitted programs below: one model with every differentiable input
(``X``, success counts ``y`` of ``trials``, ``weights``, ``offset``, ``alpha``,
``penalty_factor``), and one
batch of ``B = 4`` models over the shared ``X``. Data are passed as arguments (``fit``
checks label values only when they are concrete, so fractional counts pass under ``jit``).
"""

from __future__ import annotations

import dataclasses
import functools
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import statsmodels.api as sm

import jaxlogreg
from _data import simulate
from jaxlogreg import FitResult, Status, _implicit

N, D, B = 200, 3, 4
P = D + 1
TIGHT = 1e-13
H = 1e-5  # finite-difference step, relative to the scale of the perturbed argument
RTOL = 1e-5  # derivatives against central finite differences
KEYS = ("X", "y", "weights", "offset", "trials", "alpha", "penalty_factor")


@functools.cache
def data():
    """Design, 0/1 labels, trials, fractional success counts, integer weights, offsets."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(N, D))
    y01 = simulate(rng, X, 0.3, [1.0, -0.7, 0.0])
    trials = rng.integers(1, 5, size=N).astype(np.float64)
    share = np.clip(y01 + rng.normal(0.0, 0.2, size=N), 0.05, 0.95)
    w = rng.integers(1, 4, size=N).astype(np.float64)
    o = rng.normal(0.0, 0.3, size=N)
    return X, y01, trials, share * trials, w, o


def theta0(alpha=0.05):
    X, _, trials, successes, w, o = data()
    return dict(X=X, y=successes, weights=w, offset=o, trials=trials, alpha=np.float64(alpha),
                penalty_factor=np.array([1.0, 0.5, 2.0]))


def plain_theta():
    """Unit weights and trials, no offset or penalty: statsmodels' Logit."""
    X, y01, _, _, _, _ = data()
    return dict(X=X, y=y01, weights=np.ones(N), offset=np.zeros(N), trials=np.ones(N),
                alpha=np.float64(0.0), penalty_factor=np.ones(D))


def model(theta, tol=TIGHT) -> FitResult:
    """The fit to ``theta`` (one model, or a batch when its arrays have batch axes)."""
    return jaxlogreg.fit(theta["X"], theta["y"], weights=theta["weights"],
                         offset=theta["offset"], trials=theta["trials"],
                         alpha=theta["alpha"], penalty_factor=theta["penalty_factor"], tol=tol)


def derivatives_program(fit_fn):
    """A jitted ``(theta, v, u) -> (res, (d params, d loss) along v, gradient of
    <u, (params, loss)>)`` for ``fit_fn(theta) -> FitResult``: forward and reverse mode from
    one linearisation, so a single compiled solver serves values, JVPs and gradients (and,
    with ``v = u = 0``, the refits of finite differences)."""

    def outputs(theta):
        res = fit_fn(theta)
        return (res.params, res.loss), res

    @jax.jit
    def run(theta, v, u):
        _, linear, res = jax.linearize(outputs, theta, has_aux=True)
        (grad,) = jax.linear_transpose(linear, theta)(u)
        return res, linear(v), grad

    return run


fit_derivatives = derivatives_program(model)


def zeros_like(tree):
    return jax.tree_util.tree_map(np.zeros_like, tree)


def refit(theta) -> FitResult:
    """Values only (the shared program with zero tangents)."""
    batch, dtype = np.shape(theta["y"])[:-1], np.asarray(theta["X"]).dtype
    u = (np.zeros(batch + (P,), dtype), np.zeros(batch, dtype))
    return fit_derivatives(theta, zeros_like(theta), u)[0]


def direction(theta, key, seed):
    """A random tangent in ``theta[key]`` (zeros elsewhere), scaled like the argument."""
    rng = np.random.default_rng(seed)
    v = zeros_like(theta)
    scale = theta["alpha"] if key == "alpha" else np.std(theta[key])
    v[key] = rng.normal(size=np.shape(theta[key])) * scale
    return v


def finite_difference(theta, v):
    """Central differences of refits along ``v``: ``(d params, d loss)``."""
    up = refit({k: theta[k] + H * v[k] for k in theta})
    down = refit({k: theta[k] - H * v[k] for k in theta})
    assert np.all(np.asarray(up.converged)) and np.all(np.asarray(down.converged))
    return ((np.asarray(up.params) - np.asarray(down.params)) / (2 * H),
            (np.asarray(up.loss) - np.asarray(down.loss)) / (2 * H))


def close(a, b, rtol=RTOL):
    """Entries agree to ``rtol`` relative to the largest entry of the reference."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape
    np.testing.assert_allclose(a, b, rtol=0, atol=rtol * max(np.max(np.abs(b)), 1e-300))


# --------------------------------------------------------------------------------------------
# The reference: autodiff through a fixed number of Newton steps on an objective written here
# --------------------------------------------------------------------------------------------


def newton_reference(theta, steps=30):
    """``(params, loss)`` after ``steps`` plain Newton steps from zero on ``sum_i w_i (t_i
    softplus(eta_i) - y_i eta_i) / sum_i w_i t_i + alpha / 2 sum_j pf_j coef_j^2``,
    differentiable through every step."""
    X1 = jnp.concatenate([jnp.ones((N, 1)), theta["X"]], axis=-1)
    w, t, y = theta["weights"], theta["trials"], theta["y"]

    def objective(beta):
        eta = X1 @ beta + theta["offset"]
        nll = jnp.sum(w * (t * jnp.logaddexp(0.0, eta) - y * eta)) / jnp.sum(w * t)
        return nll + 0.5 * theta["alpha"] * jnp.sum(theta["penalty_factor"] * beta[1:] ** 2)

    def step(_, beta):
        return beta - jnp.linalg.solve(jax.hessian(objective)(beta), jax.grad(objective)(beta))

    beta = jax.lax.fori_loop(0, steps, step, jnp.zeros(P))
    return beta, objective(beta)


@jax.jit
def reference_grad(theta, u):
    """Gradient of ``<u, (params, loss)>`` through the unrolled iteration."""
    return jax.grad(lambda th: (lambda b, f: u[0] @ b + u[1] * f)(*newton_reference(th)))(theta)


def cotangent(rng, batch=()):
    return rng.normal(size=batch + (P,)), rng.normal(size=batch)


# --------------------------------------------------------------------------------------------
# One model: finite differences, the unrolled reference, second derivatives, float32
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", KEYS)
def test_jvp_and_grad_match_finite_differences_of_refits(key):
    theta = theta0()
    v = direction(theta, key, seed=KEYS.index(key))
    u = cotangent(np.random.default_rng(10))
    fd_params, fd_loss = finite_difference(theta, v)
    res, (dparams, dloss), g = fit_derivatives(theta, v, u)
    assert bool(res.converged)
    close(dparams, fd_params)
    close(dloss, fd_loss)
    # Reverse mode: <gradient of <u, outputs>, v> is the same directional derivative.
    close(sum(np.vdot(g[k], v[k]) for k in theta), u[0] @ fd_params + u[1] * fd_loss)


def test_gradients_match_autodiff_through_unrolled_newton():
    rng = np.random.default_rng(11)
    for theta in (theta0(0.05), theta0(0.0), plain_theta()):
        u = cotangent(rng)
        res, _, ours = fit_derivatives(theta, zeros_like(theta), u)
        assert bool(res.converged)
        ref = reference_grad(jax.device_put(theta), u)
        for k in KEYS:
            close(ours[k], ref[k], 1e-9)


def test_second_derivatives_in_alpha_match_finite_differences_of_first():
    theta = theta0()
    alpha = theta["alpha"]
    ours = jax.jit(jax.jacfwd(jax.jacrev(
        lambda a, th: model({**th, "alpha": a}).params)))(alpha, theta)
    # Reference: central differences of the first derivative (checked above against refits).
    v = zeros_like(theta)
    v["alpha"] = np.float64(1.0)
    u = cotangent(np.random.default_rng(0))
    first = [fit_derivatives({**theta, "alpha": alpha + t}, v, u)[1][0] for t in (H * alpha,
                                                                                  -H * alpha)]
    close(ours, (np.asarray(first[0]) - np.asarray(first[1])) / (2 * H * alpha))
    assert np.max(np.abs(ours)) > 1.0  # not trivially zero


def test_float32_gradients_are_close_to_float64_reference():
    theta = theta0()
    u = cotangent(np.random.default_rng(12))
    to32 = functools.partial(jax.tree_util.tree_map, lambda a: np.asarray(a, np.float32))
    res, _, ours = fit_derivatives(to32(theta), to32(zeros_like(theta)), to32(u))
    assert bool(res.converged) and res.coef.dtype == jnp.float32
    ref = reference_grad(jax.device_put(theta), u)
    for k in KEYS:
        assert ours[k].dtype == jnp.float32
        close(ours[k], ref[k], 2e-3)


# --------------------------------------------------------------------------------------------
# Batches over one shared X
# --------------------------------------------------------------------------------------------


@functools.cache
def _batch_theta(separated: bool):
    X, y01, trials, successes, w, o = data()
    rng = np.random.default_rng(5)
    W = rng.integers(0, 3, size=(B, N)).astype(np.float64)
    if not separated:
        Y = np.stack([successes] * B)
        return dict(X=X, y=Y, weights=W, offset=o, trials=trials, alpha=np.float64(0.05),
                    penalty_factor=np.ones(D))
    Y = np.stack([y01, (X[:, 0] > 0).astype(np.float64), 1.0 - y01, y01])
    return dict(X=X, y=Y, weights=W, offset=o, trials=np.ones(N), alpha=np.float64(0.0),
                penalty_factor=np.ones(D))


def batch_theta(separated: bool):
    """``B`` models over the shared design: responses and weights ``(B, N)``, the rest
    shared. ``separated``: model 1 is completely separated and ``alpha = 0``."""
    return {k: a.copy() for k, a in _batch_theta(separated).items()}


def one_model(theta, b):
    return {k: (a[b] if np.ndim(a) == 2 and k != "X" else a) for k, a in theta.items()}


def test_shared_x_batch_derivatives_equal_each_model_alone():
    theta = batch_theta(False)
    rng = np.random.default_rng(1)
    u = cotangent(rng, (B,))
    v = direction(theta, "X", 0)
    res, (dparams, _), g = fit_derivatives(theta, v, u)
    assert np.all(np.asarray(res.converged))
    # Each model's results as NumPy, so that the sums and stacks below run in NumPy.
    each = [jax.tree_util.tree_map(np.asarray, fit_derivatives(
                one_model(theta, b), one_model(v, b), (u[0][b], u[1][b])))
            for b in range(B)]
    for k in ("X", "offset", "trials", "alpha", "penalty_factor"):  # shared: summed
        close(g[k], sum(e[2][k] for e in each), 1e-10)
    for k in ("y", "weights"):
        close(g[k], np.stack([e[2][k] for e in each]), 1e-10)
    close(dparams, np.stack([e[1][0] for e in each]), 1e-10)


def _avals(jaxpr):
    """Every intermediate abstract value of a jaxpr, through its sub-jaxprs."""
    for eqn in jaxpr.eqns:
        yield from (v.aval for v in eqn.outvars)
        for param in eqn.params.values():
            for sub in param if isinstance(param, (tuple, list)) else (param,):
                inner = getattr(sub, "jaxpr", sub)
                if hasattr(inner, "eqns"):
                    yield from _avals(inner)


def test_shared_x_is_never_copied_per_model():
    theta = batch_theta(False)
    v = direction(theta, "X", 0)
    program = jax.make_jaxpr(fit_derivatives)(theta, v, cotangent(np.random.default_rng(0), (B,)))
    shapes = {tuple(getattr(a, "shape", ())) for a in _avals(program.jaxpr)}
    assert (B, N) in shapes and (N, P) in shapes  # the walk does reach the computation
    assert (B, N, D) not in shapes and (B, N, P) not in shapes


def test_vmap_of_grad_equals_grad_of_each_model():
    theta = theta0()
    rng = np.random.default_rng(6)
    W = rng.integers(1, 4, size=(B, N)).astype(np.float64)
    alphas = np.array([0.01, 0.05, 0.1, 0.2])
    u = cotangent(rng, (B,))

    def one(w, a, up, ul):
        res = model({**theta, "weights": w, "alpha": a})
        return up @ res.params + ul * res.loss

    gw, ga = map(np.asarray, jax.jit(jax.vmap(jax.grad(one, argnums=(0, 1))))(W, alphas, *u))
    for b in range(B):
        th = {**theta, "weights": W[b], "alpha": alphas[b]}
        _, _, g = fit_derivatives(th, zeros_like(th), (u[0][b], u[1][b]))
        close(gw[b], g["weights"], 1e-10)
        close(ga[b], g["alpha"], 1e-10)


def test_nonconverged_model_gets_nan_derivatives_and_the_rest_are_right():
    theta = batch_theta(True)
    u = cotangent(np.random.default_rng(2), (B,))
    v = zeros_like(theta)
    v["alpha"] = np.float64(1.0)
    # Results as NumPy: the masks below index them in NumPy.
    res, (dparams, dloss), g = jax.tree_util.tree_map(np.asarray, fit_derivatives(theta, v, u))
    status = np.asarray(res.status)
    assert status.tolist() == [Status.SEPARATED if b == 1 else Status.CONVERGED
                               for b in range(B)]
    ok = status == Status.CONVERGED
    each = {b: jax.tree_util.tree_map(np.asarray, fit_derivatives(
                one_model(theta, b), one_model(v, b), (u[0][b], u[1][b])))
            for b in np.flatnonzero(ok)}
    # Forward mode (d/d alpha, shared): NaN for the failed model only; the other rows are
    # each model's own derivative.
    assert np.all(np.isnan(dparams[~ok])) and np.all(np.isnan(dloss[~ok]))
    for b, e in each.items():
        close(dparams[b], e[1][0], 1e-10)
    # Reverse mode: NaN in the failed model's own rows; its NaN reaches the shared X and
    # alpha (never a wrong finite value); the other rows are each model's own gradient.
    assert np.all(np.isnan(g["weights"][~ok])) and np.all(np.isfinite(g["weights"][ok]))
    assert np.all(np.isnan(g["X"])) and np.isnan(g["alpha"])
    for b, e in each.items():
        close(g["weights"][b], e[2]["weights"], 1e-10)
    # A zero cotangent on the failed model (masked out) contributes nothing.
    masked = (np.where(ok[:, None], u[0], 0.0), np.where(ok, u[1], 0.0))
    g = jax.tree_util.tree_map(np.asarray, fit_derivatives(theta, v, masked)[2])
    assert np.all(g["weights"][~ok] == 0) and np.all(g["y"][~ok] == 0)
    for k in ("X", "alpha", "offset"):
        close(g[k], sum(e[2][k] for e in each.values()), 1e-10)


# --------------------------------------------------------------------------------------------
# L1: the active set
# --------------------------------------------------------------------------------------------


L1_RATIO = 0.7


def l1_fit(X, y, weights, alpha) -> FitResult:
    """Elastic net with balanced class weights (the proximal Newton solver)."""
    return jaxlogreg.fit(X, y, weights=weights, alpha=alpha, l1_ratio=L1_RATIO,
                         class_weight="balanced", solver="prox_newton", tol=TIGHT)


l1_derivatives = derivatives_program(
    lambda th: l1_fit(th["X"], th["y"], th["weights"], th["alpha"]))


def test_l1_active_set_derivatives_match_finite_differences():
    X, y01, _, _, w, _ = data()
    theta = dict(X=X, y=y01, weights=w, alpha=np.float64(0.03))
    u = cotangent(np.random.default_rng(4))
    res, _, g = l1_derivatives(theta, zeros_like(theta), u)
    assert bool(res.converged)
    zero = np.asarray(res.params) == 0
    assert zero.tolist() == [False, False, False, True]  # the slope whose true value is 0
    for key in ("weights", "alpha", "X"):
        v = direction(theta, key, seed=4)
        _, (dp, dl), _ = l1_derivatives(theta, v, u)
        up = l1_derivatives({k: theta[k] + H * v[k] for k in theta}, v, u)[0]
        down = l1_derivatives({k: theta[k] - H * v[k] for k in theta}, v, u)[0]
        for side in (up, down):
            assert bool(side.converged)
            assert np.array_equal(np.asarray(side.params) == 0, zero)  # the active set holds
        fd_p = (np.asarray(up.params) - np.asarray(down.params)) / (2 * H)
        fd_l = (float(up.loss) - float(down.loss)) / (2 * H)
        close(dp, fd_p)
        close(dl, fd_l)
        assert np.all(np.asarray(dp)[zero] == 0)
        # Reverse mode agrees along the same direction.
        close(sum(np.vdot(g[k], v[k]) for k in theta), u[0] @ fd_p + u[1] * fd_l)
    # The influence function on the active set: rows are derivatives in single weights.
    infl = np.asarray(_implicit.influence(res, X, y01, weights=w, alpha=theta["alpha"],
                                          l1_ratio=L1_RATIO, class_weight="balanced"))
    assert np.all(infl[:, zero] == 0)
    for i in (0, 7):
        v = zeros_like(theta)
        v["weights"][i] = 1.0
        up = l1_derivatives({k: theta[k] + H * v[k] for k in theta}, v, u)[0]
        down = l1_derivatives({k: theta[k] - H * v[k] for k in theta}, v, u)[0]
        close(infl[i], (np.asarray(up.params) - np.asarray(down.params)) / (2 * H))


# --------------------------------------------------------------------------------------------
# Another link: the condition's Hessian is the observed one
# --------------------------------------------------------------------------------------------


def probit_fit(theta) -> FitResult:
    """A probit fit with derivatives attached by ``_implicit.attach`` (called here with the
    link, on a fit to data without tangents, as ``fit`` calls it)."""
    X, y, w, a = theta["X"], theta["y"], theta["weights"], theta["alpha"]
    res = jaxlogreg.fit(*jax.lax.stop_gradient((X, y)), weights=jax.lax.stop_gradient(w),
                        alpha=jax.lax.stop_gradient(a), link="probit", tol=TIGHT)
    return _implicit.attach(res, X, y, w, jnp.zeros(N), None, a, jnp.ones(D), batch_shape=(),
                            fit_intercept=True, l1_ratio=0.0, class_weight=None, link="probit")


probit_derivatives = derivatives_program(probit_fit)


def test_probit_derivatives_match_finite_differences():
    X, y01, _, _, w, _ = data()
    theta = dict(X=X, y=y01, weights=w, alpha=np.float64(0.02))
    u = cotangent(np.random.default_rng(13))
    for key in ("X", "weights", "alpha"):
        v = direction(theta, key, seed=13)
        res, (dp, dl), g = probit_derivatives(theta, v, u)
        up = probit_derivatives({k: theta[k] + H * v[k] for k in theta}, v, u)[0]
        down = probit_derivatives({k: theta[k] - H * v[k] for k in theta}, v, u)[0]
        assert all(bool(r.converged) for r in (res, up, down))
        fd_p = (np.asarray(up.params) - np.asarray(down.params)) / (2 * H)
        fd_l = (float(up.loss) - float(down.loss)) / (2 * H)
        close(dp, fd_p)
        close(dl, fd_l)
        close(sum(np.vdot(g[k], v[k]) for k in theta), u[0] @ fd_p + u[1] * fd_l)


# --------------------------------------------------------------------------------------------
# The influence function
# --------------------------------------------------------------------------------------------


@jax.jit
def influence_of(theta, res):
    return _implicit.influence(res, theta["X"], theta["y"], weights=theta["weights"],
                               offset=theta["offset"], trials=theta["trials"],
                               alpha=theta["alpha"], penalty_factor=theta["penalty_factor"])


def test_influence_predicts_deletion_refits():
    theta = theta0()
    res = refit(theta)
    infl = np.asarray(influence_of(theta, res))
    assert infl.shape == (N, P)
    total = np.sum(theta["weights"] * theta["trials"])
    rows = np.random.default_rng(9).choice(N, size=12, replace=False)
    for i in rows:
        w = theta["weights"].copy()
        approx = -w[i] * infl[i]  # deleting row i changes w_i by -w_i
        w[i] = 0.0
        dropped = refit({**theta, "weights": w})
        change = np.asarray(dropped.params) - np.asarray(res.params)
        # The error is second order: relative to the change, of the order of the row's
        # share of the total weight (O(1/n^2) against O(1/n)).
        share = theta["weights"][i] * theta["trials"][i] / total
        assert np.abs(change - approx).max() <= 10 * share * np.abs(change).max()
        # The derivative itself, by central differences of refits in w_i.
        v = {k: np.zeros_like(a) for k, a in theta.items()}
        v["weights"][i] = 1.0
        close(infl[i], finite_difference(theta, v)[0])


def test_influence_matches_statsmodels_d_params():
    theta = plain_theta()
    res = refit(theta)
    infl = np.asarray(influence_of(theta, res))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sm_res = sm.Logit(theta["y"], sm.add_constant(theta["X"])).fit(
            disp=0, method="newton", tol=1e-12)
        sm_infl = sm_res.get_influence()
        d_params, hat, dfbetas = sm_infl.d_params, sm_infl.hat_matrix_diag, sm_infl.dfbetas
    # d_params = beta - beta_(-i) ~= (d beta / d w_i) / (1 - h_ii); dfbetas = d_params / bse.
    close(infl, d_params * (1.0 - hat)[:, None], 1e-7)
    close(infl / (1.0 - hat)[:, None] / np.asarray(sm_res.bse)[None], dfbetas, 1e-7)


def test_influence_is_batched_and_nan_for_failed_models():
    for separated in (False, True):
        theta = batch_theta(separated)
        res = refit(theta)
        infl = np.asarray(influence_of(theta, res))
        assert infl.shape == (B, N, P)
        ok = np.asarray(res.converged)
        assert ok.sum() == (B - 1 if separated else B)
        assert np.all(np.isnan(infl[~ok])) and np.all(np.isfinite(infl[ok]))
        for b in np.flatnonzero(ok)[:2]:
            one = one_model(theta, b)
            close(infl[b], influence_of(one, refit(one)), 1e-9)


def test_influence_rejects_mismatched_result():
    X, y01, _, _, _, _ = data()
    theta = plain_theta()
    res = refit(theta)
    with pytest.raises(ValueError, match="res: batch shape"):
        _implicit.influence(res, X, np.stack([y01, y01]))
    with pytest.raises(ValueError, match="res: has 4 parameters"):
        _implicit.influence(res, X[:, :2], y01)
    with pytest.raises(ValueError, match="res: expected a jaxlogreg.FitResult"):
        _implicit.influence(res.params, X, y01)
    with pytest.raises(ValueError, match="weights: negative value"):
        _implicit.influence(res, X, y01, weights=-np.ones(N))


# --------------------------------------------------------------------------------------------
# fit under the user's transformations: trace counts, FitResult as a pytree
# --------------------------------------------------------------------------------------------


def test_fit_inside_jit_traces_once_per_shape_and_setting():
    traces = []

    @functools.partial(jax.jit, static_argnames="fit_intercept")
    def fitted(X, y, tol, max_iter, alpha, fit_intercept=True):
        """A fit and d coef_0 / d alpha inside the user's jit (one solver in the program)."""
        traces.append(None)

        def slope(a):
            res = jaxlogreg.fit(X, y, tol=tol, max_iter=max_iter, alpha=a,
                                fit_intercept=fit_intercept)
            return res.coef[0], res

        (_, res), g = jax.value_and_grad(slope, has_aux=True)(alpha)
        return res, g

    X, y01 = data()[:2]
    rng = np.random.default_rng(8)
    X2 = rng.normal(size=(N, D))
    y2 = simulate(rng, X2, 0.0, [0.5, 0.5, 0.5])
    first, _ = fitted(X, y01, 1e-10, 100, 0.0)
    assert len(traces) == 1
    second, _ = fitted(X2, y2, 1e-10, 100, 0.0)
    loose, _ = fitted(X2, y2, 1e-2, 100, 0.0)
    capped, _ = fitted(X2, y2, 1e-10, 1, 0.0)
    third, g = fitted(X2, y2, 1e-10, 100, 0.1)
    assert len(traces) == 1
    # Each call used its arguments: values and d coef_0 / d alpha as refits give them.
    plain = {**plain_theta(), "X": X2, "y": y2}
    assert not np.allclose(first.params, second.params)
    close(second.params, refit(plain).params, 1e-7)  # tol 1e-10 here, 1e-13 there
    v = zeros_like(plain)
    v["alpha"] = np.float64(1.0)
    at = {**plain, "alpha": np.float64(0.1)}
    res, (dparams, _), _ = fit_derivatives(at, v, cotangent(rng))
    close(third.params, res.params, 1e-7)
    close(g, np.asarray(dparams)[1], 1e-7)
    assert int(capped.n_iter) == 1 and int(loose.n_iter) < int(second.n_iter)
    # A new shape, dtype or static setting does trace again (traced only, not compiled).
    fitted.trace(X2[:100], y2[:100], 1e-10, 100, 0.0)
    fitted.trace(X2.astype(np.float32), y2, 1e-5, 100, 0.0)
    fitted.trace(X2, y2, 1e-10, 100, 0.0, fit_intercept=False)
    assert len(traces) == 4


def assert_same(a: FitResult, b: FitResult):
    assert type(a) is type(b) and a.fit_intercept == b.fit_intercept
    for field in dataclasses.fields(FitResult):
        va, vb = getattr(a, field.name), getattr(b, field.name)
        if field.metadata.get("static"):
            assert va == vb
        else:
            assert va.shape == vb.shape and va.dtype == vb.dtype
            np.testing.assert_array_equal(va, vb)


def test_fit_result_passes_through_jax_unchanged():
    theta = batch_theta(True)
    res = refit(theta)
    assert_same(jax.jit(lambda r: r)(res), res)
    leaves, tree = jax.tree_util.tree_flatten(res)
    assert len(leaves) == 8  # six results and the fit's alpha and penalty factors
    assert_same(jax.tree_util.tree_unflatten(tree, leaves), res)
    assert_same(jax.device_put(res), res)
    carried, losses = jax.lax.scan(lambda c, _: (c, c.loss), res, None, length=2)
    assert_same(carried, res)
    np.testing.assert_array_equal(losses, np.stack([res.loss, res.loss]))
    three = res[3]
    assert three.batch_shape == () and three.fit_intercept
    for field in ("coef", "intercept", "status", "n_iter", "loss", "grad_norm", "alpha",
                  "penalty_factor"):
        np.testing.assert_array_equal(getattr(three, field), np.asarray(getattr(res, field))[3])
    mask = np.asarray(res.converged)
    kept = res[mask]
    assert kept.batch_shape == (int(mask.sum()),)
    np.testing.assert_array_equal(kept.params, np.asarray(res.params)[mask])
    np.testing.assert_array_equal(kept.status, np.asarray(res.status)[mask])
