"""Command line.

``jaxlogreg study``
    The main job: the seed coefficient-recovery study. One synthetic data set (the built-in
    model of :mod:`jaxlogreg._datasets`, or a generative model from a JSON ``--config``),
    10,000 train splits by default, every split refitted and evaluated on its held-out rows;
    prints the coefficient table and a plain-language reading, and writes ``summary.json``,
    ``replicates.npz``, ``report.md`` and plots to ``--out``.
    A run into an ``--out`` that holds the same study (the same settings) reads it back when
    it is finished and continues it when it is not (``--resume`` says so explicitly); one
    that holds another study is refused, naming the settings that differ (``--overwrite``
    replaces it). While it runs, ``--out`` is locked against other runs.
``jaxlogreg fit DATA.csv --target COL``
    Fits a CSV file (header row, numeric cells) or a Parquet file (``.parquet``, ``.pq``),
    read by pandas (``pip install "jaxlogreg[cli]"``; Parquet needs pyarrow too), and prints
    a statsmodels-style summary, with bootstrap percentile and BCa intervals when asked
    (``--bootstrap N``). A CSV file's separator is detected among comma, semicolon, tab and
    ``|`` (``--sep`` gives it) and its text is UTF-8 unless ``--encoding`` says otherwise (a
    byte-order mark is recognised). Missing values (empty or NA cells) in the columns the
    model uses are refused, counted per column, unless ``--dropna`` leaves their rows out.
    The target is 0/1, or two classes of text: 1 is ``--positive``'s value, else yes, true,
    y, t or positive against no, false, n, f or negative (any case), else the second of the
    two in sorted order; a note after the summary names it. The model is :func:`jaxlogreg.fit`'s: ``--link``, ``--alpha`` and
    ``--l1-ratio`` (a penalty), ``--firth`` (Firth's penalised likelihood, also for every
    bootstrap resample), and columns of the file as ``--weights`` (frequency weights),
    ``--offset`` and ``--groups`` (cluster labels of ``--cov-type cluster``), which are then
    not features. A fit that does not converge (separated classes, collinear or constant
    columns, ...) prints its summary, then a line on stderr naming the reason, the columns
    involved where they can be found and the options that may fit it, and exits with status 5.

Errors are one line on stderr, never a traceback, and the exit status says what kind:

====  =====================================================================================
0     done
2     usage or bad input: a bad argument, an unreadable or invalid data file or ``--config``
      (text that does not decode, duplicate column names, missing values without
      ``--dropna``, a target that is not two classes), an ``--out`` holding another study
3     study files that cannot be used: a damaged or foreign chunk, a damaged ``study.json``,
      an ``--out`` in use by another run (the message names the file and what to do)
4     the operating system refused: a full disk, no permission, a read-only folder, a file
      where a folder should be (the message names the file)
5     the model could not be fitted (``fit``): the fit did not converge, for example because
      the classes are separated or columns are collinear; the summary is printed, but its
      numbers are not estimates
130   interrupted (Ctrl-C); the chunks a study finished are kept, and the same command
      continues from them
====  =====================================================================================

Both commands keep the programs they compile in JAX's persistent compilation cache
(``--compile-cache DIR``; default ``$JAX_COMPILATION_CACHE_DIR``, else
``$XDG_CACHE_HOME/jaxlogreg/jax`` or ``~/.cache/jaxlogreg/jax``), so that a repeat run skips
most of its compilation; ``--no-compile-cache`` turns it off. The cache is a setting of the
whole process: :func:`main` turns it on for the rest of the process it runs in.

A ``--config`` file for ``study`` holds a generative model for :func:`jaxlogreg.simulate`::

    {"n": 1000, "coef": [0.5, -0.25, 0.0], "positive_rate": 0.2,
     "features": "correlated", "correlation": 0.5, "names": ["a", "b", "c"]}

(``intercept`` instead of ``positive_rate``; ``features`` ``"gaussian"`` or
``"correlated"``; ``link`` as :func:`jaxlogreg.fit`).
"""

from __future__ import annotations

import argparse
import codecs
import csv
import errno
import json
import math
import re
import shlex
import statistics
import sys
import zipfile
from pathlib import Path
from typing import Any, NamedTuple

from ._io import StorageError

SCHEMES = ("splits", "bootstrap", "kfold", "subsample", "bayesian")
EXIT_USAGE, EXIT_STORAGE, EXIT_OS, EXIT_FIT, EXIT_INTERRUPTED = 2, 3, 4, 5, 130
COV_TYPES = ("nonrobust", "HC0", "HC1")
# `fit` also takes cluster-robust standard errors, over the clusters of --groups.
FIT_COV_TYPES = COV_TYPES + ("cluster",)
# The names `--link` takes: jaxlogreg._links.LINKS, written out for the same reason.
LINKS = ("logit", "probit", "cloglog", "cauchit")
# The names `--solver` takes: "auto" and jaxlogreg.solvers.names(), written out so that the
# parser needs no JAX (a test checks they agree).
SOLVERS = ("auto", "newton", "prox_newton", "lbfgs", "sgd", "adam", "firth")
# Percentile and BCa 95% intervals read the resamples' 2.5% and 97.5% tails, which take far
# more resamples than a standard error does: Efron and Tibshirani (An Introduction to the
# Bootstrap, 1993) find 25-200 enough for a standard error and give about 1000 as a rough
# minimum for percentile and BCa intervals.
_MIN_INTERVAL_RESAMPLES = 1000
# Above this share of resamples left out as not converged (separated, mostly), the intervals
# describe the resamples that happen to have finite estimates, not all of them: a warning.
_MAX_DROPPED_SHARE = 0.01
_CONFIG_KEYS = {"n", "coef", "intercept", "positive_rate", "features", "correlation", "link", "names"}


