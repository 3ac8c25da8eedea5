"""Small symmetric positive definite systems that report failure instead of returning NaN.

JAX's Cholesky returns NaN for a matrix that is not positive definite and says nothing when a
matrix is positive definite only through rounding. Here the matrix is first scaled to unit
diagonal (``C = D^-1/2 H D^-1/2``, which makes the test independent of the units of each
feature); its Cholesky pivots are then ``1 - R_j^2``, the share of column ``j``'s weighted
variance not explained by the columns before it. A pivot below ``rtol`` (or a zero or
non-finite diagonal) marks the system singular.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.scipy.linalg import solve_triangular

Array = jax.Array

__all__ = ["Factor", "factor", "solve", "inverse", "singular_rtol"]


class Factor(NamedTuple):
    """Cholesky factor of the unit-diagonal scaling of a ``(p, p)`` matrix ``H``.

    ``H = D^1/2 L L^T D^1/2`` with ``scale = D^-1/2`` as a ``(p,)`` vector; ``ok`` is False
    when ``H`` is numerically singular, in which case ``L`` holds no meaningful values.
    """

    L: Array
    scale: Array
    ok: Array


def singular_rtol(dtype) -> float:
    """Smallest accepted scaled pivot ``1 - R_j^2``: ``eps ** (2/3)`` of the dtype."""
    return float(jnp.finfo(dtype).eps) ** (2.0 / 3.0)


def factor(H: Array, rtol: float | None = None) -> Factor:
    """Factor a symmetric ``(p, p)`` matrix; ``ok`` says whether it is safely positive definite."""
    if rtol is None:
        rtol = singular_rtol(H.dtype)
    diag = jnp.diagonal(H)
    positive = jnp.isfinite(diag) & (diag > 0)
    scale = jnp.where(positive, jax.lax.rsqrt(jnp.where(positive, diag, 1.0)), 0.0)
    C = H * scale[:, None] * scale[None, :]
    # Columns with a zero diagonal get a unit pivot so the factorisation stays finite; the
    # system is marked singular through `positive` regardless.
    C = C + jnp.diag(jnp.where(positive, 0.0, 1.0).astype(H.dtype))
    L = _cholesky(C)
    pivots = jnp.diagonal(L) ** 2
    ok = jnp.all(positive) & jnp.all(jnp.isfinite(L)) & jnp.all(pivots > rtol)
    L = jnp.where(ok, L, jnp.eye(H.shape[-1], dtype=H.dtype))
    return Factor(L, scale, ok)


def solve(f: Factor, b: Array) -> Array:
    """``H^-1 b`` for ``b`` of shape ``(p,)``; zeros where the factor is not ok."""
    z = _forward(f.L, f.scale * b)
    x = f.scale * _backward(f.L, z)
    return jnp.where(f.ok, x, 0.0)


# Systems of at most this many unknowns are factored and solved by unrolled scalar
# recurrences: vmapped over a batch they become a few elementwise passes over the batch,
# where LAPACK's routines would be called once per matrix.
_UNROLLED = 8


def _cholesky(C: Array) -> Array:
    """Lower Cholesky factor of a symmetric ``(p, p)`` matrix (NaN where it is not positive
    definite)."""
    p = C.shape[-1]
    if p > _UNROLLED:
        return jnp.linalg.cholesky(C)
    L: list[list] = [[None] * p for _ in range(p)]
    for j in range(p):
        d = jnp.sqrt(C[j, j] - sum((L[j][k] * L[j][k] for k in range(j)), jnp.zeros((), C.dtype)))
        L[j][j] = d
        for i in range(j + 1, p):
            acc = sum((L[i][k] * L[j][k] for k in range(j)), jnp.zeros((), C.dtype))
            L[i][j] = (C[i, j] - acc) / d
    zero = jnp.zeros((), C.dtype)
    return jnp.stack([jnp.stack([L[i][j] if j <= i else zero for j in range(p)]) for i in range(p)])


def _forward(L: Array, b: Array) -> Array:
    """``L^-1 b`` for lower triangular ``L`` ``(p, p)`` and ``b`` ``(p,)``."""
    p = L.shape[-1]
    if p > _UNROLLED:
        return solve_triangular(L, b, lower=True)
    z: list = []
    for i in range(p):
        acc = sum((L[i, k] * z[k] for k in range(i)), jnp.zeros((), b.dtype))
        z.append((b[i] - acc) / L[i, i])
    return jnp.stack(z)


def _backward(L: Array, z: Array) -> Array:
    """``L^-T z`` for lower triangular ``L`` ``(p, p)`` and ``z`` ``(p,)``."""
    p = L.shape[-1]
    if p > _UNROLLED:
        return solve_triangular(L.T, z, lower=False)
    x: list = [None] * p
    for i in reversed(range(p)):
        acc = sum((L[k, i] * x[k] for k in range(i + 1, p)), jnp.zeros((), z.dtype))
        x[i] = (z[i] - acc) / L[i, i]
    return jnp.stack(x)


def inverse(f: Factor) -> Array:
    """``H^-1`` as a ``(p, p)`` matrix; NaN where the factor is not ok."""
    p = f.L.shape[-1]
    Linv = solve_triangular(f.L, jnp.eye(p, dtype=f.L.dtype), lower=True)
    inv = (Linv.T @ Linv) * f.scale[:, None] * f.scale[None, :]
    return jnp.where(f.ok, inv, jnp.nan)
