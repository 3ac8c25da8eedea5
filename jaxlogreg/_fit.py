"""`fit`: batch broadcasting, the shared-design-matrix path, chunks of models."""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
from . import _loss, _validate, solvers
from ._batch import AXIS, default_chunk, shared_design, split_batch
from ._result import FitResult
from ._status import Status

Array = jax.Array

__all__ = ["fit", "default_tol", "DEFAULT_MAX_ITER"]

DEFAULT_MAX_ITER = 100

def default_tol(dtype) -> float:
    """Gradient tolerance by dtype: 1e-10 for float64, 1e-5 for float32 and narrower."""
    return 1e-10 if jnp.dtype(dtype) == jnp.float64 else 1e-5


def fit(
    X,
    y,
    *,
    weights=None,
    offset=None,
    fit_intercept: bool = True,
    solver="newton",
    tol=None,
    max_iter=None,
    init=None,
    chunk_size: int | None = None,
) -> FitResult:
    """Fit one logistic regression model or a batch of them.

    Minimises, for every model in the batch (conventions in :mod:`jaxlogreg._loss`)::

        f(beta) = (1 / sum_i w_i) * sum_i w_i * [softplus(eta_i) - y_i * eta_i],
        eta = X @ coef + intercept + offset.

    Args:
      X: ``(..., n, d)`` design matrix. A single ``(n, d)`` matrix is shared by every model
        of the batch and is never copied per model.
      y: ``(..., n)`` labels in {0, 1}.
      weights: ``(..., n)`` nonnegative frequency weights (a weight of 2 is the row twice),
        or None for ones. A ``(B, n)`` array over a shared ``X`` fits ``B`` models, e.g. one
        per bootstrap resample or train split (0 for held-out rows).
      offset: ``(..., n)`` known term added to the linear predictor, or None.
      fit_intercept: fit an unpenalised intercept (a leading column of ones).
      solver: a registered name (``"newton"``) or a settings object
        (:class:`jaxlogreg.Newton`).
      tol: convergence tolerance: the Newton solver stops when half the squared Newton
        decrement and every ``|grad_j f|`` are at most ``tol`` (the latter relaxed to the
        rounding bound of ``grad_j`` on columns of very large scale; see
        :mod:`jaxlogreg.solvers.newton`). None picks by dtype (:func:`default_tol`).
        Traced: changing it does not recompile.
      max_iter: iteration bound (default 100). Traced: changing it does not recompile.
      init: starting point: a :class:`FitResult` or an array ``(..., p)`` of parameters
        (intercept first when fitted, ``p = d + fit_intercept``) broadcasting against the
        batch. None: for a batch over one shared ``X``, the fit of all models pooled (for
        bootstrap and split batches, the full-data fit); otherwise zero slopes and the
        intercept at the logit of the mean response.
      chunk_size: models processed together (vectorised) at a time; the rest of the batch
        is looped over in chunks of this size. None picks one from ``n``.

    The leading (batch) axes of ``X``, ``y``, ``weights`` and ``offset`` broadcast together;
    the batch shape ``(...)`` is that broadcast shape (``()`` for one model). Computation is
    in ``X``'s floating dtype, or JAX's default float (float64 under ``jax_enable_x64``)
    when ``X`` is not floating.

    Returns:
      :class:`FitResult` with batch shape ``(...)``. Models that fail are reported through
      ``status``; nothing raises inside a batch.

    Raises:
      ValueError: at the Python boundary, for non-finite data, labels outside {0, 1},
        negative weights, a model whose weights are all zero, shapes that do not broadcast,
        or ``n = 0``, naming the argument and the first bad index.
    """
    config = solvers.resolve(solver)
    data = _validate.fit_inputs(X, y, weights, offset, fit_intercept=fit_intercept)
    dtype = data.X.dtype
    tol = default_tol(dtype) if tol is None else tol
    max_iter = DEFAULT_MAX_ITER if max_iter is None else max_iter
    if _validate._is_concrete(tol) and not float(tol) > 0:
        raise ValueError(f"tol: must be positive, got {tol}")
    if _validate._is_concrete(max_iter) and int(max_iter) < 0:
        raise ValueError(f"max_iter: must be nonnegative, got {max_iter}")
    n = data.X.shape[-2]
    if chunk_size is None:
        chunk_size = default_chunk(n)
    elif int(chunk_size) < 1:
        raise ValueError(f"chunk_size: must be a positive integer, got {chunk_size}")
    start = _validate.init_array(init, data, fit_intercept)
    return _fit(
        data.X,
        data.y,
        data.weights,
        data.offset,
        start,
        jnp.asarray(tol, dtype),
        jnp.asarray(max_iter, jnp.int32),
        batch_shape=data.batch_shape,
        fit_intercept=bool(fit_intercept),
        config=config,
        chunk_size=int(chunk_size),
    )


