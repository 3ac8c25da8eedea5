"""Fits spread over several devices: the model axis (many models) or the row axis (one
huge model), with JAX's own sharding (a 1-D :class:`jax.sharding.Mesh` and
:func:`jax.shard_map`).

Sharding the models (:func:`mapper`)
------------------------------------
The ``B`` models of a batch (its batch axes flattened) are split into equal contiguous
blocks, one per device; ``B`` is padded to a multiple of the device count with copies of
model 0, which are dropped from the result. Arrays with batch axes (``y``, ``weights``,
``offset``, ``trials``, ``alpha``, ``init``, a per-model ``X``) are sharded along the model
axis; arrays without (a shared ``X``, the penalty factors, ``tol``, ``max_iter``) are
replicated. Every device runs the ordinary chunked fit of :mod:`jaxlogreg._fit` on its
block; nothing is communicated while the solvers run. Two things keep a model's fit
independent of the device it lands on:

* the pooled starting point of a batch over one shared ``X`` is computed once, for the
  whole batch, and given to every device as the start (as ``_fit`` computes it);
* a resampling scheme sees global model indices: the index array is sharded like the
  models, and each device's scheme (:class:`jaxlogreg._resample.Renumbered`) maps its
  local model ``i`` to the global model ``index[i]``, whose weights depend only on the key
  and that index.

A model's result then differs from the one-device fit only by rounding (the models that
share its lanes decide the blocking of the shared matrix products): the two agree to about
1e-14 relative, and bit for bit when every model has its own ``X``. (SGD's models share
their row order with the models of their lanes, which differ between the two: they agree
to within ``tol``.)

Sharding the rows (:func:`fit_rows_sharded`)
--------------------------------------------
For ``n`` in the hundreds of millions with small ``p``: the rows of ``X``, ``y``,
``weights`` and ``offset`` are split across devices (padded with zero-weight rows, which the
loss ignores), and every reduction over rows in :mod:`jaxlogreg._loss` and
:mod:`jaxlogreg.solvers._common` (the loss and ``sum w``, ``X^T r``, the Hessian, the
gradient's rounding floor, the row maxima of the separation tests) is combined across
devices with ``psum`` / ``pmax`` over ``Problem.row_axis`` (:func:`jaxlogreg._loss.across_rows`).
Each Newton step exchanges ``O(p^2)`` numbers; the ``(n, p)`` data never move. Every device
ends with the same iterate, so loop predicates agree and the loops stay in step.

Several hosts
-------------
JAX runs one process per host. Two ways to use several:

1. **One global mesh.** Every process calls ``jax.distributed.initialize()`` first (the
   coordinator address, process count and process id come from the cluster environment:
   SLURM, Open MPI, Cloud TPU, or are passed explicitly). ``jax.devices()`` then lists the
   devices of all hosts, and every process runs the same program,
   ``jaxlogreg.fit(..., devices=jax.devices())`` (or ``fit_rows_sharded(...,
   devices=jax.devices())``), on the same inputs: the same NumPy data (``jit`` takes a
   host array as replicated on every process), the same scheme key. On CPU hosts set
   ``jax.config.update("jax_cpu_collectives_implementation", "gloo")`` first. Results are
   global arrays of which each process holds its own devices' part:
   ``jax.experimental.multihost_utils.process_allgather(x, tiled=True)`` gathers one; a
   replicated result's ``x.addressable_data(0)`` is already the whole. The model-sharded fit
   communicates only to gather a padded result; :func:`fit_rows_sharded` exchanges
   ``O(p^2)`` numbers per Newton step. A failure of any host stops all of them.
   (Checked on one machine: two processes of two CPU devices each give the one-device
   fits.)
2. **Independent processes (simpler, robust)**: each host runs its own block of a study's
   replicates, with no communication (:mod:`jaxlogreg._study._hosts`).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from . import _fit, _loss, _resample, _start, _validate, solvers
from ._batch import AXIS, map_models, split_batch, split_models
from ._result import FitResult, class_weight_field
from ._typing import ArrayLike, Devices, Integer, Numeric, Real

Array = jax.Array

__all__ = [
    "as_mesh", "mapper", "fit_rows_sharded",
]

# Name of the mesh axis when the caller gives devices rather than a mesh.
MESH_AXIS = "devices"


def as_mesh(devices: Devices) -> Mesh:
    """A 1-D mesh from ``devices``: an int ``k`` (the first ``k`` local devices), a sequence
    of devices, a 1-D :class:`~jax.sharding.Mesh` (returned as is), or None (all local
    devices). The mesh axis is named ``"devices"`` unless a mesh brings its own name."""
    if isinstance(devices, Mesh):
        if len(devices.axis_names) != 1:
            raise ValueError(f"devices: expected a 1-D mesh, got axes {devices.axis_names}")
        if devices.axis_names[0] == AXIS:
            raise ValueError(f"devices: the mesh axis may not be named {AXIS!r} (used for models)")
        return devices
    local = jax.local_devices()
    if devices is None:
        devices = local
    elif isinstance(devices, (int, np.integer)) and not isinstance(devices, bool):
        if not 1 <= devices <= len(local):
            raise ValueError(f"devices: expected a count in 1 .. {len(local)}, got {devices}")
        devices = local[: int(devices)]
    devices = list(devices) if isinstance(devices, Iterable) else []
    if not devices or not all(isinstance(d, jax.Device) for d in devices):
        raise ValueError(
            "devices: expected a device count, a sequence of jax devices or a 1-D Mesh"
        )
    return Mesh(np.array(devices), (MESH_AXIS,))


# --------------------------------------------------------------------------------------------
# The model axis
# --------------------------------------------------------------------------------------------


def mapper(devices: Devices, batch_shape: tuple[int, ...]):
    """The runner :func:`jaxlogreg._fit._solve` takes to split a batch of ``batch_shape``
    across ``devices`` (an int: that many local devices, a sequence of devices or a 1-D mesh,
    :func:`as_mesh`): :func:`sharded_fit` on their mesh, or None for a single model or an
    empty batch (fitted on the default device).

    The fit's result then equals the one-device fit up to rounding (module docstring), with
    the same implicit derivatives. Placement: when the first batch axis is a multiple of the
    device count, every field is sharded along it over the mesh
    (``NamedSharding(mesh, P(axis))``); otherwise (padding was needed) every field is
    replicated on the mesh's devices (``P()``).
    """
    mesh = as_mesh(devices)
    if not batch_shape or math.prod(batch_shape) == 0:
        return None
    return functools.partial(sharded_fit, mesh=mesh)


_STATICS = ("mesh", "batch_shape", "fit_intercept", "config", "chunk_size", "l1_ratio",
            "class_weight", "link")


@functools.partial(jax.jit, static_argnames=_STATICS)
def sharded_fit(X, y, weights, offset, trials, init, alpha, pf_cols, tol, max_iter, scheme, *,
                mesh, batch_shape, fit_intercept, config, chunk_size, l1_ratio, class_weight,
                link) -> FitResult:
    """``_fit._fit`` over ``mesh``: arguments as ``_fit._fit``'s (the pooled start, when
    wanted, is computed once for the whole batch by ``_fit._solve`` and passed as ``init``)."""
    (axis,) = mesh.axis_names
    k = mesh.size
    B = math.prod(batch_shape)
    local = -(-B // k)  # models per device
    statics = dict(fit_intercept=fit_intercept, config=config, chunk_size=chunk_size,
                   l1_ratio=l1_ratio, class_weight=class_weight, link=link)

    inputs = {"X": X, "y": y, "weights": weights, "offset": offset, "trials": trials,
              "init": init, "alpha": alpha}
    mapped, shared = split_models(inputs, scheme, batch_shape)
    # Pad to k * local models with copies of model 0 (valid data; dropped below).
    mapped = {
        name: jnp.concatenate([a, jnp.broadcast_to(a[:1], (k * local - B,) + a.shape[1:])])
        for name, a in mapped.items()
    }
    shared.update(pf_cols=pf_cols, tol=tol, max_iter=max_iter)

    def block(mapped, shared, scheme):
        """The ordinary fit of one device's ``local`` models."""
        a = {**shared, **mapped}
        if scheme is not None:
            scheme = _resample.Renumbered(scheme, a.pop("index"), num=local)
        res = _fit._fit(
            a["X"], a["y"], a["weights"], a.get("offset"), a.get("trials"), a.get("init"),
            a["alpha"], a["pf_cols"], a["tol"], a["max_iter"], scheme,
            batch_shape=(local,), **statics,
        )
        return res.coef, res.intercept, res.status, res.n_iter, res.loss, res.grad_norm

    # No collective runs inside: each block is independent, so replication checks are moot.
    out = jax.shard_map(
        block, mesh=mesh, in_specs=(P(axis), P(), P()), out_specs=P(axis), check_vma=False,
    )(mapped, shared, scheme)
    spec = P(axis) if batch_shape[0] % k == 0 else P()
    out = [
        jax.lax.with_sharding_constraint(
            a[:B].reshape(batch_shape + a.shape[1:]), NamedSharding(mesh, spec)
        )
        for a in out
    ]
    coef, intercept, status, n_iter, loss, grad_norm = out
    # The fit's specification, broadcast to the batch and placed as the other fields.
    d = pf_cols.shape[-1]
    alpha_all, pf_all = (
        jax.lax.with_sharding_constraint(jnp.broadcast_to(a, shape), NamedSharding(mesh, spec))
        for a, shape in ((alpha, batch_shape), (pf_cols, batch_shape + (d,)))
    )
    return FitResult(coef, intercept, status, n_iter, loss, grad_norm,
                     fit_intercept=fit_intercept, link=link, alpha=alpha_all,
                     penalty_factor=pf_all, l1_ratio=l1_ratio,
                     class_weight=class_weight_field(class_weight))


