"""Names travel from pandas (issue 20, item 8): a DataFrame's column names and a Series'
name, given to :func:`jaxlogreg.inference`, name the parameters and the response in
``summary``, ``to_dict`` and ``to_csv`` as statsmodels' ``Logit`` names them for the same
DataFrame; they are static labels that never cause a recompilation."""

from __future__ import annotations

import csv

import jax
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import jaxlogreg
from jaxlogreg import _inference

N = 400


def frame(seed=0, columns=("age", "income", "score")):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(N, 3)), columns=list(columns))
    eta = 0.3 + X.to_numpy() @ np.array([0.9, -0.6, 0.4])
    y = pd.Series((rng.random(N) < 1 / (1 + np.exp(-eta))).astype(int), name="bought")
    return X, y


def table(text: str) -> list[str]:
    """The coefficient table of a summary: its header, rule and one line per parameter."""
    lines = text.splitlines()
    start = next(i for i, s in enumerate(lines) if s.strip().startswith("coef"))
    end = next(i for i in range(start + 2, len(lines)) if lines[i].startswith("="))
    return lines[start:end]


def dep_variable(text: str) -> str:
    return text.split("Dep. Variable:")[1].split()[0]


def test_dataframe_and_series_names_are_statsmodels_names(tmp_path):
    X, y = frame()
    inf = jaxlogreg.inference(jaxlogreg.fit(X, y), X, y)
    ref = sm.Logit(y, sm.add_constant(X)).fit(disp=0, method="newton", tol=1e-12)
    assert ref.model.exog_names == ["const", "age", "income", "score"]
    ours, theirs = jaxlogreg.summary(inf), ref.summary().as_text()
    assert table(ours) == table(theirs)  # names and numbers, line for line
    assert dep_variable(ours) == dep_variable(theirs) == ref.model.endog_names == "bought"
    d = jaxlogreg.to_dict(inf)
    assert list(d["names"]) == ref.model.exog_names and str(d["yname"]) == "bought"
    path = tmp_path / "inference.csv"
    jaxlogreg.to_csv(inf, path)
    with open(path, newline="") as fh:
        header, row = list(csv.reader(fh))
    assert ([c for c in header if c.startswith("coef_")]
            == [f"coef_{n}" for n in ref.model.exog_names])
    np.testing.assert_allclose(
        [float(row[header.index(f"coef_{n}")]) for n in ref.model.exog_names],
        ref.params, rtol=1e-8)


def test_without_an_intercept_the_frames_columns_are_the_names():
    """``add_constant``'s frame fitted with ``fit_intercept=False``: its own 'const' column
    is a name like the others, as in statsmodels."""
    X, y = frame(1)
    Xc = sm.add_constant(X)
    inf = jaxlogreg.inference(jaxlogreg.fit(Xc, y, fit_intercept=False), Xc, y)
    ref = sm.Logit(y, Xc).fit(disp=0, method="newton", tol=1e-12)
    assert table(jaxlogreg.summary(inf)) == table(ref.summary().as_text())
    assert list(jaxlogreg.to_dict(inf)["names"]) == ref.model.exog_names


def test_names_given_win_and_arrays_get_statsmodels_default_names():
    X, y = frame(2)
    inf = jaxlogreg.inference(jaxlogreg.fit(X, y), X, y)
    text = jaxlogreg.summary(inf, names=["a", "b", "c"], yname="outcome")
    assert [line.split()[0] for line in table(text)[2:]] == ["const", "a", "b", "c"]
    assert dep_variable(text) == "outcome"
    assert list(jaxlogreg.to_dict(inf, names=["a", "b", "c"])["names"]) == ["const", "a", "b", "c"]
    # The same data as arrays: statsmodels' names for an ndarray, and "y".
    Xa, ya = X.to_numpy(), y.to_numpy()
    plain = jaxlogreg.inference(jaxlogreg.fit(Xa, ya), Xa, ya)
    ref = sm.Logit(ya, sm.add_constant(Xa)).fit(disp=0, method="newton", tol=1e-12)
    assert table(jaxlogreg.summary(plain)) == table(ref.summary().as_text())
    assert dep_variable(jaxlogreg.summary(plain)) == ref.model.endog_names == "y"
    assert plain.names is None and plain.yname is None


def test_names_survive_indexing_and_the_pytree():
    X, y = frame(3)
    scheme = jaxlogreg.Bootstrap(jax.random.key(0), 4)
    inf = jaxlogreg.inference(jaxlogreg.fit(X, y, weights=scheme), X, y, weights=scheme)
    assert inf.names == ("age", "income", "score") and inf.yname == "bought"
    one = inf[2]
    assert (one.names, one.yname) == (inf.names, inf.yname)
    leaves, treedef = jax.tree_util.tree_flatten(inf)
    back = jax.tree_util.tree_unflatten(treedef, leaves)
    assert (back.names, back.yname) == (inf.names, inf.yname)
    assert [line.split()[0] for line in table(jaxlogreg.summary(inf, index=2))[2:]] == \
        ["const", "age", "income", "score"]


def test_new_data_of_the_same_shape_does_not_recompile():
    """Names are labels of the result, not inputs of a compiled program: inference on a
    DataFrame with other values and other column names reuses the program."""
    X, y = frame(4)
    jaxlogreg.inference(jaxlogreg.fit(X, y), X, y)
    programs = (_inference._INFERENCE.default, _inference._INFERENCE.quick)

    def compiled():
        return sum(p._cache_size() for p in programs)

    before = compiled()
    X2, y2 = frame(5, columns=("p", "q", "r"))
    y2 = y2.rename("other")
    inf = jaxlogreg.inference(jaxlogreg.fit(X2, y2), X2, y2)
    assert compiled() == before
    assert inf.names == ("p", "q", "r") and inf.yname == "other"


@pytest.mark.parametrize("columns", [(0, 1, 2), ("a", 1, ("t", 2))])
def test_names_that_are_not_strings_are_written_as_statsmodels_writes_them(columns):
    X, y = frame(6, columns=columns)
    inf = jaxlogreg.inference(jaxlogreg.fit(X, y), X, y)
    ref = sm.Logit(y, sm.add_constant(X)).fit(disp=0, method="newton", tol=1e-12)
    assert [line.split()[0] for line in table(jaxlogreg.summary(inf))[2:]] == \
        [line.split()[0] for line in table(ref.summary().as_text())[2:]]
