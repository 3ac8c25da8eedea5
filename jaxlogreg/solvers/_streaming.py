"""Streaming SGD: :func:`fit_streaming` fits ``B`` models over one design held in host memory,
moving one chunk of rows to the device at a time.

It runs the epochs of :mod:`jaxlogreg.solvers._sgd` (its row order, minibatch updates and
optax transforms) over chunks instead of the whole design, and decides after each epoch
from the full loss and gradient, summed chunk by chunk. Host side: the checks of the data,
the start and the per-model constants (float64 NumPy). Device side: three jitted programs,
the updates over one chunk (:func:`_stream_updates`), the sums over one chunk
(:func:`_stream_sums`) and the decision from the sums (:func:`_stream_assess`).
"""

from __future__ import annotations

import functools
import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .. import _loss, _validate
from .._status import Status
from ._sgd import _RUNNING, SGD, _chunk_slots, _epoch_keys, _layout, _transform, _updates

Array = jax.Array

__all__ = ["fit_streaming"]


class _StreamState(NamedTuple):
    """One model's state in :func:`fit_streaming` (after a whole number of epochs)."""

    beta: Array
    loss: Array
    grad: Array
    grad_floor: Array
    rate: Array
    opt_state: Any
    n_iter: Array
    status: Array


def _status(finite, converged, separated, n_iter, bound) -> Array:
    """``()`` int32 status from the tests of :mod:`jaxlogreg.solvers._sgd`'s docstring (first
    match wins)."""
    return jnp.select(
        [~finite, converged, n_iter >= bound],
        [
            int(Status.NONFINITE),
            int(Status.CONVERGED),
            jnp.where(separated, int(Status.SEPARATED), int(Status.MAX_ITER)),
        ],
        _RUNNING,
    ).astype(jnp.int32)


def _commit(state: _StreamState, new: _StreamState) -> _StreamState:
    """``new`` for a running model whose epoch ended finite; else ``state`` (with status
    ``NONFINITE`` for a running model whose epoch did not)."""
    moving = state.status == _RUNNING
    bad = new.status == int(Status.NONFINITE)
    out = jax.tree_util.tree_map(lambda a, b: jnp.where(moving & ~bad, a, b), new, state)
    return out._replace(status=jnp.where(moving & bad, jnp.int32(Status.NONFINITE), out.status))


@functools.partial(jax.jit, static_argnames=("config", "batch_size"))
def _stream_updates(beta, opt_state, rate, Xc, Yc, Wc, Oc, l2, pf, k_rows, c, scale, first,
                    *, config, batch_size):
    """Updates of all ``B`` models over one chunk ``Xc`` ``(m, p)``, ``Yc``/``Wc``/``Oc``
    ``(B, m)``, in the chunk's slot order (shared by the models)."""
    order = _chunk_slots(k_rows, c, Xc.shape[0])

    def one(beta, opt_state, rate, y, w, o, scale):
        problem = _loss.model_problem(Xc, y, w, o, alpha=l2, penalty_factor=pf)
        return _updates(problem, beta, opt_state, order, scale, first, rate, config, batch_size)

    return jax.vmap(one)(beta, opt_state, rate, Yc, Wc, Oc, scale)


@jax.jit
def _stream_sums(beta, Xc, Yc, Wc, Oc):
    """Per model over one chunk: ``sum_i w_i l_i`` ``(B,)`` and ``X_c^T (w (mu - y))``
    ``(B, p)``."""

    def one(beta, y, w, o):
        problem = _loss.model_problem(Xc, y, w, o)
        loss, mu, _ = _loss.pointwise(_loss.linear_predictor(beta, problem), y)
        return jnp.sum(w * loss), _loss.design_transpose_times(w * (mu - y), problem)

    return jax.vmap(one)(beta, Yc, Wc, Oc)


