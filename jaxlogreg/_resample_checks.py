"""Argument checks of the resampling schemes (:mod:`jaxlogreg._resample`), at the Python
boundary: bad settings or data become a ``ValueError`` naming the argument (and the first bad
model)."""

from __future__ import annotations

import functools
import numbers

import jax
import jax.numpy as jnp
import numpy as np


@functools.cache
def _raw_key_shape() -> tuple[int, ...]:
    """Shape of a raw ``uint32`` key of JAX's default PRNG implementation (``(2,)`` for
    threefry)."""
    return jax.eval_shape(lambda: jax.random.key_data(jax.random.key(0))).shape


def _check_key(key) -> None:
    """A single PRNG key: new-style (scalar, key dtype) or raw (``uint32``, one key's shape).

    Only concrete arrays and Python numbers are checked: the dataclass is rebuilt with other
    leaves (tracers, placeholders, abstract values) whenever JAX unflattens it, and those
    must pass through.
    """
    if isinstance(key, numbers.Number) and not isinstance(key, bool):
        raise ValueError(
            f"key: expected a PRNG key such as jax.random.key({key!r}), got the number {key!r}"
        )
    if isinstance(key, jax.core.Tracer) or not isinstance(key, (np.ndarray, jax.Array)):
        return
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        if key.shape != ():
            raise ValueError(f"key: expected one PRNG key, got a key array of shape {key.shape}")
    elif key.dtype != np.uint32 or key.shape != _raw_key_shape():
        raise ValueError(
            "key: expected a PRNG key from jax.random.key(seed) or jax.random.PRNGKey(seed), "
            f"got an array of dtype {key.dtype} and shape {key.shape}"
        )


# Models are indexed by int32 inside a fit: a scheme has at most this many.
_MAX_MODELS = 2**31 - 1


def _positive_int(name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name}: expected an int >= {minimum}, got {value!r}")
    value = int(value)
    if value < minimum:
        raise ValueError(f"{name}: expected an int >= {minimum}, got {value}")
    if value > _MAX_MODELS:
        raise ValueError(f"{name}: at most {_MAX_MODELS:,} (2**31 - 1), got {value:,}")
    return int(value)


def _fraction(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name}: expected a float in (0, 1), got {value!r}")
    if not 0.0 < float(value) < 1.0:
        raise ValueError(f"{name}: expected a float in (0, 1), got {value}")
    return float(value)


def _flag(name: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name}: expected True or False, got {value!r}")
    return bool(value)



def _check_n(n, most: int | None = None) -> int:
    """``n`` as an int >= 1 (and at most ``most`` rows when given)."""
    n = _positive_int("n", n)
    if most is not None and n > most:
        raise ValueError(f"n: this scheme draws from at most {most:,} rows, got {n:,}")
    return n


def _check_y(y, n: int):
    """``y (..., n)`` as a NumPy array, or None when absent or traced (then the checks of
    its values are skipped)."""
    if y is None:
        return None
    shape = np.shape(y)
    if len(shape) == 0 or shape[-1] != n:
        raise ValueError(f"y: expected shape (..., n) with n = {n}, got shape {shape}")
    if isinstance(y, jax.core.Tracer):
        return None
    return np.asarray(y)


def _first(bad: np.ndarray) -> tuple[tuple[int, ...], str]:
    """The index of the first True entry of ``bad`` (over the batch axes of ``y``) and the
    words ``" in model (i, ...)"`` naming it (``()`` and ``""`` for one model)."""
    bad = np.asarray(bad)
    if bad.ndim == 0:
        return (), ""
    i = tuple(int(j) for j in np.argwhere(bad)[0])
    return i, f" in model {i}"


def _class_sizes(y: np.ndarray, n: int):
    """Rows of class 1 (``y == 1``) and of class 0 (the rest), per model ``(...)``."""
    n1 = np.asarray(np.sum(y == 1, axis=-1))
    return n - n1, n1
