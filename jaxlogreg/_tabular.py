"""Reading the data files of ``jaxlogreg fit``: a CSV or Parquet file, read by pandas, into
float64 arrays of features, a 0/1 target and the columns of ``--weights``, ``--offset`` and
``--groups`` (:func:`read_data`, :class:`Data`).

A CSV file's separator is detected (``--sep`` gives it), its encoding is UTF-8 unless a
byte-order mark or ``--encoding`` says otherwise, missing values are counted per column and
refused unless ``--dropna``, and a text target is mapped to 0/1 (``--positive``). Every
problem is a ``ValueError`` that names the option, the file and the line or row, which the
command line prints as one line (exit status 2).

This module imports neither JAX nor any module of the package that does: the command line
reads and checks a file before JAX starts, so that a bad file or option answers at once
(``tests/test_cli.py`` checks it). pandas and NumPy are imported when a file is read.
"""

from __future__ import annotations

import argparse
import codecs
import csv
import math
import re
import shlex
from pathlib import Path
from typing import Any, NamedTuple

# Cells read as a missing value (compared stripped and in lower case): an empty cell and the
# common spellings of NA among pandas' defaults. "inf" is a number's spelling: refused as not
# finite.
_MISSING = frozenset({"", "na", "n/a", "nan", "-nan", "null", "none", "<na>", "#n/a", "#na", "nat"})
_PARQUET_SUFFIXES = (".parquet", ".pq")
# The separators a CSV file is tried for when --sep is not given, and how many of its first
# non-blank lines decide (csv.Sniffer: the one that splits every line into the same number
# of fields, quotes understood).
_SEPARATORS = ",;\t|"
_SNIFF_LINES = 50
# Byte-order marks that name their encoding, UTF-32's first (its little-endian mark begins
# with UTF-16's). A UTF-8 mark is dropped by reading UTF-8 as "utf-8-sig".
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
# Two-valued text targets whose positive class goes without saying: the pair in lower case,
# sorted, and its positive member. Any other pair takes the second value in sorted order
# (scikit-learn's classes_[1]).
_CONVENTIONAL = {("no", "yes"): "yes", ("false", "true"): "true", ("n", "y"): "y",
                 ("f", "t"): "t", ("negative", "positive"): "positive"}
_SEPARATOR_NAMES = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}


def _separator(text: str) -> str:
    """``--sep``'s value: one character, or ``tab`` (also ``\\t``), ``comma``, ``semicolon``,
    ``pipe``."""
    sep = _SEPARATOR_NAMES.get(text.lower(), text)
    if len(sep) != 1 or sep in '"\r\n':
        raise argparse.ArgumentTypeError(
            f"need one character (',', ';', 'tab', '|', ...), got {text!r}")
    return sep


def _encoding_name(text: str) -> str:
    """``--encoding``'s value: a codec Python knows."""
    try:
        codecs.lookup(text)
    except LookupError:
        raise argparse.ArgumentTypeError(
            f"unknown encoding {text!r} (utf-8, latin-1, cp1252, utf-16, ...)") from None
    return text


def _file_encoding(path: Path, given) -> str:
    """The codec to read ``path`` with: ``given`` (UTF-8 as "utf-8-sig", which drops a
    byte-order mark); without it, the one a UTF-16 or UTF-32 byte-order mark names, else
    UTF-8, with or without a mark."""
    if given is not None:
        return "utf-8-sig" if codecs.lookup(given).name == "utf-8" else given
    with path.open("rb") as f:
        head = f.read(4)
    return next((name for bom, name in _BOMS if head.startswith(bom)), "utf-8-sig")


def _undecodable(path: Path, codec: str, given) -> ValueError:
    """The error for a file that ``codec`` cannot decode: where, and what to try. (The whole
    file is read again here, on the error path only: pandas' own error counts from the
    start of the block it was decoding, not of the file.)"""
    data = path.read_bytes()
    label = "UTF-8" if given is None else given
    try:
        data.decode(codec)
        where = ""
    except UnicodeDecodeError as e:
        line = data[:e.start].decode(codec, errors="replace").count("\n") + 1
        where = f" ({e.reason} at byte {e.start}, line {line})"
    except UnicodeError as e:
        where = f" ({e})"
    hint = ("if it is Latin-1 or Windows text, pass --encoding latin-1 (or cp1252)"
            if given is None else "pass the file's encoding with --encoding")
    return ValueError(f"DATA: {path} is not {label} text{where}; {hint}")


