"""`fit`: batch broadcasting, the shared-design-matrix path, chunks of models."""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from . import _implicit, _linalg, _links, _loss, _resample, _validate, solvers
from ._batch import chunk_of, shared_design, split_models
from ._result import FitResult, class_weight_field
from ._status import Status
from ._typing import ArrayLike, ClassWeight, Devices, Integer, Numeric, Real
from .solvers import Context, _common, _lanes

Array = jax.Array

# A registered solver name or a solver's settings object.
Solver = str | solvers.Solver

__all__ = ["fit", "default_tol", "DEFAULT_MAX_ITER"]

# One owner of both: the solvers' driver.
DEFAULT_MAX_ITER = solvers._driver.DEFAULT_MAX_ITER
default_tol = solvers._driver.default_tol


def fit(
    X: Numeric[ArrayLike, "*#batch n d"],
    y: Numeric[ArrayLike, "*#batch n"],
    *,
    weights: Numeric[ArrayLike, "*#batch n"] | _resample.Scheme | None = None,
    offset: Numeric[ArrayLike, "*#batch n"] | None = None,
    fit_intercept: bool = True,
    solver: Solver = "auto",
    tol: Real[ArrayLike, ""] | None = None,
    max_iter: Integer[ArrayLike, ""] | None = None,
    init: FitResult | Real[ArrayLike, "*#batch p"] | None = None,
    alpha: Real[ArrayLike, "*#batch"] = 0.0,
    l1_ratio: float = 0.0,
    penalty_factor: Real[ArrayLike, " d"] | None = None,
    class_weight: ClassWeight = None,
    trials: Numeric[ArrayLike, "*#batch n"] | None = None,
    link: str = "logit",
    firth: bool = False,
    chunk_size: int | None = None,
    devices: Devices = None,
) -> FitResult:
    """Fit one logistic regression model or a batch of them.

    Minimises, for every model in the batch (conventions in :mod:`jaxlogreg._loss`)::

        f(beta) = (1 / sum_i w_i) * sum_i w_i * [softplus(eta_i) - y_i * eta_i]
                  + alpha * (l1_ratio * sum_j pf_j |coef_j|
                             + (1 - l1_ratio) / 2 * sum_j pf_j coef_j**2),
        eta = X @ coef + intercept + offset.

    The intercept is never penalised (the glmnet / glum convention). scikit-learn's ``C``
    corresponds to ``alpha = 1 / (C * sum_i w_i)``.

    Args:
      X: ``(..., n, d)`` design matrix. A single ``(n, d)`` matrix is shared by every model
        of the batch and is never copied per model.
      y: ``(..., n)`` labels in {0, 1}, or proportions in [0, 1] (a fractional response,
        fitted by the Bernoulli quasi-likelihood as statsmodels' binomial ``GLM`` fits it);
        with ``trials``: success counts.
      weights: ``(..., n)`` nonnegative frequency weights (a weight of 2 is the row twice),
        or None for ones. A ``(B, n)`` array over a shared ``X`` fits ``B`` models, e.g. one
        per bootstrap resample or train split (0 for held-out rows). Or a resampling scheme
        (:class:`jaxlogreg.Bootstrap`, :class:`jaxlogreg.Splits`, ...): its ``num`` models
        form the last batch axis, and each model's weights are generated on the device
        inside its chunk, so no ``(B, n)`` array is ever held.
      offset: ``(..., n)`` known term added to the linear predictor, or None.
      fit_intercept: fit an unpenalised intercept (a leading column of ones).
      solver: ``"auto"`` (proximal Newton with an L1 term; else Newton up to 48 parameters,
        intercept included, and L-BFGS above: :func:`jaxlogreg.solvers.auto`), a registered
        name (``"newton"``, ...) or a settings object (:class:`jaxlogreg.Newton`, ...); see
        :func:`jaxlogreg.solvers.names`.
      tol: convergence tolerance: the Newton solver stops when half the squared Newton
        decrement and every ``|grad_j f|`` are at most ``tol`` (the latter relaxed to the
        rounding bound of ``grad_j`` on columns of very large scale; see
        :mod:`jaxlogreg.solvers.newton`). None picks by dtype (:func:`default_tol`).
        Traced: changing it does not recompile.
      max_iter: iteration bound (default 100). Traced: changing it does not recompile.
      init: starting point: a :class:`FitResult` or an array ``(..., p)`` of parameters
        (intercept first when fitted, ``p = d + fit_intercept``) broadcasting against the
        batch. None: for a batch over one shared ``X``, the fit of all models pooled (for
        bootstrap and split batches, the full-data fit); otherwise zero slopes and the
        intercept at the logit of the mean response.
      alpha: ``(...)`` nonnegative penalty strength; batch axes broadcast with the data's,
        so a ``(K,)`` array over one data set fits ``K`` strengths at once. Traced.
      l1_ratio: share of the L1 term in ``[0, 1]`` (0: ridge, 1: lasso). A positive
        ``l1_ratio`` needs a solver that handles the L1 term.
      penalty_factor: ``(d,)`` nonnegative scale of the penalty of each column of ``X``
        (0 leaves a coefficient unpenalised), or None for ones.
      class_weight: None, ``"balanced"`` or a mapping ``{0: c0, 1: c1}`` multiplying the
        loss of each class (scikit-learn's meaning; ``"balanced"`` uses the weighted class
        totals of each model, see :func:`jaxlogreg._loss.response_weights`).
      trials: ``(..., n)`` binomial trials per row, ``y`` then counting successes
        (aggregated data); the fit equals that of the expanded 0/1 rows.
      link: ``"logit"`` (logistic regression), ``"probit"``, ``"cloglog"`` or ``"cauchit"``:
        ``P(y = 1) = F(eta)`` with ``F`` the logistic, normal, Gumbel-minimum or Cauchy
        CDF. The logit is canonical and Newton's method uses the observed information;
        for the others the solvers use the expected (Fisher) information, i.e. Fisher
        scoring (IRLS), as statsmodels' GLM does.
      firth: maximise Firth's penalised likelihood ``l(beta) + 1/2 log det I(beta)`` instead
        (bias-reduced logistic regression; finite estimates under separation; logit link, no
        ``alpha``). Same as ``solver="firth"``; :func:`jaxlogreg.firth_profile` gives its
        profile penalised-likelihood intervals and tests. Fits by Firth's method carry no
        implicit derivatives.
      chunk_size: models processed together (vectorised) at a time; the rest of the batch
        is looped over in chunks of this size. None picks one from ``n``.
      devices: split the models across devices: an int (the first that many local devices),
        a sequence of devices, or a 1-D ``jax.sharding.Mesh``; None runs on the default
        device. Results equal one device's to rounding (:mod:`jaxlogreg._sharding`; for one
        huge data set split by rows see :func:`jaxlogreg.fit_rows_sharded`).

    The leading (batch) axes of ``X``, ``y``, ``weights``, ``offset``, ``trials`` and
    ``alpha`` broadcast together (``*#batch`` in the signature's shape annotations, see
    :mod:`jaxlogreg._typing`); the batch shape ``(...)`` is that broadcast shape (``()``
    for one model). Computation is in ``X``'s floating dtype, or JAX's default float
    (float64 under ``jax_enable_x64``) when ``X`` is not floating.

    A program is compiled per shape of the inputs. One exception: the models of a resampling
    scheme over shared data (``weights=Splits(key, B)`` and the like, more than one chunk of
    them) run in a program sized for the next power of two of ``B``, so that batches of
    ``B = 10,000`` and ``B = 12,345`` models share one program.

    Returns:
      :class:`FitResult` with batch shape ``(...)``. Models that fail are reported through
      ``status``; nothing raises inside a batch.

    Raises:
      ValueError: at the Python boundary, for non-finite data, labels outside [0, 1],
        negative weights, a model whose weights are all zero, shapes that do not broadcast,
        ``n = 0``, a bad penalty or a solver that cannot handle it, naming the argument and
        the first bad index.
    """
    args = (X, y, weights, offset, fit_intercept, solver, tol, max_iter, alpha, l1_ratio,
            penalty_factor, class_weight, trials, chunk_size, link, firth)
    key = _plan_key(*args) if init is None and devices is None else None
    plan = _PLANS.get(key)
    if plan is not None:
        prep = _Prepared(plan.data.filled(X, y, weights, offset, trials), *plan[1:])
    else:
        prep = _prepare(*args, defer=devices is None)
        if not prep.data.checked:
            bare = prep.data.bare(weights is not None, offset is not None)
            _PLANS.put(key, prep._replace(data=bare))
    start = _validate.init_array(init, prep.data, fit_intercept)
    if devices is not None:
        from ._sharding import sharded_solve  # it builds on this module

        return sharded_solve(prep, start, prep.alpha, devices)
    return _solve(prep, start, prep.alpha)