# --------------------------------------------------------------------------------------------
# study
# --------------------------------------------------------------------------------------------


def _scheme(args, key, num: int):
    from . import _resample

    if args.scheme == "splits":
        return _resample.Splits(key, num, args.train_fraction, stratify=args.stratify)
    if args.scheme == "bootstrap":
        return _resample.Bootstrap(key, num)
    if args.scheme == "kfold":
        return _resample.KFold(key, args.folds, repeats=num // args.folds, stratify=args.stratify)
    if args.scheme == "subsample":
        return _resample.Subsample(key, num, args.train_fraction)
    return _resample.BayesianBootstrap(key, num)


def _load_config(path: str) -> dict:
    try:
        cfg = json.loads(Path(path).read_text())
    except OSError as e:
        raise ValueError(f"--config: cannot read {path}: {e.strerror}") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"--config: {path} is not valid JSON ({e})") from None
    if not isinstance(cfg, dict):
        raise ValueError(f"--config: {path} must hold a JSON object")
    unknown = sorted(set(cfg) - _CONFIG_KEYS)
    if unknown:
        raise ValueError(f"--config: unknown keys {unknown}; expected some of {sorted(_CONFIG_KEYS)}")
    if "coef" not in cfg:
        raise ValueError("--config: 'coef' (the true slopes) is required")
    return cfg


def _start_jax(args, x64: bool):
    """JAX, imported once the cheap checks of the arguments and files have passed (so that
    they answer at once): 64-bit types when ``x64``, and the persistent compilation cache
    unless ``--no-compile-cache`` (a setting of the whole process, made before anything
    compiles)."""
    import jax

    if x64:
        jax.config.update("jax_enable_x64", True)
    if not getattr(args, "no_compile_cache", True):
        from ._cache import enable_compilation_cache

        enable_compilation_cache(getattr(args, "compile_cache", None))
    return jax