# --------------------------------------------------------------------------------------------
# The row axis
# --------------------------------------------------------------------------------------------


def fit_rows_sharded(
    X: Numeric[ArrayLike, "n d"],
    y: Numeric[ArrayLike, "*#batch n"],
    *,
    weights: Numeric[ArrayLike, "*#batch n"] | None = None,
    offset: Numeric[ArrayLike, "*#batch n"] | None = None,
    fit_intercept: bool = True,
    tol: Real[ArrayLike, ""] | None = None,
    max_iter: Integer[ArrayLike, ""] | None = None,
    devices: Devices = None,
) -> FitResult:
    """Newton fit of one model, or a small batch over one design, with the rows of the data
    split across ``devices``.

    Minimises the objective of :mod:`jaxlogreg._loss` (logit link, no penalty) with the
    Newton solver from the start of a single fit (zero slopes, the intercept at the logit
    of the mean response), so each model's result is that of ``jaxlogreg.fit`` on its own
    data up to rounding: every sum and maximum over rows is taken per device and combined
    with ``psum`` / ``pmax``. A batch gets no pooled start (for a few models it would cost
    about the passes over the data it saves), and its Hessians are ``X^T diag(s) X``, which
    holds ``(B, n / k, p)`` values per device for a moment rather than the
    ``(n / k, p (p + 1) / 2)`` column products ``fit`` keeps for large batches.

    Args:
      X: ``(n, d)`` design shared by every model. For the largest ``n``, pass ``n`` a
        multiple of the device count, already placed with rows sharded over the mesh
        (``NamedSharding(mesh, P("devices", None))``), so that no row moves; otherwise the
        rows are padded with zero-weight rows and redistributed.
      y: ``(..., n)`` labels in {0, 1}.
      weights, offset: ``(..., n)`` or None (ones, zeros).
      fit_intercept, tol, max_iter: as :func:`jaxlogreg.fit`.
      devices: an int, a sequence of devices, a 1-D mesh, or None for all local devices
        (:func:`as_mesh`).

    Returns:
      :class:`FitResult` with batch shape ``(...)``, replicated on the mesh's devices.
      No implicit derivatives are attached.
    """
    mesh = as_mesh(devices)
    data = _validate.fit_inputs(X, y, weights, offset, fit_intercept=fit_intercept)
    if data.X.ndim != 2:
        raise ValueError(
            f"X: expected one (n, d) design shared by the models, got shape {data.X.shape}"
        )
    dtype = data.X.dtype
    tol = _fit.default_tol(dtype) if tol is None else tol
    max_iter = _fit.DEFAULT_MAX_ITER if max_iter is None else max_iter
    return _rows_fit(
        data.X, data.y, data.weights, data.offset, jnp.asarray(tol, dtype),
        jnp.asarray(max_iter, jnp.int32),
        mesh=mesh, batch_shape=data.batch_shape, fit_intercept=bool(fit_intercept),
    )


