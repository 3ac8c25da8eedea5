"""What every computation of :mod:`jaxlogreg._inference` shares.

One model's rows in the loss's convention (:func:`_model_problem`, exactly as
:func:`jaxlogreg.fit` forms them), a batch split into per-model and shared arrays
(:func:`_split_models`), the log-likelihood of the intercept-only model
(:func:`_null_loglik`), the chi-squared tail (:func:`_chi2_sf`), and the checks of a fit and
its data at the Python boundary (:func:`_data_for`). Conventions: the package docstring.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import gammaincc

from .. import _links, _loss, _resample
from .._batch import shared_design, split_models

Array = jax.Array


INFORMATION = ("expected", "observed")


# Bound on the safeguarded scalar Newton steps for the intercept-only model (see
# `_null_loglik`): each step is Newton's, a bisection or a doubling step outward, so this many
# reach the root to rounding from any start within 2**40 of it.
_NULL_NEWTON_ITERS = 100


def _static(default):
    return dataclasses.field(default=default, metadata=dict(static=True))


def _chi2_sf(x: Array, df: Array) -> Array:
    """``P(chi2_df > x)`` as ``Q(df / 2, x / 2)``; NaN for ``df <= 0`` or NaN ``x``."""
    safe_df = jnp.where(df > 0, df, 1.0)
    p = gammaincc(0.5 * safe_df, 0.5 * jnp.maximum(x, 0.0))
    return jnp.where((df > 0) & ~jnp.isnan(x), p, jnp.nan)


class _Rows(NamedTuple):
    """One model's data in the loss's convention (:func:`_model_problem`)."""

    problem: _loss.Problem  # y, weights: after response_weights
    freq: Array  # (n,) frequency weights before response_weights (scheme weights applied)
    trials: Array  # (n,) binomial trials, ones without them


def _model_problem(a: dict, per_model: dict, fit_intercept: bool, products, scheme,
                   link: str, class_weight, l2=None, pf=None) -> _Rows:
    """One model's :class:`~jaxlogreg._loss.Problem` from mapped/shared arrays, its rows put
    in the loss's convention by :func:`jaxlogreg._loss.response_weights` exactly as
    :func:`jaxlogreg.fit` does. A shared ``X`` already carries its column of ones; a
    per-model one gets it here. With a resampling ``scheme`` the weights of model
    ``a["index"]`` are generated here. No penalty unless ``l2`` and ``pf (k,)`` are given."""
    X = a["X"]
    freq = a["weights"]
    if scheme is not None:
        freq = freq * scheme.weights(a["index"], a["y"])
    if "X" in per_model:
        products = None
        if fit_intercept:
            X = _loss.add_intercept(X)
    trials = a.get("trials")
    problem = _loss.model_problem(X, a["y"], freq, a["offset"], trials=trials,
                                  class_weight=class_weight, alpha=l2,
                                  penalty_factor=None if l2 is None else pf, products=products,
                                  link=link)
    return _Rows(problem, freq, jnp.ones_like(freq) if trials is None else trials)


def _split_models(inputs: dict, scheme, batch_shape, fit_intercept):
    """Per-model (mapped) and shared arrays of a batch (``inputs`` named as in
    :data:`jaxlogreg._batch.CORE_AXES`;
    None entries dropped), and the shared design's column products (None unless ``X`` is
    shared); with a scheme, each model's index is mapped."""
    mapped, shared = split_models(inputs, scheme, batch_shape)
    products = None
    if "X" in shared:
        shared["X"], products = shared_design(shared["X"], fit_intercept, batch_shape)
    return mapped, shared, products