# Warm calls with the signature of an earlier one (:class:`jaxlogreg._validate.Plans`): small
# problems with JAX arrays, numbers for the scalar options, and no init, penalty factors,
# resampling scheme or devices.
_PLANS = _validate.Plans()


def _plan_key(X, y, weights, offset, fit_intercept, solver, tol, max_iter, alpha, l1_ratio,
              penalty_factor, class_weight, trials, chunk_size, link, firth):
    """``fit``'s signature for :data:`_PLANS`, or None."""
    if penalty_factor is not None or not (class_weight is None or isinstance(class_weight, str)):
        return None
    return _validate.signature(
        (X, y, weights, offset, trials), (tol, max_iter, alpha, l1_ratio, chunk_size),
        (fit_intercept, solver, link, firth, class_weight),
    )


class _Prepared(NamedTuple):
    """``fit``'s arguments, validated: data, penalty, solver settings and static options."""

    data: _validate.FitInputs
    alpha: Array  # (...) may carry batch axes
    pf: Array  # (d,)
    config: object
    tol: Array | np.ndarray  # () in the dtype of the data
    max_iter: Array | np.ndarray  # () int32
    chunk_size: int
    statics: dict  # batch_shape, fit_intercept, l1_ratio, class_weight, link
    scheme: _resample.Scheme | None = None
    # Whether the caller gave an offset: without one the solvers add none (a pass saved).
    offset_given: bool = True


