"""Boundary checks of `jaxlogreg.fit`: every bad input is a ValueError naming the argument
(and, for bad values, the first bad index); under `jax.jit` nothing raises and the status
carries the news instead."""

from __future__ import annotations

import re

import jax
import numpy as np
import pytest

import jaxlogreg
from jaxlogreg import Status

N, D = 12, 3


def data(seed=0, n=N, d=D):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    eta = X @ np.array([0.8, -0.5, 0.3])[:d]
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-eta))).astype(np.float64)
    # keep the problem well posed (both classes present, no separation by construction)
    y[:2] = [0.0, 1.0]
    return X, y


def raises(match, *args, **kwargs):
    with pytest.raises(ValueError, match=match):
        jaxlogreg.fit(*args, **kwargs)


def test_clean_data_fits():
    """The control for every test below: the unmodified data is accepted and converges."""
    X, y = data()
    res = jaxlogreg.fit(X, y, weights=np.ones(N), offset=np.zeros(N))
    assert int(res.status) == Status.CONVERGED


# ---------------------------------------------------------------------------------------
# Non-finite values; the first bad index (C order) is named
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_X(bad):
    X, y = data()
    X[3, 2] = bad
    X[7, 0] = np.nan  # a later bad entry: the message names the first one
    raises(r"^X: non-finite value .* at index " + re.escape("(3, 2)") + "$", X, y)


def test_nonfinite_X_batched_names_full_index():
    X, y = data()
    Xb = np.stack([X, X])
    Xb[1, 4, 1] = np.nan
    raises(r"^X: non-finite value nan at index " + re.escape("(1, 4, 1)"), Xb, y)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_y(bad):
    X, y = data()
    y[5] = bad
    y[9] = np.nan
    raises(r"^y: non-finite value .* at index " + re.escape("(5,)") + "$", X, y)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nonfinite_weights(bad):
    X, y = data()
    w = np.ones(N)
    w[6] = bad
    w[10] = np.nan
    raises(r"^weights: non-finite value .* at index " + re.escape("(6,)") + "$", X, y, weights=w)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_offset(bad):
    X, y = data()
    o = np.zeros(N)
    o[8] = bad
    o[11] = np.nan
    raises(r"^offset: non-finite value .* at index " + re.escape("(8,)") + "$", X, y, offset=o)


def test_nonfinite_offset_batched():
    X, y = data()
    o = np.zeros((2, N))
    o[1, 3] = np.inf
    raises(r"^offset: non-finite value inf at index " + re.escape("(1, 3)"), X, y, offset=o)


# ---------------------------------------------------------------------------------------
# Labels, weights
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("label", [2.0, 1.5, -1.0, -0.25])
def test_labels_outside_0_1(label):
    X, y = data()
    y[4] = label
    y[10] = 3.0
    raises(
        r"^y: labels must be 0 or 1 \(or proportions between\), got " + re.escape(str(label))
        + r" at index " + re.escape("(4,)") + "$",
        X,
        y,
    )


def test_labels_outside_0_1_batched():
    X, y = data()
    Y = np.stack([y, y])
    Y[1, 4] = 1.5
    raises(r"^y: labels must be 0 or 1 \(or proportions between\), got 1.5 at index "
           + re.escape("(1, 4)"), X, Y)


def test_negative_weights():
    X, y = data()
    w = np.ones(N)
    w[5] = -1.0
    w[9] = -2.0
    raises(r"^weights: negative value -1.0 at index " + re.escape("(5,)") + "$", X, y, weights=w)


def test_all_zero_weights_single_model():
    X, y = data()
    raises(r"^weights: all weights are zero", X, y, weights=np.zeros(N))


def test_all_zero_weights_one_model_of_a_batch():
    X, y = data()
    W = np.ones((3, N))
    W[1] = 0.0
    W[2] = 0.0
    raises(r"^weights: all weights of model " + re.escape("(1,)") + " are zero", X, y, weights=W)


def test_some_zero_weights_are_fine():
    X, y = data()
    w = np.ones(N)
    w[3] = 0.0
    assert int(jaxlogreg.fit(X, y, weights=w).status) == Status.CONVERGED


