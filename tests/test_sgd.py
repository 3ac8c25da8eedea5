"""Minibatch SGD and Adam through optax, in memory and streamed.

References: statsmodels GLM (the unpenalised optimum), scikit-learn (ridge with lbfgs,
lasso with saga), ``jax.grad`` of the objective (the minibatch estimator), and NumPy loops
that redo the updates over the documented row order. Every test shares one problem shape
(n = 512, p = 4) and a handful of compiled programs, to keep compilation short.
"""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import statsmodels.api as sm
from sklearn.linear_model import LogisticRegression

from jaxlogreg import Status, _loss
from jaxlogreg.solvers import Context, _sgd

N, D = 512, 3
P = D + 1
BATCH, EPOCHS = 64, 500
# Exponential decay over the run: 4000 updates (8 per epoch), the rate falling from 2 (Adam:
# 0.05) by 0.3 every 500 updates, to 1e-4 of its start at the end.
SGD_CFG = _sgd.SGD(
    learning_rate=optax.exponential_decay(2.0, 500, 0.3), batch_size=BATCH, epochs=EPOCHS
)
ADAM_CFG = _sgd.adam(optax.exponential_decay(0.05, 500, 0.3), batch_size=BATCH, epochs=EPOCHS)
# What a stochastic method reaches here: the iterate keeps the gradient noise of the last
# few hundred updates, 1e-5 .. 1.4e-4 of max |beta| over keys 0..5 (measured; 8e-5 for
# key 0); 2e-4 is that with a margin. It is far above rounding, so the test could fail.
SGD_RTOL = 2e-4
C_RIDGE, L1 = 0.05, 0.02


def _sigmoid(eta):
    return 1.0 / (1.0 + np.exp(-eta))


@functools.cache
def _data():
    """Shared design (n, d) and six models ``(6, n)``: 0 plain; 1 integer weights and an
    offset; 2 ridge (C = 0.05); 3 a NaN label; 4 lasso (l1 = 0.02, third slope truly 0);
    5 the data of model 0, started at its optimum."""
    rng = np.random.default_rng(7)
    X = rng.normal(size=(N, D))
    Xi = np.column_stack([np.ones(N), X])

    def labels(beta, offset=0.0):
        return (rng.random(N) < _sigmoid(Xi @ np.asarray(beta) + offset)).astype(float)

    O = np.zeros((6, N))
    O[1] = rng.normal(0.0, 0.5, N)
    W = np.ones((6, N))
    W[1] = rng.integers(0, 4, N).astype(float)
    W[1, 0] = 1.0
    Y = np.stack([
        labels([0.3, 0.8, -0.5, 0.4]),
        labels([-0.2, 0.5, 0.7, -0.6], O[1]),
        labels([0.1, -0.9, 0.3, 0.5]),
        labels([0.3, 0.8, -0.5, 0.4]),
        labels([0.2, 0.9, -0.7, 0.0]),
    ])
    Y = np.concatenate([Y, Y[:1]])
    Y[3, 5] = np.nan
    l2 = np.zeros(6)
    l2[2] = 1.0 / (C_RIDGE * W[2].sum())
    l1 = np.zeros(6)
    l1[4] = L1
    return X, Y, W, O, l2, l1


def _glm(X, y, w, o):
    """The unpenalised optimum (statsmodels GLM with frequency weights and an offset)."""
    fam = sm.families.Binomial()
    m = sm.GLM(y, sm.add_constant(X), family=fam, freq_weights=w, offset=o)
    return np.asarray(m.fit(tol=1e-13, maxiter=100).params)


@functools.cache
def _references():
    X, Y, W, O, l2, l1 = _data()
    ref = {m: _glm(X, Y[m], W[m], O[m]) for m in (0, 1)}
    ridge = LogisticRegression(C=C_RIDGE, tol=1e-13, max_iter=100_000).fit(X, Y[2])
    ref[2] = np.concatenate([ridge.intercept_, ridge.coef_[0]])
    # scikit-learn's lasso: C * sum(w) * (our objective) with alpha = 1 / (C * sum w).
    lasso = LogisticRegression(
        C=1.0 / (L1 * N), l1_ratio=1.0, solver="saga", tol=1e-12, max_iter=200_000
    ).fit(X, Y[4])
    ref[4] = np.concatenate([lasso.intercept_, lasso.coef_[0]])
    return ref


