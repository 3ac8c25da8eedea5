"""Batches: ``L`` lanes run the driver's step (:mod:`jaxlogreg.solvers._driver`) vmapped,
refilled from a queue of models.

The lanes run :meth:`Solver.step` vmapped (``axis_name`` :data:`AXIS`, over which the few
batch-wide predicates are reduced). When a lane's model stops, its result is written out and
the lane is given the next model of the queue, so lanes stay busy until the queue is empty: a
few slow models (separated ones, typically) cost their own steps, never a whole chunk's, and
no model is started twice. A model's trajectory depends only on its own data and start,
never on its lane, its neighbours or the lane count.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import jax
import jax.numpy as jnp

from ._driver import AXIS, RUNNING, Context, Result, Solver, State, finish

__all__ = ["before_states", "run_batch"]


class _Layout:
    """The leaves of a pytree of per-model arrays (models in front) laid side by side, one
    2-D array per dtype: moving models between the lanes and the queue is then one gather
    and one scatter per dtype, not one per leaf."""

    def __init__(self, shapes):
        leaves, self.treedef = jax.tree_util.tree_flatten(shapes)
        widths: dict = {}
        self.fields = []
        for leaf in leaves:
            dtype, shape = jnp.dtype(leaf.dtype), tuple(leaf.shape[1:])
            size = math.prod(shape)
            self.fields.append((dtype, widths.get(dtype, 0), size, shape))
            widths[dtype] = widths.get(dtype, 0) + size
        self.dtypes = tuple(widths)
        self.widths = tuple(widths[d] for d in self.dtypes)

    def pack(self, tree) -> tuple:
        leaves = jax.tree_util.tree_leaves(tree)
        k = leaves[0].shape[0]
        groups: dict = {d: [] for d in self.dtypes}
        for leaf, (dtype, _, size, _) in zip(leaves, self.fields, strict=True):
            groups[dtype].append(jnp.reshape(leaf, (k, size)))
        return tuple(jnp.concatenate(groups[d], axis=1) for d in self.dtypes)

    def unpack(self, packed: tuple):
        arrays = dict(zip(self.dtypes, packed, strict=True))
        leaves = [arrays[dtype][:, offset : offset + size].reshape((-1,) + shape)
                  for dtype, offset, size, shape in self.fields]
        return jax.tree_util.tree_unflatten(self.treedef, leaves)

    def zeros(self, k: int) -> tuple:
        return tuple(jnp.zeros((k, w), d) for d, w in zip(self.dtypes, self.widths, strict=True))


# Lanes refilled at once, as a share of the lanes: 1 / _REFILL.
_REFILL = 3


def before_states(solver: Solver, problem_of: Callable, lane, beta0) -> State:
    """The states before the start of a block of models (``lane`` and ``beta0`` with the
    models in front): :meth:`Solver.before`, vmapped."""
    return jax.vmap(lambda ln, b: solver.before(problem_of(ln), b))(lane, beta0)


def run_batch(solver: Solver, problem_of: Callable, start: Callable, num: int, ctx: Context,
              lanes: int, count=None) -> Result:
    """Fit ``num`` models on ``lanes`` lanes refilled from a queue (module docstring).

    Args:
      solver: the settings.
      problem_of: ``lane -> Problem``: one model's problem from its per-model data (the
        pytree ``start`` returns, one lane of it), the shared data closed over.
      start: ``ids -> (lane, state)``: the per-model data and the states of the models
        ``ids`` ``(k,)`` int32 (indices clipped to ``count - 1``), with ``k`` in front; the
        states before the start (:func:`before_states`) or already evaluated there
        (:meth:`Solver.start_at`).
      num: the number of models (``> 0``): the static size of the program and its results.
      ctx: tolerance and iteration bound; its ``axis_name`` is replaced by :data:`AXIS`.
      lanes: models run at once (at most ``num`` are used).
      count: the models fitted, ``1 <= count <= num`` (an int32 scalar, traced or not; None:
        ``num``): models ``0 .. count - 1`` run and the results of the others are zeros, so
        batches of different sizes can share one program of size ``num``.

    Returns:
      :class:`Result` with ``num`` in front.

    Models are started four lane counts at a time, a block (one vectorised call of
    ``start``: drawing resampling weights is cheapest in large blocks), and lanes are
    refilled from it
    up to ``lanes / 4`` at a time, as soon as ``lanes / 16`` are free: a model takes several
    steps, so a quarter of the lanes per step keeps up with the models that finish, and a
    refill costs a quarter of a step's rows. For a :attr:`Solver.synchronized` solver all
    lanes are refilled at once, when all are free.
    """
    L = max(1, min(int(lanes), int(num)))
    K = L if (solver.synchronized or L < 8) else max(1, L // _REFILL)
    # Blocks of four lane counts: each block's end leaves lanes idle for a step (its last
    # models fill fewer lanes than are free), so blocks are several refills long.
    Q = min(int(num), L if solver.synchronized else 4 * L)
    ctx = dataclasses.replace(ctx, axis_name=AXIS)

    step = jax.vmap(lambda ln, s: solver.step(problem_of(ln), s, ctx), axis_name=AXIS)
    done = jax.vmap(lambda ln, s: finish(problem_of(ln), s))
    lane_q, state_q = jax.eval_shape(start, jnp.arange(Q, dtype=jnp.int32))
    states, results = _Layout(state_q), _Layout(jax.eval_shape(done, lane_q, state_q))
    zeros = lambda shapes, k: jax.tree_util.tree_map(  # noqa: E731
        lambda s: jnp.zeros((k,) + s.shape[1:], s.dtype), shapes)
    ids_k = jnp.arange(K, dtype=jnp.int32)
    total = num if count is None else jnp.asarray(count, jnp.int32)
    blocks = -(-total // Q)

    def block(b, carry):
        """Start models ``b Q ..`` and run the lanes until every one of them has a lane
        (the last block: until every lane is done)."""
        first = b * Q
        end = jnp.minimum(first + Q, total)
        queue_lane, queue_state = start(jnp.minimum(first + jnp.arange(Q, dtype=jnp.int32),
                                                    total - 1))
        queue_state = states.pack(queue_state)

        def body(carry):
            lane, model, state, queued, out = carry
            free = model < 0
            n_free = jnp.sum(free, dtype=jnp.int32)
            left = end - queued
            if solver.synchronized:
                need = (left > 0) & (n_free == L)
            else:
                need = (left > 0) & (n_free >= jnp.minimum(max(1, K // 4), left))
            count = jnp.where(need, jnp.minimum(jnp.minimum(n_free, K), left), 0)
            source = jnp.minimum(queued - first + ids_k, Q - 1)
            (slots,) = jnp.nonzero(free, size=K, fill_value=L)
            target = jnp.where(ids_k < count, slots, L)  # L: dropped
            put = lambda a, b: a.at[target].set(b[source], mode="drop")  # noqa: E731
            lane = jax.tree_util.tree_map(put, lane, queue_lane)
            state = tuple(map(put, state, queue_state))
            model = model.at[target].set(queued + ids_k, mode="drop")

            new = step(lane, states.unpack(state))

            stopped = (model >= 0) & (new.status != RUNNING)
            where = jnp.where(stopped, model, num)  # num: dropped
            finished = results.pack(done(lane, new))
            out = tuple(o.at[where].set(r, mode="drop") for o, r in zip(out, finished, strict=True))
            return lane, jnp.where(stopped, -1, model), states.pack(new), queued + count, out

        last = b == blocks - 1
        return jax.lax.while_loop(
            lambda c: (c[3] < end) | (last & jnp.any(c[1] >= 0)), body, carry)

    carry = (
        zeros(lane_q, L),
        jnp.full((L,), -1, jnp.int32),
        states.zeros(L),
        jnp.zeros((), jnp.int32),
        results.zeros(num),
    )
    return results.unpack(jax.lax.fori_loop(0, blocks, block, carry)[4])
