"""Resampling schemes: the weights of model ``b`` of a bootstrap, split or k-fold batch,
generated on the device from a key and the model's index.

A batch of ``B`` models over one design ``X (n, d)`` is a weight matrix ``W (B, n)``; for
``B = 100,000`` and ``n = 1000`` that matrix is 800 MB of float64. A *scheme* stands in for
it: an immutable pytree whose only array is a PRNG key, and which computes row ``b`` of ``W``
when asked, inside the chunk of models being fitted.

Contract (every scheme is a :class:`Scheme`)
--------------------------------------------
* ``num``: the number of models ``B`` (a static Python int).
* ``weights(index, y) -> (n,)``: the training weights of model ``index`` (an int32 scalar
  in ``[0, num)``, which may be traced and vmapped over). ``y (n,)`` is that model's labels
  in {0, 1}; only stratified schemes look at its values (class 1 is ``y == 1``, class 0 the
  other rows), the others use only its length and dtype. The result has ``y``'s dtype
  (JAX's default float when ``y`` is not floating). Weights are frequency weights (2 is the
  row twice), the convention of :mod:`jaxlogreg._loss`.
* ``held_out(index, y) -> (n,)``: 0/1 weights of the rows model ``index`` did not train on,
  ``(weights(index, y) == 0)`` (a study derives them so from the weights it has drawn);
  ``has_held_out`` (a class attribute) says whether a scheme has them.
* ``check(n, y=None)``: validation at the Python boundary for data of ``n`` rows; raises a
  ``ValueError`` naming the argument. ``weights`` and ``held_out`` never raise.
* ``materialize(y) -> (num, n)``: every model's weights at once (for small problems).

Invariance, and why
-------------------
Model ``b``'s weights are a pure function of ``(key, b, y)`` (and, for the Bayesian
bootstrap, of the dtype): its randomness is ``jax.random.fold_in(key, b)`` (k-fold: the
key of its repeat, ``fold_in(key, b // k)``), and no random state is carried from one model
to the next. So the weights of model ``b`` are the same, bit for bit, whether it is
generated alone, in a vmapped chunk of any size, in any order, under ``jit``, or on any
number of devices: a change of ``chunk_size`` or of hardware changes no fitted model, and a
single model of a large batch can be regenerated from its index to be inspected. Every
computation below is exact integer work, exact comparisons and counts, or elementwise
floating point, except one sum (the Bayesian bootstrap's normaliser), which is done in a
fixed pairwise order because XLA sums a batch of rows in a different order than a single
row.

A scheme passes through ``jax.jit`` as an ordinary argument: the key is its only leaf,
every other field is static metadata (a new key does not recompile; a new ``num`` does).
Keys may be new-style (``jax.random.key(0)``) or raw ``uint32`` (``jax.random.PRNGKey(0)``);
the two give the same weights for the same seed.

The contract and the schemes are here; the schemes' exact draws are in
:mod:`jaxlogreg._resample_draw`, their argument checks in :mod:`jaxlogreg._resample_checks`.
"""

from __future__ import annotations

import abc
import dataclasses
import numbers
from typing import TYPE_CHECKING, ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from . import _validate
from ._resample_checks import (
    _MAX_MODELS,
    _check_key,
    _check_n,
    _check_y,
    _class_sizes,
    _first,
    _flag,
    _fraction,
    _positive_int,
)
from ._resample_draw import (
    DRAW,
    MAX_ROWS,
    _class_counts,
    _deal,
    _fixed_order_sum,
    _fold_bounds,
    _rounded,
    _stratified_without_replacement,
    _without_replacement,
)
from ._validate import float_dtype

Array = jax.Array

__all__ = [
    "Scheme", "Bootstrap", "Splits", "KFold", "Subsample", "BayesianBootstrap", "LeaveOneOut",
    "data_inputs",
]


# --------------------------------------------------------------------------------------------
# Schemes
# --------------------------------------------------------------------------------------------


def _static(default=dataclasses.MISSING):
    return dataclasses.field(default=default, metadata=dict(static=True))