def _first_lines(path: Path, codec: str) -> tuple[int, list[str]]:
    """``(leading, lines)``: the number of blank lines before the header, and the first
    :data:`_SNIFF_LINES` non-blank lines from the header on."""
    leading = 0
    lines: list[str] = []
    with path.open(encoding=codec, newline="") as f:
        for line in f:
            if not line.strip():
                leading += not lines
                continue
            lines.append(line)
            if len(lines) == _SNIFF_LINES:
                break
    return leading, lines


def _detect_separator(lines: list[str]) -> str:
    """The separator of :data:`_SEPARATORS` that ``csv.Sniffer`` finds in ``lines``; a comma
    where it finds none (a file of one column, say)."""
    try:
        return csv.Sniffer().sniff("".join(lines), delimiters=_SEPARATORS).delimiter
    except csv.Error:
        return ","


def _pandas(path: Path):
    try:
        import pandas as pd
    except ImportError:
        raise ValueError(
            f"DATA: reading {path} needs pandas, which is not installed: "
            'pip install "jaxlogreg[cli]"'
        ) from None
    return pd


def _table(path: Path, sep=None, encoding=None):
    """``(header, cells, where, sep)``: the header's names, a DataFrame of the data rows
    (strings for a CSV, typed for Parquet), ``where(i)``, the words for data row ``i`` in
    messages ("line 3": the file's line, 1-based, the header's counted; for Parquet "row 2"),
    and the separator a CSV file was read with (``sep``, else the detected one; None for
    Parquet)."""
    pd = _pandas(path)
    if path.suffix.lower() in _PARQUET_SUFFIXES:
        for option, value, what in (("--sep", sep, "separator"),
                                    ("--encoding", encoding, "text encoding")):
            if value is not None:
                raise ValueError(
                    f"{option}: {path} is a Parquet file, which has no {what}; drop {option}")
        try:
            frame = pd.read_parquet(path)
        except ImportError as e:
            raise ValueError(
                f"DATA: reading the Parquet file {path} needs pyarrow (or fastparquet), which "
                f"is not installed: pip install pyarrow ({e})"
            ) from None
        except OSError as e:
            raise ValueError(f"DATA: cannot read {path}: {e.strerror or e}") from None
        except Exception as e:  # pyarrow's own errors for a damaged file
            raise ValueError(f"DATA: {path} is not a readable Parquet file ({e})") from None
        header = [str(c) for c in frame.columns]
        frame.columns = range(len(header))
        return header, frame.reset_index(drop=True), lambda i: f"row {i + 1}", None
    codec = encoding or "utf-8-sig"  # until a byte-order mark is looked for
    try:
        codec = _file_encoding(path, encoding)
        # pandas takes the width of the table from its first line: skip leading blank lines.
        leading, lines = _first_lines(path, codec)
        if sep is None:
            sep = _detect_separator(lines)
        # Every cell as its text (no NA guessing): read_data decides what is missing, and the
        # rows keep their order so that row k of the frame is line k + 1 + leading of the file.
        frame = pd.read_csv(
            path, sep=sep, header=None, dtype=str, keep_default_na=False,
            skip_blank_lines=False, skipinitialspace=True, encoding=codec, skiprows=leading,
        )
    except OSError as e:
        raise ValueError(f"DATA: cannot read {path}: {e.strerror or e}") from None
    except UnicodeError:
        raise _undecodable(path, codec, encoding) from None
    except pd.errors.EmptyDataError:
        raise ValueError(f"DATA: {path} is empty") from None
    except pd.errors.ParserError as e:
        # "Error tokenizing data. C error: Expected 2 fields in line 4, saw 3": the header
        # sets the width, and a longer row stops the reader.
        detail = str(e).split("C error: ")[-1].strip()
        raise ValueError(f"DATA: {path} has a row longer than the header: {detail}") from None
    frame = frame.apply(lambda column: column.str.strip())
    blank = (frame == "").all(axis=1).to_numpy()
    frame = frame[~blank]
    if frame.empty:
        raise ValueError(f"DATA: {path} is empty")
    header = list(frame.iloc[0])
    lines_of = frame.index.to_numpy() + 1 + leading
    return header, frame.iloc[1:], lambda i: f"line {lines_of[i + 1]}", sep


