"""Batches of models: a vmapped function applied chunk by chunk over the model axis.

Owned here so that fitting and inference share one way of walking a batch.
"""

from __future__ import annotations

import functools
import math
import os

import jax
import jax.numpy as jnp
import numpy as np

from . import _loss

__all__ = [
    "AXIS", "CORE_AXES", "chunk_for", "chunk_of", "chunked_map", "default_chunk", "device_memory",
    "platform_of", "split_batch", "split_models", "shared_design", "map_models",
]

# Per-observation values a chunk of models may hold at once. On a CPU, about 1 MiB of
# float64 per working array, which keeps one Newton iteration of a chunk inside the L2/L3
# caches. On an accelerator a chunk must instead fill the device's many cores: 2**24 values
# (128 MiB of float64 per working array, a few GiB for all of them).
_CHUNK_ELEMENTS = 2**17
_ACCELERATOR_CHUNK_ELEMENTS = 2**24


# A chunk's largest working array, a design-sized ``(chunk, n, p)`` (the scaled design of
# the per-model Hessians, when there are no shared column products), may take at most this
# share of the device's memory: the rest holds the data, the results and the chunk's other,
# ``(chunk, n)``-sized, arrays.
_MEMORY_SHARE = 1 / 16


@functools.cache
def device_memory(platform: str | None = None) -> int | None:
    """Bytes of memory of the first device of ``platform`` (the default backend when None):
    the limit its allocator reports (GPUs), else the host's physical memory (CPUs); None
    when neither is known."""
    try:
        stats = jax.devices(platform)[0].memory_stats() or {}
    except Exception:  # a backend without memory statistics
        stats = {}
    if stats.get("bytes_limit"):
        return int(stats["bytes_limit"])
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # not a POSIX system
        return None


def platform_of(a) -> str | None:
    """The platform of the device holding the array ``a`` (None when it is not a concrete
    JAX array: the default backend's)."""
    try:
        return next(iter(a.devices())).platform
    except Exception:  # a tracer, a NumPy array
        return None


