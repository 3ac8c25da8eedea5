"""The one loop every solver runs, and the batch of models it runs over.

A solver is a frozen settings class (:class:`Solver`) that says how to evaluate the
objective at a point, which direction to take from an evaluated point and whether that
point passes its convergence test; everything else is here, written once:

* **the iteration.** One call of :func:`step` evaluates the objective, its gradient and
  (for the Hessian-based solvers) its curvature at one *trial point* ``beta + t d``: one
  pass over the rows (the linear predictor is a matrix product, the row terms one
  elementwise sweep, the gradient and Hessian two more products). If the search accepts the
  trial it becomes the iterate, the solver proposes the next direction ``d`` there, and the
  stopping decision is made; if not, the search picks the next ``t`` and the next call
  evaluates that. Backtracking is therefore not a loop inside a step: a model that needs a
  shorter step simply takes more steps of the one loop, and the common step (accepted at
  ``t = 1``) costs exactly one pass. ``n_iter`` counts accepted steps.
* **the searches**: :class:`Backtracking` (Armijo's condition, halving from ``t = 1``; a
  full step that the curvature certificate vouches for is taken without the test) and
  :class:`Wolfe` (strong Wolfe conditions, bracketing with secant steps; L-BFGS). A search
  that gives up stops the model with ``LINESEARCH_FAILED``.
* **the curvature certificate** (:func:`certificate`): for the logit link, a step whose
  largest move of a linear predictor ``m = max_i |(X d)_i|`` is small enough provably
  satisfies Armijo's condition, whatever the rounding of the computed loss.
* **the stopping decision** (:func:`decide`), first match wins:

  ====================  ================================================================
  ``NONFINITE``         the objective, gradient or curvature at the iterate is not finite
  ``SINGULAR``          the curvature matrix is numerically singular (``SEPARATED`` when
                        some row is fitted with probability 1 of its class)
  ``SEPARATED``         the direction is a recession direction (:func:`_common.recession`)
                        or the solver certifies separation otherwise
  ``CONVERGED``         the solver's convergence test
  ``MAX_ITER``          ``max_iter`` steps taken (``SEPARATED`` as for ``SINGULAR``)
  ====================  ================================================================

  and before the first step a model with invalid data (a negative weight, a positively
  weighted label outside ``[0, 1]``) stops with ``INVALID``.
* **the commit**: a stopped model is frozen (every later :func:`step` returns its state
  unchanged, bit for bit), so its result is its own however long the rest of a batch runs.

The state holds only ``p``-sized vectors and scalars: linear predictors are recomputed from
``beta`` by a matrix product, which costs what an update ``eta + t X d`` would and needs no
``(n,)`` state to freeze.

Batches of models run this loop on lanes refilled from a queue
(:mod:`jaxlogreg.solvers._lanes`).

References: J. Nocedal and S. Wright, *Numerical Optimization*, 2nd ed. (2006), ch. 3
(Armijo and Wolfe conditions, Algorithm 3.5/3.6); P. Kidger, optimistix (searches and
descents as separate state machines in one loop).
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, NamedTuple

import jax
import jax.numpy as jnp

from .. import _loss
from .._status import Status
from . import _common

Array = jax.Array

__all__ = [
    "AXIS", "Context", "context", "State", "Point", "Proposal", "Solver", "Backtracking",
    "Wolfe", "Accept", "certificate", "decide", "Result", "finish",
]

RUNNING = int(Status.RUNNING)

# Name of the vmapped axis of lanes in a batch.
AXIS = "models"


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Context:
    """What a run needs besides the problem and the solver's settings (a pytree).

    Attributes:
      tol: ``()`` convergence tolerance (the solver's test; see each solver).
      max_iter: ``()`` int32 bound on accepted steps.
      axis_name: the ``vmap`` axis the call runs under (static), or None for one model.
    """

    tol: Array
    max_iter: Array
    axis_name: str | None = dataclasses.field(default=None, metadata=dict(static=True))


def default_tol(dtype) -> float:
    """Tolerance by dtype: 1e-10 for float64, 1e-5 for float32 and narrower."""
    return 1e-10 if jnp.dtype(dtype) == jnp.float64 else 1e-5


DEFAULT_MAX_ITER = 100


def context(tol=None, max_iter=None, dtype=None, axis_name: str | None = None) -> Context:
    """A :class:`Context`: ``tol`` None picks by ``dtype`` (JAX's default float when None),
    ``max_iter`` None is 100."""
    dtype = jnp.dtype(jnp.result_type(float)) if dtype is None else jnp.dtype(dtype)
    tol = default_tol(dtype) if tol is None else tol
    max_iter = DEFAULT_MAX_ITER if max_iter is None else max_iter
    return Context(jnp.asarray(tol, dtype), jnp.asarray(max_iter, jnp.int32), axis_name)


class Point(NamedTuple):
    """The objective at one point (of one model).

    Shapes: ``loss ()`` the objective (penalties included); ``grad (p,)`` the gradient of
    its smooth part; ``curvature`` the solver's curvature information (the ``(p, p)``
    Hessian for Newton's methods, ``None`` for first-order ones, Firth's own evaluation);
    ``eta (n,)`` the linear predictor; ``finite ()`` whether all of it is finite.
    """

    loss: Array
    grad: Array
    curvature: Any
    eta: Array
    finite: Array


class Proposal(NamedTuple):
    """What a solver says at an accepted iterate (of one model).

    Shapes: ``direction (p,)`` the next search direction ``d``; ``slope ()`` the
    directional derivative ``D`` of the objective along ``d`` (with the L1 term's change for
    proximal steps); ``quad`` ``()`` ``d^T H d`` for the curvature certificate, or None for
    a solver without one; ``lenient ()`` bool, take the full step without the decrease test
    when the trial's objective is finite; ``singular``, ``converged``, ``finite``,
    ``separated`` ``()`` bool inputs of :func:`decide` (``separated``: a certificate of the
    solver's own, beyond the recession test of ``d``); ``recession_ok ()`` bool, whether a
    recession of ``d`` counts; ``t0 ()`` the first trial step along ``d``; ``memory`` the
    solver's own state at the iterate.
    """

    direction: Array
    slope: Array
    quad: Array | None
    lenient: Array
    singular: Array
    converged: Array
    finite: Array
    separated: Array
    recession_ok: Array
    t0: Array
    memory: Any


class State(NamedTuple):
    """Iterate of one model, in the loop of :func:`step`.

    Shapes: ``beta (p,)`` the iterate; ``loss ()`` the objective there; ``grad (p,)`` the
    gradient of its smooth part; ``direction (p,)`` the search direction ``d``; ``slope ()``
    its ``D`` (:class:`Proposal`); ``certified ()`` bool, the full step is taken without the
    decrease test; ``t ()`` the next trial step (the trial point is ``beta + t d``);
    ``search`` the search's state; ``memory`` the solver's own (L-BFGS pairs, SGD's optax
    state); ``grad_floor (p,)`` the gradient's rounding bound
    (:func:`_common.gradient_floor`); ``tol_scale ()`` the multiplier of ``tol`` in a
    decrement test (:func:`_common.information_scale`); ``n_iter ()`` int32 accepted steps
    (``-1`` before the starting point is evaluated); ``status ()`` int32
    :class:`~jaxlogreg.Status`, ``RUNNING`` until the model stops.
    """

    beta: Array
    loss: Array
    grad: Array
    direction: Array
    slope: Array
    certified: Array
    t: Array
    search: Any
    memory: Any
    grad_floor: Array
    tol_scale: Array
    n_iter: Array
    status: Array


# --------------------------------------------------------------------------------------------
# The certificate, the decision and the searches
# --------------------------------------------------------------------------------------------


def certificate(slope: Array, quad: Array, reach: Array, armijo: float) -> Array:
    """Whether the full step ``d`` provably satisfies ``F(beta + d) <= F(beta) + c D``.

    Along ``t -> beta + t d`` the curvature of every row's logistic loss changes by at most a
    factor ``exp(t m)``, ``m = reach = max_i |(X d)_i|`` over positively weighted rows,
    because ``|d log(mu (1 - mu)) / d eta| <= 1`` (an L2 term's curvature is constant, an L1
    term's change is exact in ``D``). Integrating twice, ``F(beta + d) - F(beta) <= D +
    k(m) q`` with ``q = d^T H d`` and ``k(m) = (e^m - 1 - m) / m^2`` (increasing, ``k(0) =
    1/2``), so the condition holds when ``(1 - c) D + k(m) q <= 0``. For a Newton step
    (``D = -q = -lambda^2``) that is ``1 - k(m) >= c``: ``m <= 1`` suffices for ``c <=
    0.28``. ``m`` is raised to ``1e-3``, where ``k`` is still accurate in float32, which
    only loosens the bound. Near the optimum, where the decrease is below the rounding of
    the computed objective, this is what lets a step be taken at all.
    """
    m = jnp.maximum(reach, 1e-3)
    k = (jnp.expm1(m) - m) / (m * m)
    return (1.0 - armijo) * slope + k * quad <= 0


def decide(finite, singular, recession, converged, n_iter, max_iter, certain) -> Array:
    """``()`` int32 status from the tests at an iterate (the table of the module docstring;
    ``certain``: some row fitted with probability 1, :func:`_common.certainly_separated`)."""
    separated_or = lambda other: jnp.where(certain, int(Status.SEPARATED), int(other))  # noqa: E731
    return jnp.select(
        [~finite, singular, recession, converged, n_iter >= max_iter],
        [
            int(Status.NONFINITE),
            separated_or(Status.SINGULAR),
            int(Status.SEPARATED),
            int(Status.CONVERGED),
            separated_or(Status.MAX_ITER),
        ],
        RUNNING,
    ).astype(jnp.int32)


class Verdict(NamedTuple):
    """A search's judgement of one trial: ``accept`` it; otherwise try ``t`` next with the
    search state ``search``, unless ``failed``."""

    accept: Array
    t: Array
    search: Any
    failed: Array


@dataclasses.dataclass(frozen=True)
class Backtracking:
    """Armijo backtracking: accept ``t`` when ``F(beta + t d) <= F(beta) + c t D + 4 eps
    |F(beta)|`` (the slack absorbs the rounding of ``F``), or when ``t = 1`` and the state
    is ``certified``; else halve ``t``, at most ``max_halvings`` times.

    Its state is the number of halvings made along the current direction.
    """

    armijo: float = 1e-4
    max_halvings: int = 30

    def start(self, dtype) -> Array:
        return jnp.zeros((), jnp.int32)

    def judge(self, state: State, point: Point) -> Verdict:
        eps = jnp.finfo(state.loss.dtype).eps
        f = point.loss
        slack = 4.0 * eps * jnp.abs(state.loss)
        ok = jnp.isfinite(f) & (
            (state.certified & (state.t == 1))
            | (f <= state.loss + self.armijo * state.t * state.slope + slack)
        )
        halvings = state.search + 1
        return Verdict(ok, 0.5 * state.t, halvings, halvings > self.max_halvings)


class _WolfeState(NamedTuple):
    k: Array  # trials made along the current direction
    lo: Array  # bracket: lo satisfies sufficient decrease with phi'(lo) < -flat
    dlo: Array
    hi: Array
    dhi: Array
    best_t: Array  # the best trial so far that satisfied sufficient decrease (0: none)
    best_f: Array
    forced: Array  # the current trial is the best one, re-evaluated: take it


@dataclasses.dataclass(frozen=True)
class Wolfe:
    """Strong Wolfe conditions ``F(beta + t d) <= F(beta) + c1 t D`` (plus ``4 eps |F|``) and
    ``|phi'(t)| <= c2 |D|`` with ``phi'(t) = grad F(beta + t d)^T d``.

    The first trial is the direction's ``t0``. While no trial has overshot (sufficient
    decrease failed, or ``phi' >= -c2 |D|``) the step grows by a secant step clipped to
    ``[2 t, 10 t]``; once one has, the bracket ``[lo, hi]`` is narrowed by secant steps
    clipped to its middle 80%. After ``max_linesearch`` trials without a Wolfe point (or a
    bracket narrower than its rounding) the trial of least loss that satisfied sufficient
    decrease is evaluated again and taken; if none did, the search fails.
    """

    armijo: float = 1e-4
    curvature: float = 0.9
    max_linesearch: int = 20

    def start(self, dtype) -> _WolfeState:
        zero = jnp.zeros((), dtype)
        inf = jnp.full((), jnp.inf, dtype)
        return _WolfeState(jnp.zeros((), jnp.int32), zero, zero, inf, inf, zero, inf,
                           jnp.zeros((), bool))

    def reset(self, search: _WolfeState, slope: Array) -> _WolfeState:
        """The search state for a new direction of slope ``slope``."""
        return self.start(slope.dtype)._replace(dlo=slope)

    def judge(self, state: State, point: Point) -> Verdict:
        c = state.search
        dtype = state.loss.dtype
        eps = jnp.finfo(dtype).eps
        t, f0, slope0 = state.t, state.loss, state.slope
        f = point.loss
        dphi = jnp.sum(point.grad * state.direction)
        flat = self.curvature * jnp.abs(slope0)
        slack = 4.0 * eps * jnp.abs(f0)
        sufficient = f <= f0 + self.armijo * t * slope0 + slack
        decrease = jnp.isfinite(f) & jnp.isfinite(dphi) & sufficient
        wolfe = decrease & (jnp.abs(dphi) <= flat)
        short = decrease & (dphi < -flat)
        best = wolfe | (decrease & (f <= c.best_f))
        lo = jnp.where(short, t, c.lo)
        dlo = jnp.where(short, dphi, c.dlo)
        hi = jnp.where(short, c.hi, t)
        dhi = jnp.where(short, c.dhi, jnp.where(jnp.isfinite(dphi), dphi, jnp.nan))
        width = hi - lo
        inside = jnp.clip(_secant(lo, dlo, hi, dhi, lo + 0.5 * width), lo + 0.1 * width,
                          hi - 0.1 * width)
        beyond = jnp.clip(_secant(c.lo, c.dlo, t, dphi, 10.0 * t), 2.0 * t, 10.0 * t)
        k = c.k + 1
        best_t = jnp.where(best, t, c.best_t)
        new = _WolfeState(k, lo, dlo, hi, dhi, best_t, jnp.where(best, f, c.best_f),
                          jnp.zeros((), bool))
        width_left = jnp.isinf(hi) | (hi - lo > eps * hi)
        exhausted = (k >= self.max_linesearch) | ~width_left
        # Out of trials: re-evaluate the best one and take it (``forced``).
        take_best = exhausted & (best_t > 0)
        next_t = jnp.where(take_best, best_t, jnp.where(jnp.isinf(hi), beyond, inside))
        new = new._replace(forced=take_best)
        accept = wolfe | (c.forced & jnp.isfinite(f))
        return Verdict(accept, next_t, new, exhausted & ~take_best & ~wolfe)


def _safe_div(a, b, fallback):
    ok = b != 0
    return jnp.where(ok, a / jnp.where(ok, b, 1.0), fallback)


def _secant(a, da, b, db, fallback):
    """Root of the line through ``(a, da)`` and ``(b, db)`` (``phi'`` at two steps), or
    ``fallback`` where ``phi'`` does not increase from ``a`` to ``b``."""
    usable = jnp.isfinite(db) & (db > da)
    return jnp.where(usable, a - da * _safe_div(b - a, db - da, 0.0), fallback)


@dataclasses.dataclass(frozen=True)
class Accept:
    """No search: every trial with a finite objective and gradient is taken; one that is not
    stops the model with ``NONFINITE``, keeping the last finite iterate (SGD's epochs)."""

    def start(self, dtype) -> Array:
        return jnp.zeros((), jnp.int32)

    def judge(self, state: State, point: Point) -> Verdict:
        return Verdict(point.finite, state.t, state.search, ~point.finite)


# --------------------------------------------------------------------------------------------
# The solver protocol and the loop
# --------------------------------------------------------------------------------------------


class Solver:
    """Base of every solver's settings class (a frozen dataclass).

    Capabilities (class attributes): ``name``; ``handles_l1`` (minimises objectives with an
    L1 term); ``uses_hessian`` (forms Hessians, so profits from a shared design's column
    products and from a pooled start); ``resumable`` (a model's path depends only on its
    iterate, so a fit resumed from ``beta`` continues it exactly); ``synchronized`` (the
    models of a batch must start together: SGD's shared row order); ``tests_direction``
    (the recession test of the direction is part of the decision); ``failure`` (the status
    of a failed search).

    A solver implements :meth:`propose` and :meth:`search` (and, when it keeps state of its
    own, :meth:`initial_memory`; when its objective is not :mod:`jaxlogreg._loss`'s,
    :meth:`evaluate`; when its trial points are not ``beta + t d``, :meth:`trial`).
    :meth:`init`, :meth:`step` and :meth:`run` are the driver's.
    """

    name: ClassVar[str]
    uses_hessian: ClassVar[bool] = True
    resumable: ClassVar[bool] = True
    synchronized: ClassVar[bool] = False
    tests_direction: ClassVar[bool] = True
    failure: ClassVar[Status] = Status.LINESEARCH_FAILED

    @property
    def handles_l1(self) -> bool:
        """Whether the solver minimises objectives with an L1 term."""
        return False

    def rows_per_step(self, n: int) -> int:
        """Rows of the data one step touches per model (the batch's chunk is sized on it)."""
        return n

    def bound(self, ctx: Context) -> Array:
        """``()`` int32: the number of accepted steps after which a model stops."""
        return ctx.max_iter

    # -- to implement ----------------------------------------------------------------------

    def search(self):
        raise NotImplementedError

    def evaluate(self, problem: _loss.Problem, beta: Array, memory) -> Point:
        """The objective at ``beta`` (default: :mod:`jaxlogreg._loss`'s, with the Hessian
        when :attr:`uses_hessian`)."""
        eta = _loss.linear_predictor(beta, problem)
        f, r, s = _loss.evaluate(eta, beta, problem)
        grad = _loss.gradient_from_rows(r, beta, problem)
        finite = jnp.isfinite(f) & jnp.all(jnp.isfinite(grad))
        hess = None
        if self.uses_hessian:
            hess = _loss.hessian_from_rows(s, problem)
            finite = finite & jnp.all(jnp.isfinite(hess))
        return Point(f, grad, hess, eta, finite)

    def propose(self, problem: _loss.Problem, beta: Array, point: Point, state: State,
                accept: Array, ctx: Context) -> Proposal:
        """The direction and tests at the accepted iterate ``beta`` (evaluated as ``point``;
        ``state`` is the state before it, ``accept`` whether this model's trial was
        accepted)."""
        raise NotImplementedError

    def initial_memory(self, problem: _loss.Problem, beta0: Array) -> Any:
        """The solver's own state at the start (none by default)."""
        return ()

    def trial(self, problem: _loss.Problem, state: State, ctx: Context):
        """``(beta_t, memory)``: the trial point and the memory that goes with it."""
        return state.beta + state.t * state.direction, state.memory

    # -- the driver ------------------------------------------------------------------------

    def before(self, problem: _loss.Problem, beta0: Array) -> State:
        """The state before the start: the trial point is ``beta0`` itself (a zero
        direction), accepted whatever its objective; ``n_iter = -1``. A model with invalid
        data has status ``INVALID`` already: its first step evaluates the start and keeps
        that status."""
        dtype = beta0.dtype
        zeros = jnp.zeros_like(beta0)
        status = jnp.where(_common.invalid_data(problem), int(Status.INVALID), RUNNING)
        return State(beta0, jnp.full((), jnp.inf, dtype), zeros, zeros, jnp.zeros((), dtype),
                     jnp.ones((), bool), jnp.ones((), dtype), self.search().start(dtype),
                     self.initial_memory(problem, beta0), _common.gradient_floor(problem),
                     _common.information_scale(problem).astype(dtype),
                     jnp.full((), -1, jnp.int32), status.astype(jnp.int32))

    def init(self, problem: _loss.Problem, beta0: Array, ctx: Context | None = None) -> State:
        """State at the starting point ``beta0`` ``(p,)``, evaluated, with its stopping
        decision made (``n_iter = 0``)."""
        beta0 = jnp.asarray(beta0, problem.X.dtype)
        return self.step(problem, self.before(problem, beta0), ctx)

    def step(self, problem: _loss.Problem, state: State, ctx: Context | None = None) -> State:
        """One evaluation at the trial point and what follows from it (module docstring). A
        model that has stopped is returned unchanged."""
        ctx = context(dtype=state.loss.dtype) if ctx is None else ctx
        beta, memory = self.trial(problem, state, ctx)
        return self.advance(problem, state, beta, memory, self.evaluate(problem, beta, memory),
                            ctx)

    def start_at(self, problem: _loss.Problem, beta0: Array, point: Point,
                 ctx: Context) -> State:
        """:meth:`init` with the evaluation at ``beta0`` given (``point``): a batch whose
        models share their start and rows evaluates them all at once by products
        (:func:`jaxlogreg._loss.shared_rows`)."""
        before = self.before(problem, beta0)
        return self.advance(problem, before, beta0, before.memory, point, ctx)

    def advance(self, problem: _loss.Problem, state: State, beta: Array, memory,
                point: Point, ctx: Context) -> State:
        """What follows from the evaluation ``point`` of the trial ``beta`` (with the
        solver's ``memory`` there) in the state ``state``: the search's verdict, and at an
        accepted point the next direction and the stopping decision."""
        first = state.n_iter < 0
        running = (state.status == RUNNING) | first
        search = self.search()
        verdict = search.judge(state, point)
        accept = running & (first | verdict.accept)

        prop = self.propose(problem, beta, point, state._replace(memory=memory), accept, ctx)
        n_iter = state.n_iter + 1
        dtype = state.loss.dtype
        if self.tests_direction:
            xd = _loss.design_times(prop.direction, problem)
            unbounded, reach = _common.recession(problem, xd, prop.direction)
            recession = (unbounded & prop.recession_ok) | prop.separated
        else:
            reach = jnp.zeros((), dtype)
            recession = prop.separated
        certified = prop.lenient
        if prop.quad is not None and problem.link == "logit":
            armijo = getattr(search, "armijo", 0.0)
            certified = certified | certificate(prop.slope, prop.quad, reach, armijo)
        finite = point.finite & prop.finite
        converged = prop.converged & ~self._unsettled(reach)
        bound = self.bound(ctx)
        out_of_steps = n_iter >= bound
        consult = finite & (prop.singular | (~recession & ~converged & out_of_steps))
        certain = (_common.certainly_separated(problem, point.eta, consult, ctx.axis_name)
                   if self.margin_test else jnp.zeros((), bool))
        status = decide(finite, prop.singular, recession, converged, n_iter, bound, certain)
        status = jnp.where(state.status == int(Status.INVALID), state.status, status)
        search_state = search.start(dtype)
        if isinstance(search, Wolfe):
            search_state = search.reset(search_state, prop.slope)
        accepted = State(beta, point.loss, point.grad, prop.direction, prop.slope, certified,
                         prop.t0.astype(dtype), search_state, prop.memory, state.grad_floor,
                         state.tol_scale, n_iter, status)
        failed = running & ~accept & verdict.failed
        retry = running & ~verdict.failed  # a shorter trial next (a failed model is kept)
        rejected = state._replace(
            t=jnp.where(retry, verdict.t, state.t).astype(dtype),
            search=jax.tree_util.tree_map(lambda a, b: jnp.where(retry, a, b), verdict.search,
                                          state.search),
            status=jnp.where(failed, int(self.failure), state.status).astype(jnp.int32),
        )
        return jax.tree_util.tree_map(lambda a, b: jnp.where(accept, a, b), accepted, rejected)

    margin_test: ClassVar[bool] = True
    settled_reach: ClassVar[float] = float("inf")

    def _unsettled(self, reach: Array) -> Array:
        return reach > self.settled_reach

    def run(self, problem: _loss.Problem, beta0: Array, ctx: Context | None = None) -> State:
        """Iterate :meth:`step` from ``beta0`` until the model stops; the final state."""
        beta0 = jnp.asarray(beta0, problem.X.dtype)
        return self.iterate(problem, self.before(problem, beta0), ctx)

    def iterate(self, problem: _loss.Problem, state: State,
                ctx: Context | None = None) -> State:
        """Iterate :meth:`step` from ``state`` until the model stops (under a named axis:
        until every model of the vmapped batch has)."""
        ctx = context(dtype=state.loss.dtype) if ctx is None else ctx
        return jax.lax.while_loop(
            lambda s: _common.keep_going(s, ctx.axis_name),
            lambda s: self.step(problem, s, ctx),
            state,
        )


def functions(settings: type):
    """``(init, step, run)`` of one solver as functions with its default settings, for
    driving it by hand: ``init(problem, beta0, ctx=None, config=None)``, ``step(problem,
    state, ctx=None, config=None)``, ``run(problem, beta0, ctx=None, config=None)``."""

    def init(problem: _loss.Problem, beta0: Array, ctx: Context | None = None,
             config=None) -> State:
        """State at the starting point ``beta0`` ``(p,)``, evaluated, with its stopping
        decision made."""
        return (settings() if config is None else config).init(problem, beta0, ctx)

    def step(problem: _loss.Problem, state: State, ctx: Context | None = None,
             config=None) -> State:
        """One evaluation and what follows from it; a stopped model is returned unchanged."""
        return (settings() if config is None else config).step(problem, state, ctx)

    def run(problem: _loss.Problem, beta0: Array, ctx: Context | None = None,
            config=None) -> State:
        """Iterate ``step`` from ``beta0`` until the model stops; the final state."""
        return (settings() if config is None else config).run(problem, beta0, ctx)

    return init, step, run


# --------------------------------------------------------------------------------------------
# A model's result
# --------------------------------------------------------------------------------------------


class Result(NamedTuple):
    """A model's result from its final state (:func:`finish`); batched, each field has the
    models in front (:func:`jaxlogreg.solvers._lanes.run_batch`)."""

    beta: Array
    status: Array
    n_iter: Array
    loss: Array
    grad_norm: Array


def _grad_norm(problem: _loss.Problem, state: State) -> Array:
    """``max_j |s_j|`` with ``s`` the least subgradient at the state's ``beta``."""
    return jnp.max(jnp.abs(_loss.min_norm_subgradient(state.beta, state.grad, problem)))


def finish(problem: _loss.Problem, state: State) -> Result:
    """One model's :class:`Result` from its final state."""
    return Result(state.beta, state.status, state.n_iter, state.loss, _grad_norm(problem, state))