def _missing(column):
    """``(n,)`` bool: the cells of ``column`` that are missing (NA, or text of
    :data:`_MISSING`)."""
    na = column.isna().to_numpy(bool)
    if getattr(column.dtype, "kind", "O") in "biufc":
        return na
    text = column.astype("string").str.strip().str.lower()
    return na | text.isin(_MISSING).to_numpy(bool, na_value=False)


def _listed(values, limit: int = 5) -> str:
    shown = ", ".join(repr(v) for v in values[:limit])
    return shown + (f", ... ({len(values)} in all)" if len(values) > limit else "")


def _numbers(path: Path, cells, names, where):
    """``(n, len(names))`` float64 from the columns of ``cells`` (none missing: read_data
    checks that first); ``ValueError`` naming the first bad cell (in file order): not a
    number or not finite."""
    import numpy as np
    import pandas as pd

    values = np.column_stack([
        pd.to_numeric(cells.iloc[:, j], errors="coerce").to_numpy(np.float64, na_value=np.nan)
        for j in range(cells.shape[1])
    ]) if len(cells) else np.empty((0, cells.shape[1]))
    bad = ~np.isfinite(values)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        text = str(cells.iat[i, j]).strip()
        at = f"DATA: {path} {where(i)}, column {names[j]!r}"
        if math.isnan(values[i, j]):
            decimal = (" (a decimal comma? numbers are read with a decimal point)"
                       if re.fullmatch(r"[-+]?\d*,\d+", text) else "")
            raise ValueError(f"{at}: not a number: {text!r}{decimal}")
        raise ValueError(f"{at}: not finite: {text!r}")
    return values


def _target(path: Path, column, name: str, where, positive):
    """``(y, note)``: the target ``column`` (no cell missing) as float64 0/1, and a line
    saying which value became 1 where that was chosen (else None).

    Numbers must be 0 and 1, unless ``positive`` (``--positive``) names one of exactly two
    values. Text (every cell; ``True``/``False`` of a Boolean column too) must hold two
    distinct values; 1 is ``positive``, else the conventional positive of a pair in
    :data:`_CONVENTIONAL` (yes/no, true/false, y/n, t/f, positive/negative, any case), else
    the second of the two in sorted order. One class, more than two, or numbers mixed with
    text raise ``ValueError``."""
    import numpy as np
    import pandas as pd

    kind = getattr(column.dtype, "kind", "O")
    text = None
    if kind == "b":
        text = column.astype(str).to_numpy(object)
    elif kind in "iuf":
        values = column.to_numpy(np.float64)
    else:
        stripped = column.astype("string").str.strip()
        values = pd.to_numeric(stripped, errors="coerce").to_numpy(np.float64, na_value=np.nan)
        numeric = ~np.isnan(values)
        if not numeric.any():
            text = stripped.to_numpy(object)
        elif not numeric.all():
            _numbers(path, column.to_frame(), [name], where)  # names the first text cell
    if text is not None:
        return _text_target(text, name, positive)
    return _numeric_target(path, column, values, name, where, positive)


