"""The built-in synthetic data set modelled on the seed coefficient-recovery study.

Eight observables ``X1..X8`` are drawn independently and mapped to six model features::

    Y1 = f(X1, X2)   = X1 * X2                X1 ~ Uniform(0.5, 1.5), X2 ~ Gamma(4, 7.2)
    Y2 = Y1 * g(X3)  = Y1 * exp(X3 / 2)       X3 ~ Normal(0, 1)
    Y3 = Y1 * h(X4, X5) = Y1 * X4 / (1 + X5)  X4 ~ Uniform(0, 1), X5 ~ Exponential(1)
    Y4 = Y1 * i(X6)  = Y1 * X6**2             X6 ~ Normal(1, 0.5)
    Y5 = j(X7)       = 1{X7 > 0.7}            X7 ~ Uniform(0, 1)
    Y6 = Y1 * k(X8)  = Y1 * X8                X8 ~ Beta(2, 5)

and ``P(A = 1 | Y) = sigmoid(-3 + w . Y)`` with ``w = (0.01, 0.002, 0.02, 0.005, -3, 0.05)``,
the coefficients of the seed's table. About 11% of rows are positive. Four features are
``Y1`` times something, so ``Y1``'s small coefficient is hard to separate from the others:
at n = 650 its standard error exceeds the coefficient, and its estimate can take the wrong
sign.

One sampler, :func:`seed_sample`, draws the data with ``jax.random`` in float32 (so that the
draws do not depend on whether float64 is enabled): :func:`make_seed_data` is one draw of
it, and a Monte Carlo study with fresh data per replicate calls it once per replicate key.
The default data set (``seed=0``) is one in which, as in the seed study, ``Y1``'s full-data
estimate has the wrong sign, so most train splits give the wrong sign too (with ``Y1``'s
full-data standard error, about 0.012, a draw of 1,000 rows does so with probability about
``Phi(-0.01 / 0.012)``, one in five). Rows with ``Y5 = 1`` are rarely positive (the
linear predictor is 3 lower there): in the default draw 4 of the 305 such rows are, so a
train split that keeps none of them is separated along ``Y5``.
"""

from __future__ import annotations

import os
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ._typing import Float

__all__ = ["SeedData", "make_seed_data", "seed_sample", "SEED_PARAMS", "SEED_FEATURES"]

SEED_INTERCEPT = -3.0
SEED_COEF = (0.01, 0.002, 0.02, 0.005, -3.0, 0.05)
SEED_FEATURES = ("Y1", "Y2", "Y3", "Y4", "Y5", "Y6")
SEED_PARAMS = (SEED_INTERCEPT,) + SEED_COEF  # intercept first

# The default data set, ``(n, seed)``, and the file its draw is saved in: float32 arrays ``X``
# and ``y``, ``np.savez(DEFAULT_FILE, X=X, y=y)`` of ``seed_sample(jax.random.key(0), 1000)``
# (tests/test_datasets.py checks that they are that draw).
DEFAULT = (1000, 0)
DEFAULT_FILE = os.path.join(os.path.dirname(__file__), "_seed_default.npz")


class SeedData(NamedTuple):
    """``X (n, 6)`` features, ``y (n,)`` 0/1 labels, and the true coefficients."""

    X: Float[np.ndarray, "n 6"]
    y: Float[np.ndarray, " n"]
    coef: Float[np.ndarray, " 6"]
    intercept: float
    feature_names: tuple[str, ...]


def seed_sample(key, n: int) -> tuple[jax.Array, jax.Array]:
    """One data set of the seed model (module docstring): ``X (n, 6)``, ``y (n,)``, float32.

    A pure function of ``key``: jittable and vmappable over keys (``n`` static).
    """
    k = jax.random.split(key, 9)
    f32 = jnp.float32
    x1 = jax.random.uniform(k[0], (n,), f32, 0.5, 1.5)
    x2 = 7.2 * jax.random.gamma(k[1], 4.0, (n,), f32)
    x3 = jax.random.normal(k[2], (n,), f32)
    x4 = jax.random.uniform(k[3], (n,), f32)
    x5 = jax.random.exponential(k[4], (n,), f32)
    x6 = 1.0 + 0.5 * jax.random.normal(k[5], (n,), f32)
    x7 = jax.random.uniform(k[6], (n,), f32)
    x8 = jax.random.beta(k[7], 2.0, 5.0, (n,), f32)
    y1 = x1 * x2
    X = jnp.stack(
        [y1, y1 * jnp.exp(0.5 * x3), y1 * x4 / (1.0 + x5), y1 * x6**2, (x7 > 0.7).astype(f32),
         y1 * x8],
        axis=1,
    )
    eta = SEED_INTERCEPT + X @ jnp.asarray(SEED_COEF, f32)
    y = (jax.random.uniform(k[8], (n,), f32) < jax.nn.sigmoid(eta)).astype(f32)
    return X, y


def make_seed_data(n: int = 1000, seed: int = 0) -> SeedData:
    """Draw ``n`` rows of the seed study's generative model (module docstring) as float64
    NumPy arrays (the float32 draws of :func:`seed_sample` with key ``seed``).

    The default data set (``n = 1000, seed = 0``) is read from the package
    (:data:`DEFAULT_FILE`, that draw saved): drawing it calls JAX's gamma and beta samplers,
    whose compilation takes seconds in a fresh process.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n: must be a positive integer, got {n!r}")
    if isinstance(seed, (int, np.integer)) and (int(n), int(seed)) == DEFAULT:
        with np.load(DEFAULT_FILE) as saved:
            X, y = saved["X"], saved["y"]
    else:
        X, y = seed_sample(jax.random.key(seed), int(n))
    return SeedData(
        np.asarray(X, np.float64), np.asarray(y, np.float64), np.asarray(SEED_COEF),
        SEED_INTERCEPT, SEED_FEATURES,
    )