def _prepare(X, y, weights, offset, fit_intercept, solver, tol, max_iter, alpha, l1_ratio,
             penalty_factor, class_weight, trials, chunk_size, link="logit",
             firth=False, defer=False) -> _Prepared:
    """Validate ``fit``'s arguments at the Python boundary (ValueErrors name the argument).

    ``defer``: a small problem's value checks may be left to :func:`_solve`, which makes them
    inside the fit's compiled program (:func:`jaxlogreg._validate.fit_inputs`).
    """
    if not isinstance(fit_intercept, (bool, np.bool_)):
        raise ValueError(f"fit_intercept: expected True or False, got {fit_intercept!r}")
    fit_intercept = bool(fit_intercept)
    if firth and not isinstance(solver, solvers.Firth):
        if solver not in ("auto", "newton", "firth"):
            raise ValueError(f"solver: firth=True fits by Firth's method; got solver={solver!r}")
        solver = "firth"
    if not (isinstance(solver, (str, solvers.Solver))):
        solvers.resolve(solver)  # raises, naming the argument
    if not isinstance(link, str) or link not in _links.LINKS:
        raise ValueError(f"link: expected one of {', '.join(_links.LINKS)}, got {link!r}")
    dtype = _validate.float_dtype(X)
    given_alpha = alpha  # as the caller gave it: a number stays checkable under a trace
    data, scheme = _resample.data_inputs(
        X, y, weights, offset, fit_intercept=fit_intercept, trials=trials,
        extra_batch=np.shape(alpha),  # alpha is converted and checked by penalty_inputs
        defer=defer,
    )
    d = data.X.shape[-1]
    alpha, l1_ratio, pf = _validate.penalty_inputs(given_alpha, l1_ratio, penalty_factor, d, dtype)
    config = solvers.resolve(solver, d + int(bool(fit_intercept)), l1_ratio)
    if l1_ratio > 0 and not solvers.handles_l1(config):
        raise ValueError(
            f"solver: {config.name!r} handles smooth penalties only (l1_ratio = 0); for "
            f"l1_ratio = {l1_ratio} use one of {', '.join(solvers.l1_names())}"
        )
    if isinstance(config, solvers.Firth):
        if link != "logit":
            raise ValueError(f"link: Firth's method is for the logit link, got {link!r}")
        if not (_validate._is_concrete(given_alpha) and not np.any(np.asarray(given_alpha))):
            raise ValueError("alpha: Firth's method takes no other penalty (alpha must be 0)")
    cw = _validate.class_weight_spec(class_weight)
    tol = default_tol(dtype) if tol is None else tol
    max_iter = DEFAULT_MAX_ITER if max_iter is None else max_iter
    _validate.check_tol(tol)
    _validate.check_max_iter(max_iter)
    n = data.X.shape[-2]
    # Rows a model touches per step: all of them, or a minibatch for stochastic solvers.
    chunk_size = chunk_of(chunk_size, data.X, fit_intercept, config.rows_per_step(n))
    statics = dict(
        batch_shape=data.batch_shape,
        fit_intercept=bool(fit_intercept),
        l1_ratio=l1_ratio,
        class_weight=cw,
        link=link,
    )
    return _Prepared(
        data, alpha, pf, config, _validate._scalar(tol, dtype),
        _validate._scalar(max_iter, jnp.int32),
        int(chunk_size), statics, scheme, offset is not None,
    )