def _text_target(text, name: str, positive):
    """:func:`_target` of a text column ``text`` ``(n,)`` of strings."""
    import numpy as np

    classes = sorted(set(text))
    if len(classes) == 1:
        raise ValueError(f"--target: column {name!r} holds only {classes[0]!r}; a logistic "
                         "regression needs rows of both classes")
    if len(classes) > 2:
        raise ValueError(
            f"--target: column {name!r} has {len(classes)} classes ({_listed(classes)}); a "
            "logistic regression models two: make a column that is 1 for the class to "
            "model and 0 for the others")
    if positive is not None:
        chosen = positive.strip()
        if chosen not in classes:
            raise ValueError(f"--positive: {positive!r} is not a class of the target {name!r} "
                             f"({_listed(classes)})")
        why = "--positive"
    else:
        conventional = _CONVENTIONAL.get(tuple(sorted(c.lower() for c in classes)))
        if conventional is not None:
            chosen = next(c for c in classes if c.lower() == conventional)
            why = "the conventional one"
        else:
            chosen, why = classes[1], "the second of the two in sorted order"
    other = classes[1 - classes.index(chosen)]
    return (text == chosen).astype(np.float64), (
        f"target {name!r}: {chosen!r} is 1 (the positive class: {why}), {other!r} is 0"
        + ("" if positive is not None
           else f"; --positive {shlex.quote(other)} chooses the other"))


def _numeric_target(path: Path, column, values, name: str, where, positive):
    """:func:`_target` of a column of numbers ``values`` ``(n,)`` float64."""
    import numpy as np

    if not np.isfinite(values).all():
        _numbers(path, column.to_frame(), [name], where)  # names the first cell not finite
    distinct = np.unique(values)
    if positive is not None:
        try:
            p = float(positive)
        except ValueError:
            p = math.nan
        if p not in distinct:
            raise ValueError(f"--positive: {positive!r} is not a value of the target {name!r}, "
                             f"which holds the numbers {_listed([f'{c:g}' for c in distinct])}")
    elif ((values != 0) & (values != 1)).any():
        i = int(np.argmax((values != 0) & (values != 1)))
        message = f"--target: column {name!r} must hold 0 or 1, got {values[i]:g} on {where(i)}"
        if len(distinct) == 2:
            message += (f"; its two values are {distinct[0]:g} and {distinct[1]:g}: pass "
                        "--positive VALUE to say which is class 1")
        elif len(distinct) > 2:
            message += (f"; it holds {len(distinct)} distinct values, and a logistic regression "
                        "models two classes")
        raise ValueError(message)
    if len(distinct) > 2:
        raise ValueError(f"--target: column {name!r} has {len(distinct)} distinct values "
                         f"({_listed([f'{c:g}' for c in distinct])}); a logistic regression "
                         "models two classes")
    if len(distinct) == 1:
        raise ValueError(
            f"--target: column {name!r} holds only {distinct[0]:g}s; a logistic regression needs "
            "rows of both classes (0 and 1)"
        )
    if positive is None:
        return values, None
    other = distinct[1] if p == distinct[0] else distinct[0]
    return ((values == p).astype(np.float64),
            f"target {name!r}: {p:g} is 1 (the positive class: --positive), {other:g} is 0")


def read_csv(path, target: str, columns=None, **options):
    """``(X (n, d), y (n,), names)`` from a CSV file (a header row, then numeric cells) or a
    Parquet file (``.parquet``, ``.pq``), read by pandas; ``options`` as :func:`read_data`.

    Blank lines are skipped (line numbers in messages stay the file's) and a byte-order mark
    is dropped. Raises ``ValueError`` naming the file, line and column of the first problem: a
    missing or empty file, text that does not decode, duplicate or unnamed header columns, a
    missing column, missing values (each column's count), a cell that is not a finite number,
    a row longer than the header, a target that is not two classes.
    """
    data = read_data(path, target, columns, **options)
    return data.X, data.y, data.names


# The columns `fit` reads besides the target and the features: option -> what the column is.
ROLE_COLUMNS = {
    "--weights": "frequency weights", "--offset": "offset", "--groups": "cluster labels",
}


class Data(NamedTuple):
    """A data file as :func:`read_data` reads it."""

    X: Any  # (n, d) float64 features
    y: Any  # (n,) float64 labels, 0 or 1
    names: tuple  # the d feature names
    given: dict  # option of ROLE_COLUMNS -> (n,) its column
    notes: tuple  # what reading did that a summary does not show: rows left out, the positive class


