"""Exact draws for the resampling schemes of :mod:`jaxlogreg._resample`.

Every function here is jit- and vmap-friendly and, but for :func:`_fixed_order_sum`, exact:
integer work, comparisons and counts. A draw depends on its key and its arguments only,
never on the dtype, on float64 being on, or on how the models are batched (the invariance
the schemes promise). Subsets and partitions (:func:`_deal`) rank the rows by a random
permutation and find the ranks' edges with a few counting passes over the rows, with no
loop over the rows, so a batch of models draws in parallel on any device.
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


# The subset and partition draw's name, recorded with a study's scheme, so that a study
# begun under another draw is not resumed with this one.
DRAW = "ranked-words/1"

# Words: a keyed bijection of the row index onto [0, 2^29). Key of a row in the draw: its
# word, plus 2^29 for a row of stratum 1, so each stratum's keys are a block of their own
# and the keys fit in 30 bits.
_WORD_BITS = 29
_WORD_MASK = (1 << _WORD_BITS) - 1
# Rows a draw handles: every row gets its own word.
MAX_ROWS = 1 << _WORD_BITS
# Multipliers of the mixing rounds (odd, so each round is a bijection).
_MULTIPLIERS = (0x7FEB352D, 0x846CA68B)
_ROUNDS = 3
# Offset of _ordered: -1 maps to the bit pattern of the smallest normal float32.
_NORMAL = (1 << 23) + 1
# Up to this many rows a count is an exact float32 sum (every partial sum is an integer
# below 2^24); above it, an int32 sum.
_FLOAT_COUNT_ROWS = 1 << 24
# Below this many rows a stratified count weighs a row of stratum 1 this much (_search).
_PACKED_ROWS = 1 << 12
# A batch of at least _COMPACT_MODELS models searches in three loops (_search): the
# passes that finish most models (_FULL_PASSES up to _FEW_ROWS rows, one more above), then
# the unfinished ones, up to 1 / _COMPACT_SHARE of the batch, gathered, then any left.
_COMPACT_MODELS = 64
_FULL_PASSES = 4
_FEW_ROWS = 256
_COMPACT_SHARE = 8


def _mix(x: Array) -> Array:
    """A bijection of ``[0, 2^29)`` (uint32): xor-shifts and odd multiplications modulo
    ``2^29``, each invertible, in the pattern of the integer hashes of the "hash
    prospector" (Wellons)."""
    mask = jnp.uint32(_WORD_MASK)
    x = x ^ (x >> 14)
    x = (x * jnp.uint32(_MULTIPLIERS[0])) & mask
    x = x ^ (x >> 13)
    x = (x * jnp.uint32(_MULTIPLIERS[1])) & mask
    return x ^ (x >> 14)


def _words(key, n: int) -> Array:
    """``(n,)`` int32: the rows' words, distinct, in ``[0, 2^29)``, for ``n <= 2^29``.

    Three rounds ``x <- mix(x + k_1)``, ``x <- mix(x ^ k_2)``, ``x <- mix(x + k_3)`` of the
    row index with round keys ``k_j``, 29-bit words drawn from ``key``. Each round is a
    bijection of ``[0, 2^29)``, so distinct rows get distinct words: the ranks of the
    words are a permutation of the rows, with no ties to break. The key's randomness
    comes from JAX's generator (three random words per model); the rounds spread it over
    the rows.
    """
    mask = jnp.uint32(_WORD_MASK)
    k = jax.random.bits(key, (_ROUNDS,), jnp.uint32) & mask
    x = jnp.arange(n, dtype=jnp.uint32)
    for j in range(_ROUNDS):
        x = _mix((x + k[j]) & mask if j % 2 == 0 else x ^ k[j])
    return x.astype(jnp.int32)


def _ordered(i: Array) -> Array:
    """int32 ``i`` in ``[-1, 2^30)`` as float32 with the same order: the float whose bit
    pattern is ``i + 2^23 + 1``, a positive normal number (never a NaN, an infinity or a
    subnormal), so comparisons, maxima and minima are exact and use the fast float
    instructions. :func:`_unordered` inverts it."""
    return jax.lax.bitcast_convert_type(jnp.asarray(i, jnp.int32) + jnp.int32(_NORMAL),
                                        jnp.float32)


