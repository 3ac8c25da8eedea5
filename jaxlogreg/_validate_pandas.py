"""pandas inputs at the Python boundary (:mod:`jaxlogreg._validate`): a DataFrame or Series
as a NumPy array of numbers, or a ``ValueError`` naming the column that holds none; the
names of its columns. pandas is never imported here (see :func:`_pandas_kind`)."""

from __future__ import annotations

import sys

import numpy as np


def _pandas_kind(a) -> str | None:
    """``"frame"`` for a pandas DataFrame, ``"series"`` for a Series, else None. pandas is
    looked up among the modules already imported, never imported here: an object of pandas
    cannot exist before pandas is imported."""
    pd = sys.modules.get("pandas")
    if pd is None:
        return None
    if isinstance(a, pd.DataFrame):
        return "frame"
    if isinstance(a, pd.Series):
        return "series"
    return None


# dtype kinds of pandas columns that hold numbers: bool, signed and unsigned integers, floats
# and complex (refused later, as for a NumPy array).
_NUMERIC_KINDS = frozenset("biufc")
# What pandas.api.types.infer_dtype says of an object column whose cells are all numbers
# (or missing).
_NUMERIC_OBJECTS = frozenset({"integer", "floating", "mixed-integer-float", "boolean",
                              "decimal", "empty"})


def _from_pandas(name: str, a) -> np.ndarray:
    """A pandas DataFrame or Series as a NumPy array of numbers; a ``ValueError`` naming
    ``name`` and the first column that does not hold numbers (text, categories, dates)
    instead of the object array NumPy would make of it. Columns of pandas' nullable types
    (``Int64``, ``Float64``, ``boolean``) and object columns of numbers become float64, a
    missing value NaN (refused as not finite by the value checks)."""
    import pandas as pd  # imported already: `a` is a pandas object

    frame = _pandas_kind(a) == "frame"
    columns = list(a.items()) if frame else [(a.name, a)]
    plain = True  # every column of a NumPy dtype
    for label, column in columns:
        dtype = column.dtype
        kind = getattr(dtype, "kind", "O")
        if kind == "O" and not isinstance(dtype, pd.CategoricalDtype) and \
                pd.api.types.infer_dtype(column, skipna=True) in _NUMERIC_OBJECTS:
            plain = False
            continue
        if kind not in _NUMERIC_KINDS:
            what = f"column {label!r}" if frame else (
                "the Series" if label is None else f"the Series {label!r}")
            cell = next((v for v in column if isinstance(v, (str, bytes))), None)
            example = f", such as {cell!r}" if cell is not None else ""
            raise ValueError(
                f"{name}: {what} does not hold numbers (dtype {dtype}{example}); encode it as "
                "numbers first"
                + (" (pandas.get_dummies, for example) or leave it out" if frame else "")
            )
        plain = plain and isinstance(dtype, np.dtype)
    if plain:
        # Their common type: a frame of floats and bools is floats, not NumPy's objects.
        return a.to_numpy(dtype=np.result_type(*(column.dtype for _, column in columns)))
    return a.to_numpy(dtype=np.float64, na_value=np.nan)


def column_names(X) -> tuple[str, ...] | None:
    """The column names of a pandas DataFrame ``X`` as strings (statsmodels' parameter
    names for it); None for anything else."""
    if _pandas_kind(X) != "frame":
        return None
    return tuple(str(c) for c in X.columns)


def series_name(y) -> str | None:
    """The name of a pandas Series ``y`` as a string (statsmodels' ``endog_names``); None
    for anything else or a Series without a name."""
    if _pandas_kind(y) != "series" or y.name is None:
        return None
    return str(y.name)
