"""Prediction from fitted models: the linear predictor and the mean, batched and link-aware.

For a model with slopes ``beta`` ``(d,)``, intercept ``b`` (0 without one) and link ``g``
(inverse ``F = g^-1``, :func:`jaxlogreg._links.inverse`), a new row ``x`` ``(d,)`` with
offset ``o`` has::

    eta = x^T beta + b + o        (kind="link")
    mu  = F(eta) = P(y = 1 | x)   (kind="probability")

Shapes: a :class:`~jaxlogreg.FitResult` of batch shape ``(...)`` (``coef (..., d)``,
``intercept (...)``), new rows ``X (m, d)`` shared by every model or ``(..., m, d)``, and
``offset (m,)`` or ``(..., m)``; the batch axes of the three broadcast, and the result is
``(..., m)`` with ``...`` the broadcast batch shape.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from . import _links
from ._result import FitResult
from ._typing import Array, ArrayLike, Float, Numeric
from ._validate import _as_array

__all__ = ["predict"]

KINDS = ("probability", "link")


def predict(
    res: FitResult,
    X: Numeric[ArrayLike, "*#batch m d"],
    offset: Numeric[ArrayLike, "*#batch m"] | None = None,
    kind: str = "probability",
) -> Float[Array, "*#batch m"]:
    """Predictions of fitted models for new rows: ``F(eta)`` or ``eta`` itself.

    ``eta = X @ coef + intercept + offset`` and, for ``kind="probability"``, the mean
    ``mu = F(eta)`` with ``F`` the inverse of the link the models were fitted with
    (``res.link``; module docstring). Equals statsmodels'
    ``GLM(y, X, family=Binomial(link)).fit().predict(X_new, offset=offset)`` (with
    ``which="linear"`` for ``kind="link"``) at the same coefficients. Pure: works under
    ``jax.jit`` (with ``kind`` static) and ``jax.vmap``; shapes are checked when traced, and
    there are no value checks.

    Args:
      res: a :class:`~jaxlogreg.FitResult` of batch shape ``(...)``.
      X: ``(m, d)`` new rows shared by every model, or ``(..., m, d)`` broadcasting with the
        batch (no column of ones: the intercept is added when the models have one).
      offset: ``(m,)`` or ``(..., m)`` added to ``eta``, or None (zeros).
      kind: ``"probability"`` for ``P(y = 1 | x)``, ``"link"`` for ``eta``.

    Returns:
      ``(..., m)`` in ``res.coef``'s dtype, ``...`` the batch axes of ``res``, ``X`` and
      ``offset`` broadcast together.
    """
    if not isinstance(res, FitResult):
        raise ValueError(f"res: expected a FitResult, got {type(res).__name__}")
    if not isinstance(kind, str) or kind not in KINDS:
        raise ValueError(f"kind: expected one of {KINDS}, got {kind!r}")
    dtype = res.coef.dtype
    d = res.coef.shape[-1]
    X = _as_array("X", X, dtype, 2)
    if X.shape[-1] != d:
        raise ValueError(
            f"X: last axis has length {X.shape[-1]} but the models have d = {d} coefficients "
            f"(X shape {X.shape})"
        )
    m = X.shape[-2]
    if offset is not None:
        offset = _as_array("offset", offset, dtype, 1)
        if offset.shape[-1] != m:
            raise ValueError(
                f"offset: last axis has length {offset.shape[-1]} but X has m = {m} rows "
                f"(X shape {X.shape}, offset shape {offset.shape})"
            )
    try:
        batch = np.broadcast_shapes(
            res.batch_shape, X.shape[:-2], () if offset is None else offset.shape[:-1]
        )
    except ValueError:
        described = "" if offset is None else f", offset {offset.shape[:-1]}"
        raise ValueError(
            f"X, offset: batch axes do not broadcast with the models' batch "
            f"{res.batch_shape}: X {X.shape[:-2]}{described}"
        ) from None
    return _predict(res.coef, res.intercept, X, offset, tuple(batch), res.link, kind)


@functools.partial(jax.jit, static_argnums=(4, 5, 6))
def _predict(coef, intercept, X, offset, batch, link, kind):
    """``(*batch, m)``; the product is ``coef @ X^T`` when ``X`` is shared, so that the
    design is never copied per model."""
    m = X.shape[-2]
    if X.ndim == 2:
        eta = coef @ X.T
    else:
        eta = jnp.matmul(X, coef[..., None])[..., 0]
    eta = jnp.broadcast_to(eta, batch + (m,)) + jnp.broadcast_to(intercept[..., None], batch + (m,))
    if offset is not None:
        eta = eta + jnp.broadcast_to(offset, batch + (m,))
    return eta if kind == "link" else _links.inverse(link, eta)