def _problem(dtype=jnp.float64, with_l1=True):
    """The six models as one Problem: per-model leaves ``(6, ...)``, X and pf shared (the
    leaves cast in NumPy and put on the device, which compiles nothing)."""
    X, Y, W, O, l2, l1 = _data()
    as_ = lambda a: jax.device_put(np.asarray(a, dtype))  # noqa: E731
    return _loss.Problem(
        as_(_loss.add_intercept(jnp.asarray(X))), as_(Y), as_(W), as_(O), as_(l2),
        _loss.default_penalty_factor(P, True, dtype), l1=as_(l1) if with_l1 else None,
    )


def _row(a, m):
    """Entry ``m`` of the batch array ``a``, taken in NumPy (indexing a JAX array compiles a
    program per shape)."""
    return jax.device_put(np.asarray(a)[m])


def _model(pr, m):
    """Model ``m`` of a batch Problem from :func:`_problem`."""
    return pr._replace(
        y=_row(pr.y, m), weights=_row(pr.weights, m), offset=_row(pr.offset, m),
        l2=_row(pr.l2, m), l1=None if pr.l1 is None else _row(pr.l1, m),
    )


_AXES = _loss.Problem(None, 0, 0, 0, 0, None, l1=0)
_AXES_NO_L1 = _loss.Problem(None, 0, 0, 0, 0, None)


@functools.partial(jax.jit, static_argnames=("config",))
def _run_batch(problem, beta0, tol, max_iter, config):
    axes = _AXES if problem.l1 is not None else _AXES_NO_L1
    one = lambda pr, b: _sgd.run(pr, b, Context(tol, max_iter, "m"), config)  # noqa: E731
    return jax.vmap(one, in_axes=(axes, 0), axis_name="m")(problem, beta0)


@functools.partial(jax.jit, static_argnames=("config",))
def _run_one(problem, beta0, tol, max_iter, config):
    return _sgd.run(problem, beta0, Context(tol, max_iter), config)


@functools.partial(jax.jit, static_argnames=("config",))
def _step(problem, state, tol, max_iter, config):
    return _sgd.step(problem, state, Context(tol, max_iter), config)


# The references from the objective, compiled once per problem shape and shared by the
# tests (run eagerly, each would compile every operation it does).
_value = jax.jit(_loss.value)
_grad = jax.jit(jax.grad(_loss.value))
_hessian = jax.jit(_loss.hessian)


def _starts(dtype=jnp.float64):
    start = np.zeros((6, P))
    start[5] = _references()[0]
    return jax.device_put(start.astype(dtype))


@functools.cache
def _sgd_batch(tol=1e-9, max_iter=EPOCHS, dtype=jnp.float64):
    return _run_batch(_problem(dtype), _starts(dtype), tol, max_iter, config=SGD_CFG)


def _rel(beta, ref):
    return np.max(np.abs(np.asarray(beta) - ref)) / np.max(np.abs(ref))


# --- the estimator -----------------------------------------------------------------------