def _unordered(f: Array) -> Array:
    return jax.lax.bitcast_convert_type(f, jnp.int32) - jnp.int32(_NORMAL)


def _order_statistics(keys: Array, rank: Array, bracket, strata=None) -> Array:
    """``(E,)`` int32 thresholds ``T`` with ``#{i : key_i <= T_e} == rank_e``: the largest
    key of rank ``rank_e`` (1-based) or any value up to the next key.

    ``keys (n,)`` are distinct ints in ``[0, 2^30)`` as :func:`_ordered` floats; ``rank
    (E,)`` int32. ``bracket`` is four ``(E,)`` int32 arrays ``(lo, c_lo, hi, c_hi)`` with
    ``c = #{key <= value}`` at each end and ``c_lo <= rank <= c_hi`` (``lo = -1`` has count
    0). With ``strata (n,)`` bool, stratum 1's keys lie above stratum 0's and the edges come
    in pairs (stratum 0's, then stratum 1's). The search is :func:`_search`'s.

    Under ``vmap`` the models of the batch search together in one loop that runs until the
    last of them is done (a rule of its own: ``vmap``'s generic rule for a loop with a
    batched condition adds a selection of every carried value per pass, which the search
    does not need, as it leaves finished edges alone).
    """
    if strata is None:
        return _unstratified(keys, rank, tuple(bracket))
    return _stratified(keys, rank, tuple(bracket), strata)


