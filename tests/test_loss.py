"""Tests of the pure kernels in ``jaxlogreg._loss``.

Every kernel is checked against something it does not share code with: a numpy float64
restatement of the objective, central finite differences of that restatement, JAX autodiff
of ``value``, a high-precision (``decimal``) reference for the pointwise quantities, or an
explicit repetition of rows for frequency weights.
"""

from __future__ import annotations

import decimal

import hypothesis.strategies as st
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings

import jaxlogreg
from jaxlogreg import _loss
from jaxlogreg._status import Status

# The kernels run under jit, as the solvers run them (and one compile per shape keeps the
# tests fast); ``pointwise`` is also checked eagerly below.
value = jax.jit(_loss.value)
gradient = jax.jit(_loss.gradient)
hessian = jax.jit(_loss.hessian)
hvp = jax.jit(_loss.hvp)
value_grad_hess = jax.jit(_loss.value_grad_hess)
evaluate = jax.jit(_loss.evaluate)
grad_ad = jax.jit(jax.grad(_loss.value))
hess_ad = jax.jit(jax.hessian(_loss.value))
hvp_ad = jax.jit(lambda b, v, p: jax.jvp(lambda bb: jax.grad(_loss.value)(bb, p), (b,), (v,))[1])
pointwise_jit = jax.jit(_loss.pointwise)

# ---------------------------------------------------------------------------------------
# Independent numpy float64 restatement of the objective (module docstring of _loss).
# ---------------------------------------------------------------------------------------


def np_objective(beta, X, y, w, o, l2, pf):
    eta = X @ beta + o
    rows = np.logaddexp(0.0, eta) - y * eta
    return np.sum(w * rows) / np.sum(w) + 0.5 * l2 * np.sum(pf * beta * beta)


def fd_gradient(f, beta, h=1e-3):
    """Central differences, Richardson-extrapolated (error O(h^4) + rounding)."""

    def central(step):
        g = np.empty_like(beta)
        for j in range(beta.size):
            e = np.zeros_like(beta)
            e[j] = step
            g[j] = (f(beta + e) - f(beta - e)) / (2 * step)
        return g

    return (4.0 * central(h / 2) - central(h)) / 3.0


def fd_hessian(f, beta, h=1e-3):
    """Four-point central second differences of ``f``, Richardson-extrapolated."""

    def central(step):
        p = beta.size
        H = np.empty((p, p))
        for i in range(p):
            for j in range(p):
                ei = np.zeros(p)
                ej = np.zeros(p)
                ei[i] = step
                ej[j] = step
                H[i, j] = (
                    f(beta + ei + ej) - f(beta + ei - ej) - f(beta - ei + ej) + f(beta - ei - ej)
                ) / (4 * step * step)
        return H

    return (4.0 * central(h / 2) - central(h)) / 3.0


def make_problem(seed, *, n=40, d=3, pf_kind="default", l2=0.37, with_products=False):
    """A random problem with an intercept column, non-trivial weights (some zero), an
    offset, ``l2 > 0`` and a penalty factor that is 0 for the intercept."""
    rng = np.random.default_rng(seed)
    Xd = rng.normal(size=(n, d)) * np.array([1.0, 0.5, 2.0])[:d]
    X = np.column_stack([np.ones(n), Xd])
    p = d + 1
    beta_true = rng.normal(size=p) * 0.7
    o = 0.5 * rng.normal(size=n)
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-(X @ beta_true + o)))).astype(np.float64)
    w = rng.uniform(0.2, 3.0, size=n)
    w[rng.choice(n, size=4, replace=False)] = 0.0
    if pf_kind == "default":
        pf = np.asarray(_loss.default_penalty_factor(p, True, jnp.float64))
    else:
        pf = np.array([0.0, 1.0, 0.5, 2.0])[:p]
    beta = rng.normal(size=p) * 0.5
    np_args = (X, y, w, o, l2, pf)
    problem = _loss.Problem(
        jnp.asarray(X),
        jnp.asarray(y),
        jnp.asarray(w),
        jnp.asarray(o),
        jnp.asarray(l2),
        jnp.asarray(pf),
        _loss.column_products(jnp.asarray(X)) if with_products else None,
    )
    return problem, np_args, beta, rng


