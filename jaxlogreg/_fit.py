"""`fit`: batch broadcasting, the shared-design-matrix path, chunks of models."""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from . import _dispatch, _implicit, _links, _loss, _resample, _start, _validate, solvers
from ._batch import chunk_of, shared_design, split_models
from ._result import FitResult, class_weight_field
from ._typing import ArrayLike, ClassWeight, Devices, Integer, Numeric, Real
from .solvers import Context, _lanes

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
    prepare = _prepare if init is None else _prepare.uncached
    prep = prepare(*args, defer=devices is None)
    start = _validate.init_array(init, prep.data, fit_intercept)
    run = None
    if devices is not None:
        from ._sharding import mapper  # it builds on this module

        run = mapper(devices, prep.statics["batch_shape"])
    return _solve(prep, start, prep.alpha, run)


def _plan_key(X, y, weights, offset, fit_intercept, solver, tol, max_iter, alpha, l1_ratio,
              penalty_factor, class_weight, trials, chunk_size, link="logit", firth=False,
              defer=False):
    """``fit``'s signature for its kept plans (:func:`jaxlogreg._dispatch.planned`), or
    None: small problems with JAX arrays, numbers for the scalar options, no penalty factors
    or mapping of class weights, on the default device (``defer``)."""
    if not defer or penalty_factor is not None or not (
            class_weight is None or isinstance(class_weight, str)):
        return None
    return _dispatch.signature(
        (X, y, weights, offset, trials), (tol, max_iter, alpha, l1_ratio, chunk_size),
        (fit_intercept, solver, link, firth, class_weight),
    )


def _plan_arrays(X, y, weights, offset, fit_intercept, solver, tol, max_iter, alpha, l1_ratio,
                 penalty_factor, class_weight, trials, *_, **__):
    """``fit``'s data arrays as given: ``(X, y, weights, offset, trials)``."""
    return X, y, weights, offset, trials


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


@_dispatch.planned(_plan_key, _plan_arrays)
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
        data, alpha, pf, config, _dispatch._scalar(tol, dtype),
        _dispatch._scalar(max_iter, jnp.int32),
        int(chunk_size), statics, scheme, offset is not None,
    )