@jax.jit
def _stream_assess(beta, wl, xr, wsum, l2, pf, floor, n_iter, tol, bound):
    """``(loss, grad, status)`` of each model from the chunk sums ``wl``, ``xr``."""

    def one(beta, wl, xr, wsum, floor, n_iter):
        # The objective and smooth gradient of jaxlogreg._loss, assembled from chunk sums.
        loss = wl / wsum + 0.5 * l2 * jnp.sum(pf * beta * beta)
        grad = xr / wsum + l2 * pf * beta
        finite = jnp.isfinite(loss) & jnp.all(jnp.isfinite(beta)) & jnp.all(jnp.isfinite(grad))
        converged = jnp.all(jnp.abs(grad) <= jnp.maximum(tol, floor))
        return loss, grad, _status(finite, converged, jnp.zeros((), bool), n_iter, bound)

    return jax.vmap(one)(beta, wl, xr, wsum, floor, n_iter)


@jax.jit
def _stream_commit(state, new):
    return jax.vmap(_commit)(state, new)


def _host_array(name, a, n, dtype_fill):
    """``a`` as a float64 NumPy array ``(n,)`` or ``(B, n)``, or a fill when None."""
    if a is None:
        return np.full((n,), dtype_fill)
    a = np.asarray(a, dtype=np.float64)
    if a.ndim not in (1, 2) or a.shape[-1] != n:
        raise ValueError(f"{name}: expected shape (n,) or (B, n) with n = {n}, got {a.shape}")
    return a


def _first_bad(name, ok, what):
    if not ok.all():
        raise ValueError(f"{name}: {what} at index {_validate._first(~ok)}")


def _checked(X, y, weights, offset, config, tol, max_iter, l2, chunk_rows):
    """The arguments of :func:`fit_streaming` checked (its ``Raises``): ``(X, y, weights,
    offset, batch, max_iter, chunk_rows)``, the data as NumPy arrays (``y``, ``weights``,
    ``offset`` float64 ``(n,)`` or ``(B, n)``), ``batch`` their broadcast model axes, and the
    defaults filled in."""
    if not isinstance(config, SGD):
        raise ValueError(f"config: expected SGD settings, got {type(config).__name__}")
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"X: expected a (n, d) array with n >= 1, got shape {X.shape}")
    n, d = X.shape
    y = _host_array("y", y, n, 0.0)
    weights = _host_array("weights", weights, n, 1.0)
    offset = _host_array("offset", offset, n, 0.0)
    try:
        batch = np.broadcast_shapes(*(a.shape[:-1] for a in (y, weights, offset)))
    except ValueError:
        raise ValueError(
            f"y, weights, offset: leading (model) axes do not broadcast: {y.shape}, "
            f"{weights.shape}, {offset.shape}"
        ) from None
    _first_bad("X", np.isfinite(X), "not finite")
    _first_bad("y", np.isfinite(y) & ((y == 0) | (y == 1)), "label not in {0, 1}")
    _first_bad("weights", np.isfinite(weights) & (weights >= 0), "negative or not finite")
    _first_bad("weights", np.broadcast_to(weights, batch + (n,)).sum(-1) > 0, "all zero")
    _first_bad("offset", np.isfinite(offset), "not finite")
    if not float(tol) > 0:
        raise ValueError(f"tol: must be positive, got {tol}")
    max_iter = config.epochs if max_iter is None else int(max_iter)
    if max_iter < 0:
        raise ValueError(f"max_iter: must be nonnegative, got {max_iter}")
    if not (np.isfinite(l2) and l2 >= 0):
        raise ValueError(f"l2: must be finite and nonnegative, got {l2}")
    if chunk_rows is None:
        chunk_rows = 2**24 // max(math.prod(batch), d, 1)
    elif int(chunk_rows) < 1:
        raise ValueError(f"chunk_rows: must be a positive integer, got {chunk_rows}")
    return X, y, weights, offset, batch, max_iter, int(chunk_rows)