def _solve(prep: _Prepared, start, alpha, mesh=None) -> FitResult:
    """Fit the prepared models from ``start`` (or the default starts) at strength ``alpha``,
    on the default device or, with a ``mesh``, split across its devices
    (:mod:`jaxlogreg._sharding`).

    The solver's loops are not differentiated: derivatives of the solution come from the
    optimality condition (:mod:`jaxlogreg._implicit`), so the solver sees the data without
    tangents. When nothing is traced (an eager call, the common case) there is nothing to
    stop and nothing to differentiate: both steps are skipped, which saves their dispatches.
    Value checks the boundary deferred (``prep.data.checked`` False) come out of the fit's
    own program and raise here, before the result is returned.
    """
    data = prep.data
    data_args = (data.X, data.y, data.weights, data.offset, data.trials)
    traced = not all(map(_validate._is_concrete, (*data_args, alpha, prep.pf, start)))
    frozen = (data_args, alpha, prep.pf)
    frozen = jax.lax.stop_gradient(frozen) if traced else frozen
    start = jax.lax.stop_gradient(start) if traced else start
    if start is None and not (mesh is None and _pools_inside(prep.config)):
        start = pooled_start(prep, frozen[1])
    X, y, w, o, t = frozen[0]
    args = (X, y, w, o if prep.offset_given else None, t, start, frozen[1], frozen[2], prep.tol,
            prep.max_iter, prep.scheme)
    if mesh is not None:
        from ._sharding import sharded_fit  # it builds on this module

        res = sharded_fit(*args, mesh=mesh, config=prep.config, chunk_size=prep.chunk_size,
                          **prep.statics)
    else:
        statics = dict(config=prep.config, chunk_size=prep.chunk_size, **prep.statics)
        scheme = prep.scheme
        size = None if traced or scheme is None else _padded_size(prep, scheme, start, alpha)
        count = None
        if size is not None:  # a program of `size` models fits the first B of them
            assert scheme is not None
            args = args[:-1] + (dataclasses.replace(scheme, num=size),)  # type: ignore[type-var]
            statics["batch_shape"] = (size,)
            count = np.int32(scheme.num)
        if data.checked:  # checked at the boundary: no second pass over the data
            res = _fit(*args, count, **statics)
        else:
            res, ok = _fit_checked(*args, count, **statics)
            _validate.check_values(*data_args, ok=ok)
        if size is not None and scheme is not None:
            res = _head(res, scheme.num)
    if not traced or prep.scheme is not None or isinstance(prep.config, solvers.Firth):
        # Nothing to differentiate, weights generated inside the fit, or Firth's objective:
        # no implicit derivatives.
        return res
    return _implicit.attach(res, *data_args, alpha, prep.pf, **prep.statics)


@functools.partial(jax.jit, static_argnums=1)
def _head(res: FitResult, B: int) -> FitResult:
    """The first ``B`` models of ``res`` (one small program per ``B``)."""
    return jax.tree_util.tree_map(lambda a: a[:B], res)


def _padded_size(prep: _Prepared, scheme: _resample.Scheme, start, alpha) -> int | None:
    """The size of the program that fits a resampling batch, or None to fit it as it is.

    A batch of ``B`` models of one scheme over shared data (nothing else per model) runs in
    a program for ``2^ceil(log2 B)`` models that fits the first ``B`` (the count is traced,
    and only the results buffer is larger), so that batch sizes up to the next power of
    two share one compiled program. Only batches larger than their chunk (the lanes) are
    padded: a smaller one would step idle lanes.
    """
    data = prep.data
    if "num" not in {f.name for f in dataclasses.fields(scheme)}:  # type: ignore[arg-type]
        return None  # a scheme whose size is not a field (k-fold, leave-one-out)
    B = scheme.num
    shared = (data.batch_shape == (B,) and data.X.ndim == 2 and data.y.ndim == 1
              and all(a is None or np.ndim(a) <= 1
                      for a in (data.weights, data.offset, data.trials))
              and np.ndim(alpha) == 0 and (start is None or np.ndim(start) <= 1))
    return 1 << (B - 1).bit_length() if shared and B > prep.chunk_size else None