def scheme_node(cls):
    """Register the frozen dataclass ``cls`` (a :class:`Scheme`) as a pytree whose structure
    names its class: fields with ``metadata=dict(static=True)`` are static (with the class,
    the node's data), the others leaves; unflattening calls ``cls(**fields)``.

    ``jax.tree_util.register_dataclass`` would do the same, but the tree structures it makes
    compare equal across classes with the same fields (``Bootstrap(key, B)`` and
    ``BayesianBootstrap(key, B)``), so a compiled program of one scheme could be taken for
    the other's. Here the class is part of the structure.
    """
    fields = dataclasses.fields(cls)
    data = tuple(f.name for f in fields if not f.metadata.get("static"))
    meta = tuple(f.name for f in fields if f.metadata.get("static"))

    def flatten_with_keys(x):
        children = tuple((jax.tree_util.GetAttrKey(n), getattr(x, n)) for n in data)
        return children, (cls, *(getattr(x, n) for n in meta))

    def flatten(x):
        return tuple(getattr(x, n) for n in data), (cls, *(getattr(x, n) for n in meta))

    def unflatten(aux, children):
        fields = dict(zip(meta, aux[1:], strict=True)) | dict(zip(data, children, strict=True))
        return cls(**fields)

    jax.tree_util.register_pytree_with_keys(cls, flatten_with_keys, unflatten, flatten)
    return cls


class Scheme(abc.ABC):
    """A batch of ``num`` weightings of the rows of one data set; see the module docstring.

    Subclasses are frozen dataclasses registered as pytrees: the PRNG ``key`` is the only
    leaf, every other field static. They provide ``num`` (int), ``has_held_out`` (class
    attribute), :meth:`weights`, :meth:`held_out` and :meth:`check`.
    """

    has_held_out: ClassVar[bool]
    # The name of the draw when it may change between versions (recorded by a study).
    draw: ClassVar[str | None] = None
    if TYPE_CHECKING:  # fields of the subclasses (KFold's num is a property)

        @property
        def num(self) -> int: ...

        key: Array

    @abc.abstractmethod
    def weights(self, index, y) -> Array:
        """``(n,)`` training weights of model ``index``, in ``y``'s dtype."""

    @abc.abstractmethod
    def held_out(self, index, y) -> Array:
        """``(n,)`` 0/1 weights of the rows model ``index`` did not train on: ``weights(index,
        y) == 0``."""

    @abc.abstractmethod
    def check(self, n: int, y=None) -> None:
        """Raise ``ValueError`` if the scheme cannot be applied to data of ``n`` rows and
        labels ``y (..., n)``. The checks of the labels' values (stratified schemes: each
        class large enough) are skipped when ``y`` is None or traced."""

    def held_out_most(self, y) -> int | None:
        """The most held-out rows a model of the scheme can have on labels ``y`` ``(n,)``
        (concrete), when the scheme fixes it (the sizes of splits, subsamples and folds);
        None when it varies with the draw (the bootstrap's out-of-bag rows), with the labels
        (stratified schemes given ``y`` with batch axes), or there are none."""
        return None

    def materialize(self, y) -> Array:
        """``(num, n)``: every model's training weights, ``weights(b, y)`` for ``b`` in
        ``range(num)``. ``y`` is ``(n,)`` (shared) or ``(num, n)`` (one row per model)."""
        y = jnp.asarray(y)
        index = jnp.arange(self.num, dtype=jnp.int32)
        return jax.vmap(self.weights, in_axes=(0, None if y.ndim == 1 else 0))(index, y)

    def _model_key(self, index) -> Array:
        return jax.random.fold_in(self.key, index)


@dataclasses.dataclass(frozen=True, eq=False)
class _Drawn(Scheme):
    """A scheme of ``num`` models drawn from the PRNG ``key`` (model ``b`` from
    ``fold_in(key, b)``): both fields checked; :meth:`check` checks the shapes, all that a
    scheme without conditions on ``n`` or ``y`` needs."""

    key: Array
    num: int = _static()

    def __post_init__(self):
        _check_key(self.key)
        object.__setattr__(self, "num", _positive_int("num", self.num))

    def check(self, n: int, y=None) -> None:
        _check_y(y, _check_n(n))


class _Subset(Scheme):
    """A scheme whose model trains on a subset of the rows (:meth:`_train`): weight 1 there,
    0 elsewhere; ``held_out`` is the complement."""

    has_held_out: ClassVar[bool] = True

    @abc.abstractmethod
    def _train(self, index, y) -> Array:
        """``(n,)`` bool: the rows model ``index`` trains on."""

    def weights(self, index, y) -> Array:
        return self._train(index, y).astype(float_dtype(y))

    def held_out(self, index, y) -> Array:
        return (~self._train(index, y)).astype(float_dtype(y))