def _start(beta0, Y, W, wsum, p: int, fit_intercept: bool) -> np.ndarray:
    """``(B, p)`` float64 start: ``beta0`` checked and broadcast, or (None) zero slopes and
    the intercept at the logit of each model's weighted mean response."""
    B = Y.shape[0]
    if beta0 is None:
        ybar = np.clip((W * Y).sum(axis=1) / wsum, 1e-6, 1 - 1e-6)
        beta0 = np.zeros((B, p))
        if fit_intercept:
            beta0[:, 0] = np.log(ybar) - np.log1p(-ybar)
    beta0 = np.asarray(beta0, dtype=np.float64)
    if beta0.shape not in ((p,), (B, p)) or not np.isfinite(beta0).all():
        raise ValueError(f"beta0: expected finite values of shape ({p},) or ({B}, {p}), got "
                         f"{beta0.shape}")
    return np.broadcast_to(beta0, (B, p))


def _constants(X, W, wsum, pf, config: SGD, l2, fit_intercept: bool, dtype):
    """``(rate (B,), floor (B, p))`` from host sums in float64: plain SGD's rate ``1 / L``
    (or the constant ``learning_rate``) and the rounding floor of
    :func:`jaxlogreg.solvers._common.gradient_floor`, per model."""
    n = X.shape[0]
    sq = np.einsum("ij,ij->i", X, X, dtype=np.float64) + float(fit_intercept)
    colsq = np.einsum("ij,ij->j", X, X, dtype=np.float64)
    if fit_intercept:
        colsq = np.concatenate([[float(n)], colsq])
    if config.learning_rate is None or callable(config.learning_rate):
        rate = 1.0 / (0.25 * (W @ sq) / wsum + l2 * pf.max())
    else:
        rate = np.full(W.shape[0], float(config.learning_rate))
    eps = np.finfo(dtype).eps
    floor = eps * np.sqrt(colsq[None, :] * (W * W).sum(axis=1)[:, None]) / wsum[:, None]
    return rate, floor