# ---------------------------------------------------------------------------------------
# Shapes
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "shapes",
    [
        dict(X=(3, N, D), y=(2, N)),
        dict(X=(N, D), y=(2, N), weights=(3, N)),
        dict(X=(2, N, D), y=(N,), offset=(4, N)),
        dict(X=(N, D), y=(2, 1, N), weights=(3, 2, N), offset=(2, N)),  # 3 vs 2 on axis -2
    ],
)
def test_batch_axes_do_not_broadcast(shapes):
    rng = np.random.default_rng(0)
    args = {k: rng.normal(size=s) for k, s in shapes.items()}
    args["y"] = (args["y"] > 0).astype(np.float64)
    if "weights" in args:
        args["weights"] = np.abs(args["weights"]) + 0.1
    raises(r"^X, y, weights, offset: batch axes do not broadcast", args.pop("X"), args.pop("y"),
           **args)


@pytest.mark.parametrize("name", ["y", "weights", "offset"])
@pytest.mark.parametrize("length", [N - 1, N + 1])
def test_last_axis_length_mismatch(name, length):
    X, y = data()
    args = dict(y=y)
    if name == "y":
        args["y"] = np.zeros(length)
    else:
        args[name] = np.ones(length)
    raises(rf"^{name}: last axis has length {length} but X has n = {N} rows", X, **args)


def test_last_axis_length_mismatch_batched_y():
    X, y = data()
    raises(r"^y: last axis has length 5 but X has n = 12 rows", X, np.zeros((2, 5)))


def test_no_observations():
    raises(r"^X: no observations \(n = 0\)", np.zeros((0, D)), np.zeros((0,)))


def test_no_columns_without_intercept():
    X, y = data()
    raises(r"^X: no columns \(d = 0\)", np.zeros((N, 0)), y, fit_intercept=False)


def test_no_columns_with_intercept_is_fine():
    """The d = 0 check is specific to fit_intercept=False: an intercept-only model fits."""
    _, y = data()
    res = jaxlogreg.fit(np.zeros((N, 0)), y, fit_intercept=True)
    assert int(res.status) == Status.CONVERGED
    ybar = y.mean()
    np.testing.assert_allclose(float(res.intercept), np.log(ybar / (1 - ybar)), rtol=1e-10)


@pytest.mark.parametrize("X", [np.zeros(N), np.float64(1.0)])
def test_X_needs_two_dimensions(X):
    _, y = data()
    raises(r"^X: expected at least 2 dimension", X, y)


def test_y_needs_one_dimension():
    X, _ = data()
    raises(r"^y: expected at least 1 dimension", X, np.float64(1.0))


# ---------------------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("solver", ["bfgs", "", "newtonn"])
def test_unknown_solver_name(solver):
    X, y = data()
    raises(r"^solver: unknown solver " + re.escape(repr(solver)), X, y, solver=solver)


def test_solver_of_wrong_type():
    X, y = data()
    raises(r"^solver: expected a solver name or settings object", X, y, solver=3)


@pytest.mark.parametrize("tol", [0.0, -1e-8, -1.0, float("nan")])
def test_tol_not_positive(tol):
    X, y = data()
    raises(r"^tol: must be positive", X, y, tol=tol)


@pytest.mark.parametrize("max_iter", [-1, -100])
def test_negative_max_iter(max_iter):
    X, y = data()
    raises(rf"^max_iter: must be nonnegative, got {max_iter}$", X, y, max_iter=max_iter)


def test_max_iter_zero_is_allowed_and_stops_immediately():
    X, y = data()
    res = jaxlogreg.fit(X, y, max_iter=0)
    assert int(res.n_iter) == 0
    assert int(res.status) == Status.MAX_ITER


# ---------------------------------------------------------------------------------------
# Under jit: no exception, the status reports the problem
# ---------------------------------------------------------------------------------------


@jax.jit
def _fit_jit(X, y, w, o):
    return jaxlogreg.fit(X, y, weights=w, offset=o)


def _corrupt(which, X, y, w, o, model=None):
    X, y, w, o = X.copy(), y.copy(), w.copy(), o.copy()
    lead = () if model is None else (model,)
    if which == "X":
        X[lead + (2, 1)] = np.nan
    elif which == "y":
        y[lead + (3,)] = np.nan
    elif which == "weights":
        w[lead + (3,)] = np.nan
    elif which == "offset":
        o[lead + (3,)] = np.nan
    elif which == "weights_all_zero":
        w[lead + (slice(None),)] = 0.0
    return X, y, w, o


@pytest.mark.parametrize("which", ["clean", "X", "y", "weights", "offset"])
def test_jit_nan_gives_nonfinite_status(which):
    X, y = data()
    X, y, w, o = _corrupt(which, X, y, np.ones(N), np.zeros(N))
    res = _fit_jit(X, y, w, o)  # must not raise
    expected = Status.CONVERGED if which == "clean" else Status.NONFINITE
    assert int(res.status) == expected, Status(int(res.status)).name
    if which != "clean":
        assert not bool(res.converged)


