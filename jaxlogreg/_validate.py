"""Checks at the Python boundary: bad input becomes a ValueError naming the argument.

Shapes are always checked. Values (finite, labels in [0, 1], nonnegative weights) are
checked only when the arrays are concrete; inside a user's ``jit`` nothing raises and the
per-model statuses carry the news instead (``NONFINITE`` for NaN or inf, ``INVALID`` for a
negative weight or a label outside [0, 1]). A label strictly between 0 and 1 is a
proportion, fitted by the same loss in both paths (the Bernoulli quasi-likelihood of a
fractional response, as statsmodels' ``GLM(family=Binomial())`` fits it). The value checks
are one fused reduction on the device (:func:`value_flags`); for a small problem a single
pass/fail of them (:func:`values_ok`) runs inside the fit's own compiled program and the
error is found and raised after it, so an eager call costs one dispatch; a large problem is
checked before its fit starts. The first bad index is located only when a check has
failed. Sizes that cannot fit in the device's memory are refused before any array is
converted (:func:`_check_size`). Warm calls whose argument signature was seen before reuse
the shape and option checks (:mod:`jaxlogreg._dispatch`).

The value checks are in :mod:`jaxlogreg._validate_values`, the reading of pandas objects in
:mod:`jaxlogreg._validate_pandas`; both are re-exported here."""

from __future__ import annotations

import math
from typing import NamedTuple, cast

import jax
import jax.numpy as jnp
import numpy as np

from . import _batch
from ._dispatch import _filled, _scalar

# Moved beside this module (re-exported: callers use them as _validate.<name>).
from ._validate_pandas import _from_pandas, _pandas_kind, column_names, series_name  # noqa: F401
from ._validate_values import (  # noqa: F401
    _first,
    _is_concrete,
    check_values,
    raise_for_flags,
    value_flags,
    values_ok,
)

__all__ = ["FitInputs", "fit_inputs", "float_dtype", "penalty_inputs", "class_weight_spec"]


class FitInputs(NamedTuple):
    """Validated arrays in one floating dtype, and the broadcast batch shape."""

    X: jax.Array  # (..., n, d)
    y: jax.Array  # (..., n)
    weights: jax.Array  # (..., n)
    offset: jax.Array  # (..., n)
    batch_shape: tuple[int, ...]
    trials: jax.Array | None = None  # (..., n) binomial trials; y then counts successes
    # False when the value checks were left to the caller (:func:`values_ok` computed
    # inside its compiled call and passed to :func:`check_values` after it).
    checked: bool = True

    def bare(self, weights_given: bool, offset_given: bool) -> FitInputs:
        """These inputs without the caller's arrays, for a :class:`Plans` entry (the default
        weights and offset made here are kept: cached and immutable). The arrays' places
        hold None until :meth:`filled`."""
        none = cast(jax.Array, None)
        return self._replace(X=none, y=none, trials=None,
                             weights=none if weights_given else self.weights,
                             offset=none if offset_given else self.offset)

    def filled(self, X, y, weights, offset, trials) -> FitInputs:
        """A :meth:`bare` entry with a warm call's arrays (already known to be in the
        computing dtype and of the entry's shapes); None keeps the entry's default."""
        return FitInputs(X, y, self.weights if weights is None else weights,
                         self.offset if offset is None else offset, self.batch_shape, trials,
                         self.checked)


def float_dtype(X) -> jnp.dtype:
    """The dtype a fit computes in: ``X``'s if floating (a pandas DataFrame's: its columns'
    common dtype when they are all NumPy floats), else JAX's default float. Never raises:
    what cannot be read as numbers is refused by :func:`_as_array`, naming the argument."""
    default = jnp.dtype(jnp.result_type(float))
    kind = _pandas_kind(X)
    if kind is not None:
        dtypes = list(X.dtypes) if kind == "frame" else [X.dtype]
        if dtypes and all(isinstance(t, np.dtype) and np.issubdtype(t, np.floating)
                          for t in dtypes):
            return jnp.dtype(np.result_type(*dtypes))
        return default
    try:
        dtype = jnp.asarray(X).dtype if not hasattr(X, "dtype") else X.dtype
        return jnp.dtype(dtype) if jnp.issubdtype(dtype, jnp.floating) else default
    except (TypeError, ValueError):
        return default



# The largest iteration bound: max_iter travels as an int32.
_MAX_ITER_LIMIT = 2**31 - 1