def _default_start(problem: _loss.Problem, fit_intercept: bool) -> Array:
    """Zero slopes; the intercept at the link of the weighted mean response, less the
    weighted mean offset (so that the start's mean linear predictor is the link of the mean
    response also under a large offset: the null model's optimum for a constant one)."""
    p = problem.X.shape[-1]
    beta = jnp.zeros((p,), problem.X.dtype)
    if fit_intercept:
        w = problem.weights
        sums = [jnp.sum(w * problem.y), jnp.sum(w)]
        if problem.offset is not None:
            sums.append(jnp.sum(w * problem.offset))
        total = _loss.across_rows(jnp.stack(sums), problem)
        ybar = jnp.clip(total[0] / total[1], 1e-6, 1 - 1e-6)
        intercept = _links.link_function(problem.link, ybar)
        if problem.offset is not None:
            intercept = intercept - total[2] / total[1]
        beta = beta.at[0].set(intercept)
    return beta


def pooled_start(prep: _Prepared, alpha) -> Array | None:
    """``(p,)`` starting point shared by a batch over one design: the fit of all its models
    pooled, or None when there is nothing to pool (one model, a design per model, a solver
    that forms no Hessian); NaN when the pooled fit fails (each model then starts from its
    own :func:`_default_start`).

    Summing every model's objective over a shared ``X`` gives one model with weights
    ``sum_b w_b`` and response ``sum_b w_b y_b / sum_b w_b`` (the loss is linear in ``y``;
    weights and responses after :func:`jaxlogreg._loss.response_weights`), at the models'
    mean penalty strength and mean offset. For bootstrap or split batches that is the
    full-data fit, a few Newton steps from each model's optimum. When every model has the
    same rows (models that differ by ``alpha`` only, or whose weights come from a resampling
    scheme, which are proportional to the base weights in expectation) the pooled fit is
    that of the shared rows. It is an ordinary single-model fit, compiled as one: a program
    shared with every single fit of data of the same shape.
    """
    data, statics = prep.data, prep.statics
    batch = statics["batch_shape"]
    if not (solvers.uses_hessian(prep.config) and batch and math.prod(batch) > 0
            and data.X.ndim == 2):
        return None
    offset = data.offset if prep.offset_given else None
    y, w, o, mean_alpha = _pooled_rows(data.y, data.weights, offset, data.trials, alpha,
                                       batch_shape=batch, class_weight=statics["class_weight"],
                                       chunk=prep.chunk_size)
    res, _ = _fit_checked(
        data.X, y, w, o, None, None, mean_alpha, prep.pf,
        prep.tol, prep.max_iter, None, config=prep.config, chunk_size=prep.chunk_size,
        batch_shape=(), fit_intercept=statics["fit_intercept"], l1_ratio=statics["l1_ratio"],
        class_weight=None, link=statics["link"],
    )
    return _usable(res)


def _pools_inside(config) -> bool:
    """Whether a batch fitted by ``config`` on one device finds its pooled start inside
    its own compiled program (:func:`_pooled_newton`) rather than by a fit of its own."""
    return isinstance(config, solvers.Newton)


def _pooled_newton(problem: _loss.Problem, fit_intercept: bool, tol, max_steps: int = 30):
    """``(p,)`` the optimum of the pooled ``problem`` by undamped Newton steps from
    :func:`_default_start`, or NaN when they do not converge within ``max_steps`` (a
    singular or non-finite step stops them).

    A start for the batch's own fits, which have every safeguard: all it needs to be is
    good, and its few lines compile with the batch's program, where a fit of its own would
    be a second program. It stops on the test of :class:`jaxlogreg.Newton`.
    """
    floor = _common.gradient_floor(problem)

    def body(carry):
        beta, k, _, _ = carry
        _, grad, hess = _loss.value_grad_hess(beta, problem)
        delta, solved = _linalg.solve_spd(hess, -grad)
        converged = (solved & (-0.5 * jnp.sum(grad * delta) <= tol)
                     & jnp.all(jnp.abs(grad) <= jnp.maximum(tol, floor)))
        usable = solved & jnp.all(jnp.isfinite(delta))
        return jnp.where(converged | ~usable, beta, beta + delta), k + 1, converged, usable

    beta0 = _default_start(problem, fit_intercept)
    start = (beta0, jnp.zeros((), jnp.int32), jnp.zeros((), bool), jnp.ones((), bool))
    beta, _, converged, _ = jax.lax.while_loop(
        lambda c: (c[1] < max_steps) & ~c[2] & c[3], body, start)
    return jnp.where(converged & jnp.all(jnp.isfinite(beta)), beta, jnp.nan)


