"""Strict test settings: float64 on, implicit rank promotion an error.

Compilation dominates the suite's time, and the test problems are small, so XLA's
optimisation passes are switched off (``JAX_DISABLE_MOST_OPTIMIZATIONS``, also inherited by
the command-line tests' subprocesses): about 30% less compile time. The computations and
their semantics are unchanged; the benchmarks run fully optimised.

The programs the suite compiles (all of them, however quick to compile) are kept in JAX's
persistent compilation cache in ``.pytest_cache/d/jax``, pytest's folder for plugins'
caches, so that a later run compiles only what changed: the cache is keyed on the program,
the compile options and the versions of jax and jaxlib, so an entry is never used for
another program. ``pytest --cache-clear`` empties it; a ``JAX_COMPILATION_CACHE_DIR`` set
by the caller wins, and ``JAXLOGREG_TEST_CACHE=0`` turns it off (CI does: a clean clone has
nothing to reuse).
"""

import os
from pathlib import Path

os.environ.setdefault("JAX_DISABLE_MOST_OPTIMIZATIONS", "1")
if os.environ.get("JAXLOGREG_TEST_CACHE", "1") != "0":
    os.environ.setdefault("JAX_COMPILATION_CACHE_DIR",
                          str(Path(__file__).resolve().parent.parent / ".pytest_cache" / "d" / "jax"))
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")