@scheme_node
@dataclasses.dataclass(frozen=True, eq=False)
class Bootstrap(_Drawn):
    """The nonparametric bootstrap (Efron 1979): ``num`` resamples of the ``n`` rows.

    Model ``b`` draws ``n`` rows uniformly with replacement; its weights are the counts,
    ``(c_1, ..., c_n) ~ Multinomial(n; 1/n, ..., 1/n)``: ``E c_i = 1``,
    ``Var c_i = 1 - 1/n``, ``Cov(c_i, c_j) = -1/n``, ``sum_i c_i = n``. ``held_out`` is 1 on
    the out-of-bag rows (``c_i = 0``; a share ``(1 - 1/n)^n -> 1/e`` of the rows on average).

    Cost per model: ``n`` random integers and one scatter-add, ``O(n)`` time and memory.

    Args:
      key: a PRNG key.
      num: the number of resamples ``B``.
    """

    has_held_out: ClassVar[bool] = True

    def _counts(self, index, n: int) -> Array:
        rows = jax.random.randint(self._model_key(index), (n,), 0, n, dtype=jnp.int32)
        return jnp.bincount(rows, length=n)

    def weights(self, index, y) -> Array:
        return self._counts(index, y.shape[-1]).astype(float_dtype(y))

    def held_out(self, index, y) -> Array:
        return (self._counts(index, y.shape[-1]) == 0).astype(float_dtype(y))


@scheme_node
@dataclasses.dataclass(frozen=True, eq=False)
class Splits(_Drawn, _Subset):
    """Repeated random train/test splits (Monte Carlo cross-validation).

    Model ``b`` trains on ``m = round(train_fraction * n)`` rows drawn uniformly without
    replacement (weight 1; 0 elsewhere), so each row is in training with probability
    ``m / n`` and each pair with ``m (m - 1) / (n (n - 1))``. With ``stratify=True`` the
    draw is made within each class ``c`` of ``y`` (class 1: ``y == 1``; class 0: the rest):
    ``m_c = round(train_fraction * n_c)`` of its ``n_c`` rows. Rounding is Python's
    ``round`` of the float64 product: half to even, so ``round(0.5 * 15) = 8`` and
    ``round(0.5 * 25) = 12``. ``held_out`` is the complement.

    The draw ranks the rows by a random permutation (per class when stratified) and
    takes the first ``m`` (see ``_deal``): the sizes are exact by construction, and the
    weights do not depend on the dtype or on float64 being on.

    Cost per model: ``n`` mixed 29-bit words and a few vectorised counting passes over
    the rows (no loop over the rows): ``O(n)`` time and memory.

    Args:
      key: a PRNG key.
      num: the number of splits ``B``.
      train_fraction: in (0, 1).
      stratify: draw within each class of ``y``.
    """

    draw: ClassVar[str | None] = DRAW
    train_fraction: float = _static(0.65)
    stratify: bool = _static(False)

    def __post_init__(self):
        super().__post_init__()
        object.__setattr__(self, "train_fraction", _fraction("train_fraction", self.train_fraction))
        object.__setattr__(self, "stratify", _flag("stratify", self.stratify))

    def held_out_most(self, y) -> int | None:
        n = np.shape(y)[-1]
        if not self.stratify:
            return n - int(_rounded(self.train_fraction, n))
        if np.ndim(y) != 1:
            return None
        sizes = np.array(_class_sizes(np.asarray(y), n))
        return int(np.sum(sizes - _rounded(self.train_fraction, sizes)))

    def _train(self, index, y) -> Array:
        key = self._model_key(index)
        if self.stratify:
            return _stratified_without_replacement(key, y, self.train_fraction)
        n = y.shape[-1]
        return _without_replacement(key, n, int(_rounded(self.train_fraction, n)))

    def check(self, n: int, y=None) -> None:
        n = _check_n(n, MAX_ROWS)
        y = _check_y(y, n)
        f = self.train_fraction
        if not self.stratify:
            m = int(_rounded(f, n))
            if not 1 <= m <= n - 1:
                part = "no training row" if m == 0 else "no held-out row"
                raise ValueError(
                    f"train_fraction: round({f} * n) = {m} training rows of n = {n} leaves {part}"
                )
            return
        if y is None:
            return
        for c, n_c in enumerate(_class_sizes(y, n)):
            if np.any(n_c == 0):
                raise ValueError(f"y: class {c} has no rows{_first(n_c == 0)[1]}: cannot stratify")
            m_c = _rounded(f, n_c)
            for bad, part in ((m_c == 0, "no training row"), (m_c == n_c, "no held-out row")):
                _refuse_first(bad, lambda i, where, c=c, n_c=n_c, part=part: (
                    f"train_fraction: round({f} * {int(n_c[i])}) of the {int(n_c[i])} rows "
                    f"of class {c} of y{where} leaves {part} of that class"))


