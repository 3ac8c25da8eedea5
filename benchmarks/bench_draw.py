"""The split, subsample and k-fold draws alone: the ranked draw of `jaxlogreg._resample_draw`
against the sequential draw it replaced, timed in the same run.

The sequential draw (selection sampling, Fan, Muller and Rezucha 1962: a ``lax.scan`` over
the rows that takes row ``i`` with probability rows needed / rows left) is kept here, in
:func:`sequential_deal`, as the baseline. Both draw every model of a batch inside the fit's
chunks on this machine (`jaxlogreg._batch.default_chunk`), vmapped over a chunk's models and
mapped over the chunks in one compiled program per draw, scheme and shape; the two programs
run in turn, ``--rounds`` times, and the table gives the median time per model and the
median of the pairs' ratios.

    python benchmarks/bench_draw.py            # writes its section of BENCHMARKS.md
    python benchmarks/bench_draw.py --quick    # n = 100 only, one round, prints only
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, os.path.dirname(__file__))

from bench_newton import cpu_name, write  # noqa: E402
from jaxlogreg import _batch  # noqa: E402
from jaxlogreg._resample_draw import _deal, _fold_bounds, _rounded  # noqa: E402

MARK_BEGIN = "<!-- bench_draw:begin -->"
MARK_END = "<!-- bench_draw:end -->"


def _below(key, bound):
    """The sequential draw's random integers: ``floor(v bound / 2^32)`` for random 32-bit
    words ``v`` (Lemire's multiply-shift, in 16-bit halves)."""
    v = jax.random.bits(key, bound.shape, jnp.uint32)
    b = bound.astype(jnp.uint32)
    half = jnp.uint32(0xFFFF)
    v0, v1, b0, b1 = v & half, v >> 16, b & half, b >> 16
    low = v1 * b0 + ((v0 * b0) >> 16)
    mid = v0 * b1 + (low & half)
    return (v1 * b1 + (low >> 16) + (mid >> 16)).astype(jnp.int32)


def sequential_deal(key, n, bounds, group, strata=None):
    """The sequential draw (``_deal``'s contract): row ``i`` of stratum ``c`` joins group
    ``j`` with probability (room left in ``j``) / (rows of ``c`` left)."""
    row = jnp.arange(n, dtype=jnp.int32)
    if strata is None:

        def step(room, r):
            passed = room > r
            return room - passed, jnp.sum(~passed, dtype=jnp.int32) == group

        return jax.lax.scan(step, bounds[0], _below(key, n - row))[1]
    ones = strata.astype(jnp.int32)
    ones_before = jnp.cumsum(ones, dtype=jnp.int32) - ones
    n1 = jnp.sum(ones, dtype=jnp.int32)
    left = jnp.where(strata, n1 - ones_before, (n - n1) - (row - ones_before))

    def step_stratified(room, x):
        (room0, room1), (r, one) = room, x
        passed = jnp.where(one, room1, room0) > r
        room = room0 - (passed & ~one), room1 - (passed & one)
        return room, jnp.sum(~passed, dtype=jnp.int32) == group

    return jax.lax.scan(step_stratified, (bounds[0], bounds[1]),
                        (_below(key, left), strata))[1]


def schemes(n: int, y: np.ndarray, k: int = 5):
    """``name -> (bounds, group of model b, key of model b, strata)`` as the schemes of
    `jaxlogreg._resample` call ``_deal``: splits and subsamples with 65% training rows
    (group 0 of a given int), k-fold with the fold of model ``b`` (traced)."""
    n1 = int(y.sum())
    n0 = n - n1
    strata = jnp.asarray(y == 1)
    m = int(_rounded(0.65, n))
    m_c = [[int(_rounded(0.65, n0))], [int(_rounded(0.65, n1))]]
    fold_bounds = np.stack([_fold_bounds(k, n0), _fold_bounds(k, n1, n0)])
    return {
        "splits (and subsamples)": (np.array([[m]]), lambda b: 0, lambda b: b, None),
        "stratified splits": (np.array(m_c), lambda b: 0, lambda b: b, strata),
        "k-fold, k = 5": (_fold_bounds(k, n)[None], lambda b: b % k, lambda b: b // k, None),
        "stratified k-fold, k = 5": (fold_bounds, lambda b: b % k, lambda b: b // k, strata),
    }


def program(deal, n, chunk, bounds, group, model_key):
    """``run(index, strata)``: the draw's total training rows over the models ``index``
    (the labels an argument, as in a fit, not a constant XLA would fold)."""
    key = jax.random.key(0)
    bounds = jnp.asarray(bounds, jnp.int32)

    def run(index, strata):
        def one(b):
            return deal(jax.random.fold_in(key, model_key(b)), n, bounds, group(b), strata)

        per_chunk = jax.lax.map(lambda c: jnp.sum(jax.vmap(one)(c), dtype=jnp.int32),
                                index.reshape(-1, chunk))
        return jnp.sum(per_chunk)

    return jax.jit(run)


def measure(n: int, models: int, rounds: int):
    chunk = _batch.default_chunk(n, "cpu")
    B = max(1, models // chunk) * chunk
    y = (np.random.default_rng(0).random(n) < 0.11).astype(np.float64)
    index = jnp.arange(B, dtype=jnp.int32)
    rows = []
    for name, (bounds, group, model_key, strata) in schemes(n, y).items():
        ranked = program(_deal, n, chunk, bounds, group, model_key)
        sequential = program(sequential_deal, n, chunk, bounds, group, model_key)
        # Both give every model the same number of training rows, so the same total.
        assert int(ranked(index, strata)) == int(sequential(index, strata)), name
        times = {"ranked": [], "sequential": []}
        for _ in range(rounds):
            for label, f in (("sequential", sequential), ("ranked", ranked)):
                t0 = time.perf_counter()
                f(index, strata).block_until_ready()
                times[label].append(time.perf_counter() - t0)
        r, s = np.array(times["ranked"]), np.array(times["sequential"])
        rows.append((n, chunk, B, name, np.median(s) / B * 1e6, np.median(r) / B * 1e6,
                     float(np.median(r / s))))
        print(f"n = {n:,}, chunk {chunk}, {name}: sequential {rows[-1][4]:.2f} us, "
              f"ranked {rows[-1][5]:.2f} us per model, ratio {rows[-1][6]:.2f}", flush=True)
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small batches, print only")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "BENCHMARKS.md"))
    args = ap.parse_args(argv)
    shapes = ((100, 1024),) if args.quick else (
        (100, 100_000), (1000, 10_240), (10_000, 1024), (100_000, 64))
    rounds = 1 if args.quick else args.rounds
    rows = [row for n, models in shapes for row in measure(n, models, rounds)]
    section = "\n".join([
        MARK_BEGIN,
        "## Split and k-fold draws alone (`benchmarks/bench_draw.py`)",
        "",
        f"Measured {datetime.date.today().isoformat()} on {cpu_name()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, jax {jax.__version__}; the draw of every model's "
        "training rows, in the fit's chunks, one compiled program per draw; the ranked draw "
        "(the library's) against the sequential draw it replaced, in turn, "
        f"{rounds} rounds; about 11% of the rows in class 1 for the stratified draws.",
        "",
        "| n | chunk | models | scheme | sequential, us per model | ranked, us per model "
        "| ranked / sequential |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        *(f"| {n:,} | {chunk:,} | {B:,} | {name} | {s:.2f} | {r:.2f} | {ratio:.2f} |"
          for n, chunk, B, name, s, r, ratio in rows),
        MARK_END,
    ])
    print(section)
    if not args.quick:
        write(section, args.out, MARK_BEGIN, MARK_END)
    return 0


if __name__ == "__main__":
    sys.exit(main())
