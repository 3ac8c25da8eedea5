"""The typed API: jaxtyping shape annotations checked at run time, and mypy clean.

The public functions are wrapped with ``jaxtyping.jaxtyped(typechecker=beartype)`` and
called on correctly shaped inputs (the checks pass, and the fields of the result match the
annotations of its class under the same dimension bindings) and on wrongly shaped ones
(the checker rejects the argument it names, where the unchecked function would raise its
own ``ValueError``). Calls run under ``jax.eval_shape``: traced for shapes and dtypes only,
nothing compiled. The batching conventions the annotations encode are in
:mod:`jaxlogreg._typing`.

mypy runs on the package with the configuration of ``pyproject.toml`` (``[tool.mypy]``),
together with a small user module whose two deliberate errors it must report, so that the
check is seen to read the package's annotations.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import os
import subprocess
import sys
import textwrap
import typing

import jax
import numpy as np
import pytest
from beartype import BeartypeConf, beartype
from beartype.door import is_bearable
from jaxtyping import TypeCheckError, jaxtyped

import jaxlogreg
from jaxlogreg import _typing

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# int where float is annotated, as type checkers allow (PEP 484's numeric tower).
_beartype = beartype(conf=BeartypeConf(is_pep484_tower=True))


@functools.cache
def checked(fn):
    """``fn`` with its annotations checked at every call."""
    return jaxtyped(typechecker=_beartype)(fn)


def check_fields(obj) -> None:
    """Each field of a result against its annotation, one set of dimension bindings for all
    (e.g. ``*batch`` and ``d`` agree across ``coef`` and ``intercept``); nested results
    are checked the same way."""
    hints = typing.get_type_hints(type(obj))
    with jaxtyped("context"):
        for name, hint in hints.items():
            value = getattr(obj, name)
            if not is_bearable(value, hint):
                raise TypeCheckError(
                    f"{type(obj).__name__}.{name}: {getattr(value, 'shape', value)} is not "
                    f"{hint}"
                )
            if type(value).__module__.startswith("jaxlogreg"):
                check_fields(value)


def traced(thunk):
    """Run ``thunk`` (calls of checked functions) under ``jax.eval_shape`` and check the
    fields of the result it returns, while tracing (its arrays are tracers there)."""

    def run():
        out = thunk()
        if hasattr(out, "_fields") or dataclasses.is_dataclass(out):
            check_fields(out)
        return out

    return jax.eval_shape(run)


# Data: one shared design, per-model designs and labels, a batch of weights.
N, D, B = 12, 2, 3
_rng = np.random.default_rng(0)
X = _rng.normal(size=(N, D))
y = (np.arange(N) % 2).astype(np.float64)
XB = _rng.normal(size=(B, N, D))
YB = np.stack([np.roll(y, k) for k in range(B)])
W = _rng.integers(1, 3, size=(B, N)).astype(np.float64)
P = np.full((B, N), 0.4)
KEY = jax.random.key(0)

fit = checked(jaxlogreg.fit)
inference = checked(jaxlogreg.inference)
laplace = checked(jaxlogreg.laplace)

GOOD = {
    "fit: one model": lambda: fit(X, y),
    "fit: shared X, per-model weights": lambda: fit(X, y, weights=W),
    "fit: per-model designs and labels": lambda: fit(XB, YB),
    "fit: a (K, 1) penalty grid over a batch of weights": (
        lambda: fit(X, y, weights=W, alpha=np.ones((4, 1)))
    ),
    "fit: Python numbers, init, penalty factors": lambda: fit(
        X, y, alpha=0.5, l1_ratio=1, tol=1e-8, max_iter=20, init=np.zeros(D + 1),
        penalty_factor=np.ones(D), solver="prox_newton",
    ),
    "fit: bool labels, int design, class weights": (
        lambda: fit(X.astype(np.int32), y.astype(bool), class_weight={0: 1, 1: 2.0})
    ),
    "fit: a resampling scheme": lambda: fit(X, y, weights=jaxlogreg.Bootstrap(KEY, B)),
    "fit: JAX arrays, offset, trials": lambda: fit(
        jax.numpy.asarray(X), jax.numpy.asarray(YB), offset=np.zeros(N), trials=np.ones((B, N))
    ),
    "path: default grid": lambda: checked(jaxlogreg.path)(X, y, n_alphas=3),
    "path: given strengths per model": lambda: checked(jaxlogreg.path)(
        X, y, np.ones((2, B)), weights=W, l1_ratio=0.0
    ),
    "fit_rows_sharded": lambda: checked(jaxlogreg.fit_rows_sharded)(X, YB, weights=W),
    "inference": lambda: inference(fit(X, y, weights=W), X, y, weights=W),
    "inference: clusters": lambda: inference(
        fit(XB, YB), XB, YB, cov_type="cluster", groups=np.arange(N) % 4
    ),
    "wald_test": lambda: checked(jaxlogreg.wald_test)(
        inference(fit(X, y), X, y), np.eye(D + 1)[1:], np.zeros(D)
    ),
    "score_test": lambda: checked(jaxlogreg.score_test)(
        fit(X[:, :1], YB), X, YB, restricted_columns=[0]
    ),
    "variance_inflation_factors": lambda: checked(jaxlogreg.variance_inflation_factors)(XB),
    "laplace": lambda: laplace(fit(X, y, alpha=0.1), X, y, alpha=0.1),
    "predictive: new rows shared by the batch": lambda: checked(jaxlogreg.predictive)(
        laplace(fit(X, y, weights=W), X, y, weights=W), X[:5]
    ),
    "influence": lambda: checked(jaxlogreg.influence)(fit(X, y, weights=W), X, y, weights=W),
    "predict: new rows shared by the batch": lambda: checked(jaxlogreg.predict)(
        fit(X, y, weights=W), X[:5], np.zeros(5)
    ),
    "predict: per-model rows, the link scale": lambda: checked(jaxlogreg.predict)(
        fit(XB, YB), XB[:, :5], kind="link"
    ),
    "simulate: replicates": lambda: checked(jaxlogreg.simulate)(
        KEY, N, np.array([1.0, -1.0]), 0.0, num=B
    ),
    "simulate: a given design, a rate": lambda: checked(jaxlogreg.simulate)(
        jax.random.PRNGKey(0), None, np.array([1.0, -1.0]), positive_rate=0.3, X=X, num=B
    ),
    "firth_profile": lambda: checked(jaxlogreg.firth_profile)(
        X, y, np.zeros(D + 1), intervals=False
    ),
    "log_loss": lambda: checked(jaxlogreg.log_loss)(YB, P),
    "brier_score": lambda: checked(jaxlogreg.brier_score)(y, P, W),
    "roc_auc": lambda: checked(jaxlogreg.roc_auc)(y, P, weights=W),
    "calibration": lambda: checked(jaxlogreg.calibration)(y, np.full(N, 0.4), W),
    "reliability_curve": lambda: checked(jaxlogreg.reliability_curve)(YB, P, n_bins=4),
    "platt_scaling": lambda: checked(jaxlogreg.platt_scaling)(P, y),
    "PlattCalibrator": lambda: checked(type(jaxlogreg.platt_scaling(P, y)).__call__)(
        jaxlogreg.platt_scaling(P, y), np.zeros((B, 5))
    ),
}


@pytest.mark.parametrize("case", list(GOOD))
def test_documented_shapes_pass(case):
    traced(GOOD[case])


# (call, the parameter the checker names). The unchecked function raises ValueError.
BAD = {
    "fit: y of another n": (lambda f: f(X, y[:-1]), "y"),
    "fit: X of one dimension": (lambda f: f(X[:, 0], y), "X"),
    "fit: batch axes that do not broadcast": (lambda f: f(XB, YB[:2]), "y"),
    "fit: weights of another n": (lambda f: f(X, y, weights=W[:, 1:]), "weights"),
    "fit: penalty grid against the weights' batch": (
        lambda f: f(X, y, weights=W, alpha=np.ones(2)), "alpha"
    ),
    "fit: a penalty factor per parameter, not per column": (
        lambda f: f(X, y, penalty_factor=np.ones(D + 1)), "penalty_factor"
    ),
    "fit: labels of strings": (lambda f: f(X, y.astype(str)), "y"),
}
BAD_OTHER = {
    "inference: y of another n": (
        jaxlogreg.inference, lambda f: f(jaxlogreg.fit(X, y), X, y[:-1]), "y"
    ),
    "inference: groups of another n": (
        jaxlogreg.inference,
        lambda f: f(jaxlogreg.fit(X, y), X, y, cov_type="cluster", groups=np.arange(N - 1)),
        "groups",
    ),
    "influence: penalty batch against the data's": (
        jaxlogreg.influence,
        lambda f: f(jaxlogreg.fit(X, y, weights=W), X, y, weights=W, alpha=np.ones(2)),
        "alpha",
    ),
    "predictive: offset of another m": (
        jaxlogreg.predictive,
        lambda f: f(jaxlogreg.laplace(jaxlogreg.fit(X, y), X, y), X[:5], offset=np.zeros(4)),
        "offset",
    ),
    "predict: offset of another m": (
        jaxlogreg.predict, lambda f: f(jaxlogreg.fit(X, y), X[:5], np.zeros(4)), "offset"
    ),
    "wald_test: q of another m": (
        jaxlogreg.wald_test,
        lambda f: f(jaxlogreg.inference(jaxlogreg.fit(X, y), X, y), np.eye(D + 1)[1:],
                    np.zeros(D + 1)),
        "q",
    ),
    "simulate: X of another d than coef": (
        jaxlogreg.simulate, lambda f: f(KEY, None, np.ones(D), 0.0, X=X[:, :1]), "X"
    ),
    "log_loss: p of another n": (jaxlogreg.log_loss, lambda f: f(YB, P[:, 1:]), "p"),
    "roc_auc: weights of another batch": (
        jaxlogreg.roc_auc, lambda f: f(YB, P, weights=W[:2]), "weights"
    ),
    "reliability_curve: y without a row axis": (
        jaxlogreg.reliability_curve, lambda f: f(1.0, P), "y"
    ),
}
BAD_ALL = {**{k: (jaxlogreg.fit, *v) for k, v in BAD.items()}, **BAD_OTHER}


@pytest.mark.parametrize("case", list(BAD_ALL))
def test_wrong_shapes_are_rejected(case):
    fn, call, param = BAD_ALL[case]
    with pytest.raises(TypeCheckError, match=rf"parameter '{param}'"):
        traced(lambda: call(checked(fn)))
    # The check is the annotation's: the unchecked function gets as far as its own.
    with pytest.raises(ValueError):
        traced(lambda: call(fn))


def test_result_annotations_constrain_the_fields():
    """A result whose fields disagree (``intercept`` of another batch shape than ``coef``,
    or a float ``status``) fails the field check; the same arrays consistently shaped pass."""
    res = traced(lambda: fit(X, y, weights=W))
    ok = jax.tree_util.tree_map(lambda s: jax.numpy.zeros(s.shape, s.dtype), res)
    check_fields(ok)
    with pytest.raises(TypeCheckError, match="intercept"):
        check_fields(dataclasses.replace(ok, intercept=jax.numpy.zeros(B + 1)))
    with pytest.raises(TypeCheckError, match="status"):
        check_fields(dataclasses.replace(ok, status=jax.numpy.zeros(B)))
    with pytest.raises(TypeCheckError, match="coef"):
        check_fields(dataclasses.replace(ok, coef=np.zeros((B, D))))  # NumPy, not JAX


def test_return_annotations_are_checked():
    """A function whose result breaks its return annotation is caught: ``log_loss``'s
    ``Float[Array, "*batch"]`` against a result with the row axis left in."""

    def wrong(y, p, weights=None):
        return jax.numpy.zeros(np.broadcast_shapes(np.shape(y), np.shape(p)))

    wrong.__annotations__ = typing.get_type_hints(jaxlogreg.log_loss)  # log_loss's own
    with pytest.raises(TypeCheckError, match="return"):
        checked(wrong)(YB, P)
    checked(jaxlogreg.log_loss)(YB, P)  # the real one, eagerly, passes


ANNOTATED = [
    "fit", "path", "fit_rows_sharded", "firth_profile", "inference", "wald_test",
    "score_test", "variance_inflation_factors", "influence", "laplace", "predictive",
    "predict", "simulate", "make_seed_data", "log_loss", "brier_score", "roc_auc", "calibration",
    "reliability_curve", "platt_scaling",
]


@pytest.mark.parametrize("name", ANNOTATED)
def test_every_parameter_is_annotated(name):
    fn = getattr(jaxlogreg, name)
    hints = typing.get_type_hints(fn)  # every annotation resolves at run time
    params = inspect.signature(fn).parameters
    assert set(params) | {"return"} == set(hints), set(params) - set(hints)


def test_the_public_names_resolve():
    """Every annotation of the public API evaluates (names exist at run time, not only for
    type checkers), so jaxtyping's import hook or a user's checker can read them."""
    for name in jaxlogreg.__all__:
        obj = getattr(jaxlogreg, name)
        if inspect.isfunction(obj) or inspect.isclass(obj):
            typing.get_type_hints(obj)
    assert _typing.Numeric.dtypes  # the custom dtype kind is jaxtyping's at run time


USER_MODULE = """\
import numpy as np
import jaxlogreg

X, y = np.zeros((5, 2)), np.zeros(5)
res = jaxlogreg.fit(X, y, weights=np.ones(5), alpha=0.1)
inf = jaxlogreg.inference(res, X, y)
p: float = jaxlogreg.log_loss(y, np.full(5, 0.5))  # error: an array, not a float
wrong: jaxlogreg.FitResult = jaxlogreg.laplace(res, X, y)  # error: LaplaceResult
"""


@pytest.mark.slow
def test_mypy_is_clean_on_the_package(tmp_path):
    user = tmp_path / "user_module.py"
    user.write_text(textwrap.dedent(USER_MODULE))
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", os.path.join(ROOT, "pyproject.toml"),
         "--no-error-summary", "jaxlogreg", str(user)],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )
    errors = [line.split(":") for line in proc.stdout.splitlines() if ": error:" in line]
    # (mypy may name the user module by the path of an earlier run's cached copy)
    package = [e for e in errors if os.path.basename(e[0]) != user.name]
    assert not package and not proc.stderr, proc.stdout + proc.stderr
    assert sorted(int(e[1]) for e in errors) == [7, 8], proc.stdout