@pytest.mark.parametrize("batch", [64, 96])
def test_minibatch_gradients_of_an_epoch_average_to_the_full_gradient(batch):
    """Exactly, whether the batch size divides n (64) or slots are padded (96: N = 576)."""
    pr = _model(_problem(with_l1=False), 1)._replace(l2=jnp.asarray(0.3))
    beta = jnp.asarray(np.array([0.2, -0.4, 0.1, 0.7]))
    cfg = dataclasses.replace(SGD_CFG, batch_size=batch)
    order = _sgd.epoch_order(cfg, N, 3)
    n_slots = order.size
    assert n_slots == -(-N // batch) * batch and sorted(order) == list(range(n_slots))
    estimate = jax.jit(jax.vmap(_sgd.minibatch_gradient, in_axes=(None, None, 0, None)),
                       static_argnums=3)
    grads = np.asarray(estimate(beta, pr, jnp.asarray(order.reshape(-1, batch)), n_slots))
    full = np.asarray(_grad(beta, pr))
    np.testing.assert_allclose(np.mean(grads, axis=0), full, rtol=1e-12, atol=1e-15)
    # One batch is not the full gradient (it is an estimate).
    assert np.max(np.abs(grads[0] - full)) > 1e-3


# --- reaching the optimum ------------------------------------------------------------------


def test_sgd_reaches_the_optimum_and_isolates_bad_models():
    state = _sgd_batch()
    beta, loss, grad = np.asarray(state.beta), np.asarray(state.loss), np.asarray(state.grad)
    ref = _references()
    for m in (0, 1, 2):  # unpenalised (statsmodels), weighted with offset, ridge (sklearn)
        assert _rel(beta[m], ref[m]) < SGD_RTOL, m
    # Lasso by proximal SGD against saga: the same noise floor, plus the truly-zero slope
    # shrunk to the noise level.
    assert _rel(beta[4], ref[4]) < SGD_RTOL
    assert ref[4][3] == 0.0 and abs(float(beta[4, 3])) < 1e-4
    status = np.asarray(state.status)
    assert list(status) == [Status.MAX_ITER] * 3 + [Status.NONFINITE, Status.MAX_ITER,
                                                    Status.CONVERGED]
    assert list(np.asarray(state.n_iter)) == [EPOCHS] * 3 + [0, EPOCHS, 0]
    # The NaN model and the model started at its optimum are frozen at their start.
    np.testing.assert_array_equal(beta[3], np.zeros(P))
    np.testing.assert_array_equal(beta[5], ref[0])
    # loss and grad are those of the final beta (full data, with penalties).
    pr = _problem()
    for m in (0, 2, 4):
        pm = _model(pr, m)
        np.testing.assert_allclose(loss[m], _value(beta[m], pm), rtol=1e-12)
        np.testing.assert_allclose(
            grad[m], _grad(beta[m], pm._replace(l1=None)), rtol=1e-9, atol=1e-14,
        )


def test_adam_reaches_the_optimum():
    pr = _problem(with_l1=False)
    state = _run_batch(pr, _starts(), 1e-9, EPOCHS, config=ADAM_CFG)
    beta = np.asarray(state.beta)
    ref = _references()
    for m in (0, 1, 2):
        assert _rel(beta[m], ref[m]) < SGD_RTOL, m
    assert int(np.asarray(state.status)[3]) == Status.NONFINITE


def test_l1_needs_plain_sgd():
    pr = _model(_problem(), 4)
    with pytest.raises(ValueError, match="config: an L1 term"):
        _sgd.init(pr, jnp.zeros(P), Context(1e-8, 10), ADAM_CFG)
    assert SGD_CFG.handles_l1 and not ADAM_CFG.handles_l1


def test_float32_tracks_float64():
    """Same row order and schedule in float32: the iterates stay within float32 rounding of
    the float64 ones (measured 1.4e-6 relative after 4000 updates; the updates contract
    errors, so rounding does not accumulate beyond ~10 eps32)."""
    s64 = _sgd_batch()
    s32 = _sgd_batch(dtype=jnp.float32)
    assert s32.beta.dtype == jnp.float32 and s32.loss.dtype == jnp.float32
    np.testing.assert_array_equal(s32.status, s64.status)
    b32, b64 = np.asarray(s32.beta), np.asarray(s64.beta)
    for m in (0, 1, 2, 4):
        assert _rel(b32[m], b64[m]) < 2e-5, m


# --- batches, freezing, determinism --------------------------------------------------------


def test_shared_order_batch_equals_models_run_one_by_one():
    """With tol = 1e-4 the models converge at different epochs (135 to 178 here); the batch
    freezes each at its own epoch while the rest go on."""
    tol = 1e-4
    batch = _run_batch(_problem(), _starts(), tol, EPOCHS, config=SGD_CFG)
    assert len(set(np.asarray(batch.n_iter)[[0, 1, 2, 4]])) > 1
    pr = _problem()
    status, n_iter, beta = (np.asarray(a) for a in (batch.status, batch.n_iter, batch.beta))
    for m in range(6):
        one = _run_one(_model(pr, m), _row(_starts(), m), tol, EPOCHS, config=SGD_CFG)
        assert int(one.status) == int(status[m]) and int(one.n_iter) == int(n_iter[m])
        if m != 3:
            np.testing.assert_allclose(one.beta, beta[m], rtol=1e-11, atol=1e-13)
    again = _run_batch(_problem(), _starts(), tol, EPOCHS, config=SGD_CFG)
    for a, b in zip(jax.tree_util.tree_leaves(batch),
                    jax.tree_util.tree_leaves(again), strict=True):
        np.testing.assert_array_equal(a, b)  # bit-identical rerun


GD_CFG = _sgd.SGD(batch_size=4096, epochs=3000)  # one batch of all rows: (proximal) GD


def _numpy_ista(X, y, beta, l1, pf, steps):
    """Proximal gradient descent with rate 1 / L, L = 0.25 mean ||x_i||^2 (NumPy)."""
    rate = 1.0 / (0.25 * np.mean(np.sum(X * X, axis=1)))
    for _ in range(steps):
        g = X.T @ (_sigmoid(X @ beta) - y) / len(y)
        z = beta - rate * g
        beta = np.sign(z) * np.maximum(np.abs(z) - rate * l1 * pf, 0.0)
    return beta


def test_full_batch_is_proximal_gradient_descent_with_a_safe_rate():
    pr = _model(_problem(), 4)
    X, y, pf = np.asarray(pr.X), np.asarray(pr.y), np.asarray(pr.penalty_factor)
    # 1 / L is a safe rate: L bounds the Hessian's largest eigenvalue at any beta.
    L = 1.0 / float(_sgd._auto_rate(pr))
    rng = np.random.default_rng(0)
    for beta in [np.zeros(P), *rng.normal(0, 2, (3, P))]:
        H = np.asarray(_hessian(jnp.asarray(beta), pr))
        assert np.linalg.eigvalsh(H)[-1] <= L
    few = _run_one(pr, jnp.zeros(P), 1e-10, 3, config=GD_CFG)
    assert int(few.status) == Status.MAX_ITER and int(few.n_iter) == 3
    np.testing.assert_allclose(few.beta, _numpy_ista(X, y, np.zeros(P), L1, pf, 3), rtol=1e-12)
    done = _run_one(pr, jnp.zeros(P), 1e-10, 3000, config=GD_CFG)
    assert int(done.status) == Status.CONVERGED
    np.testing.assert_allclose(done.beta, _references()[4], rtol=1e-6, atol=1e-8)
    assert float(np.asarray(done.beta)[3]) == 0.0  # the prox step gives exact zeros
    # A stopped model is frozen: another step changes nothing, bit for bit.
    for state, max_iter in ((few, 3), (done, 3000)):
        again = _step(pr, state, 1e-10, max_iter, config=GD_CFG)
        for a, b in zip(jax.tree_util.tree_leaves(state),
                        jax.tree_util.tree_leaves(again), strict=True):
            np.testing.assert_array_equal(a, b)


# --- streaming -----------------------------------------------------------------------------


def _numpy_sgd(cfg, X, y, w, o, beta, epochs, chunk_rows):
    """Plain SGD over the documented slot order (NumPy)."""
    Xi = np.column_stack([np.ones(len(y)), X])
    b = min(cfg.batch_size, len(y))
    schedule = jax.jit(cfg.learning_rate)  # one compiled program for every update count
    t = 0
    for e in range(epochs):
        order = _sgd.epoch_order(cfg, len(y), e, chunk_rows)
        for k in range(0, order.size, b):
            s = order[k : k + b]
            s = s[s < len(y)]
            g = (order.size / b) * Xi[s].T @ (w[s] * (_sigmoid(Xi[s] @ beta + o[s]) - y[s]))
            # optax evaluates the schedule at its int32 update count.
            beta = beta - float(schedule(jnp.int32(t))) * g / w.sum()
            t += 1
    return beta


@pytest.mark.parametrize("batch, key, dtype", [(64, 0, np.float64), (64, 1, np.float64),
                                               (96, 0, np.float32)])
def test_streaming_equals_sgd_over_its_documented_order(batch, key, dtype):
    """chunk_rows = 192 < n: chunks of 192, 192, 128 slots (64) or 192 x 3 with 64 empty
    slots (96: N = 576). In float32 the agreement is to float32 rounding."""
    X, Y, W, O, _, _ = _data()
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    cfg = dataclasses.replace(SGD_CFG, batch_size=batch, key=key)
    order = _sgd.epoch_order(cfg, N, 0, 192)
    assert sorted(order) == list(range(order.size))
    assert np.count_nonzero(np.diff(order // 192)) == 2  # whole chunks, one after another
    beta, status, n_iter, loss, gnorm = _sgd.fit_streaming(
        X.astype(dtype), Y[:2], W[:2], O[:2], config=cfg, tol=1e-9, max_iter=2,
        beta0=np.zeros(P), chunk_rows=192,
    )
    assert beta.dtype == dtype
    assert list(np.asarray(status)) == [Status.MAX_ITER] * 2 and list(np.asarray(n_iter)) == [2, 2]
    pr = _problem()
    beta, loss, gnorm = np.asarray(beta), np.asarray(loss), np.asarray(gnorm)
    for m in (0, 1):
        ref = _numpy_sgd(cfg, X, Y[m], W[m], O[m], np.zeros(P), 2, 192)
        np.testing.assert_allclose(beta[m], ref, rtol=rtol)
        np.testing.assert_allclose(loss[m], _value(jnp.asarray(ref), _model(pr, m)), rtol=rtol)
        g = np.asarray(_grad(jnp.asarray(ref), _model(pr, m)))
        np.testing.assert_allclose(gnorm[m], np.max(np.abs(g)), rtol=100 * rtol)
    if key == 1:
        other = _sgd.fit_streaming(
            X, Y[:2], W[:2], O[:2], config=dataclasses.replace(cfg, key=0), tol=1e-9,
            max_iter=2, beta0=np.zeros(P), chunk_rows=192,
        )[0]
        assert np.max(np.abs(np.asarray(other) - np.asarray(beta))) > 1e-6


def test_streaming_with_one_chunk_equals_the_in_memory_run():
    X, Y, W, O, _, _ = _data()
    assert np.array_equal(_sgd.epoch_order(SGD_CFG, N, 4, 10**6), _sgd.epoch_order(SGD_CFG, N, 4))
    stream = _sgd.fit_streaming(X, Y[:2], W[:2], O[:2], config=SGD_CFG, tol=1e-9, max_iter=3,
                                beta0=np.zeros(P))
    mem = jax.tree_util.tree_map(np.asarray, _run_batch(_problem(), _starts(), 1e-9, 3,
                                                        config=SGD_CFG))
    np.testing.assert_allclose(stream[0], mem.beta[:2], rtol=1e-13)
    np.testing.assert_array_equal(stream[1], mem.status[:2])
    np.testing.assert_array_equal(stream[2], mem.n_iter[:2])
    np.testing.assert_allclose(stream[3], mem.loss[:2], rtol=1e-13)


# --- settings and input checks -------------------------------------------------------------


def test_settings_are_checked_and_hashable():
    assert _sgd.adam(0.1) == _sgd.adam(0.1) and hash(_sgd.adam(0.1)) == hash(_sgd.adam(0.1))
    assert SGD_CFG == dataclasses.replace(SGD_CFG) and hash(_sgd.SGD()) == hash(_sgd.SGD())
    k = jax.random.key(5)
    np.testing.assert_array_equal(
        jax.random.key_data(_sgd.SGD(key=k).prng_key()), jax.random.key_data(k)
    )
    np.testing.assert_array_equal(
        _sgd.epoch_order(_sgd.SGD(key=k), 100, 2), _sgd.epoch_order(_sgd.SGD(key=5), 100, 2)
    )
    for kw, name in [({"batch_size": 0}, "batch_size"), ({"epochs": -1}, "epochs"),
                     ({"learning_rate": -0.1}, "learning_rate"),
                     ({"optimizer": optax.adam(0.1), "learning_rate": 0.1}, "learning_rate"),
                     ({"optimizer": "adam"}, "optimizer"), ({"key": "x"}, "key")]:
        with pytest.raises(ValueError, match=f"^{name}:"):
            _sgd.SGD(**kw)


def test_fit_streaming_rejects_bad_input_naming_the_first_bad_entry():
    X, Y, W, O, _, _ = _data()
    Xbad = X.copy()
    Xbad[7, 2] = np.inf
    Ybad = Y[:2].copy()
    Ybad[1, 9] = 2.0
    Wbad = W[:2].copy()
    Wbad[1] = 0.0
    fit = functools.partial(_sgd.fit_streaming, config=SGD_CFG, tol=1e-6)
    with pytest.raises(ValueError, match=r"^X: not finite at index \(7, 2\)"):
        fit(Xbad, Y[0])
    with pytest.raises(ValueError, match=r"^y: label not in \{0, 1\} at index \(1, 9\)"):
        fit(X, Ybad)
    with pytest.raises(ValueError, match=r"^weights: all zero at index \(1,\)"):
        fit(X, Y[:2], Wbad)
    with pytest.raises(ValueError, match="^y, weights, offset"):
        fit(X, Y[:2], W[:3])
    with pytest.raises(ValueError, match="^beta0"):
        fit(X, Y[0], beta0=np.zeros(P + 1))
