"""The public surface: names the issues fix as a contract, and `__all__` kept in sync."""

import dataclasses
import inspect
import pathlib
import re
import subprocess
import sys
import types

import jaxlogreg


def test_all_lists_exactly_the_public_names():
    """Every name of ``__all__`` resolves (imported on first use), and once they all have,
    the package holds no other public name."""
    for name in jaxlogreg.__all__:
        getattr(jaxlogreg, name)
    public = {
        name
        for name, obj in vars(jaxlogreg).items()
        if not name.startswith("_") and not isinstance(obj, types.ModuleType)
    }
    assert public == set(jaxlogreg.__all__)
    for name in jaxlogreg.__all__:
        assert getattr(jaxlogreg, name).__doc__, f"{name} has no docstring"


def test_fit_signature_is_the_contract():
    params = inspect.signature(jaxlogreg.fit).parameters
    names = list(params)
    assert names[:2] == ["X", "y"]
    for kw, default in [
        ("weights", None),
        ("offset", None),
        ("fit_intercept", True),
        ("solver", "auto"),
        ("tol", None),
        ("max_iter", None),
    ]:
        assert params[kw].kind is inspect.Parameter.KEYWORD_ONLY
        assert params[kw].default == default


def test_fit_result_fields():
    fields = {f.name for f in dataclasses.fields(jaxlogreg.FitResult)}
    assert {"coef", "intercept", "status", "n_iter", "loss", "grad_norm"} <= fields
    assert isinstance(jaxlogreg.FitResult.converged, property)


def test_status_members_have_messages():
    for name in ["CONVERGED", "MAX_ITER", "SEPARATED", "SINGULAR", "NONFINITE"]:
        member = jaxlogreg.Status[name]
        assert isinstance(member.message, str) and member.message
        assert "\n" not in member.message
    assert len({m.value for m in jaxlogreg.Status}) == len(jaxlogreg.Status)


def test_solvers_module_all_in_sync():
    from jaxlogreg import solvers

    for name in solvers.__all__:
        assert hasattr(solvers, name)
    assert "newton" in solvers.names()
    for fn in ("init", "step", "run"):
        assert callable(getattr(solvers.newton, fn))


README = pathlib.Path(__file__).resolve().parent.parent / "README.md"


def api_table() -> dict[str, str]:
    """The README's "Public API" table: each row's first cell (the names, in backticks) to
    its second (the description)."""
    section = README.read_text().split("## Public API", 1)[1].split("\n## ", 1)[0]
    rows = [line[2:].split(" | ", 1) for line in section.splitlines()
            if line.startswith("| `") and " | " in line[2:]]
    return {first: second for first, second in rows}


def test_readme_api_table_lists_the_public_names():
    """Each name issue 20 asks for has a row of its own or shares one (a name in the first
    cell, followed by "(" or a backtick), with a description."""
    table = api_table()
    for name in ["fit", "Firth", "firth_profile", "firth_profile_intervals", "firth_lr_test",
                 "laplace", "predictive", "fit_rows_sharded", "predict", "inference",
                 "jaxlogreg.sklearn.LogisticRegression"]:
        assert name == "jaxlogreg.sklearn.LogisticRegression" or name in jaxlogreg.__all__
        pattern = re.compile(rf"`{re.escape(name)}[(`]")
        rows = [desc for names, desc in table.items() if pattern.search(names)]
        assert rows, f"{name} has no row in the README's API table"
        assert len(rows[0].strip(" |")) > 20


def test_readme_says_what_alpha_means_where_both_appear():
    """``fit(alpha=)`` is a penalty strength, ``inference(alpha=)`` a significance level: the
    rows of both say so."""
    table = api_table()
    (fit_row,) = [d for n, d in table.items() if n.startswith("`fit(")]
    (inference_row,) = [d for n, d in table.items() if n.startswith("`inference(")]
    assert "penalty strength" in fit_row and "significance level" in fit_row
    assert "significance level" in inference_row and "penalty strength" in inference_row


def test_the_sklearn_estimator_is_public_and_scikit_learn_stays_optional():
    """``jaxlogreg.sklearn`` is a public module; ``import jaxlogreg`` imports neither it nor
    scikit-learn (nor JAX)."""
    code = ("import sys, jaxlogreg; "
            "print(sorted(m for m in ('sklearn', 'jaxlogreg.sklearn', 'jax') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
    from jaxlogreg.sklearn import LogisticRegression

    assert jaxlogreg.sklearn.LogisticRegression is LogisticRegression
    assert LogisticRegression.__doc__ and "C * sum_i s_i" in LogisticRegression.__doc__
