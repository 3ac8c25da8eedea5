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
at n = 650 its estimate takes the wrong sign in a large share of resamples.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["SeedData", "make_seed_data"]

SEED_INTERCEPT = -3.0
SEED_COEF = (0.01, 0.002, 0.02, 0.005, -3.0, 0.05)
SEED_FEATURES = ("Y1", "Y2", "Y3", "Y4", "Y5", "Y6")


class SeedData(NamedTuple):
    """``X (n, 6)`` features, ``y (n,)`` 0/1 labels, and the true coefficients."""

    X: np.ndarray
    y: np.ndarray
    coef: np.ndarray
    intercept: float
    feature_names: tuple[str, ...]


def make_seed_data(n: int = 1000, seed: int = 0) -> SeedData:
    """Draw ``n`` rows of the seed study's generative model (module docstring), float64."""
    if n < 1:
        raise ValueError(f"n: must be a positive integer, got {n}")
    rng = np.random.default_rng(seed)
    x1 = rng.uniform(0.5, 1.5, n)
    x2 = rng.gamma(4.0, 7.2, n)
    x3 = rng.normal(0.0, 1.0, n)
    x4 = rng.uniform(0.0, 1.0, n)
    x5 = rng.exponential(1.0, n)
    x6 = rng.normal(1.0, 0.5, n)
    x7 = rng.uniform(0.0, 1.0, n)
    x8 = rng.beta(2.0, 5.0, n)
    y1 = x1 * x2
    X = np.stack(
        [y1, y1 * np.exp(0.5 * x3), y1 * x4 / (1.0 + x5), y1 * x6**2, (x7 > 0.7) * 1.0, y1 * x8],
        axis=1,
    )
    coef = np.asarray(SEED_COEF)
    eta = SEED_INTERCEPT + X @ coef
    y = (rng.uniform(size=n) < 1.0 / (1.0 + np.exp(-eta))).astype(np.float64)
    return SeedData(X, y, coef, SEED_INTERCEPT, SEED_FEATURES)
