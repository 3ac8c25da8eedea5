"""Regularisation paths: one batch of models fitted along a sequence of penalty strengths.

Along a decreasing sequence ``alpha_1 > alpha_2 > ... > alpha_K`` each fit starts from the
solution at the previous strength (a warm start, as glmnet does), which is a few Newton
steps away; the first starts from the intercept-only model, the exact solution of a lasso at
``alpha_max``. The whole path is one ``lax.scan`` over strengths of the batched fit of
:func:`jaxlogreg.fit`, so it runs for every model of a batch at once.

Default grid (glmnet's): ``K = n_alphas`` strengths log-spaced from ``alpha_max`` down to
``alpha_min_ratio * alpha_max``, per model, where ``alpha_max`` is the smallest strength at
which every penalised slope is 0::

    alpha_max = max_{j: pf_j > 0} |X_j^T r| / (sum_i w_i * pf_j * max(l1_ratio, 1e-3)),
    r = w * (mu_0 - y)    (for another link than the logit: w * d l / d eta)

with ``mu_0`` the fitted probabilities of the intercept-only model (plus offset). For a ridge
path (``l1_ratio = 0``), where no finite strength zeroes the slopes, the ``1e-3`` floor gives
glmnet's starting point. ``alpha_min_ratio`` defaults to ``1e-4`` when ``n >= p`` and
``1e-2`` otherwise.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from . import _loss, _resample, _validate, solvers
from ._batch import CORE_AXES, map_models, split_batch
from ._fit import Solver, _prepare, _solve
from ._result import FitResult, class_weight_field
from ._typing import ArrayLike, ClassWeight, Float, Integer, Numeric, Real

Array = jax.Array

__all__ = ["path", "PathResult"]


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class PathResult:
    """Fits along a regularisation path.

    Attributes:
      alphas: ``(K, ...)`` the strength of each step, for each model of the batch ``(...)``.
      fits: :class:`~jaxlogreg.FitResult` of batch shape ``(K, ...)``: ``fits.coef[k]`` are
        the coefficients at ``alphas[k]``.
    """

    alphas: Float[Array, " K *batch"]
    fits: FitResult

    def __getitem__(self, index) -> PathResult:
        """Index along the strengths, e.g. ``path[-1]`` is the least penalised step."""
        return PathResult(self.alphas[index], self.fits[index])


def path(
    X: Numeric[ArrayLike, "*#batch n d"],
    y: Numeric[ArrayLike, "*#batch n"],
    alphas: Real[ArrayLike, " K *#batch"] | None = None,
    *,
    l1_ratio: float = 1.0,
    n_alphas: int = 100,
    alpha_min_ratio: float | None = None,
    weights: Numeric[ArrayLike, "*#batch n"] | _resample.Scheme | None = None,
    offset: Numeric[ArrayLike, "*#batch n"] | None = None,
    fit_intercept: bool = True,
    solver: Solver | None = None,
    penalty_factor: Real[ArrayLike, " d"] | None = None,
    class_weight: ClassWeight = None,
    trials: Numeric[ArrayLike, "*#batch n"] | None = None,
    tol: Real[ArrayLike, ""] | None = None,
    max_iter: Integer[ArrayLike, ""] | None = None,
    chunk_size: int | None = None,
) -> PathResult:
    """Fit every model of a batch along a sequence of penalty strengths, warm-started.

    Args:
      X, y, weights, offset, fit_intercept, penalty_factor, class_weight, trials, tol,
        max_iter, chunk_size: as :func:`jaxlogreg.fit`.
      alphas: ``(K,)`` strengths shared by every model, or ``(K, ...)`` one sequence per
        model; fitted in the order given, each from the previous solution, so give them in
        decreasing order. None: the default grid (module docstring).
      l1_ratio: share of the L1 term, as in :func:`jaxlogreg.fit` (1: the lasso path).
      n_alphas: number of strengths of the default grid.
      alpha_min_ratio: smallest strength of the default grid relative to ``alpha_max``.
      solver: as :func:`jaxlogreg.fit`; None picks ``"newton"`` for ``l1_ratio = 0`` and the
        first registered L1 solver otherwise.

    Returns:
      :class:`PathResult` with ``alphas (K, ...)`` and ``fits`` of batch shape ``(K, ...)``.
    """
    if solver is None:
        solver = "newton" if float(l1_ratio) == 0.0 else solvers.l1_names()[0]
    if alphas is None:
        if (isinstance(n_alphas, (bool, np.bool_))
                or not isinstance(n_alphas, (int, np.integer)) or n_alphas < 1):
            raise ValueError(f"n_alphas: must be a positive integer, got {n_alphas!r}")
        first: ArrayLike = 0.0
    else:
        alphas = _validate._as_array("alphas", alphas, _validate.float_dtype(X), 1)
        if alphas.shape[0] == 0:
            raise ValueError("alphas: need at least one strength")
        first = alphas[0]
    prep = _prepare(
        X, y, weights, offset, fit_intercept, solver, tol, max_iter, first, l1_ratio,
        penalty_factor, class_weight, trials, chunk_size,
    )
    data = prep.data
    batch = data.batch_shape
    if alphas is None:
        n, d = data.X.shape[-2:]
        if alpha_min_ratio is None:
            alpha_min_ratio = 1e-4 if n >= d + int(fit_intercept) else 1e-2
        if not 0.0 < float(alpha_min_ratio) < 1.0:
            raise ValueError(f"alpha_min_ratio: must be in (0, 1), got {alpha_min_ratio}")
        null = _null_start(prep)
        amax = _alpha_max(prep, null.params)
        if n_alphas > 1:
            steps = jnp.linspace(0.0, 1.0, n_alphas, dtype=amax.dtype)
        else:
            steps = jnp.zeros((1,), amax.dtype)
        ratios = jnp.asarray(float(alpha_min_ratio), amax.dtype) ** steps
        alphas = ratios.reshape((n_alphas,) + (1,) * len(batch)) * amax[None]
        start = null.params
    else:
        try:
            np.broadcast_shapes(alphas.shape[1:], batch)
        except ValueError:
            raise ValueError(f"alphas: shape {alphas.shape} does not broadcast with the batch "
                             f"{batch} after its first axis") from None
        if _validate._is_concrete(alphas):
            an = np.asarray(alphas)
            bad = ~(np.isfinite(an) & (an >= 0))
            if bad.any():
                idx = _validate._first(bad)
                raise ValueError(
                    f"alphas: must be finite and nonnegative, got {an[idx]} at index {idx}")
        rest = tuple(np.broadcast_shapes(alphas.shape[1:], batch))
        # The strengths' own batch axes align with the batch's last ones: (K,) is shared.
        lead = (1,) * (len(rest) - (alphas.ndim - 1))
        alphas = jnp.broadcast_to(alphas.reshape(alphas.shape[:1] + lead + alphas.shape[1:]),
                                  alphas.shape[:1] + rest)
        start = None
    return _run_path(prep, alphas, start)


def _run_path(prep, alphas, start) -> PathResult:
    """``lax.scan`` over the strengths, each fit warm-started from the previous one."""
    if start is None:
        first = _solve(prep, None, alphas[0])
        rest = alphas[1:]
    else:
        first, rest = None, alphas

    def step(params, alpha):
        res = _solve(prep, params, alpha)
        # A step that failed hands its start on, so one failure does not spoil the rest.
        keep = jnp.all(jnp.isfinite(res.params), axis=-1, keepdims=True)
        return jnp.where(keep, res.params, params), res

    init = start if first is None else first.params
    _, fits = jax.lax.scan(step, init, rest)
    if first is not None:
        fits = jax.tree_util.tree_map(lambda a, b: jnp.concatenate([a[None], b]), first, fits)
    return PathResult(alphas, fits)


def _null_start(prep) -> FitResult:
    """The intercept-only (plus offset) fit of every model, as a FitResult with zero slopes
    (``coef`` of ``d`` zeros); without an intercept, all zeros."""
    data = prep.data
    d = data.X.shape[-1]
    batch = data.batch_shape
    dtype = data.X.dtype
    if not prep.statics["fit_intercept"]:
        zeros = jnp.zeros(batch + (d,), dtype)
        return FitResult(zeros, jnp.zeros(batch, dtype), jnp.zeros(batch, jnp.int32),
                         jnp.zeros(batch, jnp.int32), jnp.zeros(batch, dtype),
                         jnp.zeros(batch, dtype), fit_intercept=False,
                         alpha=jnp.zeros(batch, dtype),
                         penalty_factor=jnp.broadcast_to(prep.pf, batch + (d,)),
                         l1_ratio=prep.statics["l1_ratio"],
                         class_weight=class_weight_field(prep.statics["class_weight"]))
    empty = data._replace(X=data.X[..., :0])
    null_prep = prep._replace(data=empty, pf=prep.pf[:0], config=solvers.resolve("newton"),
                              statics={**prep.statics, "l1_ratio": 0.0})
    res = _solve(null_prep, None, jnp.zeros((), dtype))
    return dataclasses.replace(res, coef=jnp.zeros(batch + (d,), dtype),
                               penalty_factor=jnp.broadcast_to(prep.pf, batch + (d,)),
                               l1_ratio=prep.statics["l1_ratio"])


@functools.partial(
    jax.jit, static_argnames=("batch_shape", "fit_intercept", "l1_ratio", "class_weight", "link")
)
def _alpha_max_jit(X, y, weights, offset, trials, params, pf, *, batch_shape, fit_intercept,
                   l1_ratio, class_weight, link):
    X1 = _loss.add_intercept(X) if fit_intercept else X
    pf_all = jnp.concatenate([jnp.zeros((1,), X.dtype), pf]) if fit_intercept else pf

    inputs = {"X": X1, "y": y, "weights": weights, "offset": offset, "trials": trials,
              "params": params}
    mapped, shared = split_batch(inputs, CORE_AXES, batch_shape)

    def one(per_model, axis_name):
        a = {**shared, **per_model}
        problem = _loss.model_problem(a["X"], a["y"], a["weights"], a["offset"],
                                      trials=a.get("trials"), class_weight=class_weight,
                                      alpha=jnp.zeros((), X.dtype), penalty_factor=pf_all,
                                      link=link)
        g = jnp.abs(_loss.gradient(a["params"], problem))
        ratio = jnp.where(pf_all > 0, g / jnp.where(pf_all > 0, pf_all, 1.0), 0.0)
        return jnp.max(ratio) / max(l1_ratio, 1e-3)

    return map_models(one, mapped, batch_shape, max(math.prod(batch_shape), 1))


def _alpha_max(prep, params) -> Array:
    """``(...)`` smallest strength zeroing every penalised slope (module docstring)."""
    data = prep.data
    return _alpha_max_jit(
        data.X, data.y, data.weights, data.offset, data.trials, params, prep.pf,
        **prep.statics,
    )
