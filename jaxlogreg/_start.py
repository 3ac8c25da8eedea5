"""Where a fit starts, and what one model of a batch is made of.

* :func:`default_start`: zero slopes and the intercept of the null model.
* The pooled start of a batch over one design (:func:`jaxlogreg._fit.pooled_start`): the
  rows of every model summed into one model (:func:`pool_rows`) and fitted by plain Newton
  steps (:func:`pooled_newton`).
* :class:`Lanes`: one model's per-model data (a *lane*) and its
  :class:`~jaxlogreg._loss.Problem`, built from the batch's inputs, shared and per-model.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any

import jax
import jax.numpy as jnp

from . import _linalg, _links, _loss, solvers
from ._result import FitResult
from ._status import Status
from .solvers import _common

Array = jax.Array

__all__ = ["default_start", "pools_inside", "pooled_newton", "usable", "pool_rows",
           "pooled_rows", "Lanes"]


def default_start(problem: _loss.Problem, fit_intercept: bool) -> Array:
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


def pools_inside(config) -> bool:
    """Whether a batch fitted by ``config`` on one device finds its pooled start inside
    its own compiled program (:func:`pooled_newton`) rather than by a fit of its own."""
    return isinstance(config, solvers.Newton)


def pooled_newton(problem: _loss.Problem, fit_intercept: bool, tol, max_steps: int = 30):
    """``(p,)`` the optimum of the pooled ``problem`` by undamped Newton steps from
    :func:`default_start`, or NaN when they do not converge within ``max_steps`` (a
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

    beta0 = default_start(problem, fit_intercept)
    start = (beta0, jnp.zeros((), jnp.int32), jnp.zeros((), bool), jnp.ones((), bool))
    beta, _, converged, _ = jax.lax.while_loop(
        lambda c: (c[1] < max_steps) & ~c[2] & c[3], body, start)
    return jnp.where(converged & jnp.all(jnp.isfinite(beta)), beta, jnp.nan)


@jax.jit
def usable(res: FitResult) -> Array:
    """``res.params`` of a converged single fit with finite parameters, else NaN."""
    ok = (res.status == int(Status.CONVERGED)) & jnp.all(jnp.isfinite(res.params))
    return jnp.where(ok, res.params, jnp.nan)


def pool_rows(y, weights, offset, trials, alpha, *, batch_shape, class_weight, chunk):
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


pooled_rows = functools.partial(jax.jit, static_argnames=("batch_shape", "class_weight", "chunk"))(
    pool_rows)


@dataclasses.dataclass(frozen=True)
class Lanes:
    """How one model of a batch is built from the batch's inputs (a trace-time helper of
    :func:`jaxlogreg._fit._fit`).

    ``mapped`` holds the names of the inputs with batch axes (one entry per model) and
    ``shared`` the inputs without (closed over, never broadcast to the batch), as
    :func:`jaxlogreg._batch.split_models` splits them; ``pf`` is the ``(p,)`` penalty
    factors (the intercept's 0 first when fitted), ``products`` the shared design's column
    products or None.
    """

    mapped: frozenset
    shared: dict
    scheme: Any
    fit_intercept: bool
    l1_ratio: float
    class_weight: Any
    link: str
    pf: Array
    products: Array | None

    def model(self, a: dict) -> tuple[dict, Array]:
        """``(lane, start)``: one model's per-model data and its start ``(p,)``, from its
        inputs ``a`` (shared and per-model)."""
        lane = {}
        if "X" in self.mapped:
            # A design per model is held as (p, n), each column's rows contiguous: the
            # products and sums over rows of a few columns then run several times faster
            # than on the (n, p) layout (the model's X is a transposed view, folded into
            # its uses).
            Xt = jnp.swapaxes(a["X"], -1, -2)
            if self.fit_intercept:
                Xt = jnp.concatenate([jnp.ones((1, Xt.shape[-1]), Xt.dtype), Xt], axis=0)
            lane["X"] = Xt
        w = a["weights"]
        if self.scheme is not None:
            w = w * self.scheme.weights(a["index"], a["y"])
        X = lane["X"].T if "X" in lane else self.shared["X"]
        built = _loss.model_problem(X, a["y"], w, trials=a.get("trials"),
                                    class_weight=self.class_weight, alpha=a["alpha"],
                                    l1_ratio=self.l1_ratio, penalty_factor=self.pf)
        lane["y"], lane["weights"], lane["l2"] = built.y, built.weights, built.l2
        if built.l1 is not None:
            lane["l1"] = built.l1
        if "offset" in self.mapped:
            lane["offset"] = a["offset"]
        problem = self.problem(lane)
        lane["weight_sum"], lane["side"] = _loss.weight_sum(problem), _loss.sides(problem)
        start = default_start(self.problem(lane), self.fit_intercept)
        if "init" in a:
            start = jnp.where(jnp.all(jnp.isfinite(a["init"])), a["init"], start)
        return lane, start

    def problem(self, lane: dict) -> _loss.Problem:
        """One model's :class:`~jaxlogreg._loss.Problem` from its lane."""
        Xm = lane["X"].T if "X" in lane else self.shared["X"]
        offset = lane["offset"] if "offset" in lane else self.shared.get("offset")
        return _loss.Problem(Xm, lane["y"], lane["weights"], offset, lane["l2"], self.pf,
                             self.products, lane.get("l1"), self.link,
                             weight_sum=lane.get("weight_sum"), side=lane.get("side"))