def fit_streaming(
    X,
    y,
    weights=None,
    offset=None,
    *,
    config: SGD = SGD(),
    tol,
    max_iter=None,
    fit_intercept: bool = True,
    l2=0.0,
    beta0=None,
    chunk_rows: int | None = None,
):
    """Fit ``B`` models over one design held in host memory, streaming row chunks to the
    device.

    Each epoch visits the chunks of ``chunk_rows`` rows (rounded down to a multiple of the
    batch size ``b``) in the order ``permutation(k_chunks, K)`` and the slots of each chunk
    in the order ``permutation(fold_in(k_rows, c), size_c)``: that is the shuffling (module
    docstring, :func:`epoch_order`; with one chunk it is the in-memory order of
    :func:`run`). Only one chunk is on the device at a time: the minibatch updates of all
    models run on it (jitted, the chunk's design shared by the models), and at the end of
    the epoch the full loss and gradient are summed chunk by chunk in a second pass. Device
    memory is ``O(chunk_rows * (d + B))`` plus the models' states. Every chunk is moved to
    the device twice per epoch; at most two chunk shapes are compiled (the last chunk may be
    shorter).

    The decisions are those of :func:`step` except that separation is not tested (a
    separated model ends with ``MAX_ITER``) and there is no L1 term.

    Args:
      X: ``(n, d)`` host array, shared by every model.
      y: ``(n,)`` or ``(B, n)`` labels in {0, 1}.
      weights: ``(n,)`` or ``(B, n)`` nonnegative frequency weights, or None for ones.
      offset: ``(n,)`` or ``(B, n)``, or None for zeros.
      config: :class:`SGD` settings.
      tol: gradient tolerance (module docstring).
      max_iter: cap on epochs (None: ``config.epochs``).
      fit_intercept: prepend a column of ones (unpenalised).
      l2: L2 strength (``l2 / 2 * sum_j pf_j beta_j**2``, ``pf`` 0 for the intercept).
      beta0: ``(p,)`` or ``(B, p)`` start, ``p = d + fit_intercept``; None for zero slopes
        and the intercept at the logit of each model's weighted mean response.
      chunk_rows: rows per chunk; None for about ``2**24`` elements per ``(B, chunk)``
        array (at least one batch).

    Returns:
      ``(beta (..., p), status (...), n_iter (...), loss (...), grad_norm (...))`` as JAX
      arrays, ``(...)`` = ``(B,)``, or ``()`` when ``y``, ``weights`` and ``offset`` are all
      one-dimensional; ``grad_norm`` is ``max_j |grad_j|``.

    Raises:
      ValueError: for bad shapes, non-finite data, labels outside {0, 1}, negative weights,
        a model with all-zero weights, or bad settings, naming the argument and the first
        bad index.
    """
    X, y, weights, offset, batch, max_iter, chunk_rows = _checked(
        X, y, weights, offset, config, tol, max_iter, l2, chunk_rows)
    dtype = jax.dtypes.canonicalize_dtype(_validate.float_dtype(X))
    n, d = X.shape
    B, p = math.prod(batch), d + int(fit_intercept)
    Y, W, O = (np.broadcast_to(a, (B, n)) for a in (y, weights, offset))
    wsum = W.sum(axis=1)
    b, n_slots, sizes = _layout(config, n, chunk_rows)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int)
    beta0 = _start(beta0, Y, W, wsum, p, fit_intercept)

    def chunk(c):
        """Chunk ``c`` on the device, padded with empty rows to its slot count."""
        lo, size = starts[c], sizes[c]
        hi = min(lo + size, n)
        pad = size - (hi - lo)
        Xc = np.pad(np.asarray(X[lo:hi], dtype), ((0, pad), (0, 0)))
        if fit_intercept:
            Xc = np.concatenate([np.ones((size, 1), dtype), Xc], axis=1)
        rows = [np.pad(np.asarray(a[:, lo:hi], dtype), ((0, 0), (0, pad))) for a in (Y, W, O)]
        return [jnp.asarray(a) for a in (Xc, *rows)]

    pf_d = _loss.default_penalty_factor(p, fit_intercept, dtype)  # 0 for the intercept
    rate, floor = _constants(X, W, wsum, np.asarray(pf_d, np.float64), config, l2,
                             fit_intercept, dtype)
    as_dev = functools.partial(jnp.asarray, dtype=dtype)
    wsum_d, l2_d, tol_d, floor_d = as_dev(wsum), as_dev(l2), as_dev(tol), as_dev(floor)
    bound = jnp.asarray(min(max_iter, config.epochs), jnp.int32)
    scale = as_dev(n_slots / (b * wsum))

    def assess(beta, n_iter):
        wl, xr = jnp.zeros((B,), dtype), jnp.zeros((B, p), dtype)
        for c in range(len(sizes)):
            a, g = _stream_sums(beta, *chunk(c))
            wl, xr = wl + a, xr + g
        return _stream_assess(beta, wl, xr, wsum_d, l2_d, pf_d, floor_d, n_iter, tol_d, bound)

    beta, rate_d = as_dev(beta0), as_dev(rate)
    n_iter = jnp.zeros((B,), jnp.int32)
    opt_state = jax.vmap(lambda r, x: _transform(config, r).init(x))(rate_d, beta)
    loss, grad, status = assess(beta, n_iter)
    state = _StreamState(beta, loss, grad, floor_d, rate_d, opt_state, n_iter, status)

    per_epoch = n_slots // b
    for epoch in range(int(bound)):
        if not np.any(np.asarray(state.status) == _RUNNING):
            break
        k_chunks, k_rows = _epoch_keys(config, epoch)
        first = epoch * per_epoch
        beta, opt_state = state.beta, state.opt_state
        for c in np.asarray(jax.random.permutation(k_chunks, len(sizes))):
            beta, opt_state = _stream_updates(
                beta, opt_state, rate_d, *chunk(int(c)), l2_d, pf_d, k_rows, int(c), scale,
                jnp.asarray(first, jnp.int32), config=config, batch_size=b,
            )
            first += sizes[c] // b
        n_iter = state.n_iter + 1
        loss, grad, status = assess(beta, n_iter)
        new = _StreamState(beta, loss, grad, floor_d, rate_d, opt_state, n_iter, status)
        state = _stream_commit(state, new)

    out = (state.beta, state.status, state.n_iter, state.loss,
           jnp.max(jnp.abs(state.grad), axis=-1))
    return tuple(a.reshape(batch + a.shape[1:]) for a in out)
