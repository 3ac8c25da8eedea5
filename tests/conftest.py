"""Strict test settings: float64 on, implicit rank promotion an error.

Compilation dominates the suite's time, and the test problems are small, so XLA's
optimisation passes are switched off (``JAX_DISABLE_MOST_OPTIMIZATIONS``) and its CPU
backend emits fused loops with its older, faster-compiling emitters
(``--xla_cpu_use_fusion_emitters=false`` in ``XLA_FLAGS``); both are inherited by the
command-line tests' subprocesses. The computations and their semantics are unchanged; the
benchmarks run with the defaults.

The programs the suite compiles (all of them, however quick to compile) are kept in JAX's
persistent compilation cache in ``.pytest_cache/d/jax``, pytest's folder for plugins'
caches, so that a later run compiles only what changed: the cache is keyed on the program,
the compile options and the versions of jax and jaxlib, so an entry is never used for
another program. ``pytest --cache-clear`` empties it; a ``JAX_COMPILATION_CACHE_DIR`` set
by the caller wins, and ``JAXLOGREG_TEST_CACHE=0`` turns it off (CI does: a clean clone has
nothing to reuse).

On a GPU machine, pytest-xdist starts one worker per core, each its own process, and by
default every process's JAX claims 75% of the GPU's memory when it first touches the device:
the second worker would fail to allocate. So every process of the suite (the workers, and
the subprocesses they start, which inherit the environment) allocates GPU memory as it
needs it (``XLA_PYTHON_CLIENT_PREALLOCATE=false``), and an xdist worker may grow to at most
its share of ``GPU_MEMORY_SHARE`` of the memory (``XLA_PYTHON_CLIENT_MEM_FRACTION``), so
that together they cannot exhaust it. JAX reads both when it first initialises the GPU
backend, so they are set here, before any test runs. A caller who sets any of them (or
``XLA_PYTHON_CLIENT_ALLOCATOR``) keeps their own settings; on a machine without a GPU they
do nothing.
"""

import os
from pathlib import Path

# JAX's GPU memory variables, which a caller may have chosen.
GPU_MEMORY_VARIABLES = ("XLA_PYTHON_CLIENT_PREALLOCATE", "XLA_PYTHON_CLIENT_MEM_FRACTION",
                        "XLA_PYTHON_CLIENT_ALLOCATOR")
# The names of those the suite set itself: xdist's workers inherit the environment of the
# main process, whose conftest has run, and must tell its settings from a caller's.
GPU_MEMORY_MARK = "JAXLOGREG_TEST_GPU_MEMORY"
# The share of a GPU's memory that the suite's workers may hold together.
GPU_MEMORY_SHARE = 0.9


def gpu_memory_settings(environ) -> dict:
    """The variables to set for a test process whose environment is ``environ`` (module
    docstring): none when the caller set any of ``GPU_MEMORY_VARIABLES``; otherwise no
    preallocation, under xdist (``PYTEST_XDIST_WORKER_COUNT`` workers) at most
    ``GPU_MEMORY_SHARE / workers`` of the memory, and ``GPU_MEMORY_MARK`` naming them."""
    ours = set(environ.get(GPU_MEMORY_MARK, "").split(","))
    if any(name in environ and name not in ours for name in GPU_MEMORY_VARIABLES):
        return {}
    settings = {"XLA_PYTHON_CLIENT_PREALLOCATE": "false"}
    workers = int(environ.get("PYTEST_XDIST_WORKER_COUNT") or 0)
    if workers > 1:
        settings["XLA_PYTHON_CLIENT_MEM_FRACTION"] = f"{GPU_MEMORY_SHARE / workers:.4f}"
    settings[GPU_MEMORY_MARK] = ",".join(settings)
    return settings


# What this process set (empty when the caller chose): tests/test_sharding.py checks it.
GPU_MEMORY = gpu_memory_settings(os.environ)
os.environ.update(GPU_MEMORY)

os.environ.setdefault("JAX_DISABLE_MOST_OPTIMIZATIONS", "1")
# XLA's CPU backend emits fused loops through its newer MLIR emitters by default; its older
# emitters compile the suite's many small programs in far less time (CHANGELOG.md), with
# the same semantics. Added to the caller's XLA_FLAGS unless they choose the emitters.
if "xla_cpu_use_fusion_emitters" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = " ".join(
        filter(None, [os.environ.get("XLA_FLAGS"), "--xla_cpu_use_fusion_emitters=false"]))
if os.environ.get("JAXLOGREG_TEST_CACHE", "1") != "0":
    os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(
        Path(__file__).resolve().parent.parent / ".pytest_cache" / "d" / "jax"))
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")
