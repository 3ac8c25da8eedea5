"""Data sets drawn from a binary GLM with known coefficients.

For each replicate: features ``X (n, d)``, linear predictor ``eta = intercept + X @ coef``,
mean ``mu = F(eta)`` for the inverse link ``F`` of ``link`` (:mod:`jaxlogreg._links`), and
labels ``y_i ~ Bernoulli(mu_i)`` independently.

Features: ``"gaussian"``, iid ``N(0, 1)`` entries; ``"correlated"``, rows iid
``N(0, Sigma)`` with ``Sigma`` the equicorrelation matrix ``(1 - rho) I + rho 1 1^T`` (positive
definite iff ``-1 / (d - 1) < rho < 1``) or a user covariance ``cov``; or a user design ``X``
shared by every replicate (only ``y`` is redrawn).

The intercept is given, or solved from a target ``positive_rate``: the ``a`` with
``mean_i F(a + x_i^T coef) = positive_rate`` on the drawn ``X``, a monotone equation in
``a`` solved by bracketed Newton (the bracket ``F^-1(rate) - [max, min] x_i^T coef`` always
holds the root; a Newton step leaving the bracket is replaced by bisection) to working
precision. The rate is then met exactly by ``mean(mu)``, and by ``mean(y)`` in expectation
over ``y`` for this ``X``.

Randomness: replicate ``b`` uses ``fold_in(key, b)`` (split once into a feature key and a
label key), so a replicate does not depend on how many are drawn, and a single data set
(``num=None``) is replicate 0.
"""

from __future__ import annotations

import functools
import operator
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from . import _validate
from ._links import LINKS, inverse, inverse_derivative, link_function
from ._typing import ArrayLike, DTypeLike, Float, Key, Real, UInt32

Array = jax.Array

__all__ = ["Simulated", "simulate"]

FEATURES = ("gaussian", "correlated")
_MAX_ROOT_ITER = 100


class Simulated(NamedTuple):
    """A simulated data set, or ``B`` replicates of one (leading axis ``B`` when ``num=B``).

    Attributes:
      X: ``(n, d)``, or ``(B, n, d)`` for drawn features (a user ``X`` stays ``(n, d)``).
      y: ``(n,)`` or ``(B, n)`` labels, 0.0 or 1.0, in the floating dtype.
      coef: ``(d,)`` true slopes.
      intercept: ``()`` or ``(B,)`` true intercept (solved per replicate for a rate).
      eta: ``(n,)`` or ``(B, n)`` linear predictor ``intercept + X @ coef``.
      mu: ``(n,)`` or ``(B, n)`` ``F(eta)``, the probability that ``y = 1``.
    """

    X: Float[Array, "*#num n d"]
    y: Float[Array, "*num n"]
    coef: Float[Array, " d"]
    intercept: Float[Array, "*num"]
    eta: Float[Array, "*num n"]
    mu: Float[Array, "*num n"]


def simulate(
    key: Key[Array, ""] | UInt32[ArrayLike, " words"],
    n: int | None,
    coef: Real[ArrayLike, " d"],
    intercept: Real[ArrayLike, ""] | None = None,
    *,
    positive_rate: Real[ArrayLike, ""] | None = None,
    features: str = "gaussian",
    correlation: Real[ArrayLike, ""] = 0.0,
    cov: Real[ArrayLike, "d d"] | None = None,
    X: Real[ArrayLike, "n d"] | None = None,
    link: str = "logit",
    num: int | None = None,
    dtype: DTypeLike | None = None,
) -> Simulated:
    """Draw ``y ~ Bernoulli(F(intercept + X @ coef))`` with known coefficients (module doc).

    Args:
      key: a JAX PRNG key (``jax.random.key`` or a raw ``uint32`` ``jax.random.PRNGKey``).
      n: rows per data set; may be None when ``X`` is given (else it must match).
      coef: ``(d,)`` true slopes.
      intercept: the true intercept (a scalar); exactly one of it and ``positive_rate``.
      positive_rate: target ``P(y = 1)`` in (0, 1); the intercept is solved for it on each
        replicate's ``X`` (met in expectation over ``y``).
      features: ``"gaussian"`` (iid standard normal) or ``"correlated"`` (``N(0, Sigma)``).
      correlation: ``rho`` of the equicorrelated ``Sigma``, ``-1 / (d - 1) < rho < 1``
        (``"correlated"`` only, and not together with ``cov``).
      cov: ``(d, d)`` symmetric positive definite ``Sigma`` (``"correlated"`` only).
      X: ``(n, d)`` user design shared by all replicates, instead of drawn features.
      link: one of ``"logit"``, ``"probit"``, ``"cloglog"``, ``"cauchit"``.
      num: None for one data set, or ``B`` for ``B`` independent replicates.
      dtype: floating dtype of the outputs; default JAX's float (float64 when
        ``jax_enable_x64`` is on, as float64 needs it; float32 otherwise).

    Returns:
      :class:`Simulated` ``(X, y, coef, intercept, eta, mu)``.

    Raises:
      ValueError: naming the argument, for a bad ``key``, ``n``, ``coef``, ``intercept`` or
        ``positive_rate`` (both, neither, or a rate outside (0, 1)), ``features``,
        ``correlation`` out of range, ``cov`` not symmetric positive definite, ``X`` of the
        wrong shape or not finite, ``link``, ``num`` or ``dtype``.
    """
    dtype = _float_dtype(dtype)
    key = _typed_key(key)
    if not isinstance(link, str) or link not in LINKS:
        raise ValueError(f"link: expected one of {LINKS}, got {link!r}")
    if not isinstance(features, str) or features not in FEATURES:
        raise ValueError(f"features: expected one of {FEATURES}, got {features!r}")
    coef = _array("coef", coef, dtype, ndim=1)
    d = coef.shape[0]
    if d == 0:
        raise ValueError("coef: expected at least one coefficient, got shape (0,)")
    if num is not None:
        num = _positive_int("num", num)

    if (intercept is None) == (positive_rate is None):
        raise ValueError(
            "intercept, positive_rate: give exactly one "
            f"(got intercept={intercept!r}, positive_rate={positive_rate!r})"
        )
    if intercept is not None:
        target = _array("intercept", intercept, dtype, ndim=0)
    else:
        target = _array("positive_rate", positive_rate, dtype, ndim=0)
        if _concrete(target) and not 0.0 < float(target) < 1.0:
            raise ValueError(f"positive_rate: must be in (0, 1), got {float(target)}")

    n, kind, design = _design(n, d, features, correlation, cov, X, dtype)
    return _simulate(
        key, coef, target, design, n=n, num=num, link=link, kind=kind,
        solve=positive_rate is not None, dtype=dtype,
    )