@pytest.mark.parametrize("which", ["y", "weights", "offset", "weights_all_zero"])
def test_jit_bad_model_in_batch_does_not_spoil_the_others(which):
    """Batch over one shared X: only the corrupted model (index 1) reports NONFINITE; the
    others fit as they do alone ("every model in a batch carries its own status")."""
    X, y = data()
    B = 3
    Y, W, O = np.stack([y] * B), np.ones((B, N)), np.zeros((B, N))
    X, Y, W, O = _corrupt(which, X, Y, W, O, model=1)
    res = _fit_jit(X, Y, W, O)  # must not raise
    status = np.asarray(res.status)
    assert status.shape == (B,)
    names = [Status(int(s)).name for s in status]
    assert list(status) == [Status.CONVERGED, Status.NONFINITE, Status.CONVERGED], names
    alone = _fit_jit(X, y, np.ones(N), np.zeros(N))
    params = np.asarray(res.params)  # models indexed in NumPy
    for m in (0, 2):
        np.testing.assert_allclose(params[m], np.asarray(alone.params), rtol=1e-8, atol=1e-10)


# ---------------------------------------------------------------------------------------
# Warm calls: a call with the signature of an earlier one reuses its shape and option
# checks (jaxlogreg._dispatch.planned), and a small problem's value checks run inside the
# fit's own compiled program; both must raise exactly as a first call does.
# ---------------------------------------------------------------------------------------


def _device(*arrays):
    return tuple(jax.device_put(np.asarray(a)) for a in arrays)


@pytest.mark.parametrize(
    "which, match",
    [
        ("X", r"^X: non-finite value nan at index \(5, 1\)$"),
        ("y", r"^y: labels must be 0 or 1 \(or proportions between\), got 2.0 at index \(5,\)$"),
        ("weights", r"^weights: negative value -1.0 at index \(5,\)$"),
        ("offset", r"^offset: non-finite value inf at index \(5,\)$"),
    ],
)
def test_warm_call_with_bad_values_raises_like_a_first_call(which, match):
    X, y = data()
    w, o = np.ones(N), np.zeros(N)
    clean = _device(X, y, w, o)
    fitted = jaxlogreg.fit(clean[0], clean[1], weights=clean[2], offset=clean[3])
    assert int(fitted.status) == Status.CONVERGED
    bad = {"X": X.copy(), "y": y.copy(), "weights": w.copy(), "offset": o.copy()}
    bad["X"][5, 1] = np.nan
    bad["y"][5] = 2.0
    bad["weights"][5] = -1.0
    bad["offset"][5] = np.inf
    args = {k: (bad[k] if k == which else v)
            for k, v in zip(("X", "y", "weights", "offset"), (X, y, w, o), strict=True)}
    Xd, yd, wd, od = _device(args["X"], args["y"], args["weights"], args["offset"])
    raises(match, Xd, yd, weights=wd, offset=od)  # same signature as the clean call
    # NumPy: the first-call path
    raises(match, args["X"], args["y"], weights=args["weights"], offset=args["offset"])


def test_warm_inference_with_bad_values_raises():
    X, y = _device(*data())
    res = jaxlogreg.fit(X, y)
    assert bool(jnp_all_finite(jaxlogreg.inference(res, X, y).bse))
    y_bad = np.asarray(y).copy()
    y_bad[4] = -0.5
    with pytest.raises(ValueError, match=r"^y: labels must be 0 or 1 \(or proportions between\), "
                                         r"got -0.5 at index \(4,\)$"):
        jaxlogreg.inference(res, X, jax.device_put(y_bad))


def jnp_all_finite(a):
    return np.all(np.isfinite(np.asarray(a)))


def test_large_problem_checks_values_before_fitting(monkeypatch):
    """Above the deferral limit the values are checked before the fit's program runs."""
    from jaxlogreg import _dispatch, _fit, _validate

    monkeypatch.setattr(_validate, "_DEFER_LIMIT", 0)
    # plans made under the real limit
    monkeypatch.setattr(_fit._prepare, "plans", _dispatch.Plans())

    def must_not_run(*args, **kwargs):
        raise AssertionError("the fit ran before its data were checked")

    monkeypatch.setattr(_fit, "_program", must_not_run)
    X, y = data()
    X[2, 0] = np.nan
    raises(r"^X: non-finite value nan at index \(2, 0\)$", *_device(X, y))