@jax.jit
def _usable(res: FitResult) -> Array:
    """``res.params`` of a converged single fit with finite parameters, else NaN."""
    ok = (res.status == int(Status.CONVERGED)) & jnp.all(jnp.isfinite(res.params))
    return jnp.where(ok, res.params, jnp.nan)


def _pool_rows(y, weights, offset, trials, alpha, *, batch_shape, class_weight, chunk):
    """``(y, w, offset)`` of the pooled model, each ``(n,)``, and the models' mean penalty
    strength (see :func:`pooled_start`). Sums over models are taken ``chunk`` models at a
    time, so no ``(B, n)`` array is formed beyond the inputs."""
    rows = functools.partial(_loss.response_weights, class_weight=class_weight)
    named = {"y": y, "weights": weights, "offset": offset, "trials": trials}
    if not any(v is not None and v.ndim > 1 for v in named.values()):
        yy, ww = rows(y, weights, trials)
        return yy, ww, offset, jnp.mean(jnp.broadcast_to(alpha, batch_shape))
    B, n = math.prod(batch_shape), y.shape[-1]
    # Inputs with batch axes as (B, n); shared ones stay (n,), broadcast a chunk at a time.
    full = {k: v if v.ndim == 1 else jnp.broadcast_to(v, batch_shape + (n,)).reshape(B, n)
            for k, v in named.items() if v is not None}
    alphas = jnp.broadcast_to(alpha, batch_shape).reshape(B)
    chunk = min(chunk, B)
    zero = jnp.zeros((n,), y.dtype)

    def body(i, sums):
        # The last chunk ends at B and may overlap the one before: its first models, counted
        # already, are left out.
        first = jnp.minimum(i * chunk, B - chunk)
        part = {k: jnp.broadcast_to(v, (chunk, n)) if v.ndim == 1
                else jax.lax.dynamic_slice_in_dim(v, first, chunk) for k, v in full.items()}
        a = jax.lax.dynamic_slice_in_dim(alphas, first, chunk)
        yy, ww = jax.vmap(rows)(part["y"], part["weights"], part.get("trials"))
        # Models with invalid or non-finite data (possible under jit) are left out, so that
        # a model's start depends only on the batch's valid members.
        valid = ((first + jnp.arange(chunk) >= i * chunk) & jnp.isfinite(a) & jnp.all(
            jnp.isfinite(yy) & jnp.isfinite(ww) & (ww >= 0) & (yy >= 0) & (yy <= 1), axis=1))
        o = part.get("offset")
        if o is not None:
            valid = valid & jnp.all(jnp.isfinite(o), axis=1)
        v = valid[:, None]
        count, a_sum, w_sum, wy_sum, o_sum = sums
        return (count + jnp.sum(valid, dtype=jnp.int32), a_sum + jnp.sum(jnp.where(valid, a, 0.0)),
                w_sum + jnp.sum(jnp.where(v, ww, 0.0), axis=0),
                wy_sum + jnp.sum(jnp.where(v, ww * yy, 0.0), axis=0),
                o_sum if o is None else o_sum + jnp.sum(jnp.where(v, o, 0.0), axis=0))

    sums = (jnp.zeros((), jnp.int32), jnp.zeros((), alphas.dtype), zero, zero, zero)
    count, a_sum, w_sum, wy_sum, o_sum = jax.lax.fori_loop(0, -(-B // chunk), body, sums)
    count = jnp.maximum(count, 1)
    ypool = wy_sum / jnp.where(w_sum > 0, w_sum, 1.0)
    mean_o = None if "offset" not in full else o_sum / count
    return ypool, w_sum, mean_o, a_sum / count


_pooled_rows = functools.partial(jax.jit, static_argnames=("batch_shape", "class_weight", "chunk"))(
    _pool_rows)


_FIT_STATICS = ("batch_shape", "fit_intercept", "config", "chunk_size", "l1_ratio",
                "class_weight", "link")

# A batch of at least this many lane counts of models evaluates them at their shared start
# by products (_loss.shared_rows): it saves a pass per model, and costs a larger program.
_SHARED_START_MODELS = 8


@functools.partial(jax.jit, static_argnames=_FIT_STATICS)
def _fit(X, y, weights, offset, trials, init, alpha, pf_cols, tol, max_iter, scheme, count=None,  # noqa: C901 (to be split, issue 19)
         *, batch_shape, fit_intercept, config, chunk_size, l1_ratio, class_weight, link):
    dtype = X.dtype
    d = X.shape[-1]
    p = d + int(fit_intercept)
    pf = jnp.concatenate([jnp.zeros((1,), dtype), pf_cols]) if fit_intercept else pf_cols
    B = math.prod(batch_shape)

    # Arrays with batch axes are mapped over models; those without are shared, closed over,
    # and never broadcast to the batch.
    inputs = {"X": X, "y": y, "weights": weights, "offset": offset, "trials": trials,
              "init": init, "alpha": alpha}
    mapped, shared = split_models(inputs, scheme, batch_shape)
    products = None
    if "X" in shared:
        shared["X"], products = shared_design(shared["X"], fit_intercept, batch_shape)
        if not solvers.uses_hessian(config):
            products = None  # only Hessian-based solvers use the column products

    def model(a):
        """One model's per-model data (a lane of the batch) and its start, from its inputs
        ``a`` (shared and per-model)."""
        lane = {}
        if "X" in mapped:
            # A design per model is held as (p, n), each column's rows contiguous: the
            # products and sums over rows of a few columns then run several times faster
            # than on the (n, p) layout (the model's X is a transposed view, folded into
            # its uses).
            Xt = jnp.swapaxes(a["X"], -1, -2)
            if fit_intercept:
                Xt = jnp.concatenate([jnp.ones((1, Xt.shape[-1]), Xt.dtype), Xt], axis=0)
            lane["X"] = Xt
        w = a["weights"]
        if scheme is not None:
            w = w * scheme.weights(a["index"], a["y"])
        lane["y"], lane["weights"] = _loss.response_weights(a["y"], w, a.get("trials"),
                                                            class_weight)
        lane["l2"] = a["alpha"] * (1.0 - l1_ratio)
        if l1_ratio > 0:
            lane["l1"] = a["alpha"] * l1_ratio
        if "offset" in mapped:
            lane["offset"] = a["offset"]
        problem = problem_of(lane)
        lane["weight_sum"], lane["side"] = _loss.weight_sum(problem), _loss.sides(problem)
        problem = problem_of(lane)
        start = _default_start(problem, fit_intercept)
        if "init" in a:
            start = jnp.where(jnp.all(jnp.isfinite(a["init"])), a["init"], start)
        return lane, start

    def problem_of(lane):
        """One model's :class:`~jaxlogreg._loss.Problem` from its lane."""
        Xm = lane["X"].T if "X" in lane else shared["X"]
        offset = lane["offset"] if "offset" in lane else shared.get("offset")
        return _loss.Problem(Xm, lane["y"], lane["weights"], offset, lane["l2"], pf,
                             products, lane.get("l1"), link, weight_sum=lane.get("weight_sum"),
                             side=lane.get("side"))

    if not batch_shape:
        lane, start = model(shared)
        out = solvers._driver.finish(problem_of(lane),
                                     config.run(problem_of(lane), start, Context(tol, max_iter)))
    elif B == 0:
        out = solvers._driver.Result(
            jnp.zeros((0, p), dtype), jnp.zeros((0,), jnp.int32), jnp.zeros((0,), jnp.int32),
            jnp.zeros((0,), dtype), jnp.zeros((0,), dtype))
    else:
        ctx = Context(tol, max_iter)
        # Models that share their start (the pooled start), design, response and offset
        # share the row terms there: their first evaluation is one product of their weights
        # with those rows (_loss.shared_rows), not a pass of their own.
        # The products are a second instance of a step's decision in the program: worth
        # its compile time only for a batch of several blocks of lanes.
        common = ("y" in shared and "offset" not in mapped
                  and "trials" not in mapped and class_weight is None and products is not None
                  and solvers.uses_hessian(config) and not isinstance(config, solvers.Firth)
                  and link == "logit" and B >= _SHARED_START_MODELS * chunk_size)

        # The pooled start (see pooled_start), fitted here when none is given.
        pool = "X" in shared and "init" not in shared and "init" not in mapped and _pools_inside(
            config)
        common = common and ("init" in shared or pool)

        lead = None
        if pool:
            yp, wp, op, ap = _pool_rows(y, weights, offset, trials, alpha,
                                        batch_shape=batch_shape, class_weight=class_weight,
                                        chunk=chunk_size)
            pooled = _loss.Problem(shared["X"], yp, wp,
                                   op if "offset" in mapped else shared.get("offset"),
                                   ap * (1.0 - l1_ratio), pf, products, link=link)
            lead = _pooled_newton(pooled, fit_intercept, tol)

        def start(ids):
            per_model = jax.tree_util.tree_map(lambda v: v[ids], mapped)
            lane, beta0 = jax.vmap(lambda m: model({**shared, **m}))(per_model)
            base = shared["init"] if "init" in shared else lead
            if lead is not None:
                beta0 = jnp.where(jnp.all(jnp.isfinite(lead)), lead, beta0)
            before = _lanes.before_states(config, problem_of, lane, beta0)
            if not common:
                return lane, before

            assert base is not None  # a shared start: given, or the pooled one

            def evaluated(_):
                # The shared response after its trials (the weights go with each model).
                y_rows, _ = _loss.response_weights(shared["y"], jnp.ones_like(shared["y"]),
                                                   shared.get("trials"))
                rows_problem = _loss.Problem(shared["X"], y_rows, jnp.ones_like(y_rows),
                                             shared.get("offset"), jnp.zeros((), dtype), pf,
                                             products, link=link)
                rows = _loss.shared_rows(base, rows_problem)
                eta = _loss.linear_predictor(base, rows_problem)
                V = lane["weights"] @ rows

                def one(ln, v):
                    problem = problem_of(ln)
                    f, grad, hess = _loss.from_shared_rows(v, base, problem)
                    finite = (jnp.isfinite(f) & jnp.all(jnp.isfinite(grad))
                              & jnp.all(jnp.isfinite(hess)))
                    point = solvers._driver.Point(f, grad, hess, eta, finite)
                    return config.start_at(problem, base, point, ctx)

                return jax.vmap(one)(lane, V)

            usable = jnp.all(jnp.isfinite(base))
            return lane, jax.lax.cond(usable, evaluated, lambda _: before, None)

        out = _lanes.run_batch(config, problem_of, start, B, ctx, chunk_size, count)
        out = jax.tree_util.tree_map(lambda a: a.reshape(batch_shape + a.shape[1:]), out)
    beta, status, n_iter, loss, gnorm = out
    intercept = beta[..., 0] if fit_intercept else jnp.zeros(batch_shape, dtype)
    coef = beta[..., 1:] if fit_intercept else beta
    return FitResult(
        coef=coef,
        intercept=intercept,
        status=status,
        n_iter=n_iter,
        loss=loss,
        grad_norm=gnorm,
        fit_intercept=fit_intercept,
        link=link,
        # The fit's specification (jaxlogreg._spec): alpha (...) and penalty factors
        # (..., d) broadcast to the batch, so that indexing by model keeps them aligned.
        alpha=jnp.broadcast_to(alpha, batch_shape),
        penalty_factor=jnp.broadcast_to(pf_cols, batch_shape + (d,)),
        l1_ratio=l1_ratio,
        class_weight=class_weight_field(class_weight),
    )


@functools.partial(jax.jit, static_argnames=_FIT_STATICS)
def _fit_checked(X, y, weights, offset, trials, init, alpha, pf_cols, tol, max_iter, scheme,
                 count=None, **statics):
    """``(_fit(...), ok)``: the fit and the boundary's value checks of its data
    (:func:`jaxlogreg._validate.values_ok`) as one compiled program, so that an eager
    call needs one dispatch. Every eager single-device fit runs through it (the pooled start
    of a batch too: one program for every single fit of a shape)."""
    ok = _validate.values_ok(X, y, weights, offset, trials)
    res = _fit(X, y, weights, offset, trials, init, alpha, pf_cols, tol, max_iter, scheme,
               count, **statics)
    return res, ok