def study(args, out=None) -> "object":
    """Run ``jaxlogreg study`` with parsed arguments; returns the StudyResult."""
    cfg = _load_config(args.config) if args.config else None  # read before JAX starts
    jax = _start_jax(args, x64=not args.float32)
    import jax.numpy as jnp
    import numpy as np

    from . import _datasets, _simulate
    from ._study import run_study

    out = sys.stdout if out is None else out
    dtype = jnp.float32 if args.float32 else jnp.float64
    key = jax.random.key(args.seed)
    data_key, scheme_key = jax.random.split(key)
    num = args.replicates
    if args.scheme == "kfold":
        num = (num // args.folds) * args.folds
    recorded: dict[str, object] = {}
    if cfg is not None:
        n = int(cfg.get("n", args.n))
        sim = dict(
            coef=cfg["coef"], intercept=cfg.get("intercept"), positive_rate=cfg.get("positive_rate"),
            features=cfg.get("features", "gaussian"), correlation=cfg.get("correlation", 0.0),
            link=cfg.get("link", "logit"),
        )
        first = _simulate.simulate(data_key, n, dtype=dtype, **sim)
        true = np.concatenate([[float(first.intercept)], np.asarray(cfg["coef"], np.float64)])
        d = len(cfg["coef"])
        names = ("intercept",) + tuple(cfg.get("names") or [f"x{j + 1}" for j in range(d)])
        recorded = {"model": cfg}
        link = sim["link"]
        if args.fresh:
            fixed = dict(sim, intercept=float(first.intercept), positive_rate=None)

            def generate(b):
                s = _simulate.simulate(jax.random.fold_in(data_key, b), n, dtype=dtype, **fixed)
                return s.X, s.y

            X = y = None
        else:
            X, y = first.X, first.y
    else:
        n = args.n
        names = ("intercept",) + _datasets.SEED_FEATURES
        true = np.asarray(_datasets.SEED_PARAMS, np.float64)
        recorded = {"model": "seed"}
        link = "logit"
        if args.fresh:
            def generate(b):
                Xb, yb = _datasets.seed_sample(jax.random.fold_in(data_key, b), n)
                return Xb.astype(dtype), yb.astype(dtype)

            X = y = None
        else:
            data = _datasets.make_seed_data(n=n, seed=args.seed)
            X, y = jnp.asarray(data.X, dtype), jnp.asarray(data.y, dtype)
    if link != "logit":
        raise ValueError("--config: only the logit link can be fitted by the study for now")
    scheme = _scheme(args, scheme_key, num)
    result = run_study(
        X, y, true, scheme=scheme, generate=generate if args.fresh else None,
        num=num if args.fresh else None, names=names, solver=args.solver,
        cov_type=args.cov_type, batch=args.batch, out=args.out, resume=args.resume,
        overwrite=args.overwrite, progress=not args.quiet,
        config=dict(recorded, seed=args.seed, cli_scheme=args.scheme),
    )
    s = result.summary
    source = "a fresh data set per replicate" if args.fresh else f"one data set of n = {n}"
    print(
        f"jaxlogreg study: {s['replicates']} replicates ({args.scheme}) of {source}, "
        f"{np.dtype(dtype).name}; {s['used']} used (converged, invertible information)",
        file=out,
    )
    counts = {k: v for k, v in s["status_counts"].items() if v}
    print(f"statuses: {counts}", file=out)
    print("", file=out)
    print(result.table(), file=out)
    print("", file=out)
    print(
        "flip: share of replicates whose estimate has the wrong sign; pred.: the share "
        "predicted from the standard error; cover: coverage of the true value by the 95% "
        "Wald interval.",
        file=out,
    )
    print("", file=out)
    print(result.reading(), file=out)
    print("", file=out)
    print(f"outputs: {args.out}/summary.json, replicates.npz, report.md and plots", file=out)
    return result


# --------------------------------------------------------------------------------------------
# fit DATA.csv
# --------------------------------------------------------------------------------------------


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
        for option, value, what in (("--sep", sep, "separator"), ("--encoding", encoding, "text encoding")):
            if value is not None:
                raise ValueError(f"{option}: {path} is a Parquet file, which has no {what}; drop {option}")
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
            + ("" if positive is not None else f"; --positive {shlex.quote(other)} chooses the other"))
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
            message += (f"; its two values are {distinct[0]:g} and {distinct[1]:g}: pass --positive "
                        "VALUE to say which is class 1")
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
ROLE_COLUMNS = {"--weights": "frequency weights", "--offset": "offset", "--groups": "cluster labels"}


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
    seen: dict[str, list[int]] = {}
    for k, name in enumerate(header):
        seen.setdefault(name, []).append(k + 1)
    twice = {name: at for name, at in seen.items() if len(at) > 1}
    if twice:
        listed = "; ".join(f"{name!r} (columns {', '.join(map(str, at))})" for name, at in twice.items())
        raise ValueError(f"DATA: {path} has duplicate column names: {listed}; rename them")
    if "" in seen:
        raise ValueError(f"DATA: {path}: column {seen[''][0]} of the header has no name")
    if not len(cells):
        raise ValueError(f"DATA: {path} has a header but no data rows")
    if target not in header:
        hint = ""
        others = [s for s in _SEPARATORS if s != used_sep and len(header) == 1 and s in header[0]]
        if others:
            hint = (f"; the header reads as one column with the separator {used_sep!r}: is it "
                    f"{others[0]!r} (--sep {'tab' if others[0] == chr(9) else shlex.quote(others[0])})?")
        raise ValueError(f"--target: no column {target!r} in {path} (columns: {', '.join(header)}){hint}")
    taken: dict[str, str] = {}
    for opt, col in roles.items():
        if col not in header:
            raise ValueError(f"{opt}: no column {col!r} in {path} (columns: {', '.join(header)})")
        if col == target:
            raise ValueError(f"{opt}: {col!r} is the target; it cannot also be the {ROLE_COLUMNS[opt]}")
        if col in taken:
            raise ValueError(f"{opt}: {col!r} is already the {ROLE_COLUMNS[taken[col]]} ({taken[col]})")
        taken[col] = opt
    if columns is None:
        columns = [h for h in header if h != target and h not in taken]
    columns = list(columns)
    missing = [c for c in columns if c not in header]
    if missing:
        listed = ", ".join(repr(c) for c in missing)
        raise ValueError(f"--columns: no column{'s' if len(missing) > 1 else ''} {listed} in {path} "
                         f"(columns: {', '.join(header)})")
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
    model = columns + [target] + [roles[o] for o in ROLE_COLUMNS if o in roles]
    at = {c: header.index(c) for c in model}
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
    numeric = columns + [roles[o] for o in ("--weights", "--offset") if o in roles]
    values = _numbers(path, cells.iloc[:, [at[c] for c in numeric]], numeric, where)
    y, note = _target(path, cells.iloc[:, at[target]], target, where, positive)
    if note is not None:
        notes.append(note)
    d = len(columns)
    given = dict(zip([o for o in ("--weights", "--offset") if o in roles], values[:, d:].T))
    if "--weights" in given:
        w, col = given["--weights"], roles["--weights"]
        if (w < 0).any():
            i = int(np.argmax(w < 0))
            raise ValueError(f"--weights: column {col!r} must be nonnegative, got {w[i]:g} on {where(i)}")
        if not w.any():
            raise ValueError(f"--weights: column {col!r} is 0 on every row")
    if "--groups" in roles:
        given["--groups"] = _labels(cells.iloc[:, at[roles["--groups"]]])
    return Data(values[:, :d], y, tuple(columns), given, tuple(notes))