def read_data(path, target: str, columns=None, roles=None, *, sep=None, encoding=None,
              dropna: bool = False, positive=None) -> Data:
    """The features, the target and the columns ``roles`` names (``{option: column}``, the
    options of :data:`ROLE_COLUMNS`, which are then no features) of a CSV or Parquet file.

    Args:
      path: the file; ``.parquet`` or ``.pq`` is Parquet, anything else CSV.
      target: the outcome column: 0/1 numbers, or two classes of text (:func:`_target`).
      columns: the feature columns (default: every other column).
      roles: ``{option: column}``: ``--weights`` (float64, nonnegative, not all zero),
        ``--offset`` (float64), ``--groups`` (int64 codes of the labels: any text, equal cells
        one cluster).
      sep: the CSV separator; None detects it among comma, semicolon, tab and ``|`` from the
        first lines.
      encoding: the CSV text's codec; None reads UTF-8 (or the UTF-16 / UTF-32 that a
        byte-order mark names). A UTF-8 byte-order mark is dropped.
      dropna: leave out the rows with a missing value (an empty or NA cell) in a column the
        model uses, instead of refusing them; a note says how many.
      positive: the target's value that is class 1 (``--positive``).

    Returns :class:`Data`. Raises ``ValueError`` naming the option, the file and where.
    """
    import numpy as np

    path = Path(path)
    roles = {opt: col for opt, col in (roles or {}).items() if col is not None}
    header, cells, where, used_sep = _table(path, sep, encoding)
    _check_header(path, header, cells, target, used_sep)
    taken = _role_columns(path, header, target, roles)
    columns = _feature_columns(path, header, target, taken, columns)
    model = columns + [target] + [roles[o] for o in ROLE_COLUMNS if o in roles]
    at = {c: header.index(c) for c in model}
    cells, where, notes = _complete_rows(path, cells, where, model, at, dropna)
    numeric = columns + [roles[o] for o in ("--weights", "--offset") if o in roles]
    values = _numbers(path, cells.iloc[:, [at[c] for c in numeric]], numeric, where)
    y, note = _target(path, cells.iloc[:, at[target]], target, where, positive)
    if note is not None:
        notes.append(note)
    d = len(columns)
    numeric_options = [o for o in ("--weights", "--offset") if o in roles]
    given = dict(zip(numeric_options, values[:, d:].T, strict=True))
    if "--weights" in given:
        w, col = given["--weights"], roles["--weights"]
        if (w < 0).any():
            i = int(np.argmax(w < 0))
            raise ValueError(
                f"--weights: column {col!r} must be nonnegative, got {w[i]:g} on {where(i)}")
        if not w.any():
            raise ValueError(f"--weights: column {col!r} is 0 on every row")
    if "--groups" in roles:
        given["--groups"] = _labels(cells.iloc[:, at[roles["--groups"]]])
    return Data(values[:, :d], y, tuple(columns), given, tuple(notes))


def _check_header(path: Path, header, cells, target: str, used_sep) -> None:
    """Raise ``ValueError`` for duplicate or unnamed header columns, no data rows, or no
    column ``target`` (with a hint when the header reads as one column of another
    separator)."""
    seen: dict[str, list[int]] = {}
    for k, name in enumerate(header):
        seen.setdefault(name, []).append(k + 1)
    twice = {name: at for name, at in seen.items() if len(at) > 1}
    if twice:
        listed = "; ".join(f"{name!r} (columns {', '.join(map(str, at))})"
                           for name, at in twice.items())
        raise ValueError(f"DATA: {path} has duplicate column names: {listed}; rename them")
    if "" in seen:
        raise ValueError(f"DATA: {path}: column {seen[''][0]} of the header has no name")
    if not len(cells):
        raise ValueError(f"DATA: {path} has a header but no data rows")
    if target not in header:
        hint = ""
        others = [s for s in _SEPARATORS if s != used_sep and len(header) == 1 and s in header[0]]
        if others:
            spelled = "tab" if others[0] == chr(9) else shlex.quote(others[0])
            hint = (f"; the header reads as one column with the separator {used_sep!r}: is it "
                    f"{others[0]!r} (--sep {spelled})?")
        raise ValueError(
            f"--target: no column {target!r} in {path} (columns: {', '.join(header)}){hint}")


