"""An :class:`InferenceResult` as text and as files: statsmodels' summary table of one model
(:func:`summary`), every field as numpy arrays (:func:`to_dict`), and one CSV row per model
(:func:`to_csv`, its header :func:`csv_columns`). Parameters are named by
:func:`_param_names`: names given, else a pandas DataFrame's columns, else statsmodels'
``const, x1, x2, ...``.
"""

from __future__ import annotations

import csv
import math

import numpy as np

from .._status import Status
from ._results import _ARRAY_FIELDS, _SCALAR_FIELDS, InferenceResult, _check_inference


def _param_names(inf: InferenceResult, names) -> list[str]:
    """The ``k`` parameter names: ``names`` (``k`` of them, or the ``d`` column names with
    ``"const"`` put first when an intercept was fitted), else the column names of the
    DataFrame :func:`inference` was given (``inf.names``, likewise), else ``const, x1, x2,
    ...`` (statsmodels' names for an array)."""
    k = inf.params.shape[-1]
    if names is None:
        names = inf.names
    if names is None:
        if inf.fit_intercept:
            return ["const"] + [f"x{j}" for j in range(1, k)]
        return [f"x{j}" for j in range(1, k + 1)]
    names = [str(s) for s in names]
    if inf.fit_intercept and len(names) == k - 1:
        names = ["const"] + names
    if len(names) != k:
        raise ValueError(
            f"names: expected {k} names (or {k - 1} column names when an intercept is "
            f"fitted), got {len(names)}"
        )
    return names


def _select(inf: InferenceResult, index) -> InferenceResult:
    if index is None:
        if inf.batch_shape:
            raise ValueError(
                f"index: inf holds a batch of shape {inf.batch_shape}; choose one model"
            )
        return inf
    try:
        one = inf[index]
    except (IndexError, TypeError) as e:
        raise ValueError(
            f"index: {index!r} does not select a model of the batch {inf.batch_shape} ({e})"
        ) from None
    if one.batch_shape:
        raise ValueError(f"index: {index!r} selects {one.batch_shape} models, not one")
    return one


def _forg(x: float, prec: int = 3) -> str:
    """statsmodels' number format in coefficient tables."""
    width = 9 if prec == 3 else 10
    if abs(x) >= 1e4 or abs(x) < 1e-4:
        return f"{x:{width}.{prec}g}"
    return f"{x:{width}.{prec}f}"


def _d_or_f(x: float) -> str:
    if np.isnan(x):
        return "   NaN"
    if x // 1 == x:
        return f"{int(x):#6d}"
    return f"{x:#8.2f}"


def _prsquared_note(llf: float, llnull: float, status: Status) -> str:
    """Why McFadden's pseudo R-squared ``1 - llf / llnull`` is not a number."""
    if llnull == 0:
        why = ("LL-Null is 0: the intercept alone fits every observation exactly (y holds one "
               "class), and the ratio divides by it")
    elif not math.isfinite(llnull):
        why = f"LL-Null is {llnull}"
    elif not math.isfinite(llf):
        why = f"the Log-Likelihood is {llf} (the fit stopped with status {status.name})"
    else:
        why = "the ratio of the log-likelihoods is not a finite number"
    return f"Note: Pseudo R-squ. is nan: McFadden's 1 - llf / llnull is undefined because {why}."


def summary(inf: InferenceResult, index=None, names=None, *, yname: str | None = None) -> str:
    """A text table in the layout of statsmodels' ``LogitResults.summary()`` for one model
    (``ProbitResults.summary()`` for the probit; the model line names ``inf.link``).

    Args:
      inf: an :class:`InferenceResult`.
      index: which model of a batch (an int or a tuple of ints); None for a single model.
      names: the ``k`` parameter names, or the ``d`` column names (``"const"`` is then
        prepended when an intercept was fitted); default: the column names of the pandas
        DataFrame :func:`inference` was given, else ``const, x1, x2, ...``.
      yname: the response's name; default: the name of the pandas Series :func:`inference`
        was given, else ``"y"``.

    The header reports nobs, df, pseudo R-squared (McFadden), llf, llnull and the LLR p-value;
    the table coef / std err / z / P>|z| / confidence limits at level ``1 - inf.alpha``,
    formatted as statsmodels formats them. A pseudo R-squared that is not a finite number
    (LL-Null 0, or a fit that failed) is printed as ``nan``, with a note below the table
    saying why.
    """
    _check_inference(inf, "inf")
    one = _select(inf, index)
    xnames = _param_names(inf, names)
    yname = (inf.yname or "y") if yname is None else yname
    g = {f: np.asarray(getattr(one, f)) for f in _ARRAY_FIELDS if getattr(one, f) is not None}
    status = Status(int(g["status"]))
    converged = status == Status.CONVERGED
    prsquared = float(g["prsquared"])
    width = 78
    left = [
        ("Dep. Variable:", yname),
        ("Model:", one.link.capitalize()),
        ("Method:", "MLE"),
        ("converged:", str(converged)),
        ("Covariance Type:", one.cov_type),
        ("Status:", Status(int(g["status"])).name),
        ("", ""),
    ]
    right = [
        ("No. Observations:", _d_or_f(float(g["nobs"])).strip()),
        ("Df Residuals:", _d_or_f(float(g["df_resid"])).strip()),
        ("Df Model:", _d_or_f(float(g["df_model"])).strip()),
        ("Pseudo R-squ.:", f"{prsquared:#6.4g}".strip() if math.isfinite(prsquared) else "nan"),
        ("Log-Likelihood:", f"{float(g['llf']):#8.5g}".strip()),
        ("LL-Null:", f"{float(g['llnull']):#8.5g}".strip()),
        ("LLR p-value:", f"{float(g['llr_pvalue']):#6.4g}".strip()),
    ]
    lines = [f"{one.link.capitalize()} Regression Results".center(width), "=" * width]
    for (ll, lv), (rl, rv) in zip(left, right, strict=True):
        lpart = f"{ll}{lv:>{37 - len(ll)}}" if ll else " " * 37
        lines.append(f"{lpart}   {rl}{rv:>{38 - len(rl)}}")
    a = one.alpha
    header = ["coef", "std err", "z", "P>|z|", f"[{a / 2}", f"{1 - a / 2}]"]
    # statsmodels' column widths: a stub of at least 10, then 11 * 4 + 12 * 2.
    stub = max(10, max(len(s) for s in xnames))
    cols = (11, 11, 11, 11, 12, 12)
    table_width = stub + sum(cols)
    lines.append("=" * table_width)
    lines.append(" " * stub + "".join(h.rjust(c) for h, c in zip(header, cols, strict=True)))
    lines.append("-" * table_width)
    ci = g["conf_int"]
    for j, name in enumerate(xnames):
        cells = [
            _forg(float(g["params"][j]), 4),
            _forg(float(g["bse"][j])),
            _forg(float(g["tvalues"][j])),
            f"{float(g['pvalues'][j]):#6.3f}",
            _forg(float(ci[j, 0])),
            _forg(float(ci[j, 1])),
        ]
        lines.append(name.ljust(stub)
                     + "".join(v.strip().rjust(c) for v, c in zip(cells, cols, strict=True)))
    lines.append("=" * table_width)
    if not bool(g["valid"]):
        lines.append(
            "Warning: the fit did not converge or its information matrix is singular "
            f"(status {status.name}); standard errors and tests are NaN."
        )
    if not math.isfinite(prsquared):
        lines.append(_prsquared_note(float(g["llf"]), float(g["llnull"]), status))
    return "\n".join(lines)