def _labels(column):
    """``(n,)`` int64 codes of the cluster labels in ``column`` (cells equal as text, spaces
    stripped, are one cluster)."""
    import numpy as np
    import pandas as pd

    codes, _ = pd.factorize(column.astype("string").str.strip().to_numpy(object))
    return codes.astype(np.int64)


def bca_interval(boot, estimate, jackknife=None, level: float = 0.95, *, influence=None):
    """Bias-corrected and accelerated bootstrap interval (Efron 1987), per parameter.

    ``boot (B, k)`` bootstrap estimates and ``estimate (k,)`` the full-data estimate; the
    acceleration comes from exactly one of ``influence (n, k)``, the empirical influence
    values ``U_i`` of the observations (for example :func:`jaxlogreg.influence`, the
    infinitesimal jackknife), or ``jackknife (n, k)``, leave-one-out estimates, for which
    ``U_i = mean(jackknife) - jackknife_i`` (the jackknife's influence values, up to a factor
    ``n - 1`` that cancels). With::

        z0 = Phi^-1(#{boot < estimate} / B + #{boot == estimate} / (2 B)),
        a  = sum U_c^3 / (6 (sum U_c^2)^(3/2)),   U_c = U - mean(U),

    (Efron, "Better bootstrap confidence intervals", JASA 1987; Davison and Hinkley,
    "Bootstrap Methods and their Application", 1997, sec. 5.3) and ``z = Phi^-1((1 -/+
    level) / 2)``, the interval's ends are the ``Phi(z0 + (z0 + z) / (1 - a (z0 + z)))``
    quantiles of ``boot``. Returns ``(k, 2)``.
    """
    import numpy as np

    if (jackknife is None) == (influence is None):
        raise ValueError("influence: give exactly one of influence= and jackknife=")
    boot, estimate = (np.asarray(a, np.float64) for a in (boot, estimate))
    values = np.asarray(influence if jackknife is None else jackknife, np.float64)
    if values.ndim != 2 or values.shape[1] != boot.shape[1]:
        raise ValueError(f"{'influence' if jackknife is None else 'jackknife'}: expected shape "
                         f"(n, {boot.shape[1]}), got {values.shape}")
    if jackknife is not None:
        values = values.mean(axis=0) - values
    accel = _acceleration(values)
    nd = statistics.NormalDist()
    B = boot.shape[0]
    out = np.empty((boot.shape[1], 2))
    for j in range(boot.shape[1]):
        share = (np.sum(boot[:, j] < estimate[j]) + 0.5 * np.sum(boot[:, j] == estimate[j])) / B
        share = min(max(share, 0.5 / B), 1 - 0.5 / B)
        z0 = nd.inv_cdf(share)
        for side, tail in enumerate(((1 - level) / 2, (1 + level) / 2)):
            z = nd.inv_cdf(tail)
            q = nd.cdf(z0 + (z0 + z) / (1 - accel[j] * (z0 + z)))
            out[j, side] = np.quantile(boot[:, j], q)
    return out


def _acceleration(values):
    """``(k,)`` BCa accelerations ``sum U_c^3 / (6 (sum U_c^2)^(3/2))`` of influence values
    ``(n, k)``, ``U_c`` centred per column (0 where every value is equal)."""
    import numpy as np

    centred = values - values.mean(axis=0)
    denom = 6.0 * np.sum(centred**2, axis=0) ** 1.5
    safe = np.where(denom > 0, denom, 1.0)
    return np.where(denom > 0, np.sum(centred**3, axis=0) / safe, 0.0)


def _singular_reason(X, labels, fit_intercept: bool) -> str:
    """Why the information matrix of the design ``[1, X]`` (``X`` alone without an
    intercept) is singular, naming columns: all zero, constant (with an intercept), or a
    set whose unit-scaled columns have a singular value below ``1e-8`` of the largest (a
    squared condition number past 1e16, the float64 information matrix's limit)."""
    import numpy as np

    n, d = X.shape
    if n < len(labels):
        return f"there are {n} rows for {len(labels)} parameters: a model needs more rows than parameters"
    parts = []
    skip = set()
    for j in range(d):
        column = X[:, j]
        if not column.any():
            parts.append(f"{labels[j + fit_intercept]!r} is all zero")
            skip.add(j)
        elif fit_intercept and np.all(column == column[0]):
            parts.append(f"{labels[j + 1]!r} is constant ({column[0]:g} on every row), as the "
                         "intercept already is")
            skip.add(j)
    keep = [j for j in range(d) if j not in skip]
    Z = np.column_stack(([np.ones(n)] if fit_intercept else []) + [X[:, j] for j in keep])
    names = ([labels[0]] if fit_intercept else []) + [labels[j + fit_intercept] for j in keep]
    scale = np.linalg.norm(Z, axis=0)
    _, s, Vt = np.linalg.svd(Z / scale, full_matrices=False)
    null = Vt[s < 1e-8 * s[0]]
    if len(null) == 1:
        # sum_j v_j Zs_j = 0 with Zs_j = Z_j / scale_j: write the column with the largest
        # weight as a combination of the others.
        u = null[0] / scale
        involved = np.flatnonzero(np.abs(null[0]) > 1e-6)
        k = int(involved[np.argmax(np.abs(null[0][involved]))])
        relation = ""
        for i in involved:
            if i != k:
                c = -u[i] / u[k]
                sign = ("-" if c < 0 else "") if not relation else (" - " if c < 0 else " + ")
                relation += f"{sign}{abs(c):.4g}*{names[i]}"
        parts.append(f"{', '.join(repr(names[j]) for j in involved)} are collinear "
                     f"({names[k]} = {relation})")
    elif len(null):
        involved = np.flatnonzero(np.abs(null).max(axis=0) > 1e-6)
        parts.append(f"{', '.join(repr(names[j]) for j in involved)} are collinear "
                     f"({len(null)} linear relations among them)")
    if not parts:
        return ("the design has full rank, but the information matrix became singular while "
                "iterating (fitted probabilities reaching 0 or 1: near-separation)")
    return "; ".join(parts)


