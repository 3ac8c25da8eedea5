"""The warm-call fast path (jaxlogreg._dispatch): a call whose signature was seen before runs
with the kept plan and its own arrays, and gives what a call without kept plans gives, bit
for bit, whatever the data and options."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jaxlogreg
from _data import simulate
from jaxlogreg import _dispatch, _fit
from jaxlogreg._inference import _results

N, D = 24, 2


class _NoPlans(_dispatch.Plans):
    """Keeps nothing: every call takes the path of a first call."""

    def put(self, key, plan) -> None:
        pass


def _problem(seed: int, weighted: bool, with_offset: bool):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, D))
    offset = rng.normal(0.0, 0.3, size=N) if with_offset else None
    y = simulate(rng, X, 0.3, [0.8, -0.6], 0.0 if offset is None else offset)
    y[:2] = [0.0, 1.0]  # both classes
    w = rng.integers(1, 4, size=N).astype(np.float64) if weighted else None
    put = lambda a: None if a is None else jax.device_put(a)  # noqa: E731
    return put(X), put(y), put(w), put(offset)


def _leaves_equal(a, b) -> None:
    flat_a, tree_a = jax.tree_util.tree_flatten(a)
    flat_b, tree_b = jax.tree_util.tree_flatten(b)
    assert tree_a == tree_b
    for u, v in zip(flat_a, flat_b, strict=True):
        np.testing.assert_array_equal(np.asarray(u), np.asarray(v))


def _kept_then_fresh(prepare, call, first, second):
    """``(warm, fresh)``: ``call(second)`` after ``call(first)`` kept its plan (asserted
    used), and ``call(second)`` with no plan kept."""
    with pytest.MonkeyPatch.context() as mp:
        kept = _dispatch.Plans()
        mp.setattr(prepare, "plans", kept)
        call(first)
        assert len(kept._plans) == 1
        hits = []
        get = kept.get
        mp.setattr(kept, "get", lambda key: hits.append(get(key)) or hits[-1])
        warm = call(second)
        assert hits and hits[-1] is not None, "the warm call did not use the kept plan"
        mp.setattr(prepare, "plans", _NoPlans())
        fresh = call(second)
    return warm, fresh


options = st.fixed_dictionaries({
    "weighted": st.booleans(),
    "with_offset": st.booleans(),
    "fit_intercept": st.booleans(),
    "alpha": st.sampled_from([0.0, 0.05]),
    "tol": st.sampled_from([None, 1e-8]),
    "seeds": st.tuples(st.integers(0, 2**16), st.integers(0, 2**16)),
})


@settings(max_examples=8, deadline=None, derandomize=True)
@given(options)
def test_warm_fit_equals_a_first_call(o):
    def call(data):
        X, y, w, off = data
        return jaxlogreg.fit(X, y, weights=w, offset=off, fit_intercept=o["fit_intercept"],
                             alpha=o["alpha"], tol=o["tol"])

    first, second = (_problem(s, o["weighted"], o["with_offset"]) for s in o["seeds"])
    warm, fresh = _kept_then_fresh(_fit._prepare, call, first, second)
    _leaves_equal(warm, fresh)


@pytest.mark.slow
@settings(max_examples=6, deadline=None, derandomize=True)
@given(options, st.sampled_from(["nonrobust", "HC0", "HC1"]))
def test_warm_inference_equals_a_first_call(o, cov_type):
    def call(data):
        X, y, w, off = data
        res = jaxlogreg.fit(X, y, weights=w, offset=off, fit_intercept=o["fit_intercept"])
        return jaxlogreg.inference(res, X, y, weights=w, offset=off, cov_type=cov_type)

    first, second = (_problem(s, o["weighted"], o["with_offset"]) for s in o["seeds"])
    warm, fresh = _kept_then_fresh(_results._inference_plan, call, first, second)
    _leaves_equal(warm, fresh)
    assert (warm.cov_type, warm.link, warm.fit_intercept) == (cov_type, "logit",
                                                              o["fit_intercept"])


def test_calls_that_keep_no_plan():
    """Cluster groups, a penalty factor, a start or NumPy arrays: no plan is kept."""
    X, y, _, _ = _problem(0, False, False)
    with pytest.MonkeyPatch.context() as mp:
        kept = _dispatch.Plans()
        mp.setattr(_fit._prepare, "plans", kept)
        jaxlogreg.fit(X, y, penalty_factor=np.ones(D))
        jaxlogreg.fit(X, y, init=np.zeros(D + 1))
        jaxlogreg.fit(np.asarray(X), np.asarray(y))
        assert kept._plans == {}
        inf_plans = _dispatch.Plans()
        mp.setattr(_results._inference_plan, "plans", inf_plans)
        res = jaxlogreg.fit(X, y)
        jaxlogreg.inference(res, X, y, cov_type="cluster", groups=np.arange(N) % 4)
        assert inf_plans._plans == {}


def test_built_equals_the_dataclass_constructor():
    X, y, _, _ = _problem(1, False, False)
    inf = jaxlogreg.inference(jaxlogreg.fit(X, y), X, y)
    fields = {f: getattr(inf, f) for f in inf.__dataclass_fields__}
    statics = {k: fields.pop(k) for k in ("alpha", "cov_type", "fit_intercept", "link",
                                          "information", "names", "yname")}
    _leaves_equal(_dispatch.built(type(inf), fields, **statics), type(inf)(**fields, **statics))


def test_small_eager_calls_on_a_cpu_compile_quickly():
    """Programs.pick: XLA's quick-compiling options for an eager call of at most
    ``quick_work`` models times rows on a CPU; the defaults for a larger call, and under a
    caller's trace (which compiles the function into its own program)."""
    programs = _dispatch.Programs(lambda x: 2.0 * x, (), quick_work=1000)
    x = jax.device_put(np.ones((4, 3)), jax.devices("cpu")[0])
    assert programs.pick(1000, x, (x,)) is programs.quick
    assert programs.pick(1001, x, (x,)) is programs.default
    on_cpu = jax.default_backend() == "cpu"  # without a design, the default backend's
    assert programs.pick(1000, None, (x,)) is (programs.quick if on_cpu else programs.default)
    picked = []
    jax.jit(lambda v: picked.append(programs.pick(1, v, (v,))) or v)(x)
    assert picked == [programs.default]


def test_a_fit_picks_its_program_by_models_times_rows(monkeypatch):
    """The fit's rule (:data:`jaxlogreg._dispatch.QUICK_WORK`): a batch of B models of n
    rows compiles quickly when B n is at most the limit, with or without the value checks
    in its program (:func:`jaxlogreg._fit._program`, which every eager fit calls)."""
    X = jax.device_put(np.zeros((N, D)), jax.devices("cpu")[0])
    for checked, programs in ((True, _fit._FIT), (False, _fit._FIT_CHECKED)):
        monkeypatch.setattr(programs, "quick_work", 8 * N)
        assert _fit._program(checked, (8,), (X,)) is programs.quick
        assert _fit._program(checked, (2, 4), (X,)) is programs.quick
        assert _fit._program(checked, (9,), (X,)) is programs.default
        assert _fit._program(checked, (), (X,)) is programs.quick  # one model