def default_chunk(n: int, platform: str | None = None, *, p: int = 1, itemsize: int = 8) -> int:
    """Models per chunk for ``n`` rows and ``p`` parameters in values of ``itemsize`` bytes
    on ``platform`` (``jax.default_backend()`` when None).

    A power of two near ``_CHUNK_ELEMENTS / n`` on a CPU (8 to 4,096 models), near
    ``_ACCELERATOR_CHUNK_ELEMENTS / n`` elsewhere (8 to 65,536); then halved, down to 8, until
    a design-sized array of the chunk, ``chunk n p itemsize`` bytes, takes at most
    ``_MEMORY_SHARE`` of the device's memory (:func:`device_memory`).
    """
    platform = jax.default_backend() if platform is None else platform
    if platform == "cpu":
        budget, most = _CHUNK_ELEMENTS, 4096
    else:
        budget, most = _ACCELERATOR_CHUNK_ELEMENTS, 65536
    chunk = int(min(most, max(8, 2 ** round(math.log2(max(1, budget // n))))))
    memory = device_memory(platform)
    if memory is not None:
        while chunk > 8 and chunk * n * p * itemsize > _MEMORY_SHARE * memory:
            chunk //= 2
    return chunk


def chunk_for(
    chunk_size, n: int, *, p: int = 1, itemsize: int = 8, platform: str | None = None
) -> int:
    """Models per chunk: ``chunk_size`` checked (a positive integer), or
    :func:`default_chunk` for ``n`` rows, ``p`` parameters, ``itemsize`` and ``platform``
    when None."""
    if chunk_size is None:
        return default_chunk(n, platform, p=p, itemsize=itemsize)
    integer = isinstance(chunk_size, (int, np.integer)) and not isinstance(chunk_size, bool)
    if not integer or int(chunk_size) < 1:
        raise ValueError(f"chunk_size: must be a positive integer, got {chunk_size!r}")
    return int(chunk_size)


def chunk_of(chunk_size, X, fit_intercept: bool, rows: int | None = None) -> int:
    """:func:`chunk_for` a problem of design ``X`` ``(..., n, d)`` (a converted JAX array):
    ``rows`` per model per step (``n`` when None), ``d + fit_intercept`` parameters, ``X``'s
    item size and the platform it is on."""
    n = X.shape[-2] if rows is None else rows
    return chunk_for(chunk_size, n, p=X.shape[-1] + int(fit_intercept),
                     itemsize=X.dtype.itemsize, platform=platform_of(X))


AXIS = "models"


def chunked_map(f, xs, chunk: int):
    """``f`` over the leading axis (length ``B``) of the pytree ``xs``, vmapped as axis
    ``AXIS`` over ``chunk`` models at a time, one chunk after another.

    The last chunk is aligned to end at ``B`` and may overlap the one before it, so every
    chunk has the same shape (one compiled body, no padding copies); models in the overlap
    are computed twice with identical results.
    """
    B = jax.tree_util.tree_leaves(xs)[0].shape[0]
    chunk = min(chunk, B)
    vf = jax.vmap(f, axis_name=AXIS)

    def piece(i):
        start = jnp.minimum(i * chunk, B - chunk)
        part = jax.tree_util.tree_map(lambda a: jax.lax.dynamic_slice_in_dim(a, start, chunk), xs)
        return start, part

    shapes = jax.eval_shape(lambda: vf(piece(0)[1]))
    out = jax.tree_util.tree_map(lambda s: jnp.zeros((B,) + s.shape[1:], s.dtype), shapes)

    def body(i, out):
        start, part = piece(i)
        res = vf(part)
        return jax.tree_util.tree_map(
            lambda o, r: jax.lax.dynamic_update_slice_in_dim(o, r, start, 0), out, res
        )

    return jax.lax.fori_loop(0, -(-B // chunk), body, out)


def split_batch(inputs: dict, core: dict, batch_shape: tuple[int, ...]):
    """Split arrays into those with batch axes, broadcast and flattened to ``(B, ...)``
    (mapped over models), and those without (shared: closed over, never broadcast to the
    batch). ``core[name]`` is the number of trailing non-batch axes of ``inputs[name]``;
    None entries are dropped."""
    B = math.prod(batch_shape)
    mapped, shared = {}, {}
    for name, a in inputs.items():
        if a is None:
            continue
        if a.ndim == core[name]:
            shared[name] = a
        else:
            full = batch_shape + a.shape[a.ndim - core[name] :]
            mapped[name] = jnp.broadcast_to(a, full).reshape((B,) + full[len(batch_shape) :])
    return mapped, shared


# Largest column-products array ``(n, p (p + 1) / 2)`` a shared design gets (elements): 32 Mi,
# 256 MiB of float64. Beyond it (wide or very tall designs) the Hessians are formed per model
# as ``X^T diag(s) X``, which costs the same arithmetic without the array.
_MAX_PRODUCTS = 2**25


# Trailing (per-model) axes of every named input of a batch; more leading axes are batch axes.
CORE_AXES = {"X": 2, "y": 1, "weights": 1, "offset": 1, "trials": 1, "init": 1, "alpha": 0,
             "penalty_factor": 1, "params": 1, "status": 0, "index": 0, "grad_norm": 0}


def split_models(inputs: dict, scheme, batch_shape: tuple[int, ...]):
    """:func:`split_batch` of named inputs (:data:`CORE_AXES`); with a resampling
    ``scheme``, the index of each model (the scheme's model ``b`` along the last batch axis,
    whose weights are made inside its chunk) is mapped too, as ``"index"``."""
    inputs = dict(inputs)
    if scheme is not None:
        inputs["index"] = jnp.broadcast_to(jnp.arange(scheme.num, dtype=jnp.int32), batch_shape)
    return split_batch(inputs, CORE_AXES, batch_shape)


def shared_design(X, fit_intercept: bool, batch_shape: tuple[int, ...]):
    """A design ``(n, d)`` shared by the batch, with its column of ones when an intercept is
    fitted, and its :func:`jaxlogreg._loss.column_products` when there is more than one
    model and they fit in :data:`_MAX_PRODUCTS` elements (else None)."""
    if fit_intercept:
        X = _loss.add_intercept(X)
    n, p = X.shape
    small = n * p * (p + 1) // 2 <= _MAX_PRODUCTS
    batched = math.prod(batch_shape) > 0 and batch_shape and small
    products = _loss.column_products(X) if batched else None
    return X, products


def map_models(one, mapped: dict, batch_shape: tuple[int, ...], chunk_size: int):
    """``one(per_model, axis_name)`` for every model, in chunks (under ``vmap`` with
    ``axis_name = AXIS``; None for a single model); outputs reshaped to
    ``batch_shape + ...``."""
    if not batch_shape:
        return one({}, None)
    B = math.prod(batch_shape)
    if B == 0:
        specs = {k: jax.ShapeDtypeStruct(v.shape[1:], v.dtype) for k, v in mapped.items()}
        shapes = jax.eval_shape(lambda m: one(m, None), specs)
        out = jax.tree_util.tree_map(lambda s: jnp.zeros((0,) + s.shape, s.dtype), shapes)
    else:
        out = chunked_map(lambda m: one(m, AXIS), mapped, chunk_size)
    return jax.tree_util.tree_map(lambda a: a.reshape(batch_shape + a.shape[1:]), out)