def _solve(prep: _Prepared, start, alpha, run=None) -> FitResult:
    """Fit the prepared models from ``start`` (or the default starts) at strength ``alpha``,
    on the default device or by ``run``, a replacement of its program with :func:`_fit`'s
    arguments (:func:`jaxlogreg._sharding.mapper` splits the models across devices); a
    ``run`` is given the pooled start, when there is one, as ``init``.

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
    if start is None and not (run is None and _start.pools_inside(prep.config)):
        start = pooled_start(prep, frozen[1])
    X, y, w, o, t = frozen[0]
    args = (X, y, w, o if prep.offset_given else None, t, start, frozen[1], frozen[2], prep.tol,
            prep.max_iter, prep.scheme)
    if run is not None:
        res = run(*args, config=prep.config, chunk_size=prep.chunk_size, **prep.statics)
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
        program = _program(data.checked, statics["batch_shape"], args)
        if data.checked:  # checked at the boundary: no second pass over the data
            res = program(*args, count, **statics)
        else:
            res, ok = program(*args, count, **statics)
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
    y, w, o, mean_alpha = _start.pooled_rows(data.y, data.weights, offset, data.trials, alpha,
                                       batch_shape=batch, class_weight=statics["class_weight"],
                                       chunk=prep.chunk_size)
    args = (data.X, y, w, o, None, None, mean_alpha, prep.pf, prep.tol, prep.max_iter, None)
    res, _ = _program(False, (), args)(
        *args, config=prep.config, chunk_size=prep.chunk_size,
        batch_shape=(), fit_intercept=statics["fit_intercept"], l1_ratio=statics["l1_ratio"],
        class_weight=None, link=statics["link"],
    )
    return _start.usable(res)


_FIT_STATICS = ("batch_shape", "fit_intercept", "config", "chunk_size", "l1_ratio",
                "class_weight", "link")

# A batch of at least this many lane counts of models evaluates them at their shared start
# by products (_loss.shared_rows): it saves a pass per model, and costs a larger program.
_SHARED_START_MODELS = 8


def _fit_models(X, y, weights, offset, trials, init, alpha, pf_cols, tol, max_iter, scheme,
               count=None, *, batch_shape, fit_intercept, config, chunk_size, l1_ratio,
               class_weight, link):
    """The fit of the prepared models (:func:`_solve`'s arguments): one compiled program per
    shape and static settings (:data:`_fit`)."""
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
    lanes = _start.Lanes(frozenset(mapped), shared, scheme, fit_intercept, l1_ratio,
                         class_weight, link, pf, products)
    ctx = Context(tol, max_iter)

    if not batch_shape:
        lane, start = lanes.model(shared)
        problem = lanes.problem(lane)
        out = solvers._driver.finish(problem, config.run(problem, start, ctx))
    elif B == 0:
        out = solvers._driver.Result(
            jnp.zeros((0, p), dtype), jnp.zeros((0,), jnp.int32), jnp.zeros((0,), jnp.int32),
            jnp.zeros((0,), dtype), jnp.zeros((0,), dtype))
    else:
        pooled = _pooled_lead(lanes, mapped, y, weights, offset, trials, alpha, tol, config,
                              batch_shape, chunk_size)
        start = _batch_start(lanes, mapped, pooled, config, ctx, B, chunk_size)
        out = _lanes.run_batch(config, lanes.problem, start, B, ctx, chunk_size, count)
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


def _pooled_lead(lanes: _start.Lanes, mapped: dict, y, weights, offset, trials, alpha, tol,
                 config, batch_shape, chunk_size) -> Array | None:
    """``(p,)`` the pooled start fitted inside the batch's program (NaN when its Newton
    steps fail; :func:`jaxlogreg._start.pooled_newton`), or None where there is none to fit
    here: a design per model, a start given, or a solver that pools outside
    (:func:`pooled_start`)."""
    shared = lanes.shared
    if not ("X" in shared and "init" not in shared and "init" not in mapped
            and _start.pools_inside(config)):
        return None
    yp, wp, op, ap = _start.pool_rows(y, weights, offset, trials, alpha,
                                      batch_shape=batch_shape, class_weight=lanes.class_weight,
                                      chunk=chunk_size)
    pooled = _loss.Problem(shared["X"], yp, wp,
                           op if "offset" in mapped else shared.get("offset"),
                           ap * (1.0 - lanes.l1_ratio), lanes.pf, lanes.products,
                           link=lanes.link)
    return _start.pooled_newton(pooled, lanes.fit_intercept, tol)


def _batch_start(lanes: _start.Lanes, mapped: dict, lead, config, ctx: Context, B: int,
                 chunk_size: int):
    """``ids -> (lane, state)``: the ``start`` of :func:`jaxlogreg.solvers._lanes.run_batch`
    for the models ``ids``, from the pooled start ``lead`` (when not None and finite), else
    a start given, else each model's default.

    Models that share their start (the pooled one or one given), design, response and
    offset share the row terms there: their first evaluation is one product of their
    weights with those rows (:func:`jaxlogreg._loss.shared_rows`), not a pass of their own.
    The products are a second instance of a step's decision in the program: worth its
    compile time only for a batch of several blocks of lanes (:data:`_SHARED_START_MODELS`).
    """
    shared, products = lanes.shared, lanes.products
    base = shared["init"] if "init" in shared else lead
    common = (base is not None and "y" in shared and "offset" not in mapped
              and "trials" not in mapped and lanes.class_weight is None and products is not None
              and solvers.uses_hessian(config) and not isinstance(config, solvers.Firth)
              and lanes.link == "logit" and B >= _SHARED_START_MODELS * chunk_size)

    def start(ids):
        per_model = jax.tree_util.tree_map(lambda v: v[ids], mapped)
        lane, beta0 = jax.vmap(lambda m: lanes.model({**shared, **m}))(per_model)
        if lead is not None:
            beta0 = jnp.where(jnp.all(jnp.isfinite(lead)), lead, beta0)
        before = _lanes.before_states(config, lanes.problem, lane, beta0)
        if not common:
            return lane, before

        def evaluated(_):
            # The shared response after its trials (the weights go with each model).
            y_rows, _ = _loss.response_weights(shared["y"], jnp.ones_like(shared["y"]),
                                               shared.get("trials"))
            dtype = y_rows.dtype
            rows_problem = _loss.Problem(shared["X"], y_rows, jnp.ones_like(y_rows),
                                         shared.get("offset"), jnp.zeros((), dtype), lanes.pf,
                                         products, link=lanes.link)
            rows = _loss.shared_rows(base, rows_problem)
            eta = _loss.linear_predictor(base, rows_problem)
            V = lane["weights"] @ rows

            def one(ln, v):
                problem = lanes.problem(ln)
                f, grad, hess = _loss.from_shared_rows(v, base, problem)
                finite = (jnp.isfinite(f) & jnp.all(jnp.isfinite(grad))
                          & jnp.all(jnp.isfinite(hess)))
                point = solvers._driver.Point(f, grad, hess, eta, finite)
                return config.start_at(problem, base, point, ctx)

            return jax.vmap(one)(lane, V)

        usable = jnp.all(jnp.isfinite(base))
        return lane, jax.lax.cond(usable, evaluated, lambda _: before, None)

    return start


def _fit_and_check(X, y, weights, offset, trials, init, alpha, pf_cols, tol, max_iter, scheme,
                   count=None, **statics):
    """``(_fit(...), ok)``: the fit and the boundary's value checks of its data
    (:func:`jaxlogreg._validate.values_ok`) as one compiled program, so that an eager
    call needs one dispatch. Every eager single-device fit runs through it (the pooled start
    of a batch too: one program for every single fit of a shape)."""
    ok = _validate.values_ok(X, y, weights, offset, trials)
    res = _fit_models(X, y, weights, offset, trials, init, alpha, pf_cols, tol, max_iter,
                      scheme, count, **statics)
    return res, ok


# The fit's programs: a small call's on a CPU compiles quickly (jaxlogreg._dispatch.Programs).
_FIT = _dispatch.Programs(_fit_models, _FIT_STATICS)
_FIT_CHECKED = _dispatch.Programs(_fit_and_check, _FIT_STATICS)
_fit = _FIT.default
_fit_checked = _FIT_CHECKED.default


def _program(checked: bool, batch_shape: tuple, args: tuple):
    """The compiled fit for the models of ``args`` (:func:`_fit`'s positional arguments):
    with the value checks (``checked`` False: the boundary left them to the program) or
    without (:meth:`jaxlogreg._dispatch.Programs.pick`)."""
    X = args[0]
    return (_FIT if checked else _FIT_CHECKED).pick(math.prod(batch_shape) * X.shape[-2], X, args)
