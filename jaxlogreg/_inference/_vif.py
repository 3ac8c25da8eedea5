"""Variance inflation factors of every column of a design, or of a batch of designs, as
statsmodels' ``variance_inflation_factor`` computes them (:func:`variance_inflation_factors`).
They describe the data alone: no fit is needed.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from .. import _linalg, _validate
from .._typing import ArrayLike, Float, Numeric

Array = jax.Array


def variance_inflation_factors(
    X: Numeric[ArrayLike, "*batch n d"], *, standardize: bool = True
) -> Float[Array, "*batch d"]:
    """Variance inflation factor of every column of ``X (..., n, d)``: ``(..., d)``.

    statsmodels' ``variance_inflation_factor(X, j, standardize=...)`` for every ``j`` at once::

        VIF_j = 1 / (1 - R_j^2),   R_j^2 clipped to [0, 1 - 1e-15]

    with ``R_j^2`` from the least-squares regression of column ``j`` on the other columns *as
    given* -- no intercept is added. As in statsmodels' OLS, ``R_j^2`` is centered when the
    other columns span a constant (an explicit column of ones, or an implicit one such as a
    full set of dummies) and uncentered otherwise, so pass ``add_constant(X)`` (the column of
    ones first) for the usual VIFs of a model with an intercept, as statsmodels users do.

    Args:
      X: ``(..., n, d)`` design, ``d >= 2``; leading axes are a batch of designs.
      standardize: first center and scale every column whose standard deviation exceeds
        1e-10 (constant columns are left as they are), as statsmodels >= 0.15 does by default.
        This changes nothing for the non-constant columns of ``add_constant(X)``; the VIF of
        the constant column itself becomes 1, and for an ``X`` without a constant the VIFs
        become those of the model with an intercept. ``standardize=False`` regresses the raw
        columns (statsmodels 0.14 and ``standardize=False``).

    Returns:
      ``(..., d)``; ``1e15`` (the clip) where a column is in the span of the others, NaN for a
      constant column when the others span a constant.
    """
    dtype = _validate.float_dtype(X)
    try:
        X = jnp.asarray(X, dtype)
    except (TypeError, ValueError) as e:
        raise ValueError(f"X: cannot be read as a numeric array ({e})") from None
    if X.ndim < 2 or X.shape[-1] < 2 or X.shape[-2] == 0:
        raise ValueError(f"X: expected shape (..., n, d) with n >= 1 and d >= 2, got {X.shape}")
    if _validate._is_concrete(X) and not bool(jnp.all(jnp.isfinite(X))):
        idx = _validate._first(~np.isfinite(np.asarray(X)))
        raise ValueError(f"X: non-finite value at index {idx}")
    return _vif(X, standardize=bool(standardize))


@functools.partial(jax.jit, static_argnames=("standardize",))
def _vif(X, *, standardize):
    batch = X.shape[:-2]
    n, d = X.shape[-2:]
    rtol = _linalg.singular_rtol(X.dtype)

    def one_design(Xm):
        if standardize:
            mean = jnp.mean(Xm, axis=0, keepdims=True)
            sd = jnp.std(Xm, axis=0, keepdims=True)
            safe = sd > 1e-10
            Xm = jnp.where(safe, (Xm - mean) / jnp.where(safe, sd, 1.0), Xm)
        ones = jnp.ones((n,), Xm.dtype)

        def one_column(j):
            others = jnp.where((jnp.arange(d) == j)[None, :], 0.0, Xm)
            x = Xm[:, j]
            targets = jnp.stack([x, ones], axis=1)
            coef = jnp.linalg.lstsq(others, targets)[0]
            resid = targets - others @ coef
            rss = jnp.sum(resid * resid, axis=0)
            has_const = rss[1] <= rtol * n
            tss = jnp.where(has_const, jnp.sum((x - jnp.mean(x)) ** 2), jnp.sum(x * x))
            r2 = jnp.clip(1.0 - rss[0] / tss, 0.0, 1.0 - 1e-15)
            return 1.0 / (1.0 - r2)

        return jax.vmap(one_column)(jnp.arange(d))

    flat = X.reshape((-1, n, d))
    return jax.vmap(one_design)(flat).reshape(batch + (d,))