# ---------------------------------------------------------------------------------------
# Python-boundary checks.
# ---------------------------------------------------------------------------------------


def _float_dtype(dtype) -> np.dtype:
    if dtype is None:
        return jnp.dtype(jnp.result_type(float))
    try:
        dt = jnp.dtype(dtype)
    except TypeError:
        raise ValueError(f"dtype: not a dtype: {dtype!r}") from None
    if not jnp.issubdtype(dt, jnp.floating):
        raise ValueError(f"dtype: expected a floating dtype, got {dt}")
    return jax.dtypes.canonicalize_dtype(dt)


def _typed_key(key) -> Array:
    """``key`` as a typed PRNG key (a raw ``uint32`` key is wrapped, with the default impl)."""
    dt = getattr(key, "dtype", None)
    if dt is not None and jax.dtypes.issubdtype(dt, jax.dtypes.prng_key):
        if key.shape != ():
            raise ValueError(
                f"key: expected a single PRNG key, got a key array of shape {key.shape}"
            )
        return key
    if dt is not None and np.dtype(dt) == np.uint32 and np.ndim(key) == 1:
        try:
            return jax.random.wrap_key_data(key)
        except (TypeError, ValueError):
            pass
    raise ValueError(
        "key: expected a JAX PRNG key (jax.random.key(seed) or jax.random.PRNGKey(seed)), "
        f"got {type(key).__name__}"
        + (f" of dtype {dt} and shape {np.shape(key)}" if dt is not None else "")
    )


def _positive_int(name: str, value) -> int:
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name}: expected a positive integer, got {value!r}")
    try:
        value = operator.index(value)
    except TypeError:
        raise ValueError(f"{name}: expected a positive integer, got {value!r}") from None
    if value < 1:
        raise ValueError(f"{name}: expected a positive integer, got {value}")
    return value


def _concrete(a) -> bool:
    return not isinstance(a, jax.core.Tracer)


def _array(name: str, value, dtype, ndim: int) -> Array:
    """``value`` as a ``dtype`` array of ``ndim`` dimensions, finite where concrete."""
    arr = _validate._as_array(name, value, dtype, ndim=ndim)
    if _concrete(arr):
        bad = ~np.isfinite(np.asarray(arr))
        if bad.any():
            idx = tuple(int(i) for i in np.argwhere(bad)[0]) if ndim else ()
            raise ValueError(f"{name}: non-finite value {np.asarray(arr)[idx]} at index {idx}")
    return arr


def _design(n, d: int, features: str, correlation, cov, X, dtype):
    """``(n, kind, design)``: the row count, ``"given"`` with the user ``X``,
    ``"correlated"`` with the covariance, or ``"gaussian"`` with None."""
    if X is not None:
        if features != "gaussian" or cov is not None or correlation != 0.0:
            raise ValueError("X: a user design excludes features='correlated', correlation and cov")
        X = _array("X", X, dtype, ndim=2)
        if X.shape[1] != d:
            raise ValueError(f"X: expected {d} columns to match coef, got shape {X.shape}")
        if X.shape[0] == 0:
            raise ValueError(f"X: no rows (shape {X.shape})")
        if n is not None and _positive_int("n", n) != X.shape[0]:
            raise ValueError(f"n: {n} does not match the {X.shape[0]} rows of X")
        return X.shape[0], "given", X
    if n is None:
        raise ValueError("n: required when X is not given")
    n = _positive_int("n", n)
    if features == "gaussian":
        if cov is not None or correlation != 0.0:
            raise ValueError(
                "features: correlation and cov need features='correlated', got 'gaussian'"
            )
        return n, "gaussian", None
    return n, "correlated", _covariance(cov, correlation, d, dtype)