def _default_start(problem: _loss.Problem, fit_intercept: bool) -> Array:
    """Zero slopes; the intercept at the logit of the weighted mean response."""
    p = problem.X.shape[-1]
    beta = jnp.zeros((p,), problem.X.dtype)
    if fit_intercept:
        w = problem.weights
        ybar = jnp.clip(jnp.sum(w * problem.y) / jnp.sum(w), 1e-6, 1 - 1e-6)
        beta = beta.at[0].set(jnp.log(ybar) - jnp.log1p(-ybar))
    return beta


def _pooled_start(X, y, weights, offset, l2, pf, tol, max_iter, config, fit_intercept):
    """Starting point shared by a batch over one design: the fit of all models pooled.

    Summing every model's objective over a shared ``X`` gives one model with weights
    ``sum_b w_b`` and response ``sum_b w_b y_b / sum_b w_b`` (the loss is linear in ``y``).
    For bootstrap or split batches that is the full-data fit, a few Newton steps from each
    model's optimum. NaN when the pooled fit fails; each model then starts from its own
    :func:`_default_start`.
    """
    wsum = jnp.sum(weights, axis=0)
    ypool = jnp.sum(weights * y, axis=0) / jnp.where(wsum > 0, wsum, 1.0)
    pooled = _loss.Problem(X, ypool, wsum, jnp.mean(offset, axis=0), l2, pf)
    state = solvers.run(config, pooled, _default_start(pooled, fit_intercept), tol, max_iter)
    ok = (state.status == int(Status.CONVERGED)) & jnp.all(jnp.isfinite(state.beta))
    return jnp.where(ok, state.beta, jnp.nan)


# In the first round a chunk stops iterating once at most a quarter of its models
# (chunk // _STRAGGLER_SHARE) are still running; the second round finishes those stragglers,
# gathered from all chunks.
_STRAGGLER_SHARE = 4


