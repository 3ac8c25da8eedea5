"""Array types of the public API: jaxtyping annotations of dtype kind and shape.

A public function annotates each array argument and result as ``Kind[ArrayType, "dims"]``,
e.g. ``Numeric[ArrayLike, "*#batch n d"]``. The dimension names say how batches work:

* ``n``: rows (observations) of the data; ``m``: rows of new data to predict;
* ``d``: columns of ``X`` (without the column of ones); ``p = d + fit_intercept``: the
  parameters, the intercept first (``k`` where the docstring calls them so);
* ``*batch``: the batch shape ``(...)`` of the models. An input's leading axes are
  ``*#batch``: they broadcast together (``#``) with the other inputs', so a design shared by
  every model is ``X (n, d)`` with no batch axes, beside per-model weights ``(B, n)`` or
  penalty strengths ``(K, 1)``. A result's ``*batch`` is the broadcast batch shape.

A lone dimension name is written with a leading space (``" d"``), jaxtyping's way of keeping
linters from reading the string as a forward reference to a variable ``d``.

Inputs are array-likes (``jax.typing.ArrayLike``: JAX or NumPy arrays, NumPy or Python
scalars; a nested list works at run time but is not an array-like to a type checker): data
of any real or boolean dtype (:class:`Numeric`), parameters such as ``alpha`` of a real one;
the boundary converts them to the fit's floating dtype. Results are JAX arrays.

Type checkers read the annotations as the plain array type. They are checked at run time
only on request: ``jaxtyping.jaxtyped(typechecker=beartype.beartype)`` around a function
(``tests/test_typing.py`` does so for the public functions) or jaxtyping's import hook.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import jax
from jax.sharding import Mesh
from jaxtyping import (
    AbstractDtype,
    Array,
    ArrayLike,
    Bool,
    DTypeLike,
    Float,
    Int32,
    Integer,
    Key,
    Real,
    UInt32,
)

__all__ = [
    "Array", "ArrayLike", "Bool", "ClassWeight", "DTypeLike", "Devices", "Float", "Int32",
    "Integer", "Key", "Numeric", "Real", "UInt32",
]

if TYPE_CHECKING:
    # A dtype kind is ``Annotated`` to a type checker, as jaxtyping's own are.
    from typing import Annotated as Numeric
else:

    class Numeric(AbstractDtype):
        """Any real or boolean dtype: what the boundary accepts for data (labels may be
        bool, a design or weights int) and converts to the floating dtype of the fit."""

        dtypes = Real.dtypes + Bool.dtypes


# Where models are computed (`fit(devices=...)`; :func:`jaxlogreg._sharding.as_mesh`).
Devices = int | Sequence[jax.Device] | Mesh | None

# `fit(class_weight=...)`: None, "balanced" or {0: c0, 1: c1}.
ClassWeight = str | Mapping[int, float] | None
