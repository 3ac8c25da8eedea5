"""Minibatch stochastic gradient methods through optax, for one model, written to be vmapped
over many. The streaming driver for data that does not fit in device memory,
:func:`fit_streaming`, runs the same epochs over chunks of rows
(:mod:`jaxlogreg.solvers._streaming`).

One :func:`step` is one epoch: a pass over the rows in minibatches of ``b`` rows, each
followed by an optax update, then the full-data decision.

Minibatch gradient (unbiased). The ``n`` rows are laid out in ``N = ceil(n / b) * b``
slots; slots ``n .. N - 1`` are empty (weight 0), so the last partial batch is neither
dropped nor given a shape of its own: its missing rows are spread at random over the
epoch's batches. A batch is ``b`` slots ``B_k`` of the epoch's row order and::

    g_k = (N / b) * sum_{i in B_k} w_i (mu_i - y_i) x_i / sum_i w_i  +  l2 * pf * beta

(:func:`minibatch_gradient`; conventions of :mod:`jaxlogreg._loss`). Each ``B_k`` is a
uniformly random ``b``-subset of the slots, so ``E g_k`` is the full smooth gradient, and
the average of ``g_k`` over the ``N / b`` batches of one epoch is exactly that gradient
(every slot is visited once). The L1 term ``l1 * sum_j pf_j |beta_j|`` is handled by a
proximal step after each update, ``beta_j <- sign(beta_j) max(|beta_j| - lr_t l1 pf_j,
0)`` (proximal SGD; Parikh and Boyd, *Proximal Algorithms*, 2014, sec. 4.2), which needs the
learning rate ``lr_t`` of update ``t``: only plain SGD (``optimizer=None``) has one, so an L1
term with any other optax transform is refused (:attr:`SGD.handles_l1`; :func:`init` and
:func:`step` raise a ``ValueError`` while tracing such a problem).

Row order (deterministic for a given key). Epoch ``e`` splits ``fold_in(key, e)`` into
``(k_chunks, k_rows)``; the slots are cut into chunks (one chunk of ``N`` slots in memory,
``chunk_rows``-sized chunks in :func:`fit_streaming`); the chunks are visited in the order
``permutation(k_chunks, K)`` and the slots of chunk ``c`` in the order
``permutation(fold_in(k_rows, c), size_c)`` (:func:`epoch_order`). In memory this is a
uniform permutation of all slots; streaming with one chunk gives the same order as in
memory.

Every model of a vmapped batch uses the same row order. Over a design ``X`` ``(n, p)``
shared by the batch, the minibatch design ``X[B_k]`` ``(b, p)`` is then gathered once per
update and shared: the ``B`` models' linear predictors and gradients are the matrix products
``(B, p) @ (p, b)`` and ``(B, b) @ (b, p)``, and ``X`` is never copied per model (only the
per-model ``y``, ``w``, offset are gathered per model). The order must be unbatched for
that: under ``jax.vmap(..., axis_name=axis_name)`` the epoch number is reduced over the axis
(the largest ``n_iter`` among running models, the same for all of them when they start
together as :func:`run` starts them). Under a ``vmap`` without ``axis_name`` each model
draws its own permutation and gathers its own ``X[B_k]``: correct, but slower.

Learning rate. ``SGD()`` is ``optax.sgd`` with the constant rate ``1 / L``,
``L = 0.25 * sum_i w_i ||x_i||^2 / sum_i w_i + l2 * max_j pf_j``, an upper bound on the
largest eigenvalue of the Hessian (``mu (1 - mu) <= 1/4`` and ``lambda_max <= trace``): the
step of gradient descent that always decreases the loss, computed per model. A constant
rate leaves SGD in a noise ball around the optimum whose size scales with the rate; a
decaying schedule (``SGD(learning_rate=optax.exponential_decay(...))``) or Adam with a
decaying rate reaches tighter tolerances. ``adam(...)`` gives ``SGD(optax.adam(...))``.
One rate serves every coefficient, so columns on very different scales make the well-scaled
ones crawl (the bound ``L`` is set by the largest): standardize the columns of ``X`` first
and map the coefficients back (``coef_j / s_j``, intercept less ``sum_j coef_j m_j / s_j``).

Decision after each epoch (and at the start), from the full data (first match wins;
:func:`init` first stops a model with ``INVALID`` data, as Newton's does):

* ``NONFINITE``: ``beta`` or the gradient (at the start, also the loss) is not finite. A
  model that becomes nonfinite during an epoch keeps the state (``beta``, ``grad``,
  ``n_iter``) of the last epoch that ended finite.
* ``CONVERGED``: ``max_j |s_j| <= max(tol, floor_j)``, ``s`` the minimum-norm subgradient
  (:func:`jaxlogreg._loss.min_norm_subgradient`; the gradient without an L1 term) and
  ``floor_j`` its rounding bound (:func:`jaxlogreg.solvers._common.gradient_floor`).
* ``MAX_ITER``: ``min(max_iter, config.epochs)`` epochs done; ``SEPARATED`` instead when
  ``beta`` itself is a recession direction (every positively weighted row on its observed
  side, no penalty on ``beta``: :func:`jaxlogreg.solvers._common.recession`, shared with
  the other solvers), which certifies that no finite minimiser exists. The test costs
  several passes over the rows, so it runs only at the bound. Newton's second test (a row
  fitted with probability 1 to working precision) is not used: a too-large learning rate
  puts rows there without any separation.

``n_iter`` counts epochs. ``SGD.epochs`` is the solver's own bound and ``max_iter`` (from
:func:`jaxlogreg.fit`) caps it: the smaller wins. A stopped model is frozen bit for bit:
:func:`step` returns its state unchanged.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any, ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from .. import _loss
from .._status import Status
from . import _common, _driver
from ._driver import Context, Point, Proposal, State

Array = jax.Array

__all__ = [
    "SGD",
    "SGDState",
    "SGDMemory",
    "adam",
    "init",
    "step",
    "run",
    "minibatch_gradient",
    "epoch_order",
    "fit_streaming",
]

_RUNNING = int(Status.RUNNING)


def _key_value(key):
    """An int seed, or ``(impl, data)`` with ``data`` a tuple of ints, for ``key``."""
    if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
        return int(key)
    if isinstance(key, tuple) and len(key) == 2 and isinstance(key[0], str):
        return (key[0], tuple(int(v) for v in key[1]))
    if isinstance(key, jax.core.Tracer):
        raise ValueError("key: must be concrete (an int seed or a PRNG key), not traced")
    try:
        arr = jnp.asarray(key) if not hasattr(key, "dtype") else key
        if jnp.issubdtype(arr.dtype, jax.dtypes.prng_key):
            impl = str(jax.random.key_impl(arr))
            data = jax.random.key_data(arr)
        elif arr.dtype == jnp.uint32 and arr.ndim == 1:
            impl, data = str(jax.random.key_impl(jax.random.key(0))), arr
        else:
            raise TypeError
    except (TypeError, ValueError):
        raise ValueError(
            f"key: expected an int seed or a PRNG key, got {type(key).__name__}"
        ) from None
    if data.ndim != 1:
        raise ValueError(f"key: expected a single PRNG key, got shape {data.shape}")
    return (impl, tuple(int(v) for v in np.asarray(data)))


@dataclasses.dataclass(frozen=True)
class SGD(_driver.Solver):
    """Settings of the minibatch stochastic gradient solver; pass as
    ``fit(..., solver=SGD(...))``. Hashable (a static ``jit`` argument).

    Attributes:
      optimizer: an optax ``GradientTransformation`` fed the minibatch gradient of the
        smooth part; None for plain SGD, ``optax.sgd(learning_rate)``. Transforms compare
        by identity: reuse one object (or :func:`adam`, which caches them) across calls, or
        every call compiles anew.
      learning_rate: plain SGD's rate (only with ``optimizer=None``): a positive float, an
        optax schedule (a function of the update count ``t``, e.g.
        ``optax.exponential_decay``), or None for the constant ``1 / L`` of the module
        docstring, computed per model.
      batch_size: rows per minibatch ``b`` (``min(b, n)`` is used).
      epochs: bound on epochs; ``max_iter`` from ``fit`` caps it (the smaller wins).
      key: the PRNG key of the row order: an int seed (``jax.random.key(seed)``) or a PRNG
        key, which is stored as ``(impl, key data)`` ints so that the settings stay
        hashable (:meth:`prng_key` rebuilds it).
    """

    optimizer: optax.GradientTransformation | None = None
    learning_rate: float | Callable[[Array], Array] | None = None
    batch_size: int = 256
    epochs: int = 20
    key: Any = 0

    name: ClassVar[str] = "sgd"
    uses_hessian: ClassVar[bool] = False
    resumable: ClassVar[bool] = False
    synchronized: ClassVar[bool] = True  # the models of a batch share their row order
    tests_direction: ClassVar[bool] = False
    margin_test: ClassVar[bool] = False
    failure: ClassVar[Status] = Status.NONFINITE

    def __post_init__(self):
        for field, low in (("batch_size", 1), ("epochs", 0)):
            v = getattr(self, field)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < low:
                raise ValueError(f"{field}: must be an integer >= {low}, got {v!r}")
            object.__setattr__(self, field, int(v))
        opt = self.optimizer
        if opt is not None and not (callable(getattr(opt, "init", None)) and callable(
            getattr(opt, "update", None)
        )):
            raise ValueError(
                f"optimizer: expected an optax GradientTransformation or None, got "
                f"{type(opt).__name__}"
            )
        lr = self.learning_rate
        if lr is not None:
            if opt is not None:
                raise ValueError(
                    "learning_rate: applies to plain SGD only (optimizer=None); set the rate "
                    "inside the optax optimizer instead"
                )
            number = isinstance(lr, (int, float, np.floating)) and not isinstance(lr, bool)
            if not callable(lr) and not (number and lr > 0):
                raise ValueError(
                    f"learning_rate: expected a positive float, a schedule or None, got {lr!r}"
                )
        object.__setattr__(self, "key", _key_value(self.key))

    @property
    def handles_l1(self) -> bool:
        """Whether an L1 term can be minimised: only plain SGD, by its proximal step.

        (Read on the class, the attribute is the property object, which is truthy: the
        default settings, plain SGD, do handle L1.)
        """
        return self.optimizer is None

    def prng_key(self) -> Array:
        """The typed PRNG key that ``key`` stands for."""
        if isinstance(self.key, int):
            return jax.random.key(self.key)
        impl, data = self.key
        return jax.random.wrap_key_data(jnp.asarray(data, jnp.uint32), impl=impl)

    def rows_per_step(self, n: int) -> int:
        return min(n, self.batch_size)

    def search(self) -> _driver.Accept:
        return _driver.Accept()

    def bound(self, ctx: Context) -> Array:
        """The epoch bound: ``min(max_iter, epochs)``."""
        return jnp.minimum(ctx.max_iter, self.epochs)

    def initial_memory(self, problem: _loss.Problem, beta0: Array) -> SGDMemory:
        _check(problem, self)
        if self.learning_rate is None or callable(self.learning_rate):
            rate = _auto_rate(problem)
        else:
            rate = jnp.asarray(self.learning_rate, problem.X.dtype)
        return SGDMemory(rate, _transform(self, rate).init(beta0))

    def trial(self, problem: _loss.Problem, state: State, ctx: Context):
        """One epoch of minibatch updates from ``state.beta`` (none before the start)."""
        _check(problem, self)
        first = state.n_iter < 0
        n = problem.X.shape[0]
        b, n_slots, _ = _layout(self, n)

        def epoch(_):
            order = _chunk_slots(_epoch_keys(self, _shared_epoch(state, ctx.axis_name))[1], 0,
                                 n_slots)
            scale = n_slots / (b * _loss.weight_sum(problem))
            updates = state.n_iter * (n_slots // b)
            beta, opt_state = _updates(problem, state.beta, state.memory.opt_state, order, scale,
                                       updates, state.memory.rate, self, b)
            return beta, state.memory._replace(opt_state=opt_state)

        live = (state.status == int(Status.RUNNING)) & ~first
        return jax.lax.cond(_common.any_model(live, ctx.axis_name), epoch,
                            lambda _: (state.beta, state.memory), None)

    def propose(self, problem: _loss.Problem, beta: Array, point: Point, state: State,
                accept: Array, ctx: Context) -> Proposal:
        sub = _loss.min_norm_subgradient(beta, point.grad, problem)
        converged = jnp.all(jnp.abs(sub) <= jnp.maximum(ctx.tol, state.grad_floor))
        out = state.n_iter + 1 >= self.bound(ctx)
        consult = point.finite & ~converged & out

        def separated(_):
            # beta as a direction: X beta = eta - offset. An L1 term grows linearly along
            # it, so the certificate needs beta off the L1-penalised coefficients.
            recession, _ = _common.recession(problem, _loss.without_offset(point.eta, problem),
                                             beta)
            return recession & (_loss.l1_penalty(beta, problem) <= 0)

        sep = jax.lax.cond(_common.any_model(consult, ctx.axis_name), separated,
                           lambda _: jnp.zeros((), bool), None)
        zero = jnp.zeros_like(beta)
        false = jnp.zeros((), bool)
        return Proposal(zero, jnp.zeros((), beta.dtype), None, false, false, converged,
                        jnp.all(jnp.isfinite(beta)), consult & sep, false,
                        jnp.ones((), beta.dtype), state.memory)


class SGDMemory(NamedTuple):
    """SGD's own state: ``rate ()`` plain SGD's constant rate (``learning_rate``, or the
    automatic ``1 / L``; unused when a schedule or an optax optimizer sets the rate) and
    ``opt_state`` the optax state."""

    rate: Array
    opt_state: Any


@functools.lru_cache(maxsize=64)
def _cached_adam(learning_rate, kw_items):
    return optax.adam(learning_rate, **dict(kw_items))


def adam(learning_rate=1e-2, *, batch_size: int = 256, epochs: int = 20, key=0, **kw) -> SGD:
    """``SGD(optimizer=optax.adam(learning_rate, **kw), ...)``: Adam on minibatches
    (Kingma and Ba, 2015). ``learning_rate`` may be an optax schedule. Equal hashable
    arguments give the same transform object, so repeated calls do not recompile. No L1."""
    try:
        tx = _cached_adam(learning_rate, tuple(sorted(kw.items())))
    except TypeError:  # an unhashable argument: no caching
        tx = optax.adam(learning_rate, **kw)
    return SGD(optimizer=tx, batch_size=batch_size, epochs=epochs, key=key)


SGDState = State


# --- row order -------------------------------------------------------------------------


def _layout(config: SGD, n: int, chunk_rows: int | None = None) -> tuple[int, int, list]:
    """``(b, N, sizes)``: batch size, slot count ``N = ceil(n / b) * b`` and chunk sizes
    (multiples of ``b`` summing to ``N``; one chunk unless ``chunk_rows`` is given, which
    is rounded down to a multiple of ``b``, at least ``b``)."""
    b = min(config.batch_size, n)
    n_slots = -(-n // b) * b
    chunk = n_slots if chunk_rows is None else min(n_slots, max(b, chunk_rows // b * b))
    k = -(-n_slots // chunk)
    return b, n_slots, [chunk] * (k - 1) + [n_slots - (k - 1) * chunk]


def _epoch_keys(config: SGD, epoch) -> tuple[Array, Array]:
    k_chunks, k_rows = jax.random.split(jax.random.fold_in(config.prng_key(), epoch))
    return k_chunks, k_rows


def _chunk_slots(k_rows: Array, chunk, size: int) -> Array:
    """``(size,)`` order of the slots of chunk ``chunk`` (offsets within the chunk)."""
    return jax.random.permutation(jax.random.fold_in(k_rows, chunk), size)


def epoch_order(config: SGD, n: int, epoch: int, chunk_rows: int | None = None) -> np.ndarray:
    """``(N,)`` slots in the order epoch ``epoch`` visits them (module docstring): in
    memory (``chunk_rows=None``) or as :func:`fit_streaming` walks them. Slots ``>= n`` are
    empty; consecutive runs of ``min(config.batch_size, n)`` slots are the minibatches."""
    _, _, sizes = _layout(config, n, chunk_rows)
    k_chunks, k_rows = _epoch_keys(config, epoch)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    chunks = np.asarray(jax.random.permutation(k_chunks, len(sizes)))
    return np.concatenate(
        [starts[c] + np.asarray(_chunk_slots(k_rows, int(c), sizes[c])) for c in chunks]
    )


# --- one model -------------------------------------------------------------------------


def _check(problem: _loss.Problem, config: SGD) -> None:
    if not isinstance(config, SGD):
        raise ValueError(f"config: expected SGD settings, got {type(config).__name__}")
    if problem.l1 is not None and not config.handles_l1:
        raise ValueError(
            "config: an L1 term needs plain SGD (optimizer=None), whose proximal step uses "
            "its learning rate; an optax optimizer has no rate the step could use"
        )


def _batch_gradient(beta: Array, problem: _loss.Problem, slots: Array, scale) -> Array:
    """``(p,)`` ``scale * X_b^T (w_b (mu_b - y_b)) + l2 pf beta`` over the slots ``slots``
    ``(b,)``; slots ``>= n`` count with weight 0."""
    n = problem.X.shape[0]
    take = functools.partial(jnp.take, indices=slots, axis=0, mode="clip")
    w = jnp.where(slots < n, take(problem.weights), 0.0)
    batch = problem._replace(
        X=take(problem.X), y=take(problem.y), weights=w,
        offset=None if problem.offset is None else take(problem.offset),
        products=None,
    )
    _, mu, _ = _loss.pointwise(_loss.linear_predictor(beta, batch), batch.y)
    return _loss.gradient_from_rows(scale * w * (mu - batch.y), beta, batch)


def minibatch_gradient(
    beta: Array, problem: _loss.Problem, slots: Array, n_slots: int | None = None
) -> Array:
    """``(p,)`` unbiased minibatch estimate of the smooth gradient at ``beta`` ``(p,)``:
    ``(N / b) * sum_{i in slots} w_i (mu_i - y_i) x_i / sum_i w_i + l2 pf beta`` with
    ``slots`` ``(b,)`` int indices in ``[0, N)``, ``N = n_slots`` (default ``n``); slots
    ``>= n`` are empty (weight 0)."""
    n_slots = problem.X.shape[0] if n_slots is None else n_slots
    scale = n_slots / (slots.shape[0] * jnp.sum(problem.weights))
    return _batch_gradient(beta, problem, slots, scale)


def _transform(config: SGD, rate: Array) -> optax.GradientTransformation:
    if config.optimizer is not None:
        return config.optimizer
    lr = config.learning_rate if callable(config.learning_rate) else rate
    return optax.sgd(lr)


def _rate_at(config: SGD, rate: Array, count: Array) -> Array:
    """Plain SGD's learning rate at update ``count`` (from 0)."""
    return config.learning_rate(count) if callable(config.learning_rate) else rate


