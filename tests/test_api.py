"""The public surface: names the issues fix as a contract, and `__all__` kept in sync."""

import dataclasses
import inspect
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