def _search(keys: Array, rank: Array, bracket, strata=None) -> Array:
    """:func:`_order_statistics` for a batch of ``C`` models: ``keys (C, n)``, ``rank
    (C, E)``, ``bracket`` four ``(C, E)``, ``strata (C, n)``, ``(1, n)`` (shared) or None;
    ``(C, E)``.

    The edges are found together, in one loop of passes over the rows and no loop over
    the rows: each pass counts the keys at or below a probe per edge, placed by linear
    interpolation between the bracket's ends, and narrows the bracket. Keys are uniform
    over the bracket, so a few passes bring an end within one of the rank; then one
    maximum (the largest key at or below ``hi``, when ``c_hi = rank + 1``) or minimum (the
    smallest key above ``lo``, when ``c_lo = rank - 1``) gives ``T``. The probes only
    decide how fast the bracket narrows: any ``T`` found selects the same rows, so the
    result does not depend on the float arithmetic of the device, nor on the batch.

    With strata and ``n < 2^12``, one pass counts both edges of a pair: each row against
    its own stratum's probe, a row of stratum 1 adding ``2^12`` to a float32 sum (exact:
    it stays below ``2^24``).

    A batch runs its passes until its slowest model is done, and most models are done in
    far fewer passes than the slowest. So a batch of at least ``_COMPACT_MODELS`` models
    makes ``_FULL_PASSES`` passes (one more above ``_FEW_ROWS`` rows), after which few are
    left unfinished; the unfinished ones, up to ``C / _COMPACT_SHARE``, are gathered and
    go on alone; any left over (rarely any) go on with the whole batch.
    """
    C, n = keys.shape
    keys = keys[:, None, :]
    if strata is not None and n < _PACKED_ROWS:
        weight = jnp.where(strata, jnp.float32(_PACKED_ROWS), jnp.float32(1))[:, None, :]
        n0 = n - jnp.sum(strata, axis=1, dtype=jnp.int32)[:, None, None]
        rows: tuple[Array, ...] = (keys, weight, n0)

        def count(t, rows):
            keys, weight, n0 = rows
            t = _ordered(t).reshape(t.shape[0], -1, 2)
            own = jnp.where(weight > 1, t[..., 1:], t[..., :1])
            total = jnp.sum(jnp.where(keys <= own, weight, jnp.float32(0)), axis=-1)
            total = total.astype(jnp.int32)[..., None]
            return jnp.concatenate([total % _PACKED_ROWS, n0 + total // _PACKED_ROWS],
                                   axis=-1).reshape(t.shape[0], -1)
    elif n <= _FLOAT_COUNT_ROWS:
        rows = (keys,)

        def count(t, rows):
            at_or_below = rows[0] <= _ordered(t)[..., None]
            return jnp.sum(jnp.where(at_or_below, jnp.float32(1), jnp.float32(0)),
                           axis=-1).astype(jnp.int32)
    else:
        rows = (keys,)

        def count(t, rows):
            return jnp.sum(rows[0] <= _ordered(t)[..., None], axis=-1, dtype=jnp.int32)

    def near(state, rank):
        _, c_lo, _, c_hi = state
        return (jnp.abs(c_lo - rank) <= 1) | (jnp.abs(c_hi - rank) <= 1)

    def narrow(state, rank, rows):
        lo, c_lo, hi, c_hi = state
        # Aim at the middle of the gap after the rank-th key, as if the c_hi - c_lo keys
        # in (lo, hi] were evenly spread; a probe strictly inside the bracket.
        share = ((rank - c_lo).astype(jnp.float32) + 0.5) / ((c_hi - c_lo).astype(jnp.float32) + 1)
        t = lo + (share * (hi - lo).astype(jnp.float32)).astype(jnp.int32)
        t = jnp.clip(t, lo + 1, hi - 1)
        c = count(t, rows)
        busy = ~near(state, rank)
        up, down = busy & (c <= rank), busy & (c >= rank)
        return (jnp.where(up, t, lo), jnp.where(up, c, c_lo),
                jnp.where(down, t, hi), jnp.where(down, c, c_hi))

    def search(state, rank, rows, passes=None):
        """Narrow until every edge is near (or ``passes`` passes)."""
        def going(carry):
            state, k = carry
            left = ~jnp.all(near(state, rank))
            return left if passes is None else left & (k < passes)

        return jax.lax.while_loop(
            going, lambda carry: (narrow(carry[0], rank, rows), carry[1] + 1),
            (state, jnp.int32(0)))[0]

    state = tuple(bracket)
    if C >= _COMPACT_MODELS:
        # The last passes concern few models (docstring): the unfinished ones go on alone,
        # their rows gathered (an index of C, padding, reads model C - 1 and is dropped).
        state = search(state, rank, rows, _FULL_PASSES if n <= _FEW_ROWS else _FULL_PASSES + 1)
        S = C // _COMPACT_SHARE
        (index,) = jnp.nonzero(~jnp.all(near(state, rank), axis=-1), size=S, fill_value=C)
        take = lambda a: a if a.shape[0] == 1 else a[jnp.minimum(index, C - 1)]  # noqa: E731
        done = search(tuple(map(take, state)), take(rank), tuple(map(take, rows)))
        state = tuple(a.at[index].set(b, mode="drop") for a, b in zip(state, done, strict=True))
    lo, c_lo, hi, c_hi = search(state, rank, rows)
    # One reduction per edge finishes it: the largest key <= hi when hi is one key past the
    # rank, else the smallest key > lo (as the largest of the negated keys).
    past = (c_hi == rank + 1)[..., None]
    pick = jnp.where(past, keys <= _ordered(hi)[..., None], keys > _ordered(lo)[..., None])
    signed = jnp.where(past, keys, -keys)
    nearest = _unordered(jnp.abs(jnp.max(jnp.where(pick, signed, -jnp.inf), axis=-1)))
    return jnp.where(c_lo == rank, lo,
                     jnp.where(c_hi == rank, hi, jnp.where(past[..., 0], nearest - 1, nearest)))


def _batched(search):
    """``search`` (batched, :func:`_search`'s signature) as a function of one model whose
    ``vmap`` is ``search`` over the batch. Keys, ranks and brackets without a batch axis are
    broadcast to the batch; strata without one keep a batch axis of 1, so that what depends
    on them alone is computed once, not per model."""

    @jax.custom_batching.custom_vmap
    def one(*args):
        return search(*jax.tree.map(lambda a: a[None], args))[0]

    @one.def_vmap
    def rule(axis_size, in_batched, keys, rank, bracket, *strata):
        def batch(a, batched):
            return a if batched else jnp.broadcast_to(a, (axis_size, *a.shape))

        keys, rank, bracket = jax.tree.map(batch, (keys, rank, bracket), tuple(in_batched[:3]))
        shared = [a if batched else a[None] for a, batched in zip(strata, in_batched[3:],
                                                                    strict=True)]
        return search(keys, rank, bracket, *shared), True

    return one


_unstratified = _batched(lambda keys, rank, bracket: _search(keys, rank, bracket))
_stratified = _batched(_search)


def _deal(key, n: int, bounds: Array, group, strata=None) -> Array:
    """``(n,)`` bool: the rows in group ``group`` of a uniformly random assignment of the
    ``n`` rows to groups ``0..J`` of fixed sizes (fixed per stratum, with ``strata``).

    ``bounds (C, J)`` int32 gives, for stratum ``c``, the cumulative sizes of groups
    ``0..J-1``: group ``j`` gets ``bounds[c, j] - bounds[c, j - 1]`` of the stratum's rows
    and group ``J`` the rest (the bounds are nondecreasing and at most the stratum's size).
    Without ``strata`` there is one stratum (``C = 1``); with ``strata (n,)`` bool, stratum
    1 is its True rows and stratum 0 the others (``C = 2``). ``group`` is an int in
    ``[0, J]``, traced or not; ``n <= 2^29`` (:data:`MAX_ROWS`).

    The rows are ranked by a random permutation (the order of their distinct words,
    :func:`_words`), within each stratum, and group ``j`` takes the stratum's rows of ranks
    ``bounds[c, j - 1]`` to ``bounds[c, j] - 1``. A uniformly random permutation makes
    every assignment with these sizes equally likely: a uniform ``m``-subset for ``J = 1``,
    a uniform partition into folds of the given sizes for k-fold; the sizes are exact by
    construction. Only the group's two edges are found (:func:`_order_statistics`; one
    for group 0 or ``J`` given as an int), so a model costs the same for any ``J``.

    Cost: ``n`` words (three mixing rounds each) and a few counting passes over the rows
    per edge, all vectorised, with no loop over the rows; ``O(n)`` memory. Integer work
    and exact float comparisons only, independent of the dtype and of float64.
    """
    words = _words(key, n)
    if strata is None:
        keys, sizes, starts = words, jnp.full((1,), n, jnp.int32), jnp.zeros((1,), jnp.int32)
    else:
        n1 = jnp.sum(strata, dtype=jnp.int32)
        keys = words + jnp.where(strata, jnp.int32(1 << _WORD_BITS), jnp.int32(0))
        sizes, starts = jnp.stack([n - n1, n1]), jnp.stack([jnp.int32(0), n - n1])
    C = sizes.shape[0]
    # Ranks at the groups' edges, counted over all the rows: stratum c's keys lie above
    # those of the strata before it.
    edges = jnp.concatenate([jnp.zeros((C, 1), jnp.int32), jnp.asarray(bounds, jnp.int32),
                             sizes[:, None]], axis=1) + starts[:, None]
    floor = (jnp.arange(C, dtype=jnp.int32) << _WORD_BITS) - 1
    bracket = (floor, starts, floor + (1 << _WORD_BITS), starts + sizes)
    J = edges.shape[1] - 2
    wanted = [side for side, trivial in (("lower", 0), ("upper", J))
              if not (isinstance(group, int) and group == trivial)]
    ranks = {"lower": edges[:, group], "upper": edges[:, group + 1]}
    found = _order_statistics(
        _ordered(keys), jnp.concatenate([ranks[side] for side in wanted]),
        tuple(jnp.concatenate([end] * len(wanted)) for end in bracket), strata)
    inside = jnp.ones((n,), bool)
    for i, side in enumerate(wanted):
        T = found[i * C:(i + 1) * C]
        T = T[0] if strata is None else jnp.where(strata, T[1], T[0])
        inside = inside & (keys > T if side == "lower" else keys <= T)
    return inside


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
