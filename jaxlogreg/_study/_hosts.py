"""A study over several hosts as independent processes, with no communication.

A study's replicates are keyed by their index: replicate ``b`` is fitted on
``scheme.weights(b, y)``, a function of the key and ``b`` alone, and starts from the
full-data fit. So each host can run its own block without any communication::

    r = replicate_range(scheme.num)        # this process's block of replicate indices
    study = run_study(X, y, true, scheme=scheme_window(scheme, r.start, r.stop),
                      out=f"study/host{jax.process_index()}", resume=True)

:func:`replicate_range` reads the process index and count from ``jax.process_index()`` /
``jax.process_count()`` (after ``jax.distributed.initialize()``) or takes them as arguments
(e.g. from ``SLURM_PROCID`` / ``SLURM_NTASKS`` without initialising JAX's distributed
runtime). A host that dies is rerun alone (``resume=True`` keeps its finished chunks). Then,
on one machine, :func:`merge_replicates` joins the per-host replicate arrays (indices made
global, checked to tile ``0 .. num - 1``) and ``jaxlogreg._study.summarize(reps, true,
level)`` summarises them. When every block is a multiple of the study's ``batch``, each
chunk holds the same replicates as in a one-host run and the merged arrays equal that run's
bit for bit.

One global mesh across hosts is the other way (:mod:`jaxlogreg._sharding`).
"""

from __future__ import annotations

import jax
import numpy as np

from .. import _resample

__all__ = ["replicate_range", "scheme_window", "merge_replicates"]


def replicate_range(num: int, process_index: int | None = None,
                    process_count: int | None = None) -> range:
    """This process's contiguous block of the replicate indices ``0 .. num - 1``.

    The blocks of processes ``0 .. process_count - 1`` tile the indices in order, sizes
    differing by at most one. The defaults are ``jax.process_index()`` and
    ``jax.process_count()``.
    """
    i = jax.process_index() if process_index is None else int(process_index)
    c = jax.process_count() if process_count is None else int(process_count)
    if c < 1 or not 0 <= i < c:
        raise ValueError(f"process_index: expected 0 <= index < count, got {i} of {c}")
    return range(i * num // c, (i + 1) * num // c)


def scheme_window(scheme: _resample.Scheme, start: int, stop: int) -> _resample.Scheme:
    """Models ``start .. stop - 1`` of ``scheme`` as a scheme of ``stop - start`` models:
    its model ``i`` has the weights of ``scheme``'s model ``start + i``, bit for bit."""
    if not 0 <= start < stop <= scheme.num:
        raise ValueError(
            f"start, stop: expected 0 <= start < stop <= {scheme.num}, got {start}, {stop}"
        )
    return _resample.window(scheme, start, stop - start)


def merge_replicates(pieces) -> dict:
    """Join per-host study replicates into those of one study.

    Args:
      pieces: ``(start, replicates)`` pairs, ``replicates`` a :class:`StudyResult`'s
        per-replicate dict (or anything with its arrays) for the replicates ``start ..`` of
        a window made by :func:`scheme_window` (so its ``index`` counts from 0).

    Returns:
      The per-replicate dict over all pieces in global order, ``index`` global.

    Raises:
      ValueError: if the pieces do not tile ``0 .. num - 1`` without gaps or overlaps.
    """
    pieces = sorted(((int(s), dict(r)) for s, r in pieces), key=lambda sr: sr[0])
    expected = 0
    for s, r in pieces:
        if s != expected:
            raise ValueError(f"pieces: replicates {expected} .. {s - 1} are missing or doubled")
        r["index"] = np.asarray(r["index"]) + s
        expected = s + len(r["index"])
    keys = pieces[0][1].keys()
    return {key: np.concatenate([r[key] for _, r in pieces]) for key in keys}
