"""The value checks of a fit's data (:mod:`jaxlogreg._validate`): finite values, labels in
range, nonnegative weights with some weight in every model, finite nonnegative trials.

The checks are one fused reduction on the device (:func:`value_flags`), or a single
pass/fail of them (:func:`values_ok`) that a small problem's fit computes inside its own
compiled program; the first bad index is located on the host only after a check has failed
(:func:`raise_for_flags`). Concrete arrays only: traced data is never checked (statuses
carry the news inside a user's ``jit``)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def _is_concrete(a) -> bool:
    return not isinstance(a, jax.core.Tracer)


def _first(mask: np.ndarray) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argwhere(mask)[0])


def _nonfinite(name: str, a) -> ValueError:
    """The error for the first non-finite value of ``a``, naming the argument ``name``."""
    an = np.asarray(a)
    idx = _first(~np.isfinite(an))
    return ValueError(f"{name}: non-finite value {an[idx]} at index {idx}")


def value_flags(X, y, w, o, t=None) -> jax.Array:
    """``(8,)`` bool: the value checks of :func:`raise_for_flags`, each True when it passes
    (finite ``X``, finite ``y``, labels in range, finite weights, nonnegative weights, some
    weight in every model, finite offset, finite nonnegative trials). Pure: it runs inside
    the fit's own compiled program when the check is deferred to after the call."""
    if t is not None:
        y, t = jnp.broadcast_arrays(y, t)
    labels = ((y >= 0) & (y <= 1)) if t is None else ((y >= 0) & (y <= t))
    total = w if t is None else jnp.multiply(*jnp.broadcast_arrays(w, t))
    return jnp.stack(
        [
            jnp.all(jnp.isfinite(X)),
            jnp.all(jnp.isfinite(y)),
            jnp.all(labels),
            jnp.all(jnp.isfinite(w)),
            jnp.all(w >= 0),
            jnp.all(jnp.sum(total, axis=-1) > 0),
            True if o is None else jnp.all(jnp.isfinite(o)),
            True if t is None else jnp.all(jnp.isfinite(t) & (t >= 0)),
        ]
    )


_value_flags = jax.jit(value_flags)


def values_ok(X, y, w, o, t=None) -> jax.Array:
    """``()`` bool: every check of :func:`value_flags` passes, by fewer reductions (one per
    array). Pure: a small problem's fit computes it inside its own compiled program and
    passes it to :func:`check_values` (which finds and names a failure)."""
    if t is None:
        y_ok = jnp.all((y >= 0) & (y <= 1))
        total = w
    else:
        y, t = jnp.broadcast_arrays(y, t)
        y_ok = jnp.all(jnp.isfinite(y) & (y >= 0) & (y <= t) & jnp.isfinite(t) & (t >= 0))
        total = jnp.multiply(*jnp.broadcast_arrays(w, t))
    ok = (jnp.all(jnp.isfinite(X)) & y_ok & jnp.all(jnp.isfinite(w) & (w >= 0))
          & jnp.all(jnp.sum(total, axis=-1) > 0))
    return ok if o is None else ok & jnp.all(jnp.isfinite(o))


_values_ok = jax.jit(values_ok)


def check_values(X, y, w, o, t=None, ok=None) -> None:
    """Raise the ``ValueError`` of the first bad value of the data, if any: a pass/fail
    (:func:`values_ok`, or ``ok`` when the caller's program computed it) and, only after a
    failure, :func:`value_flags` and :func:`raise_for_flags`. Traced data is not checked
    (nothing raises inside a user's ``jit``); an ``ok`` traced by a user's ``jit`` around
    concrete data (closed over, with a traced ``alpha`` say) is recomputed from the data."""
    if not all(_is_concrete(a) for a in (X, y, w, o, t) if a is not None):
        return
    with jax.ensure_compile_time_eval():  # concrete data: evaluated now, even under a trace
        if ok is None or not _is_concrete(ok):
            ok = _values_ok(X, y, w, o, t)
        if np.asarray(ok):
            return
        flags = np.asarray(_value_flags(X, y, w, o, t))
    raise_for_flags(flags, X, y, w, o, t)


def raise_for_flags(flags: np.ndarray, X, y, w, o, t=None) -> None:
    """Raise the ``ValueError`` of the first failed check in ``flags`` (from
    :func:`value_flags` of the same arrays), naming the argument and the first bad index;
    nothing when every check passed."""
    if flags.all():
        return
    if not flags[0]:
        raise _nonfinite("X", X)
    if not flags[1]:
        raise _nonfinite("y", y)
    if not flags[7]:
        tn = np.asarray(t)
        idx = _first(~(np.isfinite(tn) & (tn >= 0)))
        raise ValueError(f"trials: must be finite and nonnegative, got {tn[idx]} at index {idx}")
    if not flags[2]:
        yn = np.asarray(y)
        if t is None:
            idx = _first((yn < 0) | (yn > 1))
            raise ValueError(
                f"y: labels must be 0 or 1 (or proportions between), got {yn[idx]} at index {idx}"
            )
        yb, tb = np.broadcast_arrays(yn, np.asarray(t))
        idx = _first((yb < 0) | (yb > tb))
        raise ValueError(
            f"y: successes must be between 0 and trials, got {yb[idx]} of {tb[idx]} trials "
            f"at index {idx}"
        )
    if not flags[3]:
        raise _nonfinite("weights", w)
    if not flags[4]:
        wn = np.asarray(w)
        idx = _first(wn < 0)
        raise ValueError(f"weights: negative value {wn[idx]} at index {idx}")
    if not flags[5]:
        wn = np.asarray(w) if t is None else np.asarray(w) * np.asarray(t)
        what = "weights" if t is None else "weights * trials"
        if wn.ndim == 1:
            raise ValueError(f"weights: all {what} are zero")
        idx = _first(wn.sum(axis=-1) <= 0)
        raise ValueError(f"weights: all {what} of model {idx} are zero")
    if not flags[6]:
        raise _nonfinite("offset", o)