def _separated_reason(params, X, labels, fit_intercept: bool) -> str:
    """The columns along which the coefficients ran off when the fit stopped: the largest
    contributions ``|coef_j| sd(x_j)`` to the linear predictor (at least a quarter of the
    largest), signs included."""
    import numpy as np

    coef = params[fit_intercept:]
    size = np.abs(coef) * X.std(axis=0)
    if not np.isfinite(size).all() or size.max() == 0:
        return "no column stands out in the direction the coefficients took"
    order = [j for j in np.argsort(-size, kind="stable") if size[j] >= 0.25 * size.max()]
    named = ", ".join(f"{labels[j + fit_intercept]!r} ({coef[j]:+.3g})" for j in order)
    return f"the coefficients ran off along {named} (their values when the fit stopped)"


def _remedies(status, args) -> str:
    """The options that may fit what this run could not (empty for other statuses)."""
    firth, alpha = getattr(args, "firth", False), getattr(args, "alpha", 0.0)
    penalty = "a larger --alpha" if alpha > 0 else "--alpha A (a ridge penalty, A > 0{})"
    if status.name == "SEPARATED":
        options = ["drop or merge the separating columns (--columns)"]
        if not firth and alpha == 0:
            options.append("--firth (Firth's penalised likelihood, finite under separation)")
        if not firth:
            options.append(penalty.format(""))
    elif status.name == "SINGULAR":
        options = ["drop the constant or collinear columns (--columns)"]
        if not firth:
            options.append(penalty.format(", identifies them"))
    else:
        return ""
    return "remedies: " + ", ".join(options[:-1]) + (" or " if len(options) > 1 else "") + options[-1]


def _failure(status, params, X, labels, fit_intercept: bool, args=None) -> str:
    """The one-line reason a fit that did not converge is not a result."""
    from . import Status

    if status == Status.SINGULAR:
        why = _singular_reason(X, labels, fit_intercept)
    elif status == Status.SEPARATED:
        why = ("the classes are separated, so no finite maximum-likelihood estimate exists; "
               + _separated_reason(params, X, labels, fit_intercept))
    else:
        why = status.message
    remedy = _remedies(status, args)
    return f"the model could not be fitted ({status.name}): {why}" + (f"; {remedy}" if remedy else "")


def _notes(inf) -> list[str]:
    """A line for each summary statistic that is not a finite number, saying why (the
    summary itself explains a Pseudo R-squ. of nan)."""
    import numpy as np

    from . import Status

    status = Status(int(inf.status))
    notes = []
    if status != Status.CONVERGED:
        notes.append("Log-Likelihood and Pseudo R-squ. are those of the coefficients where the "
                     "fit stopped, not of a maximum")
    if not np.isfinite(float(inf.llr_pvalue)):
        notes.append(
            "LLR p-value is nan: the likelihood-ratio test compares the maximised likelihood "
            f"with the null model's, and this fit reached no maximum ({status.name})"
            if status != Status.CONVERGED else
            "LLR p-value is nan: the likelihood ratio is not a finite number"
        )
    return notes


def _method_notes(args) -> list[str]:
    """What the summary's "Method: MLE" does not say about a penalised fit."""
    if args.firth:
        return ["the estimates maximise Firth's penalised likelihood, not the likelihood; "
                "standard errors, z and intervals are Wald's from the information at them "
                "(logistf's profile intervals: jaxlogreg.firth_profile)"]
    if args.alpha > 0:
        return [f"the estimates are penalised (--alpha {args.alpha:g}, --l1-ratio "
                f"{args.l1_ratio:g}) and shrunk towards 0; the standard errors are the "
                "likelihood's at them, which ignore the penalty"]
    return []


