"""Checks at the Python boundary: bad input becomes a ValueError naming the argument.

Shapes are always checked. Values (finite, labels in {0, 1}, nonnegative weights) are
checked only when the arrays are concrete; inside a user's ``jit`` nothing raises and the
per-model statuses carry the news instead (``NONFINITE`` for NaN or inf, ``INVALID`` for a
negative weight or a label outside [0, 1]; a label strictly between 0 and 1 is then fitted
as a proportion, as the loss allows). The value checks run as one fused reduction on
the device; the first bad index is located only when a check has failed.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["FitInputs", "fit_inputs", "float_dtype"]


class FitInputs(NamedTuple):
    """Validated arrays in one floating dtype, and the broadcast batch shape."""

    X: jax.Array  # (..., n, d)
    y: jax.Array  # (..., n)
    weights: jax.Array  # (..., n)
    offset: jax.Array  # (..., n)
    batch_shape: tuple[int, ...]


def float_dtype(X) -> jnp.dtype:
    """The dtype a fit computes in: ``X``'s if floating, else JAX's default float."""
    dtype = jnp.asarray(X).dtype if not hasattr(X, "dtype") else X.dtype
    if jnp.issubdtype(dtype, jnp.floating):
        return jnp.dtype(dtype)
    return jnp.dtype(jnp.result_type(float))


def _is_concrete(a) -> bool:
    return not isinstance(a, jax.core.Tracer)


def _first(mask: np.ndarray) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argwhere(mask)[0])


def _as_array(name: str, a, dtype, min_ndim: int):
    try:
        arr = jnp.asarray(a)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{name}: cannot be read as a numeric array ({e})") from None
    if not (jnp.issubdtype(arr.dtype, jnp.number) or arr.dtype == jnp.bool_):
        raise ValueError(f"{name}: expected a numeric array, got dtype {arr.dtype}")
    if arr.ndim < min_ndim:
        raise ValueError(
            f"{name}: expected at least {min_ndim} dimension(s), got shape {arr.shape}"
        )
    return arr.astype(dtype)


@jax.jit
def _value_flags(X, y, w, o):
    return jnp.stack(
        [
            jnp.all(jnp.isfinite(X)),
            jnp.all(jnp.isfinite(y)),
            jnp.all((y == 0) | (y == 1)),
            jnp.all(jnp.isfinite(w)),
            jnp.all(w >= 0),
            jnp.all(jnp.sum(w, axis=-1) > 0),
            jnp.all(jnp.isfinite(o)),
        ]
    )


def _check_values(X, y, w, o) -> None:
    flags = np.asarray(_value_flags(X, y, w, o))
    if flags.all():
        return
    if not flags[0]:
        Xn = np.asarray(X)
        idx = _first(~np.isfinite(Xn))
        raise ValueError(f"X: non-finite value {Xn[idx]} at index {idx}")
    if not flags[1]:
        yn = np.asarray(y)
        idx = _first(~np.isfinite(yn))
        raise ValueError(f"y: non-finite value {yn[idx]} at index {idx}")
    if not flags[2]:
        yn = np.asarray(y)
        idx = _first((yn != 0) & (yn != 1))
        raise ValueError(f"y: labels must be 0 or 1, got {yn[idx]} at index {idx}")
    if not flags[3]:
        wn = np.asarray(w)
        idx = _first(~np.isfinite(wn))
        raise ValueError(f"weights: non-finite value {wn[idx]} at index {idx}")
    if not flags[4]:
        wn = np.asarray(w)
        idx = _first(wn < 0)
        raise ValueError(f"weights: negative value {wn[idx]} at index {idx}")
    if not flags[5]:
        wn = np.asarray(w)
        if wn.ndim == 1:
            raise ValueError("weights: all weights are zero")
        idx = _first(wn.sum(axis=-1) <= 0)
        raise ValueError(f"weights: all weights of model {idx} are zero")
    if not flags[6]:
        on = np.asarray(o)
        idx = _first(~np.isfinite(on))
        raise ValueError(f"offset: non-finite value {on[idx]} at index {idx}")


def fit_inputs(X, y, weights, offset, *, fit_intercept: bool) -> FitInputs:
    """Validate and convert the data arguments of :func:`jaxlogreg.fit`.

    Shapes: ``X (..., n, d)``, ``y (..., n)``, ``weights (..., n)`` or None (all ones),
    ``offset (..., n)`` or None (zeros); the leading axes broadcast together.
    """
    dtype = float_dtype(X)
    X = _as_array("X", X, dtype, 2)
    n, d = X.shape[-2:]
    if n == 0:
        raise ValueError("X: no observations (n = 0)")
    if d == 0 and not fit_intercept:
        raise ValueError("X: no columns (d = 0) and fit_intercept=False: nothing to fit")
    y = _as_array("y", y, dtype, 1)
    weights = jnp.ones((n,), dtype) if weights is None else _as_array("weights", weights, dtype, 1)
    offset = jnp.zeros((n,), dtype) if offset is None else _as_array("offset", offset, dtype, 1)
    for name, a in (("y", y), ("weights", weights), ("offset", offset)):
        if a.shape[-1] != n:
            raise ValueError(
                f"{name}: last axis has length {a.shape[-1]} but X has n = {n} rows "
                f"(X shape {X.shape}, {name} shape {a.shape})"
            )
    try:
        batch = np.broadcast_shapes(X.shape[:-2], y.shape[:-1], weights.shape[:-1], offset.shape[:-1])
    except ValueError:
        raise ValueError(
            "X, y, weights, offset: batch axes do not broadcast: "
            f"X {X.shape[:-2]}, y {y.shape[:-1]}, weights {weights.shape[:-1]}, "
            f"offset {offset.shape[:-1]}"
        ) from None
    if all(_is_concrete(a) for a in (X, y, weights, offset)):
        _check_values(X, y, weights, offset)
    return FitInputs(X, y, weights, offset, tuple(batch))


def init_array(init, data: FitInputs, fit_intercept: bool):
    """Starting parameters ``(..., p)`` from ``fit(init=...)``, or None."""
    if init is None:
        return None
    params = getattr(init, "params", init)
    p = data.X.shape[-1] + int(fit_intercept)
    arr = _as_array("init", params, data.X.dtype, 1)
    if arr.shape[-1] != p:
        raise ValueError(
            f"init: last axis has length {arr.shape[-1]}, expected p = {p} parameters "
            f"({'intercept first, then ' if fit_intercept else ''}one per column of X)"
        )
    try:
        np.broadcast_shapes(arr.shape[:-1], data.batch_shape)
    except ValueError:
        raise ValueError(
            f"init: batch axes {arr.shape[:-1]} do not broadcast with {data.batch_shape}"
        ) from None
    if arr.shape[:-1] and np.broadcast_shapes(arr.shape[:-1], data.batch_shape) != data.batch_shape:
        raise ValueError(f"init: batch axes {arr.shape[:-1]} are larger than the batch {data.batch_shape}")
    if _is_concrete(arr) and not bool(jnp.all(jnp.isfinite(arr))):
        idx = _first(~np.isfinite(np.asarray(arr)))
        raise ValueError(f"init: non-finite value at index {idx}")
    return arr