def _role_columns(path: Path, header, target: str, roles: dict) -> dict[str, str]:
    """``{column: option}`` of the columns ``roles`` names, each checked to exist, not to be
    the target and to have one role."""
    taken: dict[str, str] = {}
    for opt, col in roles.items():
        if col not in header:
            raise ValueError(f"{opt}: no column {col!r} in {path} (columns: {', '.join(header)})")
        if col == target:
            raise ValueError(
                f"{opt}: {col!r} is the target; it cannot also be the {ROLE_COLUMNS[opt]}")
        if col in taken:
            raise ValueError(
                f"{opt}: {col!r} is already the {ROLE_COLUMNS[taken[col]]} ({taken[col]})")
        taken[col] = opt
    return taken


def _feature_columns(path: Path, header, target: str, taken: dict, columns) -> list[str]:
    """The feature columns: ``columns`` (``--columns``) checked, or every column that is
    neither the target nor a role's."""
    if columns is None:
        columns = [h for h in header if h != target and h not in taken]
    columns = list(columns)
    missing = [c for c in columns if c not in header]
    if missing:
        listed = ", ".join(repr(c) for c in missing)
        raise ValueError(f"--columns: no column{'s' if len(missing) > 1 else ''} {listed} "
                         f"in {path} (columns: {', '.join(header)})")
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:
        raise ValueError(f"--columns: {', '.join(repr(c) for c in repeated)} named more than once")
    if target in columns:
        raise ValueError(f"--columns: the target {target!r} cannot also be a feature")
    used = [c for c in columns if c in taken]
    if used:
        raise ValueError(f"--columns: {used[0]!r} is the {ROLE_COLUMNS[taken[used[0]]]} "
                         f"({taken[used[0]]}); it cannot also be a feature")
    if not columns:
        raise ValueError(f"DATA: {path} has no feature columns besides the target {target!r}")
    return columns


def _complete_rows(path: Path, cells, where, model: list, at: dict, dropna: bool):
    """``(cells, where, notes)``: the rows with no missing value in the ``model``'s columns
    (``at``: column -> position), when ``dropna``, with ``where`` renumbered and a note;
    without ``dropna`` a missing value raises ``ValueError`` with each column's count."""
    import numpy as np

    notes = []
    gaps = np.column_stack([_missing(cells.iloc[:, at[c]]) for c in model])
    if gaps.any():
        n, incomplete = len(cells), gaps.any(axis=1)
        counts = [(c, int(gaps[:, j].sum()), int(np.argmax(gaps[:, j])))
                  for j, c in enumerate(model) if gaps[:, j].any()]
        if not dropna:
            listed = ", ".join(
                f"{c!r} on {k} row{'s' if k > 1 else ''} ({'first on ' if k > 1 else ''}{where(i)})"
                for c, k, i in counts)
            raise ValueError(
                f"DATA: {path} has missing values (empty or NA cells): {listed}; fill them in, or "
                f"pass --dropna to leave out the {int(incomplete.sum())} incomplete row"
                f"{'s' if incomplete.sum() > 1 else ''}")
        if incomplete.all():
            raise ValueError(f"--dropna: every row of {path} has a missing value in a column the "
                             f"model uses ({', '.join(repr(c) for c, _, _ in counts)})")
        rows = np.flatnonzero(~incomplete)
        cells = cells.iloc[rows]
        where = (lambda old: lambda i: old(rows[i]))(where)
        notes.append(
            f"{int(incomplete.sum())} of {n} rows left out for missing values (--dropna): "
            + ", ".join(f"{c!r} on {k}" for c, k, _ in counts))
    return cells, where, notes


def _labels(column):
    """``(n,)`` int64 codes of the cluster labels in ``column`` (cells equal as text, spaces
    stripped, are one cluster)."""
    import numpy as np
    import pandas as pd

    codes, _ = pd.factorize(column.astype("string").str.strip().to_numpy(object))
    return codes.astype(np.int64)