def check_tol(tol) -> None:
    """``tol`` (when concrete) is a real number in ``(0, 1)``: a gradient of the mean loss
    is below 1 long before it is small, so a larger ``tol`` would stop at the start."""
    if not _is_concrete(tol):
        return
    if isinstance(tol, bool) or np.iscomplexobj(tol) or np.ndim(tol) != 0:
        raise ValueError(f"tol: expected a real number in (0, 1), got {tol!r}")
    if not float(tol) > 0:
        raise ValueError(f"tol: must be positive, got {tol}")
    if not float(tol) < 1:
        raise ValueError(f"tol: must be below 1, got {tol}")


def check_max_iter(max_iter) -> None:
    """``max_iter`` (when concrete) is an integer in ``[0, 2**31 - 1]``."""
    if not _is_concrete(max_iter):
        return
    value = np.asarray(max_iter)
    if isinstance(max_iter, bool) or value.ndim != 0 or not np.issubdtype(value.dtype, np.integer):
        raise ValueError(f"max_iter: expected an integer, got {max_iter!r}")
    if int(max_iter) < 0:
        raise ValueError(f"max_iter: must be nonnegative, got {max_iter}")
    if int(max_iter) > _MAX_ITER_LIMIT:
        raise ValueError(f"max_iter: must be at most {_MAX_ITER_LIMIT}, got {max_iter}")


def _as_array(name: str, a, dtype, min_ndim: int = 0, ndim=None) -> jax.Array:
    """``a`` as a ``dtype`` array; a ``ValueError`` naming ``name`` when it is not numeric,
    has fewer than ``min_ndim`` dimensions, or (``ndim``) not exactly that many. A JAX
    array (or tracer) already of ``dtype`` is returned as it is, without a dispatch."""
    if (isinstance(a, jax.Array) and a.dtype == dtype and not a.weak_type
            and a.ndim >= min_ndim and (ndim is None or a.ndim == ndim)):
        return a  # already what the checks below would accept and return unchanged
    arr: jax.Array | np.ndarray
    if _pandas_kind(a) is not None:
        arr = _from_pandas(name, a)  # names a column that holds no numbers
    else:
        try:
            # Checked and cast on the host, then moved: jnp.asarray would compile a program
            # per shape on the way.
            arr = a if isinstance(a, jax.Array) else np.asarray(a)
        except (TypeError, ValueError) as e:
            raise ValueError(f"{name}: cannot be read as a numeric array ({e})") from None
    if not (jnp.issubdtype(arr.dtype, jnp.number) or arr.dtype == jnp.bool_):
        raise ValueError(f"{name}: expected a numeric array, got dtype {arr.dtype}")
    if jnp.issubdtype(arr.dtype, jnp.complexfloating):
        raise ValueError(f"{name}: expected real values, got dtype {arr.dtype}")
    if ndim is not None and arr.ndim != ndim:
        shape = {0: "a scalar", 1: "shape (d,)", 2: "shape (n, d)"}.get(ndim, f"{ndim} dimensions")
        raise ValueError(f"{name}: expected {shape}, got shape {arr.shape}")
    if arr.ndim < min_ndim:
        raise ValueError(
            f"{name}: expected at least {min_ndim} dimension(s), got shape {arr.shape}"
        )
    if isinstance(arr, np.ndarray):
        # One device copy: no host copy first when the dtype already matches.
        return _scalar(arr, dtype) if arr.ndim == 0 else jax.device_put(np.asarray(arr, dtype))
    if arr.dtype == dtype and getattr(arr, "weak_type", True) is False:
        return arr  # what astype would return, less its dispatch
    return arr.astype(dtype)




# Problems of at most this many model-rows (models x n) may defer their value checks to the
# fit's own compiled program (``fit_inputs(defer=True)``): a check there costs no extra
# dispatch or round trip; a bad value of a larger problem is better caught before its fit.
_DEFER_LIMIT = 2**20


def _gib(nbytes: float) -> str:
    return f"{nbytes / 2**30:,.1f} GiB"