def fit_csv(args, out=None, err=None) -> dict:
    """Run ``jaxlogreg fit DATA.csv`` with parsed arguments; returns what it printed (and
    ``bse``, the standard errors). Warnings about the bootstrap go to ``err`` (default
    stderr). A fit that did not converge prints its summary and returns at once (no
    bootstrap), with ``failure``, the one-line reason (else None), for :func:`main` to report
    and exit with status 5."""
    columns = [c.strip() for c in args.columns.split(",")] if args.columns else None
    roles = {opt: getattr(args, opt[2:]) for opt in ROLE_COLUMNS}
    data = read_data(args.data, args.target, columns, roles,  # before JAX starts
                     sep=getattr(args, "sep", None), encoding=getattr(args, "encoding", None),
                     dropna=getattr(args, "dropna", False), positive=getattr(args, "positive", None))
    X, y, names, given = data.X, data.y, data.names, data.given
    jax = _start_jax(args, x64=True)
    import numpy as np

    from . import Status, fit, inference, influence, summary
    from . import _resample

    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    weights, offset, groups = (given.get(opt) for opt in ROLE_COLUMNS)
    model = dict(fit_intercept=not args.no_intercept, alpha=args.alpha, l1_ratio=args.l1_ratio,
                 link=args.link, firth=args.firth)
    res = fit(X, y, weights=weights, offset=offset, **model)
    inf = inference(res, X, y, weights=weights, offset=offset, cov_type=args.cov_type, groups=groups)
    labels = (("const",) if not args.no_intercept else ()) + names
    print(summary(inf, names=list(labels), yname=args.target), file=out)
    for note in list(data.notes) + _notes(inf) + _method_notes(args):
        print(f"Note: {note}.", file=out)
    status = Status(int(res.status))
    result = dict(names=labels, params=np.asarray(res.params), bse=np.asarray(inf.bse),
                  status=int(res.status), failure=None)
    if status != Status.CONVERGED:
        print(f"\nfit status: {status.name}: {status.message}", file=out)
        failure = _failure(status, np.asarray(res.params), X, labels, not args.no_intercept, args)
        if args.bootstrap:
            failure += "; no bootstrap was run: there is no estimate for its intervals to surround"
        result["failure"] = failure
        return result
    if args.bootstrap:
        B = args.bootstrap
        boot = fit(X, y, weights=_resample.Bootstrap(jax.random.key(args.seed), B), offset=offset,
                   **model)
        codes = np.asarray(boot.status)
        ok = codes == int(Status.CONVERGED)
        dropped = {k: v for k, v in Status.counts(codes[~ok]).items() if v}
        reasons = ", ".join(f"{k} {v}" for k, v in dropped.items())
        firth_hint = ("; --firth fits every resample by Firth's method, which gives separated "
                      "resamples finite estimates") if "SEPARATED" in dropped and not args.firth else ""
        if not ok.any():
            raise ValueError(
                f"--bootstrap: none of the {B} resamples converged ({reasons}), so there are no "
                "bootstrap intervals; separated data have no finite estimates (--alpha or "
                "--firth gives them some)"
            )
        params = np.asarray(boot.params)[ok]
        # The infinitesimal jackknife: one linear solve per observation with the fit's
        # information matrix, instead of n leave-one-out refits (asymptotically equal). For a
        # Firth fit these are the likelihood's influence values at its estimate: Firth's
        # penalty is O(1) against the likelihood's O(n), so they agree to first order.
        U = np.asarray(influence(res, X, y, offset=offset, alpha=args.alpha, l1_ratio=args.l1_ratio))
        lo, hi = np.percentile(params, [2.5, 97.5], axis=0)
        bca = bca_interval(params, np.asarray(res.params), influence=U)
        n_ok = int(ok.sum())
        if n_ok < _MIN_INTERVAL_RESAMPLES:
            print(
                f"jaxlogreg fit: warning: the 95% intervals rest on {n_ok} converged resamples; "
                f"their 2.5% and 97.5% tails need about {_MIN_INTERVAL_RESAMPLES} or more to be "
                f"stable (--bootstrap {_MIN_INTERVAL_RESAMPLES} or more)",
                file=err,
            )
        if B - n_ok > _MAX_DROPPED_SHARE * B:
            print(
                f"jaxlogreg fit: warning: {B - n_ok} of {B} resamples ({(B - n_ok) / B:.1%}) did "
                f"not converge ({reasons}) and are left out; they are not a random subset (a "
                "separated resample has no finite estimate: it belongs to the far tail), so "
                f"the intervals may be too narrow{firth_hint}",
                file=err,
            )
        print("", file=out)
        print(
            f"Bootstrap ({B} resamples, {n_ok} converged"
            + (f", {B - n_ok} left out: {reasons}" if dropped else "")
            + "; BCa acceleration from the empirical influence values):",
            file=out,
        )
        width = max(len(s) for s in labels)
        print(f"{'':{width}s} {'estimate':>10s} {'boot SD':>9s} {'percentile 95%':>23s} {'BCa 95%':>23s}", file=out)
        sd = params.std(axis=0, ddof=1) if n_ok > 1 else np.full(params.shape[1], np.nan)
        for j, name in enumerate(labels):
            print(
                f"{name:{width}s} {float(res.params[j]):10.4f} {sd[j]:9.4f} "
                f"[{lo[j]:9.4f}, {hi[j]:9.4f}] [{bca[j, 0]:9.4f}, {bca[j, 1]:9.4f}]",
                file=out,
            )
        result.update(boot_params=params, percentile=np.stack([lo, hi], axis=1), bca=bca,
                      dropped=B - n_ok)
    return result


