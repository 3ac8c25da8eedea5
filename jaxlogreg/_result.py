"""The result of a batch of fits: a pytree of arrays with the batch shape in front."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from ._status import Status
from ._typing import Bool, Float, Int32

Array = jax.Array

__all__ = ["Batched", "FitResult"]


class Batched:
    """A batched result: a registered pytree dataclass whose array fields all have the batch
    shape ``(...)`` in front. ``r[i]``, ``r[i:j]`` or ``r[mask]`` index every one of them
    along the batch axes (model ``i``, not field ``i``); None fields stay None."""

    def __getitem__(self, index):
        return jax.tree_util.tree_map(lambda a: a[index], self)


@jax.jit
def _join(intercept: jax.Array, coef: jax.Array) -> jax.Array:
    """``(..., 1 + d)``: the intercept before the slopes, as one compiled call (eagerly, the
    concatenation's three primitives cost about ten times its dispatch)."""
    return jnp.concatenate([intercept[..., None], coef], axis=-1)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class FitResult(Batched):
    """Fitted models, one per entry of the batch shape ``(...)``.

    Attributes:
      coef: ``(..., d)`` coefficients of the columns of ``X``.
      intercept: ``(...)`` intercept (0 when ``fit_intercept=False``).
      status: ``(...)`` int32 :class:`~jaxlogreg.Status` code of each model.
      n_iter: ``(...)`` int32 solver iterations each model took (its own, not the batch's).
      loss: ``(...)`` final objective ``f`` (weighted mean negative log-likelihood plus
        penalty; see :mod:`jaxlogreg._loss`).
      grad_norm: ``(...)`` ``max_j |grad_j f|`` at the returned coefficients.
      fit_intercept: whether an intercept was fitted (static, not a leaf).
      link: the link function fitted (static): ``"logit"``, ``"probit"``, ``"cloglog"`` or
        ``"cauchit"``.

    ``res.converged`` is ``res.status == Status.CONVERGED``; ``res.params`` is
    ``(intercept, *coef)`` along the last axis (statsmodels' order); ``res[i]`` or
    ``res[mask]`` indexes every field along the batch axes.
    """

    coef: Float[Array, "*batch d"]
    intercept: Float[Array, "*batch"]
    status: Int32[Array, "*batch"]
    n_iter: Int32[Array, "*batch"]
    loss: Float[Array, "*batch"]
    grad_norm: Float[Array, "*batch"]
    fit_intercept: bool = dataclasses.field(default=True, metadata=dict(static=True))
    link: str = dataclasses.field(default="logit", metadata=dict(static=True))

    @property
    def converged(self) -> Bool[Array, "*batch"]:
        """``(...)`` bool: ``status == Status.CONVERGED``."""
        return self.status == int(Status.CONVERGED)

    @property
    def params(self) -> Float[Array, "*batch p"]:
        """``(..., p)``: intercept first when fitted, then ``coef``."""
        if not self.fit_intercept:
            return self.coef
        return _join(self.intercept, self.coef)

    @property
    def batch_shape(self) -> tuple[int, ...]:
        return tuple(self.intercept.shape)