@functools.partial(jax.jit, static_argnames=("mesh", "batch_shape", "fit_intercept"))
def _rows_fit(X, y, weights, offset, tol, max_iter, *, mesh, batch_shape, fit_intercept):
    (axis,) = mesh.axis_names
    k = mesh.size
    config = solvers.Newton()
    if fit_intercept:  # before padding: padded rows are zeros in every column
        X = _loss.add_intercept(X)
    p = X.shape[-1]
    pf = _loss.default_penalty_factor(p, fit_intercept, X.dtype)
    n = X.shape[0]
    pad = -n % k
    X = jnp.pad(X, ((0, pad), (0, 0)))
    inputs = {"y": y, "weights": weights, "offset": offset}
    mapped, shared = split_batch(inputs, {"y": 1, "weights": 1, "offset": 1}, batch_shape)
    widths = lambda a: ((0, 0),) * (a.ndim - 1) + ((0, pad),)  # noqa: E731
    mapped = {name: jnp.pad(a, widths(a)) for name, a in mapped.items()}
    shared = {name: jnp.pad(a, widths(a)) for name, a in shared.items()}

    def local(X, mapped, shared, tol, max_iter):
        """One device's rows: ``X (m, p)``, ``mapped`` ``(B, m)``, ``shared`` ``(m,)``."""
        zero = jnp.zeros((), X.dtype)

        def one(per_model, axis_name):
            a = {**shared, **per_model}
            problem = _loss.model_problem(X, a["y"], a["weights"], a["offset"], alpha=zero,
                                          penalty_factor=pf, row_axis=axis)
            state = config.run(problem, _start.default_start(problem, fit_intercept),
                               solvers.Context(tol, max_iter, axis_name))
            gnorm = jnp.max(jnp.abs(state.grad))
            return state.beta, state.status, state.n_iter, state.loss, gnorm

        return map_models(one, mapped, batch_shape, max(1, math.prod(batch_shape)))

    # Replicated outputs: every device computes the same iterate from psum-ed sums. The
    # replication check is off because it cannot yet type a collective over a vmap axis (the
    # models of a batch).
    out = jax.shard_map(
        local, mesh=mesh, in_specs=(P(axis, None), P(None, axis), P(axis), P(), P()),
        out_specs=P(), check_vma=False,
    )(X, mapped, shared, tol, max_iter)
    beta, status, n_iter, loss, gnorm = out
    intercept = beta[..., 0] if fit_intercept else jnp.zeros(batch_shape, X.dtype)
    coef = beta[..., 1:] if fit_intercept else beta
    # No penalty and no class weights, recorded as fit records them.
    d = coef.shape[-1]
    return FitResult(coef, intercept, status, n_iter, loss, gnorm, fit_intercept=fit_intercept,
                     alpha=jnp.zeros(batch_shape, X.dtype),
                     penalty_factor=jnp.ones(batch_shape + (d,), X.dtype))