# --------------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------------


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("jaxlogreg")
    except PackageNotFoundError:
        return "(not installed: version unknown)"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jaxlogreg", description="Batched logistic regression in JAX.")
    parser.add_argument("--version", action="version", version=f"jaxlogreg {_version()}")
    common = argparse.ArgumentParser(add_help=False)
    cache = common.add_mutually_exclusive_group()
    cache.add_argument("--compile-cache", metavar="DIR", default=None,
                       help="keep compiled programs here for later runs "
                            "($JAX_COMPILATION_CACHE_DIR, else ~/.cache/jaxlogreg/jax)")
    cache.add_argument("--no-compile-cache", action="store_true",
                       help="compile everything afresh and keep nothing")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser(
        "study", parents=[common], help="the seed coefficient-recovery study (the main job)",
        description="Refit one synthetic data set (the built-in seed model, or --config) on "
                    "many resamples, evaluate every refit on its held-out rows, and report how "
                    "well the coefficients are recovered: a table and a plain-language reading "
                    "on stdout; summary.json, replicates.npz, report.md and plots in --out. A "
                    "run into an --out holding the same settings continues it.",
    )
    p.add_argument("--replicates", type=int, default=10_000, help="replicates (10000)")
    p.add_argument("--scheme", choices=SCHEMES, default="splits", help="resampling scheme (splits)")
    p.add_argument("--train-fraction", type=float, default=0.65, help="training share of splits and subsamples (0.65)")
    p.add_argument("--folds", type=int, default=5, help="folds of --scheme kfold (5)")
    p.add_argument("--stratify", action="store_true", help="stratify splits and folds by class")
    p.add_argument("--fresh", action="store_true", help="a fresh data set per replicate instead of resampling one")
    p.add_argument("--solver", choices=SOLVERS, default="newton", help="solver (newton)")
    p.add_argument("--cov-type", choices=COV_TYPES, default="nonrobust", help="standard errors (nonrobust)")
    p.add_argument("--n", type=int, default=1000, help="rows of the data set (1000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the data and the resamples (0)")
    p.add_argument("--config", help="JSON file with another generative model (see jaxlogreg.cli)")
    p.add_argument("--float32", action="store_true", help="compute in float32")
    p.add_argument("--batch", type=int, default=None, help="replicates per chunk written")
    p.add_argument("--out", default="jaxlogreg-study", help="output directory (jaxlogreg-study)")
    again = p.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true",
                       help="continue the study in --out (what a run with its settings does anyway)")
    again.add_argument("--overwrite", action="store_true",
                       help="replace a study with other settings in --out")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    f = sub.add_parser(
        "fit", parents=[common], help="fit a CSV or Parquet file and print a summary",
        description="Fit a logistic regression of the column --target (0/1, or two classes "
                    "such as yes/no) on the other numeric columns (or --columns) of a CSV file "
                    "with a header row, or of a Parquet file, and print a statsmodels-style "
                    "summary; --bootstrap adds percentile "
                    "and BCa intervals. Reading needs pandas (pip install \"jaxlogreg[cli]\"). "
                    "Exits with status 5 when the model cannot be fitted (separated classes, "
                    "collinear or constant columns), naming the reason on stderr.",
    )
    f.add_argument("data", help="CSV file (a header row, then numeric cells) or .parquet file")
    f.add_argument("--target", required=True,
                   help="the outcome column: 0/1, or two classes of text such as yes/no")
    f.add_argument("--columns", help="comma-separated feature columns (default: all others)")
    f.add_argument("--sep", type=_separator, metavar="SEP",
                   help="field separator of a CSV file: one character, or tab (default: "
                        "detected among comma, semicolon, tab and | from the first lines)")
    f.add_argument("--encoding", type=_encoding_name, metavar="ENC",
                   help="text encoding of a CSV file, e.g. latin-1, cp1252, utf-16 (default: "
                        "UTF-8, or the UTF-16/32 a byte-order mark names)")
    f.add_argument("--dropna", action="store_true",
                   help="leave out rows with a missing value (an empty or NA cell) in a column "
                        "the model uses, and say how many (default: refuse them)")
    f.add_argument("--positive", metavar="VALUE",
                   help="the target's value that is class 1 (default: 1 of 0/1; of two text "
                        "values, yes/true/y/t/positive against no/false/n/f/negative, else the "
                        "second in sorted order)")
    f.add_argument("--no-intercept", action="store_true", help="fit without an intercept")
    f.add_argument("--weights", metavar="COL", help="column of frequency weights (not a feature)")
    f.add_argument("--offset", metavar="COL", help="column added to the linear predictor (not a feature)")
    f.add_argument("--link", choices=LINKS, default="logit", help="link function (logit)")
    f.add_argument("--firth", action="store_true",
                   help="Firth's penalised likelihood: finite estimates under separation (logit)")
    f.add_argument("--alpha", type=float, default=0.0, metavar="A",
                   help="penalty strength on the slopes (0: none)")
    f.add_argument("--l1-ratio", type=float, default=0.0, metavar="R",
                   help="share of the L1 term in the penalty, 0 (ridge) to 1 (lasso) (0)")
    f.add_argument("--cov-type", choices=FIT_COV_TYPES, default="nonrobust",
                   help="standard errors (nonrobust); cluster needs --groups")
    f.add_argument("--groups", metavar="COL", help="column of cluster labels for --cov-type cluster")
    f.add_argument("--bootstrap", type=int, default=0, help="bootstrap resamples for percentile and BCa intervals")
    f.add_argument("--seed", type=int, default=0, help="seed of the bootstrap (0)")
    return parser


