"""JAX's persistent compilation cache, turned on for a whole process in one line.

A first fit compiles its programs (a second or two on a CPU); a later process that finds
them in the cache loads them instead. ``jaxlogreg.enable_compilation_cache()`` keeps every
program the process compiles in ``~/.cache/jaxlogreg/jax`` (or the directory given); the
command line does the same unless told not to.
"""

from __future__ import annotations

import os
import sys

__all__ = ["enable_compilation_cache", "default_cache_dir"]


def default_cache_dir() -> str:
    """``$JAX_COMPILATION_CACHE_DIR``, else ``jaxlogreg/jax`` in ``$XDG_CACHE_HOME`` or
    ``~/.cache``."""
    if os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        return os.environ["JAX_COMPILATION_CACHE_DIR"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "jaxlogreg", "jax")


def enable_compilation_cache(path: str | None = None) -> str | None:
    """Keep every program this process compiles in JAX's persistent compilation cache.

    Args:
      path: the cache directory (made if missing); None for :func:`default_cache_dir`.

    Returns:
      The directory in use, or None when it cannot be made or written (the cache then stays
      off, with a note on stderr; nothing raises).

    A setting of the whole process (``jax_compilation_cache_dir``), best made before the
    first fit. Every program is cached, not only those that compile for over JAX's default
    one second (most of this library's programs compile faster), unless
    ``$JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS`` says otherwise.
    """
    import jax

    path = default_cache_dir() if path is None else os.fspath(path)
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as e:
        print(f"jaxlogreg: no compilation cache: cannot make {path}: {e.strerror}", file=sys.stderr)
        return None
    if not os.access(path, os.W_OK | os.X_OK):
        print(f"jaxlogreg: no compilation cache: {path} is not writable", file=sys.stderr)
        return None
    jax.config.update("jax_compilation_cache_dir", path)
    if "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS" not in os.environ:
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    return path