@scheme_node
@dataclasses.dataclass(frozen=True, eq=False)
class KFold(_Subset):
    """Repeated k-fold cross-validation: ``num = k * repeats`` models.

    Model ``b`` is fold ``f = b % k`` of repeat ``r = b // k``. Each repeat is an independent,
    uniformly random partition of the rows into ``k`` folds whose sizes differ by at most 1
    (the first ``n % k`` folds have one row more). With ``stratify=True`` each class of
    ``y`` (class 1: ``y == 1``; class 0: the rest) is also spread over the folds with counts
    differing by at most 1: fold ``f`` gets exactly the class counts scikit-learn's
    ``StratifiedKFold(k)`` gives its fold ``f`` (rows sorted by class, dealt round-robin).
    Training weights are 1 outside the fold, 0 in it; ``held_out`` is the fold.

    The partition ranks the rows by a random permutation (per class when stratified)
    and deals consecutive ranks to the folds (see ``_deal``), so the fold sizes (and class
    counts) are exact and every partition with these sizes is equally likely; the
    weights do not depend on the dtype or on float64 being on.

    Cost per model: ``n`` mixed 29-bit words and a few vectorised counting passes over
    the rows for the fold's two edges (no loop over the rows), whatever ``k``: ``O(n)``
    time and memory. Each of the ``k`` models of a repeat recomputes the repeat's
    permutation from the repeat's key rather than sharing it, the price of making each
    model's weights independent of how models are chunked.

    Args:
      key: a PRNG key.
      k: folds per repeat, >= 2.
      repeats: independent partitions, >= 1.
      stratify: balance the classes of ``y`` across folds.
    """

    draw: ClassVar[str | None] = DRAW
    key: Array
    k: int = _static(5)
    repeats: int = _static(1)
    stratify: bool = _static(False)

    def __post_init__(self):
        _check_key(self.key)
        object.__setattr__(self, "k", _positive_int("k", self.k, minimum=2))
        object.__setattr__(self, "repeats", _positive_int("repeats", self.repeats))
        object.__setattr__(self, "stratify", _flag("stratify", self.stratify))
        if self.k * self.repeats > _MAX_MODELS:
            raise ValueError(f"repeats: k * repeats models, at most {_MAX_MODELS:,} (2**31 - 1), "
                             f"got {self.k * self.repeats:,}")

    @property
    def num(self) -> int:
        return self.k * self.repeats

    def held_out_most(self, y) -> int | None:
        n = np.shape(y)[-1]
        if not self.stratify:
            return -(-n // self.k)
        if np.ndim(y) != 1:
            return None
        n0, n1 = (int(c) for c in _class_sizes(np.asarray(y), n))
        edges = [np.concatenate([[0], _fold_bounds(self.k, c, offset), [c]])
                 for c, offset in ((n0, 0), (n1, n0))]
        return int(np.max(np.diff(edges[0]) + np.diff(edges[1])))

    def _in_fold(self, index, y) -> Array:
        index = jnp.asarray(index)
        key = jax.random.fold_in(self.key, index // self.k)
        n, fold = y.shape[-1], index % self.k
        if not self.stratify:
            return _deal(key, n, jnp.asarray(_fold_bounds(self.k, n)[None]), fold)
        strata, n0, n1 = _class_counts(y)
        bounds = jnp.stack([_fold_bounds(self.k, n0), _fold_bounds(self.k, n1, n0)])
        return _deal(key, n, bounds, fold, strata)

    def _train(self, index, y) -> Array:
        return ~self._in_fold(index, y)

    def check(self, n: int, y=None) -> None:
        n = _check_n(n, MAX_ROWS)
        if self.k > n:
            raise ValueError(f"k: {self.k} folds of n = {n} rows would leave a fold empty")
        y = _check_y(y, n)
        if self.stratify and y is not None:
            for c, n_c in enumerate(_class_sizes(y, n)):
                bad = n_c < self.k
                _refuse_first(bad, lambda i, where, c=c, n_c=n_c: (
                    f"y: class {c} has {int(n_c[i])} rows{where}, fewer than "
                    f"k = {self.k}: a stratified fold would miss the class"))


@scheme_node
@dataclasses.dataclass(frozen=True, eq=False)
class Subsample(_Drawn, _Subset):
    """m-out-of-n subsampling without replacement (Politis, Romano and Wolf 1999).

    Model ``b`` trains on ``m`` rows drawn uniformly without replacement (weight 1; 0
    elsewhere): ``m = size`` for an int ``size``, ``m = round(size * n)`` (as
    :class:`Splits` rounds) for a float in (0, 1). ``held_out`` is the complement. The draw
    is :class:`Splits`' (the same key and ``m`` give the same rows).

    Cost per model: :class:`Splits`' (``n`` mixed words and a few counting passes):
    ``O(n)``.

    Args:
      key: a PRNG key.
      num: the number of subsamples ``B``.
      size: rows per subsample (int >= 1) or a fraction of ``n`` (float in (0, 1)).
    """

    draw: ClassVar[str | None] = DRAW
    size: int | float = _static()

    def __post_init__(self):
        super().__post_init__()
        if isinstance(self.size, numbers.Integral) and not isinstance(self.size, bool):
            size = _positive_int("size", self.size)
        elif isinstance(self.size, numbers.Real) and not isinstance(self.size, bool):
            size = _fraction("size", self.size)
        else:
            raise ValueError(f"size: expected an int >= 1 or a float in (0, 1), got {self.size!r}")
        object.__setattr__(self, "size", size)

    def _m(self, n: int) -> int:
        return self.size if isinstance(self.size, int) else int(_rounded(self.size, n))

    def held_out_most(self, y) -> int | None:
        n = np.shape(y)[-1]
        return n - self._m(n)

    def _train(self, index, y) -> Array:
        n = y.shape[-1]
        return _without_replacement(self._model_key(index), n, self._m(n))

    def check(self, n: int, y=None) -> None:
        n = _check_n(n, MAX_ROWS)
        _check_y(y, n)
        m = self._m(n)
        if not 1 <= m <= n - 1:
            raise ValueError(
                f"size: a subsample of {m} of n = {n} rows leaves "
                f"{'no training row' if m < 1 else 'no held-out row'} (need 1 <= m <= n - 1)"
            )


@scheme_node
@dataclasses.dataclass(frozen=True, eq=False)
class BayesianBootstrap(_Drawn):
    """The Bayesian bootstrap (Rubin 1981): Dirichlet(1, ..., 1) weights scaled to sum to n.

    Model ``b``'s weights are ``w = n * g / sum(g)`` with ``g_i`` iid Exp(1), which is
    ``n`` times a Dirichlet(1, ..., 1) vector (the standard construction; it is also
    ``n`` times the gaps of ``n - 1`` sorted uniforms, Rubin's). So ``sum_i w_i = n`` (to
    rounding), ``w_i / n ~ Beta(1, n - 1)``, ``E w_i = 1``, ``Var w_i = (n - 1) / (n + 1)``,
    ``Cov(w_i, w_j) = -1 / (n + 1)``. Every row keeps a positive weight, so there are no
    held-out rows (``held_out`` raises). The draws are made in ``y``'s dtype: the same key
    gives the same weights for the same dtype, different ones for float32 and float64.

    Cost per model: ``n`` exponential draws and one sum, ``O(n)`` (``jax.random.dirichlet``
    would draw gammas by rejection, a loop per draw).

    Args:
      key: a PRNG key.
      num: the number of weightings ``B``.
    """

    has_held_out: ClassVar[bool] = False

    def weights(self, index, y) -> Array:
        n = y.shape[-1]
        g = jax.random.exponential(self._model_key(index), (n,), float_dtype(y))
        return g * (n / _fixed_order_sum(g))

    def held_out(self, index, y) -> Array:
        raise ValueError(
            "BayesianBootstrap has no held-out rows: every row gets a positive weight "
            "(has_held_out is False); use Bootstrap for out-of-bag rows"
        )


@scheme_node
@dataclasses.dataclass(frozen=True, eq=False)
class LeaveOneOut(_Subset):
    """The jackknife: ``n`` models, model ``i`` leaving out row ``i`` (weight 0, the rest 1).

    No randomness (no key). ``held_out`` is row ``i`` alone. Used for the jackknife
    estimates of bias and of the BCa interval's acceleration, and for leave-one-out
    cross-validation.

    Cost per model: ``O(n)``.

    Args:
      num: the number of rows ``n`` (one model per row).
    """

    num: int = _static()

    def __post_init__(self):
        object.__setattr__(self, "num", _positive_int("num", self.num))

    def held_out_most(self, y) -> int | None:
        return 1

    def _train(self, index, y) -> Array:
        return jnp.arange(y.shape[-1]) != index

    def check(self, n: int, y=None) -> None:
        n = _check_n(n)
        _check_y(y, n)
        if n != self.num:
            raise ValueError(
                f"num: LeaveOneOut({self.num}) needs data of {self.num} rows, got n = {n}")
        if n < 2:
            raise ValueError("n: leaving one row out of one leaves no data")


def _refuse_first(bad, message) -> None:
    """Raise ``ValueError(message(i, where))`` at the first ``True`` of ``bad`` (an array of
    any shape; ``i`` its index, ``where`` the words that say it), if any."""
    if np.any(bad):
        i, where = _first(bad)
        raise ValueError(message(i, where))


@scheme_node
@dataclasses.dataclass(frozen=True, eq=False)
class Renumbered(Scheme):
    """Models ``index[0], index[1], ...`` of ``base``, renumbered ``0 .. num - 1``: a chunk of
    a study, a device's share of a sharded batch.

    ``index`` ``(num,)`` int32 holds model numbers of ``base`` (a leaf: it may be traced or
    sharded, so every set of ``num`` models shares a compiled program), and ``weights(i, y)``
    is ``base.weights(index[i], y)``, bit for bit.
    """

    base: Scheme
    index: Array
    num: int = dataclasses.field(default=0, metadata=dict(static=True))

    @property
    def has_held_out(self) -> bool:  # type: ignore[override]
        return self.base.has_held_out

    def weights(self, index, y):
        return self.base.weights(self.index[index], y)

    def held_out(self, index, y):
        return self.base.held_out(self.index[index], y)

    def check(self, n: int, y=None) -> None:
        self.base.check(n, y)


def window(base: Scheme, start, num: int) -> Renumbered:
    """Models ``start .. start + num - 1`` of ``base`` as a :class:`Renumbered` scheme
    (``start`` a Python int or an int32 scalar, traced or not)."""
    return Renumbered(base, jnp.asarray(start, jnp.int32) + jnp.arange(num, dtype=jnp.int32),
                      num=num)


def data_inputs(X, y, weights, offset, *, fit_intercept: bool, trials=None, extra_batch=(),
                defer: bool = False):
    """:func:`jaxlogreg._validate.fit_inputs` for ``weights`` that may be a :class:`Scheme`.

    Returns ``(data, scheme)``: with a scheme, ``data.weights`` are ones and the scheme's
    ``num`` models are the last batch axis, which must broadcast with ``extra_batch`` (a
    batched penalty's axes); ``scheme`` is None otherwise.
    """
    scheme = weights if isinstance(weights, Scheme) else None
    extra = tuple(extra_batch)
    if scheme is not None:
        try:
            extra = tuple(np.broadcast_shapes(extra, (scheme.num,)))
        except ValueError:
            raise ValueError(
                f"alpha: batch axes {extra} do not broadcast with the {scheme.num} models of "
                "the resampling scheme (its models are the last batch axis)"
            ) from None
    data = _validate.fit_inputs(
        X, y, None if scheme is not None else weights, offset, fit_intercept=fit_intercept,
        trials=trials, extra_batch=extra, defer=defer,
    )
    if scheme is not None:
        scheme.check(data.X.shape[-2], data.y if _validate._is_concrete(data.y) else None)
    return data, scheme