def _covariance(cov, correlation, d: int, dtype) -> Array:
    """The ``(d, d)`` covariance of correlated features, checked positive definite."""
    if cov is not None:
        if correlation != 0.0:
            raise ValueError("correlation: give correlation or cov, not both")
        S = np.asarray(_array("cov", cov, dtype, ndim=2), dtype=np.float64)
        if S.shape != (d, d):
            raise ValueError(f"cov: expected shape ({d}, {d}) to match coef, got {S.shape}")
        asym = np.abs(S - S.T) > 1e-12 * np.maximum(np.abs(S), np.abs(S.T)).max()
        if asym.any():
            i, j = (int(k) for k in np.argwhere(asym)[0])
            raise ValueError(
                f"cov: not symmetric: cov[{i}, {j}] = {S[i, j]} != cov[{j}, {i}] = {S[j, i]}"
            )
        smallest = np.linalg.eigvalsh(S)[0]
        if not smallest > 0:
            raise ValueError(f"cov: not positive definite (smallest eigenvalue {smallest:.3g})")
        return jnp.asarray(S, dtype)
    if isinstance(correlation, (bool, np.bool_)) or not isinstance(
        correlation, (int, float, np.number)
    ):
        raise ValueError(f"correlation: expected a number, got {correlation!r}")
    rho = float(correlation)
    low = -1.0 / (d - 1) if d > 1 else -1.0
    if not low < rho < 1.0:
        raise ValueError(
            f"correlation: must be in ({low:.6g}, 1) for d = {d} features, got {rho}"
        )
    return jnp.asarray((1.0 - rho) * np.eye(d) + rho * np.ones((d, d)), dtype)


# ---------------------------------------------------------------------------------------
# The draws (pure, jitted; one compilation per static configuration).
# ---------------------------------------------------------------------------------------


def _solve_intercept(link: str, offset: Array, rate: Array) -> Array:
    """The ``a`` with ``mean(F(a + offset)) = rate``, by bracketed Newton; ``offset (n,)``.

    ``F`` is increasing, so ``a`` lies in ``[F^-1(rate) - max(offset), F^-1(rate) -
    min(offset)]``. Each iteration evaluates ``h(a) = mean F(a + offset) - rate``, shrinks the
    bracket to the side of the root, and takes the Newton step ``-h / mean F'(a + offset)``
    when it stays inside the bracket, else bisects; it stops when the step or the bracket is
    down to a few ulps of ``a``, or after 100 iterations (bisection alone would be done).
    """
    eps = jnp.finfo(offset.dtype).eps
    center = link_function(link, rate)
    lo, hi = center - jnp.max(offset), center - jnp.min(offset)

    def small(a, width):
        return jnp.abs(width) <= 4.0 * eps * jnp.maximum(1.0, jnp.abs(a))

    def cond(state):
        lo, hi, a, step, i = state
        return (i < _MAX_ROOT_ITER) & ~small(a, step) & ~small(a, hi - lo)

    def body(state):
        lo, hi, a, _, i = state
        excess = jnp.mean(inverse(link, a + offset)) - rate
        lo = jnp.where(excess <= 0, a, lo)
        hi = jnp.where(excess >= 0, a, hi)
        newton = a - excess / jnp.mean(inverse_derivative(link, a + offset))
        inside = (newton > lo) & (newton < hi)  # False for NaN or inf
        a_new = jnp.where(inside, newton, 0.5 * (lo + hi))
        return lo, hi, a_new, a_new - a, i + 1

    start = 0.5 * (lo + hi)
    state = (lo, hi, start, hi - lo, jnp.zeros((), jnp.int32))
    return jax.lax.while_loop(cond, body, state)[2]


def _replicate(key, b, coef, target, design, *, n, link, kind, solve, dtype):
    kx, ky = jax.random.split(jax.random.fold_in(key, b))
    d = coef.shape[0]
    if kind == "given":
        X = design
    elif kind == "gaussian":
        X = jax.random.normal(kx, (n, d), dtype)
    else:
        X = jax.random.multivariate_normal(kx, jnp.zeros((d,), dtype), design, (n,), dtype)
    offset = X @ coef
    intercept = _solve_intercept(link, offset, target) if solve else target
    eta = intercept + offset
    mu = inverse(link, eta)
    y = jax.random.bernoulli(ky, mu).astype(dtype)
    return X, y, intercept, eta, mu


@functools.partial(jax.jit, static_argnames=("n", "num", "link", "kind", "solve", "dtype"))
def _simulate(key, coef, target, design, *, n, num, link, kind, solve, dtype) -> Simulated:
    def one(b):
        return _replicate(
            key, b, coef, target, design, n=n, link=link, kind=kind, solve=solve, dtype=dtype
        )

    if num is None:
        X, y, intercept, eta, mu = one(0)
    else:
        X, y, intercept, eta, mu = jax.vmap(one)(jnp.arange(num))
        if kind == "given":
            X = design
    return Simulated(X, y, coef, intercept, eta, mu)