CASES = [(seed, pf_kind) for seed in (0, 1, 2) for pf_kind in ("default", "custom")]


@pytest.mark.parametrize("seed,pf_kind", CASES)
def test_value_matches_numpy_closed_form(seed, pf_kind):
    problem, np_args, beta, _ = make_problem(seed, pf_kind=pf_kind)
    got = float(value(jnp.asarray(beta), problem))
    np.testing.assert_allclose(got, np_objective(beta, *np_args), rtol=1e-13)


@pytest.mark.parametrize("seed,pf_kind", CASES)
def test_gradient_matches_autodiff_and_finite_differences(seed, pf_kind):
    problem, np_args, beta, _ = make_problem(seed, pf_kind=pf_kind)
    b = jnp.asarray(beta)
    g = np.asarray(gradient(b, problem))
    g_ad = np.asarray(grad_ad(b, problem))
    np.testing.assert_allclose(g, g_ad, rtol=1e-12, atol=1e-15)
    g_fd = fd_gradient(lambda bb: np_objective(bb, *np_args), beta)
    np.testing.assert_allclose(g, g_fd, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("seed,pf_kind", CASES)
def test_hessian_matches_autodiff_and_finite_differences(seed, pf_kind):
    problem, np_args, beta, _ = make_problem(seed, pf_kind=pf_kind)
    b = jnp.asarray(beta)
    H = np.asarray(hessian(b, problem))
    H_ad = np.asarray(hess_ad(b, problem))
    np.testing.assert_allclose(H, H_ad, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(H, H.T, rtol=1e-13, atol=0)
    H_fd = fd_hessian(lambda bb: np_objective(bb, *np_args), beta)
    np.testing.assert_allclose(H, H_fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("d", [0, 1])
@pytest.mark.parametrize("seed", [0, 1])
def test_hessian_of_one_or_two_columns_by_row_sums(seed, d):
    """Designs of one or two columns (and no column products) take the elementwise path of
    hessian_from_rows: it must equal autodiff and finite differences, alone and vmapped over
    a batch of designs (as a design per model is fitted)."""
    problem, np_args, beta, rng = make_problem(seed, d=d)
    assert problem.X.shape[-1] <= _loss._ELEMENTWISE
    b = jnp.asarray(beta)
    H = np.asarray(hessian(b, problem))
    np.testing.assert_allclose(H, np.asarray(hess_ad(b, problem)), rtol=1e-12, atol=1e-15)
    H_fd = fd_hessian(lambda bb: np_objective(bb, *np_args), beta)
    np.testing.assert_allclose(H, H_fd, rtol=1e-6, atol=1e-8)
    Xs = np.asarray(problem.X)[None] * rng.uniform(0.5, 2.0, size=(3, 1, problem.X.shape[-1]))
    batched = np.asarray(jax.vmap(lambda X: hessian(b, problem._replace(X=X)))(jnp.asarray(Xs)))
    for k in range(3):
        one = problem._replace(X=jnp.asarray(Xs[k]))
        np.testing.assert_allclose(batched[k], np.asarray(hess_ad(b, one)),
                                   rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("d", [0, 1, 3])
def test_products_with_the_design_equal_matrix_products(d):
    """design_times and design_transpose_times (column sums for one or two columns, matrix
    products from three) against NumPy, alone and vmapped over designs per model."""
    problem, _, beta, rng = make_problem(2, d=d)
    X = np.asarray(problem.X)
    v = rng.normal(size=X.shape[1])
    r = rng.normal(size=X.shape[0])
    np.testing.assert_allclose(_loss.design_times(jnp.asarray(v), problem), X @ v, rtol=1e-13)
    np.testing.assert_allclose(_loss.design_transpose_times(jnp.asarray(r), problem), X.T @ r,
                               rtol=1e-13, atol=1e-13)
    Xs = X[None] * rng.uniform(0.5, 2.0, size=(3, 1, X.shape[1]))
    both = jax.vmap(lambda Xm: (
        _loss.design_times(jnp.asarray(v), problem._replace(X=Xm)),
        _loss.design_transpose_times(jnp.asarray(r), problem._replace(X=Xm)),
    ))
    xv, xr = (np.asarray(a) for a in both(jnp.asarray(Xs)))
    for k in range(3):
        np.testing.assert_allclose(xv[k], Xs[k] @ v, rtol=1e-13)
        np.testing.assert_allclose(xr[k], Xs[k].T @ r, rtol=1e-13, atol=1e-13)


def test_weighted_cubes_and_quadratic_rows_equal_numpy_with_and_without_column_products():
    """Firth's third-order terms and the leverages' quadratic forms, from the design itself
    and from its column products, against NumPy's einsum."""
    problem, _, _, rng = make_problem(4, d=3)
    X = np.asarray(problem.X)
    a = rng.normal(size=X.shape[0])
    A = rng.normal(size=(X.shape[1], X.shape[1]))
    A = A + A.T
    with_products = problem._replace(products=_loss.column_products(problem.X))
    for prob in (problem, with_products):
        np.testing.assert_allclose(_loss.weighted_cubes(jnp.asarray(a), prob),
                                   np.einsum("n,ni,nj,nk->ijk", a, X, X, X), rtol=1e-12,
                                   atol=1e-12)
        np.testing.assert_allclose(_loss.quadratic_rows(jnp.asarray(A), prob),
                                   np.einsum("ni,ij,nj->n", X, A, X), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("seed,pf_kind", CASES)
def test_hessian_products_path_equals_direct_path(seed, pf_kind):
    problem, np_args, beta, _ = make_problem(seed, pf_kind=pf_kind)
    with_z = problem._replace(products=_loss.column_products(problem.X))
    b = jnp.asarray(beta)
    H_direct = np.asarray(hessian(b, problem))
    H_z = np.asarray(hessian(b, with_z))
    np.testing.assert_allclose(H_z, H_direct, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(H_z, H_z.T)
    # and the products path is also right in absolute terms
    H_fd = fd_hessian(lambda bb: np_objective(bb, *np_args), beta)
    np.testing.assert_allclose(H_z, H_fd, rtol=1e-6, atol=1e-8)
    # value_grad_hess takes the products path too
    _, _, H_vgh = value_grad_hess(b, with_z)
    np.testing.assert_allclose(np.asarray(H_vgh), H_direct, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("extra", [0, 123])
def test_hessian_of_a_tall_design_by_blocks_of_rows(extra):
    """A design of several blocks of rows (and a partial one) without column products:
    X^T diag(s) X summed block by block equals NumPy's, alone and vmapped over models."""
    rows = 3 * _loss._HESSIAN_ROWS + extra
    rng = np.random.default_rng(11)
    X = rng.normal(size=(rows, 4))
    S = rng.random((2, rows))
    pf = np.ones(4)
    problem = _loss.Problem(jnp.asarray(X), jnp.asarray(np.zeros(rows)),
                            jnp.asarray(np.ones(rows)), None, jnp.asarray(0.25), jnp.asarray(pf))
    expected = [X.T @ (s[:, None] * X) + 0.25 * np.diag(pf) for s in S]
    atol = 1e-14 * np.max(np.abs(expected))  # sums of 24,000 terms: rounding of the largest
    one = np.asarray(_loss.hessian_from_rows(jnp.asarray(S[0]), problem))
    np.testing.assert_allclose(one, expected[0], rtol=1e-12, atol=atol)
    np.testing.assert_array_equal(one, one.T)
    both = jax.vmap(lambda s: _loss.hessian_from_rows(s, problem))(jnp.asarray(S))
    np.testing.assert_allclose(np.asarray(both), np.stack(expected), rtol=1e-12, atol=atol)


def test_column_products_layout():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(7, 4))
    Z = np.asarray(_loss.column_products(jnp.asarray(X)))
    assert Z.shape == (7, 4 * 5 // 2)
    expected = [X[:, i] * X[:, j] for i in range(4) for j in range(i, 4)]
    np.testing.assert_array_equal(Z, np.stack(expected, axis=1))


@pytest.mark.parametrize("seed,pf_kind", CASES)
def test_hvp_matches_hessian_autodiff_and_finite_differences(seed, pf_kind):
    problem, np_args, beta, rng = make_problem(seed, pf_kind=pf_kind)
    v = rng.normal(size=beta.size)
    b, vj = jnp.asarray(beta), jnp.asarray(v)
    hv = np.asarray(hvp(b, vj, problem))
    np.testing.assert_allclose(hv, np.asarray(hessian(b, problem)) @ v, rtol=1e-12, atol=1e-15)
    hv_ad = hvp_ad(b, vj, problem)
    np.testing.assert_allclose(hv, np.asarray(hv_ad), rtol=1e-12, atol=1e-15)
    # directional second difference of the numpy gradient (itself checked by FD above)
    f = lambda bb: np_objective(bb, *np_args)  # noqa: E731
    hv_fd = fd_hessian(f, beta) @ v
    np.testing.assert_allclose(hv, hv_fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("seed,pf_kind", CASES)
def test_value_grad_hess_agrees_with_separate_kernels(seed, pf_kind):
    problem, np_args, beta, _ = make_problem(seed, pf_kind=pf_kind)
    b = jnp.asarray(beta)
    f, g, H = value_grad_hess(b, problem)
    assert f.shape == () and g.shape == (beta.size,) and H.shape == (beta.size,) * 2
    np.testing.assert_allclose(float(f), float(value(b, problem)), rtol=1e-14)
    np.testing.assert_allclose(np.asarray(g), np.asarray(gradient(b, problem)),
                               rtol=1e-13, atol=1e-16)
    np.testing.assert_allclose(np.asarray(H), np.asarray(hessian(b, problem)),
                               rtol=1e-13, atol=1e-16)
    np.testing.assert_allclose(float(f), np_objective(beta, *np_args), rtol=1e-13)
    np.testing.assert_allclose(np.asarray(g), np.asarray(grad_ad(b, problem)),
                               rtol=1e-12, atol=1e-15)
    # evaluate() at the linear predictor: the value, and the row weights of the derivatives
    # r = w (mu - y) / sum w and s = w mu (1 - mu) / sum w (closed forms in numpy)
    X, y, w, o = np_args[:4]
    eta = _loss.linear_predictor(b, problem)
    np.testing.assert_allclose(np.asarray(eta), X @ beta + o, rtol=1e-14, atol=1e-15)
    f2, r, s = evaluate(eta, b, problem)
    np.testing.assert_allclose(float(f2), float(f), rtol=1e-14)
    mu_np = 1.0 / (1.0 + np.exp(-(X @ beta + o)))
    np.testing.assert_allclose(np.asarray(r), w * (mu_np - y) / w.sum(), rtol=1e-12, atol=1e-17)
    np.testing.assert_allclose(np.asarray(s), w * mu_np * (1.0 - mu_np) / w.sum(),
                               rtol=1e-12, atol=1e-17)


# ---------------------------------------------------------------------------------------
# pointwise: stability and accuracy against a high-precision reference
# ---------------------------------------------------------------------------------------

_CTX = decimal.Context(prec=80, Emin=-10**9, Emax=10**9)


def reference_pointwise(eta: float, y: float) -> tuple[float, float, float]:
    """``(softplus(eta) - y eta, sigmoid(eta), sigmoid(eta)(1 - sigmoid(eta)))`` in 80-digit
    decimal arithmetic from the exact binary value of ``eta``, rounded once to float64."""
    with decimal.localcontext(_CTX):
        D = decimal.Decimal
        e = D(eta)
        yy = D(y)
        one = D(1)
        # softplus(eta) = ln(1 + exp(eta)); for large |eta| use the exact identity
        # softplus(eta) = max(eta, 0) + ln(1 + exp(-|eta|)) so the log argument stays moderate.
        a = (-abs(e)).exp()
        softplus = max(e, D(0)) + (one + a).ln()
        loss = softplus - yy * e
        mu = one / (one + (-e).exp())
        var = a / ((one + a) * (one + a))  # = mu (1 - mu), without forming 1 - mu
        return float(loss), float(mu), float(var)


# Tolerances: a few units in the last place of each dtype.
_RTOL = {np.float32: 2e-6, np.float64: 1e-14}
_ETAS = [1e4, -1e4, 1e3, -1e3, 40.0, -40.0, 0.0]


@pytest.mark.parametrize("mode", ["eager", "jit"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("eta", _ETAS)
@pytest.mark.parametrize("y", [0.0, 1.0])
def test_pointwise_extreme_eta_is_finite_and_accurate(dtype, eta, y, mode):
    e = jnp.asarray(eta, dtype)
    fn = _loss.pointwise if mode == "eager" else pointwise_jit
    loss, mu, var = fn(e, jnp.asarray(y, dtype))
    for a in (loss, mu, var):
        assert a.dtype == dtype
        assert np.isfinite(np.asarray(a))
    ref = reference_pointwise(float(np.asarray(e)), y)
    # round the float64 reference to the working dtype, then compare relatively
    ref = [float(dtype(r)) for r in ref]
    rtol = _RTOL[dtype]
    np.testing.assert_allclose(float(mu), ref[1], rtol=rtol, atol=0, err_msg="mu")
    np.testing.assert_allclose(float(var), ref[2], rtol=rtol, atol=0, err_msg="var")
    # The loss too is checked relatively: a well-classified row (y = 1, eta = 40) has a tiny
    # but exactly representable loss log1p(exp(-40)) = 4.25e-18, which a cancellation-free
    # formula such as log1p(e) + y max(-eta, 0) + (1 - y) max(eta, 0) delivers.
    np.testing.assert_allclose(float(loss), ref[0], rtol=rtol, atol=0, err_msg="loss")


_N_HYP = 8


@settings(max_examples=30, deadline=None)
@given(
    dtype=st.sampled_from([np.float32, np.float64]),
    etas=st.lists(
        st.floats(min_value=-1e4, max_value=1e4, allow_nan=False, allow_infinity=False),
        min_size=_N_HYP,
        max_size=_N_HYP,
    ),
    ys=st.lists(st.sampled_from([0.0, 1.0]), min_size=_N_HYP, max_size=_N_HYP),
)
def test_pointwise_property_finite_and_in_range(dtype, etas, ys):
    eta = jnp.asarray(np.asarray(etas, dtype=dtype))
    y = jnp.asarray(np.asarray(ys, dtype=dtype))
    loss, mu, var = (np.asarray(a) for a in _loss.pointwise(eta, y))
    assert loss.dtype == mu.dtype == var.dtype == dtype
    assert np.all(np.isfinite(loss)) and np.all(np.isfinite(mu)) and np.all(np.isfinite(var))
    assert np.all(mu >= 0) and np.all(mu <= 1)
    assert np.all(var >= 0) and np.all(var <= 0.25 * (1 + 8 * np.finfo(dtype).eps))
    assert np.all(loss >= 0)
    # mu and var against the high-precision reference at the dtype-rounded eta; results
    # below the smallest normal number may be flushed to zero by XLA, hence atol = tiny
    tiny = float(np.finfo(dtype).tiny)
    for k, e in enumerate(np.asarray(eta)):
        _, mu_ref, var_ref = reference_pointwise(float(e), ys[k])
        np.testing.assert_allclose(mu[k], float(dtype(mu_ref)), rtol=_RTOL[dtype], atol=tiny)
        np.testing.assert_allclose(var[k], float(dtype(var_ref)), rtol=_RTOL[dtype], atol=tiny)


# ---------------------------------------------------------------------------------------
# Intercept convention
# ---------------------------------------------------------------------------------------


def test_add_intercept_equals_explicit_column_of_ones():
    rng = np.random.default_rng(11)
    n, d = 40, 3  # make_problem's shape: value's compiled program is shared
    Xd = rng.normal(size=(n, d))
    y = (rng.random(n) < 0.5).astype(np.float64)
    w = rng.uniform(0.5, 2.0, size=n)
    o = 0.3 * rng.normal(size=n)
    beta = rng.normal(size=d + 1)
    Xi = np.asarray(_loss.add_intercept(jnp.asarray(Xd)))
    np.testing.assert_array_equal(Xi, np.column_stack([np.ones(n), Xd]))
    pf = np.asarray(_loss.default_penalty_factor(d + 1, True, jnp.float64))
    args = dict(y=jnp.asarray(y), weights=jnp.asarray(w), offset=jnp.asarray(o),
                l2=jnp.asarray(0.2), penalty_factor=jnp.asarray(pf))
    ones_first = np.column_stack([np.ones(n), Xd])
    v1 = float(value(jnp.asarray(beta), _loss.Problem(X=_loss.add_intercept(jnp.asarray(Xd)),
                                                      **args)))
    v2 = float(value(jnp.asarray(beta), _loss.Problem(X=jnp.asarray(ones_first), **args)))
    assert v1 == v2
    # the intercept is beta[0]: the numpy objective with the ones column first agrees
    np.testing.assert_allclose(v1, np_objective(beta, ones_first, y, w, o, 0.2, pf), rtol=1e-13)
    # batch axes: (..., n, d) -> (..., n, d + 1)
    Xb = np.asarray(_loss.add_intercept(jnp.asarray(np.stack([Xd, 2 * Xd]))))
    assert Xb.shape == (2, n, d + 1)
    np.testing.assert_array_equal(Xb[:, :, 0], 1.0)
    np.testing.assert_array_equal(Xb[1, :, 1:], 2 * Xd)


def test_fit_intercept_equals_explicit_leading_ones_column():
    rng = np.random.default_rng(21)
    n, d = 200, 3
    X = rng.normal(size=(n, d))
    beta_true = np.array([-0.4, 0.8, -0.5, 0.3])
    p_true = 1.0 / (1.0 + np.exp(-(beta_true[0] + X @ beta_true[1:])))
    y = (rng.random(n) < p_true).astype(np.float64)
    r1 = jaxlogreg.fit(X, y, fit_intercept=True)
    r2 = jaxlogreg.fit(np.column_stack([np.ones(n), X]), y, fit_intercept=False)
    assert int(r1.status) == Status.CONVERGED
    assert int(r2.status) == Status.CONVERGED
    assert r1.params.shape == (d + 1,) and r2.params.shape == (d + 1,)
    np.testing.assert_allclose(np.asarray(r1.params), np.asarray(r2.coef), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(float(r1.intercept), float(np.asarray(r2.coef)[0]), rtol=1e-8,
                               atol=1e-10)
    assert float(r2.intercept) == 0.0
    # independent check: the numpy gradient at (intercept, *coef) vanishes
    Xi = np.column_stack([np.ones(n), X])
    mu = 1.0 / (1.0 + np.exp(-(Xi @ np.asarray(r1.params))))
    np.testing.assert_allclose(Xi.T @ (mu - y) / n, 0.0, atol=1e-9)
    np.testing.assert_allclose(
        float(r1.loss),
        np_objective(np.asarray(r1.params), Xi, y, np.ones(n), np.zeros(n), 0.0, np.zeros(d + 1)),
        rtol=1e-12,
    )


# ---------------------------------------------------------------------------------------
# The penalty never touches the intercept
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_default_penalty_factor(dtype):
    pf = _loss.default_penalty_factor(5, True, dtype)
    assert pf.dtype == dtype and pf.shape == (5,)
    np.testing.assert_array_equal(np.asarray(pf), [0.0, 1.0, 1.0, 1.0, 1.0])
    pf = _loss.default_penalty_factor(5, False, dtype)
    np.testing.assert_array_equal(np.asarray(pf), np.ones(5))


@pytest.mark.parametrize("seed", [0, 1])
def test_penalty_gradient_is_zero_for_intercept(seed):
    problem, np_args, beta, _ = make_problem(seed, pf_kind="default")
    l2 = float(problem.l2)
    b = jnp.asarray(beta)
    unpenalised = problem._replace(l2=jnp.asarray(0.0))
    closed_grad = l2 * np.concatenate([[0.0], beta[1:]])
    # penalty part of the gradient = gradient(l2) - gradient(0)
    pen_grad = np.asarray(gradient(b, problem)) - np.asarray(gradient(b, unpenalised))
    assert pen_grad[0] == 0.0
    np.testing.assert_allclose(pen_grad, closed_grad, rtol=1e-10, atol=1e-15)
    # same through autodiff of value
    pen_grad_ad = np.asarray(grad_ad(b, problem)) - np.asarray(grad_ad(b, unpenalised))
    np.testing.assert_allclose(pen_grad_ad, closed_grad, rtol=1e-10, atol=1e-15)
    # penalty part of the value and of the Hessian
    pen_val = float(value(b, problem)) - float(value(b, unpenalised))
    np.testing.assert_allclose(pen_val, 0.5 * l2 * np.sum(beta[1:] ** 2), rtol=1e-10)
    pen_hess = np.asarray(hessian(b, problem)) - np.asarray(hessian(b, unpenalised))
    np.testing.assert_allclose(pen_hess, l2 * np.diag([0.0] + [1.0] * (beta.size - 1)), atol=1e-14)
    # moving only the intercept leaves the penalty unchanged
    shifted = beta.copy()
    shifted[0] += 3.0
    np.testing.assert_allclose(
        float(value(jnp.asarray(shifted), problem))
        - float(value(jnp.asarray(shifted), unpenalised)),
        pen_val,
        rtol=1e-10,
    )


# ---------------------------------------------------------------------------------------
# Frequency weights: integer weights equal repeated rows
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_integer_weights_equal_repeated_rows(seed):
    rng = np.random.default_rng(100 + seed)
    n, d = 40, 3  # make_problem's shape: the weighted problem shares its compiled kernels
    X = np.column_stack([np.ones(n), rng.normal(size=(n, d))])
    y = (rng.random(n) < 0.5).astype(np.float64)
    o = 0.4 * rng.normal(size=n)
    # integer weights 0..3 in random order; a fixed multiset keeps sum(w) (the repeated
    # design's row count, hence the compiled shape) the same for every seed
    w = rng.permutation(np.arange(n) % 4).astype(np.float64)
    beta = rng.normal(size=d + 1) * 0.6
    pf = np.asarray(_loss.default_penalty_factor(d + 1, True, jnp.float64))
    l2 = 0.15
    reps = w.astype(int)
    Xr, yr, orr = np.repeat(X, reps, axis=0), np.repeat(y, reps), np.repeat(o, reps)
    assert Xr.shape[0] == int(w.sum())
    weighted = _loss.Problem(*(jnp.asarray(a) for a in (X, y, w, o)), jnp.asarray(l2),
                             jnp.asarray(pf))
    repeated = _loss.Problem(
        *(jnp.asarray(a) for a in (Xr, yr, np.ones(Xr.shape[0]), orr)), jnp.asarray(l2),
        jnp.asarray(pf),
    )
    b = jnp.asarray(beta)
    np.testing.assert_allclose(float(value(b, weighted)), float(value(b, repeated)), rtol=1e-13)
    np.testing.assert_allclose(
        np.asarray(gradient(b, weighted)), np.asarray(gradient(b, repeated)), rtol=1e-12, atol=1e-15
    )
    np.testing.assert_allclose(
        np.asarray(hessian(b, weighted)), np.asarray(hessian(b, repeated)), rtol=1e-12, atol=1e-15
    )
    # closed form on the repeated rows: unweighted mean NLL + penalty, and its gradient
    eta = Xr @ beta + orr
    closed_value = np.mean(np.logaddexp(0.0, eta) - yr * eta) + 0.5 * l2 * np.sum(pf * beta**2)
    closed_grad = Xr.T @ (1.0 / (1.0 + np.exp(-eta)) - yr) / Xr.shape[0] + l2 * pf * beta
    np.testing.assert_allclose(float(value(b, weighted)), closed_value, rtol=1e-13)
    np.testing.assert_allclose(np.asarray(gradient(b, weighted)), closed_grad,
                               rtol=1e-12, atol=1e-15)