def _check_size(named: dict, extra_batch, fit_intercept: bool, dtype) -> None:
    """Refuse a problem that cannot fit in memory before any array is converted or moved.

    What a fit holds at least, in ``dtype``: the design with its intercept column, the
    per-row inputs (``y``, weights, offset, trials; ``n`` each when shared) and the results
    (``p + 4`` values per model: parameters, loss, gradient norm, status, iterations). The
    ``ValueError`` names the largest of them and its size against the device's memory."""
    platform = _batch.platform_of(named["X"])
    shapes = {k: tuple(np.shape(a)) if not hasattr(a, "shape") else tuple(a.shape)
              for k, a in named.items() if a is not None}
    if len(shapes["X"]) < 2:
        return  # the shape checks name it
    n, d = shapes["X"][-2:]
    try:
        batch = np.broadcast_shapes(shapes["X"][:-2], tuple(extra_batch),
                                    *(s[:-1] for k, s in shapes.items() if k != "X" and s))
    except ValueError:
        return  # the shape checks name it
    B, p = math.prod(batch), d + int(fit_intercept)
    needs = {"X": math.prod(shapes["X"][:-2]) * n * p}
    for k in ("y", "weights", "offset"):
        needs[k] = max(n, math.prod(shapes.get(k, ())))
    if "trials" in shapes:
        needs["trials"] = max(n, math.prod(shapes["trials"]))
    needs["results"] = B * (p + 4)
    item = jnp.dtype(dtype).itemsize
    total, limit = sum(needs.values()) * item, _batch.device_memory(platform)
    if limit is None or total <= limit:
        return
    name = max(needs, key=lambda k: needs[k])
    size = _gib(needs[name] * item)
    if name == "results":
        what = f"batch: {B:,} models (batch axes {tuple(batch)}) need {size} for their results"
    else:
        column = " with its intercept column" if name == "X" and fit_intercept else ""
        what = f"{name}: shape {shapes[name]}{column} needs {size}"
    device = (platform or jax.default_backend()).upper()
    raise ValueError(
        f"{what} in {jnp.dtype(dtype).name} ({_gib(total)} for the whole problem), more than "
        f"the {_gib(limit)} of memory of {device} device 0; fit fewer models or rows per call"
    )


def fit_inputs(X, y, weights, offset, *, fit_intercept: bool, trials=None, extra_batch=(),
               defer: bool = False) -> FitInputs:
    """Validate and convert the data arguments of :func:`jaxlogreg.fit`.

    Shapes: ``X (..., n, d)``, ``y (..., n)``, ``weights (..., n)`` or None (all ones),
    ``offset (..., n)`` or None (zeros), ``trials (..., n)`` or None (then ``y`` holds 0/1
    labels; else success counts ``0 <= y <= trials``); the leading axes broadcast together
    and with ``extra_batch`` (the shape of a batched penalty, say). Values of concrete arrays
    are checked here, except with ``defer`` for a problem of at most ``_DEFER_LIMIT``
    model-rows: ``checked`` is then False and the caller computes :func:`values_ok` within
    its own compiled call and passes it to :func:`check_values`.
    """
    dtype = float_dtype(X)
    _check_size(dict(X=X, y=y, weights=weights, offset=offset, trials=trials), extra_batch,
                fit_intercept, dtype)
    X = _as_array("X", X, dtype, 2)
    n, d = X.shape[-2:]
    if n == 0:
        raise ValueError("X: no observations (n = 0)")
    if d == 0 and not fit_intercept:
        raise ValueError("X: no columns (d = 0) and fit_intercept=False: nothing to fit")
    y = _as_array("y", y, dtype, 1)
    if weights is None:
        weights = _filled((n,), 1.0, dtype)
    else:
        weights = _as_array("weights", weights, dtype, 1)
    offset = _filled((n,), 0.0, dtype) if offset is None else _as_array("offset", offset, dtype, 1)
    named = [("y", y), ("weights", weights), ("offset", offset)]
    if trials is not None:
        trials = _as_array("trials", trials, dtype, 1)
        named.append(("trials", trials))
    for name, a in named:
        if a.shape[-1] != n:
            raise ValueError(
                f"{name}: last axis has length {a.shape[-1]} but X has n = {n} rows "
                f"(X shape {X.shape}, {name} shape {a.shape})"
            )
    shapes = [X.shape[:-2]] + [a.shape[:-1] for _, a in named] + [tuple(extra_batch)]
    try:
        batch = np.broadcast_shapes(*shapes)
    except ValueError:
        described = ", ".join(f"{name} {a.shape[:-1]}" for name, a in named)
        extra = f", alpha {tuple(extra_batch)}" if extra_batch else ""
        raise ValueError(
            f"X, y, weights, offset: batch axes do not broadcast: X {X.shape[:-2]}, "
            f"{described}{extra}"
        ) from None
    arrays = (X, y, weights, offset) + (() if trials is None else (trials,))
    batch = tuple(batch)
    concrete = all(_is_concrete(a) for a in arrays)
    check_now = not (defer and math.prod(batch) * n <= _DEFER_LIMIT)
    if concrete and check_now:
        check_values(X, y, weights, offset, trials)
    return FitInputs(X, y, weights, offset, batch, trials, not concrete or check_now)