def _null_loglik(y: Array, w: Array, o: Array, link: str = "logit") -> Array:
    """Log-likelihood of the intercept-only model ``eta = a + o``, maximised over ``a``.

    ``a`` solves ``g(a) = -sum_i w_i s_i(a + o_i) = 0``, ``s_i`` the row score of
    :func:`jaxlogreg._loss.row_terms`, with ``g'(a) = -sum_i w_i c_i``, ``c_i`` the observed
    information weight. Without an offset every row has ``mu = F(a)`` and the root is
    ``a = F^-1(ybar)`` (``ybar = sum w y / sum w``, the start), with the closed form
    ``sum w [ybar log ybar + (1 - ybar) log(1 - ybar)]``. With one, a safeguarded Newton
    iteration from ``F^-1(ybar) - sum w o / sum w`` keeps the root in a bracket ``(lo, hi)``
    of points found so far with ``g > 0`` and ``g < 0`` (infinite until found); a Newton step
    that leaves it, or a derivative ``g' >= 0``, is replaced by bisection once both ends are
    known and before that by a step away from the known end, doubled each time. It stops
    when the step is below ``8 eps (1 + |a|)`` or after :data:`_NULL_NEWTON_ITERS` steps.
    For the logit, probit and cloglog ``g`` decreases (their row loss is convex in ``eta``),
    so the root is the maximum; the cauchit's row loss is not convex, and with an offset the
    root found is a stationary point, the maximum unless offsets are extreme. When ``ybar``
    is 0 or 1 the supremum, 0, is not attained; 0 is returned.
    """
    dtype = w.dtype
    W = jnp.sum(w)
    ybar = jnp.sum(w * y) / W
    degenerate = (ybar <= 0) | (ybar >= 1)
    yb = jnp.clip(ybar, jnp.finfo(dtype).tiny, 1.0 - jnp.finfo(dtype).epsneg)
    start = _links.link_function(link, yb) - jnp.sum(w * o) / W
    tol = 8.0 * jnp.finfo(dtype).eps
    inf = jnp.asarray(jnp.inf, dtype)

    def running(state):
        it, done = state[-2:]
        return (it < _NULL_NEWTON_ITERS) & ~done

    def newton(state):
        a, lo, hi, step, _, it, _ = state
        loss, score, observed = _loss.row_terms(a + o, y, link, "observed")
        g, h = -jnp.sum(w * score), jnp.sum(w * observed)
        lo = jnp.where(g > 0, a, lo)
        hi = jnp.where(g < 0, a, hi)
        proposal = a + g / jnp.where(h > 0, h, 1.0)
        # Closed bracket: a proposal that rounds to ``a`` itself (``g`` at rounding level, at
        # the root) is accepted and stops the iteration.
        inside = (h > 0) & (proposal >= lo) & (proposal <= hi)
        known = jnp.isfinite(lo) & jnp.isfinite(hi)
        away = jnp.where(g > 0, a + step, a - step)
        new = jnp.where(inside, proposal, jnp.where(known, 0.5 * (lo + hi), away))
        new = jnp.where(g == 0, a, new)
        step = jnp.where(inside | known, step, 2.0 * step)
        done = ~(jnp.abs(new - a) > tol * (1.0 + jnp.abs(a)))  # NaN stops too
        return new, lo, hi, step, -jnp.sum(w * loss), it + 1, done

    one = jnp.ones((), dtype)
    state = (start, -inf, inf, one, jnp.zeros((), dtype), jnp.zeros((), jnp.int32), degenerate)
    llnull = jax.lax.while_loop(running, newton, state)[4]
    return jnp.where(degenerate, 0.0, llnull)


def _check_res(res, name: str = "res"):
    # Fields only: ``hasattr`` of the ``params`` property would compute it.
    if not all(hasattr(res, a) for a in ("coef", "intercept", "status", "fit_intercept")):
        raise ValueError(f"{name}: expected a jaxlogreg.FitResult, got {type(res).__name__}")


def _check_information(information) -> str:
    if not isinstance(information, str) or information not in INFORMATION:
        raise ValueError(f"information: must be one of {INFORMATION}, got {information!r}")
    return information


def _link_of(res) -> str:
    link = getattr(res, "link", "logit")
    if link not in _links.LINKS:
        raise ValueError(f"res: unknown link {link!r}; expected one of {_links.LINKS}")
    return link


def _data_for(res, X, y, weights, offset, name: str = "res", *, trials=None, extra_batch=(),
              defer=False):
    """Validated data, the resampling scheme (or None) and the batch shape; ``res``'s batch
    shape must be the data's (broadcast with ``extra_batch``, a batched penalty's).
    ``defer``: as :func:`jaxlogreg._validate.fit_inputs`."""
    _check_res(res, name)
    fit_intercept = bool(res.fit_intercept)
    data, scheme = _resample.data_inputs(
        X, y, weights, offset, fit_intercept=fit_intercept, trials=trials,
        extra_batch=extra_batch, defer=defer,
    )
    res_batch = tuple(res.batch_shape)
    try:
        batch = tuple(np.broadcast_shapes(data.batch_shape, res_batch))
    except ValueError:
        batch = None
    if batch != res_batch:
        raise ValueError(
            f"{name}: batch shape {res_batch} does not match the data's batch shape "
            f"{data.batch_shape} (X, y, weights, offset, trials must be those the models were "
            "fitted to)"
        )
    return data, scheme, fit_intercept, res_batch
