"""Exact draws for the resampling schemes of :mod:`jaxlogreg._resample`.

Every function here is jit- and vmap-friendly and, but for :func:`_fixed_order_sum`, integer
work: a draw depends on its key and its arguments only, never on the dtype, on float64 being
on, or on how the models are batched (the invariance the schemes promise).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array


def _rounded(fraction: float, count):
    """``round(fraction * count)``, half to even (Python's ``round`` and NumPy's), on the
    float64 product; ``count`` an int or an integer array."""
    return np.round(fraction * np.asarray(count, dtype=np.float64)).astype(np.int64)


def _below(key, bound: Array) -> Array:
    """``(n,)`` int32: independent draws ``r_i`` from ``{0, ..., bound_i - 1}``, for int32
    ``bound (n,)`` in ``[1, 2^31)``.

    ``r_i = floor(v_i * bound_i / 2^32)`` for a random 32-bit word ``v_i`` (Lemire's
    multiply-shift: the high word of the 64-bit product, assembled from 16-bit halves so
    that no 64-bit integer is needed). So ``P(r_i < a) = ceil(a 2^32 / bound_i) / 2^32``:
    within ``2^-32`` of ``a / bound_i``, exactly 1 for ``a = bound_i`` and exactly 0 for
    ``a = 0``. Integer work only, the same with float64 on or off.
    """
    v = jax.random.bits(key, bound.shape, jnp.uint32)
    b = bound.astype(jnp.uint32)
    half = jnp.uint32(0xFFFF)
    v0, v1, b0, b1 = v & half, v >> 16, b & half, b >> 16
    low = v1 * b0 + ((v0 * b0) >> 16)  # every partial product and sum fits in 32 bits
    mid = v0 * b1 + (low & half)
    return (v1 * b1 + (low >> 16) + (mid >> 16)).astype(jnp.int32)


def _deal(key, n: int, bounds: Array, group, strata=None) -> Array:
    """``(n,)`` bool: the rows in group ``group`` of a uniformly random assignment of the
    ``n`` rows to groups ``0..J`` of fixed sizes (fixed per stratum, with ``strata``).

    ``bounds (C, J)`` int32 gives, for stratum ``c``, the cumulative sizes of groups
    ``0..J-1``: group ``j`` gets ``bounds[c, j] - bounds[c, j - 1]`` of the stratum's rows
    and group ``J`` the rest (the bounds are nondecreasing and at most the stratum's size).
    Without ``strata`` there is one stratum (``C = 1``); with ``strata (n,)`` bool, stratum
    1 is its True rows and stratum 0 the others (``C = 2``). ``group`` is an int in
    ``[0, J]``, traced or not.

    Sequential sampling (Fan, Muller and Rezucha 1962; for ``J = 1`` Knuth's Algorithm S):
    the rows are visited in order, and row ``i`` of stratum ``c`` joins group ``j`` with
    probability (room left in ``j``) / (rows of ``c`` left, ``i`` included). Every
    assignment with these sizes is then equally likely: a uniform ``m``-subset for
    ``J = 1``, a uniform partition into folds of the given sizes for k-fold. Row ``i``
    draws ``r`` uniform in ``[0, rows left)`` (:func:`_below`) and joins the first group
    whose remaining cumulative size exceeds ``r`` (for ``J = 1``: it is taken when
    ``r < rows still needed``). Each probability is exact to within ``2^-32`` and the
    sizes are exact: when every row left is needed the test is ``r < rows left``, always
    true, and when none is needed it is ``r < 0``, never true (likewise a full group is
    never chosen). All of it is integer work, independent of the dtype and of float64.

    Cost: ``n`` sequential steps (one ``lax.scan`` over the rows) of ``O(J)`` integer
    operations, vectorised across the models of a vmapped chunk; ``O(n)`` memory.
    """
    row = jnp.arange(n, dtype=jnp.int32)
    if strata is None:

        def step(room, r):
            passed = room > r  # groups at or after the row's group
            return room - passed, jnp.sum(~passed, dtype=jnp.int32) == group

        _, dealt = jax.lax.scan(step, bounds[0], _below(key, n - row))
        return dealt

    ones = strata.astype(jnp.int32)
    ones_before = jnp.cumsum(ones, dtype=jnp.int32) - ones
    n1 = jnp.sum(ones, dtype=jnp.int32)
    left = jnp.where(strata, n1 - ones_before, (n - n1) - (row - ones_before))

    def step_stratified(room, x):
        (room0, room1), (r, one) = room, x
        passed = jnp.where(one, room1, room0) > r
        room = room0 - (passed & ~one), room1 - (passed & one)
        return room, jnp.sum(~passed, dtype=jnp.int32) == group

    _, dealt = jax.lax.scan(step_stratified, (bounds[0], bounds[1]), (_below(key, left), strata))
    return dealt


def _class_counts(y: Array) -> tuple[Array, Array, Array]:
    """``(strata, n0, n1)``: ``y == 1`` and the int32 sizes of class 0 and class 1."""
    strata = y == 1
    n1 = jnp.sum(strata, dtype=jnp.int32)
    return strata, y.shape[-1] - n1, n1


def _without_replacement(key, n: int, size: int) -> Array:
    """``(n,)`` bool: a uniformly random subset of exactly ``size`` rows (:func:`_deal`)."""
    return _deal(key, n, jnp.full((1, 1), size, jnp.int32), 0)


def _stratified_without_replacement(key, y: Array, fraction: float) -> Array:
    """``(n,)`` bool: ``round(fraction * n_c)`` rows drawn uniformly without replacement
    within each class ``c`` of ``y`` (:func:`_deal`).

    The rounded sizes come from a table over every possible class size ``0..n`` made by
    :func:`_rounded` (``n + 1`` int32 constants), so the rule is exactly Python's
    ``round`` on the float64 product in every dtype, also with float64 off.
    """
    n = y.shape[-1]
    strata, n0, n1 = _class_counts(y)
    sizes = jnp.asarray(_rounded(fraction, np.arange(n + 1)), jnp.int32)
    return _deal(key, n, jnp.stack([sizes[n0], sizes[n1]])[:, None], 0, strata)


def _fold_bounds(k: int, count, offset=0):
    """Cumulative sizes of folds ``0..k-2`` when positions ``offset .. offset + count - 1``
    are dealt round-robin (position ``p`` to fold ``p % k``): fold ``f`` gets
    ``count // k + ((f - offset) % k < count % k)`` rows. NumPy for int arguments, JAX
    int32 for traced ones."""
    xp = np if isinstance(count, int) and isinstance(offset, int) else jnp
    f = xp.arange(k)
    sizes = count // k + ((f - offset) % k < count % k)
    return xp.cumsum(sizes[:-1], dtype=xp.int32)


def _fixed_order_sum(x: Array) -> Array:
    """``sum(x)`` of ``x (n,)``, added in pairs in a fixed order.

    Unlike ``jnp.sum`` (whose order XLA chooses, and chooses differently for a batch of rows
    under ``vmap`` than for one row), every addition here is elementwise, so the result is
    the same bit for bit however the models are batched. Pairwise summation also keeps the
    rounding error at ``O(log n)`` ulps.
    """
    while x.shape[0] > 1:
        if x.shape[0] % 2:
            x = jnp.concatenate([x, jnp.zeros((1,), x.dtype)])
        x = x[0::2] + x[1::2]
    return x[0]
