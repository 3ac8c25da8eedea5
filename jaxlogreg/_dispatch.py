"""The fast path of a warm call: what a public function's boundary made of its arguments,
kept per argument signature, and the small device arrays it keeps for defaults.

A public function that computes on data (``fit``, ``inference``) validates its arguments
into a *plan* (a NamedTuple whose ``data`` field is a :class:`jaxlogreg._validate.FitInputs`)
and then runs one compiled program. The shape and option checks, the dtype and the static
settings of a plan depend on nothing but the call's signature (:func:`signature`: the
shapes and dtypes of its arrays, the types of its numbers, its options), so
:func:`planned` keeps the plan of a signature seen before and a warm call with it runs with
the kept plan and its own arrays. Only plans whose value checks run inside the compiled
program on every call are kept (``data.checked`` False): a kept plan never skips a check.

The compiled programs of a small call on a CPU (one model, a first small batch) are XLA's
quickest to compile (:class:`Programs`).

Defaults (unit weights, zero offsets, numbers passed as ``()`` arguments) are device arrays
made once per distinct small value (:func:`_filled`, :func:`_scalar`): JAX arrays are
immutable, and a lookup costs less than a dispatch. Results are built without their frozen
dataclass's ``__init__`` (:func:`built`), whose fields are set one at a time.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from . import _batch
from ._validate_values import _is_concrete

__all__ = ["Plans", "planned", "signature", "built", "Programs", "QUICK_COMPILE", "QUICK_WORK",
           "QUICK_STUDY_WORK"]


def _full(shape: tuple[int, ...], value: float, dtype) -> jax.Array:
    """``jnp.full(shape, value, dtype)``, filled on the host and moved to the device: no
    program of its own to compile (each distinct jitted ``jnp.full`` would be one)."""
    return jax.device_put(np.full(shape, value, jnp.dtype(dtype)))


# Default arrays of at most this many elements (512 KiB of float64) are made once and kept;
# larger ones (the weights of a data set of a million rows, say) are made per call, so that
# nothing large outlives its fit.
_KEEP_ELEMENTS = 2**16


def _filled(shape: tuple[int, ...], value: float, dtype) -> jax.Array:
    """``jnp.full(shape, value, dtype)``, made once per distinct small argument and shared
    (JAX arrays are immutable): a default array then costs a dictionary lookup instead of a
    dispatch or eager ``jnp.ones``' chain of them. Always a
    concrete array, also when called under a trace (never a cached tracer)."""
    if math.prod(shape) <= _KEEP_ELEMENTS:
        return _kept(shape, value, dtype)
    with jax.ensure_compile_time_eval():
        return _full(shape, value, dtype)


@functools.lru_cache(maxsize=64)
def _kept(shape: tuple[int, ...], value: float, dtype) -> jax.Array:
    with jax.ensure_compile_time_eval():
        return _full(shape, value, dtype)


def signature(arrays, numbers, options):
    """Key of a call for :class:`Plans`, or None when the call has none: ``arrays`` must be
    None or concrete, strongly typed JAX arrays of one floating dtype (the first given),
    ``numbers`` None or Python ints and floats, ``options`` hashable settings (bools,
    strings, None, frozen dataclasses)."""
    keys: list[tuple | None] = []
    first = None
    for a in arrays:
        if a is None:
            keys.append(None)
            continue
        if not isinstance(a, jax.Array) or not _is_concrete(a) or a.weak_type:
            return None
        if first is None:
            if not _floating(a.dtype):
                return None
            first = a.dtype
        elif a.dtype != first:
            return None
        keys.append((a.shape, a.dtype))
    if first is None:
        return None
    for v in numbers:
        if v is not None and type(v) not in (int, float):
            return None
    for v in options:
        if not _hashable_option(type(v)):
            return None
    return tuple(keys), tuple((type(v), v) for v in numbers), tuple(options)


@functools.cache
def _floating(dtype) -> bool:
    return bool(jnp.issubdtype(dtype, jnp.floating))


def _hashable_option(kind) -> bool:
    """Bools, strings, None and frozen dataclasses (solver settings)."""
    if kind in (bool, str, type(None)):
        return True
    params = getattr(kind, "__dataclass_params__", None)
    return params is not None and params.frozen


class Plans:
    """What a function's boundary made of its arguments, kept by :func:`signature`.

    The boundary's shape and option checks, the dtype and the static settings depend on
    nothing but the signature, so a warm call with a known one skips them and runs with the
    earlier plan and its own arrays. A plan must hold no caller's array (the boundary's own
    defaults are cached and immutable), and only calls whose value checks run inside the
    compiled program on every call may be kept. Bounded: cleared when full.
    """

    def __init__(self, limit: int = 256):
        self._plans: dict = {}
        self._limit = limit

    def get(self, key):
        return None if key is None else self._plans.get(key)

    def put(self, key, plan) -> None:
        """Keep ``plan`` for ``key`` unless ``key`` is None or the plan holds an array of
        more than ``_KEEP_ELEMENTS`` values (a large default, kept by nothing else)."""
        if key is None:
            return
        leaves = jax.tree_util.tree_leaves(plan)
        if any(isinstance(a, jax.Array) and a.size > _KEEP_ELEMENTS for a in leaves):
            return
        if len(self._plans) >= self._limit:
            self._plans.clear()
        self._plans[key] = plan


def _scalar(value, dtype) -> jax.Array:
    """``value`` as a ``()`` ``dtype`` argument of a jitted call: a JAX array (or tracer)
    stays one; a number becomes the device array :func:`_filled` keeps for it (a NumPy
    argument would cost the call a transfer, eager ``jnp.asarray`` a dispatch)."""
    if isinstance(value, jax.Array):
        return jnp.asarray(value, dtype)
    return _filled((), np.asarray(value).item(), jnp.dtype(dtype))


def planned(key_of: Callable, arrays_of: Callable) -> Callable:
    """Decorator of a boundary's ``prepare(*args, **kwargs) -> plan``: the plan of a call
    whose signature was seen before is the kept one with this call's arrays.

    ``key_of(*args, **kwargs)`` is the call's :func:`signature` or None (no plan kept or
    used); ``arrays_of(*args, **kwargs)`` its ``(X, y, weights, offset, trials)`` as given
    (None where not given), which a kept plan is :meth:`~jaxlogreg._validate.FitInputs.filled`
    with. ``key_of`` must return None for calls whose arrays are not yet in the computing
    dtype and shapes the signature names (it sees them as given). The decorated function
    has ``.plans`` (its :class:`Plans`, which may be replaced) and ``.uncached``
    (``prepare`` itself).
    """

    def wrap(prepare: Callable) -> Callable:
        @functools.wraps(prepare)
        def cached(*args, **kwargs):
            plans = cached.plans  # type: ignore[attr-defined]
            key = key_of(*args, **kwargs)
            plan = plans.get(key)
            X, y, weights, offset, trials = arrays_of(*args, **kwargs)
            if plan is not None:
                return plan._replace(data=plan.data.filled(X, y, weights, offset, trials))
            plan = prepare(*args, **kwargs)
            if key is not None and not plan.data.checked:
                bare = plan.data.bare(weights is not None, offset is not None)
                plans.put(key, plan._replace(data=bare))
            return plan

        cached.plans = Plans()  # type: ignore[attr-defined]
        cached.uncached = prepare  # type: ignore[attr-defined]
        return cached

    return wrap


def built(cls, arrays: dict, **statics):
    """``cls(**arrays, **statics)`` for a frozen dataclass ``cls``, without its
    ``__init__`` (which sets the fields one ``object.__setattr__`` at a time): for results
    whose fields are complete and checked by construction."""
    obj = object.__new__(cls)
    obj.__dict__.update(arrays)
    obj.__dict__.update(statics)
    return obj


# XLA's older fused-loop emitters of its CPU backend: they compile a program in much less
# time than its default emitters, but run a batch's vectorised loops slower (one model's
# loop runs as fast: its time goes to the loop's bookkeeping, not its arithmetic).
# BENCHMARKS.md (bench_engine) and CHANGELOG.md give the figures.
QUICK_COMPILE = {"xla_cpu_use_fusion_emitters": False}

# A call on a CPU whose models times rows is at most this compiles with QUICK_COMPILE: its
# warm run is short beside the compile time the older emitters save, so that even a call
# repeated a few dozen times is better off (a first fit, the first batch of 1,000 splits of
# 1,000 rows). Above it, where the warm run is the larger cost (a batch of 10,000 such
# splits, a few splits of a million rows), the defaults.
QUICK_WORK = 2**21

# The same for a study, whose chunks share one program: the study's replicates times rows.
# The main job (10,000 splits of 1,000 rows) compiles quickly; a study of 100,000 with the
# defaults.
QUICK_STUDY_WORK = 2**24


class Programs:
    """A function jitted twice: with XLA's defaults, and with :data:`QUICK_COMPILE` for an
    eager call on a CPU of at most ``quick_work`` models times rows (:data:`QUICK_WORK` by
    default: a first fit or inference of one model, a first small batch, is mostly its
    compilation). :meth:`pick` chooses by the call; under a caller's trace the function is
    part of the caller's program, whose options are the caller's."""

    def __init__(self, fun: Callable, static_argnames: tuple, quick_work: int = QUICK_WORK):
        self.default = jax.jit(fun, static_argnames=static_argnames)
        self.quick = jax.jit(fun, static_argnames=static_argnames,
                             compiler_options=QUICK_COMPILE)
        self.quick_work = quick_work

    def pick(self, work: int, X, args) -> Callable:
        """The program for a call of ``work`` models times rows, on the design ``X`` (whose
        device says the platform; None or a NumPy array: the default backend's) and arrays
        the leaves of ``args``."""
        platform = (None if X is None else _batch.platform_of(X)) or jax.default_backend()
        quick = (work <= self.quick_work and platform == "cpu"
                 and all(map(_is_concrete, jax.tree_util.tree_leaves(args))))
        return self.quick if quick else self.default
