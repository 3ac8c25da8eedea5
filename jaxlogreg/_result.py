"""The result of a batch of fits: a pytree of arrays with the batch shape in front, and the
specification of the fit (penalty and class weights) that the functions taking a result read
from it (:mod:`jaxlogreg._spec`)."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping

import jax
import jax.numpy as jnp

from ._status import Status
from ._typing import Bool, Float, Int32

Array = jax.Array

__all__ = ["Batched", "FitResult", "FROM_FIT", "FromFit", "ClassWeightField"]

# `FitResult.class_weight`: None, "balanced", or the mapping {0: c0, 1: c1} as its items,
# sorted: ((0, c0), (1, c1)).
ClassWeightField = str | tuple[tuple[int, float], ...] | None


class FromFit(enum.Enum):
    """The type of :data:`FROM_FIT`, the default of the specification's arguments of the
    functions that take a fit's result (``class_weight``, ``alpha``, ``l1_ratio``,
    ``penalty_factor``): take the value from the result."""

    FROM_FIT = "from the fit"

    def __repr__(self) -> str:
        return "FROM_FIT"


FROM_FIT = FromFit.FROM_FIT


def class_weight_field(class_weight) -> ClassWeightField:
    """:attr:`FitResult.class_weight` from ``fit``'s validated class weights (None,
    ``"balanced"`` or ``(c0, c1)``, :func:`jaxlogreg._validate.class_weight_spec`) or from a
    mapping ``{0: c0, 1: c1}`` of numbers: hashable, so that it can be static."""
    if class_weight is None or isinstance(class_weight, str):
        return class_weight
    if isinstance(class_weight, Mapping):
        items = {0: 1.0, 1: 1.0, **{int(k): float(v) for k, v in class_weight.items()}}
        return tuple(sorted(items.items()))
    c0, c1 = class_weight
    return ((0, float(c0)), (1, float(c1)))


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
      alpha: ``(...)`` the penalty strength each model was fitted with (``fit``'s ``alpha``
        broadcast to the batch), or None: no specification recorded (below).
      penalty_factor: ``(..., d)`` the penalty factors of the columns of ``X`` (``fit``'s
        ``penalty_factor``, ones when it was None, broadcast to the batch so that ``res[i]``
        indexes it with the models), or None for ones.
      l1_ratio: the share of the L1 term the fit used (static).
      class_weight: the fit's class weights (static, so hashable): None, ``"balanced"``, or
        the mapping ``{0: c0, 1: c1}`` as its sorted items ``((0, c0), (1, c1))`` (labels
        missing from the mapping weigh 1); ``dict(res.class_weight)`` gives ``fit`` the
        mapping back.

    The last four are the fit's specification beyond its data. :func:`jaxlogreg.inference`,
    :func:`jaxlogreg.influence`, :func:`jaxlogreg.laplace` and :func:`jaxlogreg.score_test`
    read them from the result (:mod:`jaxlogreg._spec`), so they need not be passed again, and
    a value passed that disagrees with the result's is a ``ValueError``. Every result of
    :func:`jaxlogreg.fit`, :func:`jaxlogreg.path` and the sharded fits records them (``alpha``
    an array). A FitResult built by hand has ``alpha`` None unless given: it records no
    specification, and those functions take the values passed to them, defaulting to its
    fields (no penalty and no class weights unless set).

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
    alpha: Float[Array, "*batch"] | None = None
    penalty_factor: Float[Array, "*batch d"] | None = None
    l1_ratio: float = dataclasses.field(default=0.0, metadata=dict(static=True))
    class_weight: ClassWeightField = dataclasses.field(default=None,
                                                       metadata=dict(static=True))

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