def _prox(beta: Array, lr: Array, problem: _loss.Problem) -> Array:
    """Soft-thresholding ``sign(beta) max(|beta| - lr l1 pf, 0)``, the proximal map of
    ``lr`` times the L1 term (identity without one)."""
    if problem.l1 is None:
        return beta
    c = lr * problem.l1 * problem.penalty_factor
    return (jnp.sign(beta) * jnp.maximum(jnp.abs(beta) - c, 0.0)).astype(beta.dtype)


def _updates(problem, beta, opt_state, order, scale, first, rate, config, batch_size):
    """Minibatch updates over the slots ``order`` (a multiple of ``batch_size`` long), the
    first being update number ``first``; returns ``(beta, opt_state)``."""
    tx = _transform(config, rate)

    def body(k, carry):
        beta, opt_state = carry
        slots = jax.lax.dynamic_slice_in_dim(order, k * batch_size, batch_size)
        grad = _batch_gradient(beta, problem, slots, scale)
        updates, opt_state = tx.update(grad, opt_state, beta)
        beta = optax.apply_updates(beta, updates)
        return _prox(beta, _rate_at(config, rate, first + k), problem), opt_state

    return jax.lax.fori_loop(0, order.shape[0] // batch_size, body, (beta, opt_state))


def _auto_rate(problem: _loss.Problem) -> Array:
    """``1 / L``, ``L = 0.25 sum_i w_i ||x_i||^2 / sum_i w_i + l2 max_j pf_j``."""
    w = problem.weights
    sq = jnp.sum(problem.X * problem.X, axis=1)
    curv = 0.25 * jnp.dot(w, sq) / jnp.sum(w)
    return 1.0 / (curv + problem.l2 * jnp.max(problem.penalty_factor))


def _shared_epoch(state: State, axis_name: str | None) -> Array:
    """Epoch number that sets the row order: the model's own, or under a named axis the
    largest among running models (unbatched, so the order is shared)."""
    if axis_name is None:
        return state.n_iter
    running = state.status == int(Status.RUNNING)
    return jax.lax.pmax(jnp.where(running, state.n_iter, 0), axis_name)


init, step, run = _driver.functions(SGD)


# The streaming driver runs these epochs over chunks of rows held in host memory; it is
# importable from here, where it was first defined (it imports this module, so it comes
# last).
from ._streaming import fit_streaming  # noqa: E402