def penalty_inputs(alpha, l1_ratio, penalty_factor, d: int, dtype):
    """Validate ``fit``'s penalty arguments.

    Returns ``(alpha, l1_ratio, penalty_factor)``: ``alpha`` an array of shape ``(...)``
    (it may carry batch axes), ``l1_ratio`` a Python float in ``[0, 1]``, and
    ``penalty_factor`` a ``(d,)`` array (ones when None).
    """
    given = alpha
    alpha = _as_array("alpha", alpha, dtype, 0)
    if _is_concrete(alpha):
        # Checked on the host as given when it came from there (no round trip to the device).
        an = np.asarray(alpha if isinstance(given, jax.Array) else given, dtype)
        bad = ~(np.isfinite(an) & (an >= 0))
        if bad.any():
            idx = _first(bad.reshape(an.shape if an.ndim else (1,)))
            value = an[idx] if an.ndim else an
            raise ValueError(f"alpha: must be finite and nonnegative, got {value} at index {idx}")
    if isinstance(l1_ratio, (bool, np.bool_)) or not isinstance(l1_ratio, (int, float, np.number)):
        raise ValueError(f"l1_ratio: must be a number in [0, 1], got {l1_ratio!r}")
    if not 0.0 <= float(l1_ratio) <= 1.0:
        raise ValueError(f"l1_ratio: must be in [0, 1], got {l1_ratio}")
    if penalty_factor is None:
        pf = _filled((d,), 1.0, dtype)
    else:
        pf = _as_array("penalty_factor", penalty_factor, dtype, 1)
        if pf.shape != (d,):
            raise ValueError(
                f"penalty_factor: expected shape (d,) = ({d},), one per column of X, got {pf.shape}"
            )
        if _is_concrete(pf):
            pn = np.asarray(pf)
            bad = ~(np.isfinite(pn) & (pn >= 0))
            if bad.any():
                idx = _first(bad)
                raise ValueError(f"penalty_factor: must be finite and nonnegative, got {pn[idx]} "
                                 f"at index {idx}")
    return alpha, float(l1_ratio), pf


def class_weight_spec(class_weight):
    """``fit``'s ``class_weight`` as a static value: None, ``"balanced"`` or ``(c0, c1)``."""
    if class_weight is None:
        return None
    if isinstance(class_weight, str):
        if class_weight != "balanced":
            raise ValueError(f"class_weight: expected 'balanced', a mapping {{0: c0, 1: c1}} "
                             f"or None, got {class_weight!r}")
        return "balanced"
    if not hasattr(class_weight, "items"):
        raise ValueError(f"class_weight: expected 'balanced', a mapping {{0: c0, 1: c1}} "
                         f"or None, got {type(class_weight).__name__}")
    spec = {0: 1.0, 1: 1.0}
    for key, value in class_weight.items():
        if isinstance(key, (bool, np.bool_)) or key not in (0, 1):
            raise ValueError(f"class_weight: keys must be the labels 0 and 1, got {key!r}")
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise ValueError(
                f"class_weight: weight of class {key!r} must be a number, got {value!r}") from None
        if not (np.isfinite(value) and value > 0):
            raise ValueError(f"class_weight: weight of class {key!r} must be finite and "
                             f"positive, got {value}")
        spec[int(key)] = value
    return (spec[0], spec[1])


def init_array(init, data: FitInputs, fit_intercept: bool):
    """Starting parameters ``(..., p)`` from ``fit(init=...)``, or None."""
    if init is None:
        return None
    params = getattr(init, "params", init)
    p = data.X.shape[-1] + int(fit_intercept)
    arr = _as_array("init", params, data.X.dtype, 1)
    if arr.shape[-1] != p:
        raise ValueError(
            f"init: last axis has length {arr.shape[-1]}, expected p = {p} parameters "
            f"({'intercept first, then ' if fit_intercept else ''}one per column of X)"
        )
    try:
        np.broadcast_shapes(arr.shape[:-1], data.batch_shape)
    except ValueError:
        raise ValueError(
            f"init: batch axes {arr.shape[:-1]} do not broadcast with {data.batch_shape}"
        ) from None
    if (arr.shape[:-1]
            and np.broadcast_shapes(arr.shape[:-1], data.batch_shape) != data.batch_shape):
        raise ValueError(f"init: batch axes {arr.shape[:-1]} are larger than the batch "
                         f"{data.batch_shape}")
    if _is_concrete(arr) and not np.all(np.isfinite(np.asarray(arr))):
        idx = _first(~np.isfinite(np.asarray(arr)))
        raise ValueError(f"init: non-finite value at index {idx}")
    return arr
