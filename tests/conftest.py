"""Strict test settings: float64 on, implicit rank promotion an error.

Compilation dominates the suite's time, and the test problems are small, so XLA's
optimisation passes are switched off (``JAX_DISABLE_MOST_OPTIMIZATIONS``, also inherited by
the command-line tests' subprocesses): about 30% less compile time. The computations and
their semantics are unchanged; the benchmarks run fully optimised.
"""

import os

os.environ.setdefault("JAX_DISABLE_MOST_OPTIMIZATIONS", "1")

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")