def to_dict(inf: InferenceResult, names=None) -> dict[str, np.ndarray]:
    """Every array field of ``inf`` as a numpy array (batch shape in front; the per-row
    fields only when :func:`inference` computed them, ``rows=True``), plus ``alpha``,
    ``cov_type``, ``fit_intercept``, ``link``, ``information`` and ``yname`` (as in
    :func:`summary`) as 0-d numpy arrays and ``names``, the ``(k,)`` parameter names
    (``names`` as in :func:`summary`; default: the column names of the pandas DataFrame
    :func:`inference` was given, else ``const, x1, ...``). No pandas needed."""
    _check_inference(inf, "inf")
    out = {f: np.asarray(getattr(inf, f)) for f in _ARRAY_FIELDS if getattr(inf, f) is not None}
    out["alpha"] = np.asarray(inf.alpha)
    out["cov_type"] = np.asarray(inf.cov_type)
    out["fit_intercept"] = np.asarray(inf.fit_intercept)
    out["link"] = np.asarray(inf.link)
    out["information"] = np.asarray(inf.information)
    out["names"] = np.asarray(_param_names(inf, names))
    out["yname"] = np.asarray(inf.yname or "y")
    return out


def csv_columns(inf: InferenceResult, names=None) -> list[str]:
    """The header of :func:`to_csv` for ``inf`` and ``names``."""
    xnames = _param_names(inf, names)
    per_param = ["coef", "bse", "z", "pvalue", "ci_lower", "ci_upper", "odds_ratio"]
    cols = ["model", "status", "valid"]
    cols += [f"{p}_{x}" for p in per_param for x in xnames]
    return cols + list(_SCALAR_FIELDS)


def to_csv(inf: InferenceResult, path, names=None) -> None:
    """Write one row per model to the CSV file ``path`` (no pandas needed).

    Columns (:func:`csv_columns`): ``model`` (the model's index in the batch flattened in C
    order), ``status`` (its :class:`~jaxlogreg.Status` name), ``valid`` (0/1); then for each
    parameter name ``x`` (``names`` as in :func:`summary`; default: the column names of the
    pandas DataFrame :func:`inference` was given, else ``const, x1, ...``)
    ``coef_x``, ``bse_x``, ``z_x``, ``pvalue_x``, ``ci_lower_x``, ``ci_upper_x``,
    ``odds_ratio_x``; then the per-model scalars ``llf, llnull, llr, llr_pvalue, prsquared,
    prsquared_cox_snell, prsquared_nagelkerke, aic, bic, deviance, pearson_chi2, df_model,
    df_resid, nobs``. Floats are written with ``repr`` (they read back exactly); NaN as
    ``nan``. Per-observation arrays are not written (use :func:`to_dict`).
    """
    _check_inference(inf, "inf")
    cols = csv_columns(inf, names)
    g = to_dict(inf)
    B = int(np.prod(inf.batch_shape))
    k = inf.params.shape[-1]
    flat = {f: g[f].reshape((B,) + g[f].shape[len(inf.batch_shape):])
            for f in _ARRAY_FIELDS if f in g}
    per_param = [
        flat["params"], flat["bse"], flat["tvalues"], flat["pvalues"],
        flat["conf_int"][..., 0], flat["conf_int"][..., 1], flat["odds_ratios"],
    ]
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(cols)
        for b in range(B):
            row = [str(b), Status(int(flat["status"][b])).name, str(int(flat["valid"][b]))]
            for arr in per_param:
                row += [repr(float(arr[b, j])) for j in range(k)]
            row += [repr(float(flat[f][b])) for f in _SCALAR_FIELDS]
            writer.writerow(row)