def _check_fit_args(parser: argparse.ArgumentParser, args) -> None:
    """The combinations of ``fit``'s options that cannot work, refused before the file is
    read (argparse's error: status 2)."""
    if args.bootstrap < 0 or args.bootstrap == 1:
        parser.error("--bootstrap: need 0 (none) or at least 2 resamples")
    if not (math.isfinite(args.alpha) and args.alpha >= 0):
        parser.error(f"--alpha: need a finite number >= 0, got {args.alpha:g}")
    if not 0 <= args.l1_ratio <= 1:
        parser.error(f"--l1-ratio: need a number in [0, 1], got {args.l1_ratio:g}")
    if args.l1_ratio > 0 and args.alpha == 0:
        parser.error("--l1-ratio: mixes the penalty of --alpha, which is 0 (give --alpha A > 0)")
    if args.firth and args.alpha > 0:
        parser.error("--firth: Firth's penalised likelihood takes no other penalty (drop --alpha)")
    if args.firth and args.link != "logit":
        parser.error(f"--firth: Firth's method is for the logit link, got --link {args.link}")
    if (args.cov_type == "cluster") != (args.groups is not None):
        parser.error("--cov-type cluster needs --groups COL (the cluster labels)"
                     if args.groups is None else
                     "--groups: the clusters are used by --cov-type cluster only; add it")
    if args.bootstrap and args.weights is not None:
        parser.error("--bootstrap: resamples rows, but with --weights a row stands for several "
                     "observations; not supported together")
    if args.bootstrap and args.groups is not None:
        parser.error("--bootstrap: resamples rows, not the clusters of --groups; not supported "
                     "together")


def main(argv=None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); returns the exit
    status (module docstring). Argument errors exit through argparse (status 2)."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "study":
        if args.replicates < 2:
            parser.error("--replicates: need at least 2")
        if args.n < 10:
            parser.error("--n: need at least 10 rows")
        if args.folds < 2:
            parser.error(f"--folds: need at least 2 folds, got {args.folds}")
        if args.scheme == "kfold" and args.replicates < args.folds:
            parser.error("--replicates: need at least --folds replicates with --scheme kfold")
        if args.batch is not None and args.batch < 1:
            parser.error(f"--batch: need a positive number of replicates, got {args.batch}")
    else:
        _check_fit_args(parser, args)
    prefix = f"jaxlogreg {args.command}:"
    try:
        if args.command == "study":
            study(args)
        else:
            failure = fit_csv(args)["failure"]
            if failure is not None:
                print(f"{prefix} error: {failure}", file=sys.stderr)
                return EXIT_FIT
    except KeyboardInterrupt:
        where = (f"; the chunks finished so far are kept in {args.out}: run the same command "
                 "again (with --resume) to continue from them") if args.command == "study" else ""
        print(f"{prefix} interrupted{where}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except StorageError as e:
        print(f"{prefix} error: {e}", file=sys.stderr)
        return EXIT_STORAGE
    except (zipfile.BadZipFile, EOFError, json.JSONDecodeError, ValueError) as e:
        if isinstance(e, ValueError) and not isinstance(e, json.JSONDecodeError) \
                and "pickled" not in str(e):
            print(f"{prefix} error: {e}", file=sys.stderr)
            return EXIT_USAGE
        # The readers of study files name the file themselves (StorageError); this is the
        # net for a damaged file read elsewhere (np.load reads a file that is no zip archive
        # as a pickle, which it refuses with a ValueError about "pickled" data).
        print(f"{prefix} error: a study file is damaged ({type(e).__name__}: {e}); delete the "
              "damaged file and run the same command again, or pass --overwrite",
              file=sys.stderr)
        return EXIT_STORAGE
    except OSError as e:
        print(f"{prefix} error: {_os_error(e, args)}", file=sys.stderr)
        return EXIT_OS
    return 0


def _os_error(e: OSError, args) -> str:
    """One line for an error of the operating system: the file, the reason, the fix."""
    name = e.filename if e.filename is not None else getattr(args, "out", None)
    reason = e.strerror or str(e)
    out = "--out" if args.command == "study" else "the path"
    if e.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        fix = "free some space, then run the same command again" + (
            " (the chunks finished so far are kept)" if args.command == "study" else "")
    elif e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        fix = f"choose a folder you can write to ({out})"
    elif e.errno in (errno.ENOTDIR, errno.EEXIST, errno.EISDIR):
        fix = f"a file stands where a folder is needed (or the reverse); choose another {out}"
    else:
        fix = f"check {out}, then run the same command again"
    return f"{name}: {reason}; {fix}" if name is not None else f"{reason}; {fix}"


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
