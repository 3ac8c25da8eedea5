"""Data sets shared by several test modules (fixed seeds, float64 NumPy arrays)."""

import functools

import numpy as np


def simulate(rng, X, intercept, coef, offset=0.0):
    """0/1 labels drawn from the logistic model with the given coefficients."""
    eta = intercept + X @ np.asarray(coef, dtype=np.float64) + offset
    return (rng.uniform(size=X.shape[0]) < 1.0 / (1.0 + np.exp(-eta))).astype(np.float64)


@functools.cache
def mixed_data():
    """Shared design (n = 300; x1 in -2..2, x2 and x3 normal), seven models ``(7, 300)``:
    0 ordinary; 1 complete separation y = 1{x1 > 0}; 2 quasi-complete separation (random
    labels where x1 == 0); 3 all y = 0; 4 ordinary labels, weight 0 on the rows that disagree
    with 1{x1 > 0}; 5 ordinary with integer weights and an offset; 6 all y = 1."""
    rng = np.random.default_rng(21)
    n = 300
    x1 = rng.integers(-2, 3, size=n).astype(np.float64)
    x2 = rng.normal(size=n)
    x3 = rng.normal(size=n)
    X = np.stack([x1, x2, x3], axis=1)
    y_a = simulate(rng, X, 0.2, [0.8, -0.5, 0.3])
    y_b = simulate(rng, X, -0.3, [0.6, 0.4, -0.5])
    y_complete = (x1 > 0).astype(np.float64)
    ties = (rng.uniform(size=n) < 0.5).astype(np.float64)
    y_quasi = np.where(x1 > 0, 1.0, np.where(x1 < 0, 0.0, ties))
    Y = np.stack([y_a, y_complete, y_quasi, np.zeros(n), y_a, y_b, np.ones(n)])
    W = np.ones_like(Y)
    W[4] = (y_a == y_complete).astype(np.float64)
    W[5] = rng.integers(1, 4, size=n).astype(np.float64)
    O = np.zeros_like(Y)
    O[5] = rng.normal(0.0, 0.5, size=n)
    return X, Y, W, O