def test_warm_call_plans_hold_no_caller_arrays():
    """What a warm call reuses keeps none of the caller's arrays alive."""
    import gc
    import weakref

    X, y = data(seed=3)
    Xd, yd, wd = _device(X, y, np.ones(N))
    res = jaxlogreg.fit(Xd, yd, weights=wd)
    jaxlogreg.inference(res, Xd, yd, weights=wd)
    refs = [weakref.ref(a) for a in (Xd, yd, wd)]
    del Xd, yd, wd, res
    gc.collect()
    assert all(r() is None for r in refs)


def test_large_defaults_are_not_kept(monkeypatch):
    """A plan holding a default array larger than the keep limit is not kept (nothing large
    outlives its fit); below the limit it is, and the warm call uses it."""
    from jaxlogreg import _dispatch, _fit

    monkeypatch.setattr(_fit._prepare, "plans", _dispatch.Plans())
    X, y = _device(*data(seed=5))
    monkeypatch.setattr(_dispatch, "_KEEP_ELEMENTS", N - 1)  # the (N,) default weights exceed it
    big = jaxlogreg.fit(X, y)
    assert len(_fit._prepare.plans._plans) == 0
    monkeypatch.setattr(_dispatch, "_KEEP_ELEMENTS", N)
    jaxlogreg.fit(X, y)
    assert len(_fit._prepare.plans._plans) == 1
    warm = jaxlogreg.fit(X, y)
    np.testing.assert_array_equal(np.asarray(warm.params), np.asarray(big.params))


# ---------------------------------------------------------------------------------------
# pandas inputs: a column that holds no numbers is named, not dumped by JAX
# ---------------------------------------------------------------------------------------


def frame(X, **extra):
    import pandas as pd

    df = pd.DataFrame(X, columns=["a", "b", "c"])
    for name, values in extra.items():
        df[name] = values
    return df


@pytest.mark.parametrize("kind", ["object", "str", "category"])
def test_a_text_column_is_a_value_error_naming_it(kind):
    import pandas as pd

    X, y = data()
    labels = pd.Series(["red", "blue"] * (N // 2), dtype=kind)
    df = frame(X, colour=labels)
    message = r"^X: column 'colour' does not hold numbers \(dtype " + re.escape(str(labels.dtype))
    raises(message, df, y)
    res = jaxlogreg.fit(X, y)
    with pytest.raises(ValueError, match=message):
        jaxlogreg.inference(res, df.drop(columns="a"), y)
    # One short line naming the column and one of its cells, not the array's contents.
    with pytest.raises(ValueError) as info:
        jaxlogreg.fit(df, y)
    assert "\n" not in str(info.value) and "blue" not in str(info.value)
    assert "such as 'red'" in str(info.value)


def test_a_text_series_is_a_value_error_naming_it():
    import pandas as pd

    X, y = data()
    target = pd.Series(np.where(y == 1, "yes", "no"), name="bought")
    raises(r"^y: the Series 'bought' does not hold numbers \(dtype .*such as 'no'", X, target)
    raises(r"^weights: the Series does not hold numbers", X, y, weights=pd.Series(["1"] * N))


def test_numeric_pandas_columns_fit_as_their_numpy_values():
    """Plain, nullable (``Int64``, ``boolean``) and object columns of numbers are numbers;
    the fit equals the one of the same values as a NumPy array. A missing value of a
    nullable column is NaN, refused as such."""
    import pandas as pd

    X, y = data()
    ints = np.arange(N) % 3
    df = frame(X, n=pd.array(ints, dtype="Int64"), flag=pd.array(ints == 1, dtype="boolean"),
               obj=pd.Series(list(X[:, 0] ** 2), dtype=object))
    plain = np.column_stack([X, ints, ints == 1, X[:, 0] ** 2]).astype(np.float64)
    got = jaxlogreg.fit(df, pd.Series(y.astype(int)))
    want = jaxlogreg.fit(plain, y)
    np.testing.assert_array_equal(np.asarray(got.params), np.asarray(want.params))
    # NumPy dtypes only, floats beside a bool column (NumPy alone would make objects of it).
    mixed = frame(X, flag=ints == 1)
    assert mixed.to_numpy().dtype == object
    np.testing.assert_array_equal(
        np.asarray(jaxlogreg.fit(mixed, y).params),
        np.asarray(jaxlogreg.fit(np.column_stack([X, ints == 1]).astype(np.float64), y).params))
    df.loc[4, "n"] = pd.NA
    raises(r"^X: non-finite value nan at index " + re.escape("(4, 3)"), df, y)
