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

__all__ = ["Factor", "factor", "solve", "solve_spd", "inverse", "singular_rtol"]


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


def _unit_diagonal(H: Array) -> tuple[Array, Array, Array]:
    """``(C, scale, positive)``: ``C = D^-1/2 H D^-1/2`` (``scale = D^-1/2`` as a vector) and
    whether each diagonal entry is finite and positive. Columns with a zero diagonal get a
    unit pivot so that the factorisation stays finite; the system is marked singular through
    ``positive`` regardless."""
    diag = jnp.diagonal(H)
    positive = jnp.isfinite(diag) & (diag > 0)
    scale = jnp.where(positive, jax.lax.rsqrt(jnp.where(positive, diag, 1.0)), 0.0)
    C = H * scale[:, None] * scale[None, :]
    return C + jnp.diag(jnp.where(positive, 0.0, 1.0).astype(H.dtype)), scale, positive


def factor(H: Array, rtol: float | None = None) -> Factor:
    """Factor a symmetric ``(p, p)`` matrix; ``ok`` says whether it is safely positive definite."""
    if rtol is None:
        rtol = singular_rtol(H.dtype)
    C, scale, positive = _unit_diagonal(H)
    L = jnp.linalg.cholesky(C)
    pivots = jnp.diagonal(L) ** 2
    ok = jnp.all(positive) & jnp.all(jnp.isfinite(L)) & jnp.all(pivots > rtol)
    L = jnp.where(ok, L, jnp.eye(H.shape[-1], dtype=H.dtype))
    return Factor(L, scale, ok)


def solve(f: Factor, b: Array) -> Array:
    """``H^-1 b`` for ``b`` of shape ``(p,)``; zeros where the factor is not ok."""
    z = solve_triangular(f.L, f.scale * b, lower=True)
    x = f.scale * solve_triangular(f.L.T, z, lower=False)
    return jnp.where(f.ok, x, 0.0)


# Systems of at most this many unknowns are solved by Gauss-Jordan elimination written out
# step by step: vmapped over a batch, each step is one elementwise pass over the batch's
# matrices, where LAPACK's routines would be called once per matrix.
_UNROLLED = 8


def solve_spd(H: Array, b: Array, rtol: float | None = None) -> tuple[Array, Array]:
    """``(H^-1 b, ok)`` for a symmetric ``(p, p)`` ``H`` and ``b`` ``(p,)``: the test of
    :func:`factor` (``ok``: safely positive definite) and the solution, zeros where not ok.

    The matrix is scaled to unit diagonal as in :func:`factor`; up to :data:`_UNROLLED`
    unknowns the scaled system is solved by Gauss-Jordan elimination without pivoting
    (stable for positive definite matrices; its pivots are those of the Cholesky factor,
    squared, so the test is the same), beyond that through :func:`factor`.
    """
    p = H.shape[-1]
    if p > _UNROLLED:
        f = factor(H, rtol)
        return solve(f, b), f.ok
    if rtol is None:
        rtol = singular_rtol(H.dtype)
    C, scale, positive = _unit_diagonal(H)
    A = jnp.concatenate([C, (scale * b)[:, None]], axis=1)
    pivots = []
    for k in range(p):
        pivot = A[k, k]
        row = A[k] / pivot
        A = (A - A[:, k : k + 1] * row[None, :]).at[k].set(row)
        pivots.append(pivot)
    ok = jnp.all(positive) & jnp.all(jnp.isfinite(A)) & jnp.all(jnp.stack(pivots) > rtol)
    return jnp.where(ok, scale * A[:, p], 0.0), ok


def inverse(f: Factor) -> Array:
    """``H^-1`` as a ``(p, p)`` matrix; NaN where the factor is not ok."""
    p = f.L.shape[-1]
    Linv = solve_triangular(f.L, jnp.eye(p, dtype=f.L.dtype), lower=True)
    inv = (Linv.T @ Linv) * f.scale[:, None] * f.scale[None, :]
    return jnp.where(f.ok, inv, jnp.nan)