def _fit_rounds(solve, mapped, B: int, p: int, dtype, chunk: int, max_iter):
    """Fit ``B`` models, ``chunk`` at a time, in two rounds over one compiled chunk body.

    Round 0 walks all models in order; a chunk stops with up to a quarter of its models
    still ``RUNNING``. Round 1 moves the unfinished models to the front (a stable sort on
    their status) and resumes them from their current ``beta`` with the iterations they
    have left, so a handful of slow models (separated ones, typically) cost a few extra
    chunks instead of holding up every chunk they sit in. A model's trajectory, and so its
    result and ``n_iter``, is the same as if it had run uninterrupted.

    ``solve(per_model, start, fresh, limit, leave)`` runs one model under ``vmap`` (axis
    ``AXIS``) and returns ``(beta, status, n_iter, loss, grad_norm)``.
    """
    chunk = min(chunk, B)
    out = (
        jnp.zeros((B, p), dtype),
        jnp.full((B,), int(Status.RUNNING), jnp.int32),
        jnp.zeros((B,), jnp.int32),
        jnp.zeros((B,), dtype),
        jnp.zeros((B,), dtype),
    )
    vsolve = jax.vmap(solve, in_axes=(0, 0, None, 0, None), axis_name=AXIS)

    def one_round(r, out):
        running = out[1] == int(Status.RUNNING)
        order = jnp.argsort(~running, stable=True)
        leave = jnp.where(r == 0, chunk // _STRAGGLER_SHARE, 0)

        def piece(c, out):
            beta, n_iter = out[0], out[2]
            first = jnp.minimum(c * chunk, B - chunk)
            idx = jax.lax.dynamic_slice_in_dim(order, first, chunk)
            # The last piece may overlap the one before it: skip what this round has done.
            todo = running[idx] & (first + jnp.arange(chunk) >= c * chunk)
            part = jax.tree_util.tree_map(lambda a: a[idx], mapped)
            new = vsolve(part, beta[idx], r == 0, max_iter - n_iter[idx], leave)
            new = (new[0], new[1], n_iter[idx] + new[2], new[3], new[4])
            return tuple(
                o.at[idx].set(jnp.where(todo.reshape((chunk,) + (1,) * (o.ndim - 1)), v, o[idx]))
                for o, v in zip(out, new)
            )

        return jax.lax.fori_loop(0, (jnp.sum(running) + chunk - 1) // chunk, piece, out)

    return jax.lax.fori_loop(0, 2, one_round, out)


@functools.partial(
    jax.jit, static_argnames=("batch_shape", "fit_intercept", "config", "chunk_size")
)
def _fit(X, y, weights, offset, init, tol, max_iter, *, batch_shape, fit_intercept, config, chunk_size):
    dtype = X.dtype
    d = X.shape[-1]
    p = d + int(fit_intercept)
    pf = _loss.default_penalty_factor(p, fit_intercept, dtype)
    l2 = jnp.zeros((), dtype)
    B = math.prod(batch_shape)

    # Arrays with batch axes are mapped over models; those without are shared, closed over,
    # and never broadcast to the batch.
    inputs = {"X": X, "y": y, "weights": weights, "offset": offset, "init": init}
    core = {"X": 2, "y": 1, "weights": 1, "offset": 1, "init": 1}
    mapped, shared = split_batch(inputs, core, batch_shape)
    products = None
    if "X" in shared:
        shared["X"], products = shared_design(shared["X"], fit_intercept, batch_shape)
        if products is not None and init is None:
            stacked = {k: mapped.get(k, shared.get(k)) for k in ("y", "weights", "offset")}
            stacked = {k: jnp.broadcast_to(v, (B, X.shape[-2])) for k, v in stacked.items()}
            shared["init"] = _pooled_start(
                shared["X"], stacked["y"], stacked["weights"], stacked["offset"],
                l2, pf, tol, max_iter, config, fit_intercept,
            )

    def solve(per_model, start, fresh, limit, leave, axis_name=AXIS):
        """One model from ``start``, or (``fresh``) from its own or the pooled start."""
        a = {**shared, **per_model}
        Xm = a["X"]
        if "X" in per_model and fit_intercept:
            Xm = _loss.add_intercept(Xm)
        problem = _loss.Problem(Xm, a["y"], a["weights"], a["offset"], l2, pf, products)
        own = _default_start(problem, fit_intercept)
        if "init" in a:
            own = jnp.where(jnp.all(jnp.isfinite(a["init"])), a["init"], own)
        start = jnp.where(fresh, own, start)
        state = solvers.run(config, problem, start, tol, limit, axis_name, leave)
        return state.beta, state.status, state.n_iter, state.loss, jnp.max(jnp.abs(state.grad))

    if not batch_shape:
        out = solve({}, jnp.zeros((p,), dtype), True, max_iter, 0, axis_name=None)
    elif B == 0:
        out = (jnp.zeros((0, p), dtype), jnp.zeros((0,), jnp.int32), jnp.zeros((0,), jnp.int32),
               jnp.zeros((0,), dtype), jnp.zeros((0,), dtype))
    else:
        out = _fit_rounds(solve, mapped, B, p, dtype, chunk_size, max_iter)
        out = jax.tree_util.tree_map(lambda a: a.reshape(batch_shape + a.shape[1:]), out)
    beta, status, n_iter, loss, gnorm = out
    intercept = beta[..., 0] if fit_intercept else jnp.zeros(batch_shape, dtype)
    coef = beta[..., 1:] if fit_intercept else beta
    return FitResult(
        coef=coef,
        intercept=intercept,
        status=status,
        n_iter=n_iter,
        loss=loss,
        grad_norm=gnorm,
        fit_intercept=fit_intercept,
    )
