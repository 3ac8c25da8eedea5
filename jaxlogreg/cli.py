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
    two in sorted order; a note after the summary names it. The model is
    :func:`jaxlogreg.fit`'s: ``--link``, ``--alpha`` and ``--l1-ratio`` (a penalty),
    ``--firth`` (Firth's penalised likelihood, also for every bootstrap resample), and
    columns of the file as ``--weights`` (frequency weights), ``--offset`` and ``--groups``
    (cluster labels of ``--cov-type cluster``), which are then not features. A fit that does
    not converge (separated classes, collinear or constant columns, ...) prints its summary,
    then a line on stderr naming the reason, the columns involved where they can be found
    and the options that may fit it, and exits with status 5.

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

The parts, in the order the data flow: :mod:`jaxlogreg._tabular` reads and checks a data
file (without JAX), :mod:`jaxlogreg._fit_command` runs ``fit`` (the fit and its summary, the
bootstrap intervals, the reason a fit failed), and this module parses the arguments, runs
``study`` and turns errors into exit statuses.
"""

from __future__ import annotations

import argparse
import errno
import json
import math
import sys
import zipfile
from pathlib import Path

from ._fit_command import _start_jax, fit_csv
from ._io import StorageError
from ._tabular import _encoding_name, _separator

# isort: split
# Beside main and study: the readers and the BCa interval, which users and tests call as
# jaxlogreg.cli.read_csv and so on. A test that replaces a helper patches it in the module
# that calls it (jaxlogreg._tabular, jaxlogreg._fit_command): these names are copies.
from ._fit_command import bca_interval  # noqa: F401
from ._tabular import Data, read_csv, read_data  # noqa: F401

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
_CONFIG_KEYS = {
    "n", "coef", "intercept", "positive_rate", "features", "correlation", "link", "names",
}


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
        raise ValueError(
            f"--config: unknown keys {unknown}; expected some of {sorted(_CONFIG_KEYS)}")
    if "coef" not in cfg:
        raise ValueError("--config: 'coef' (the true slopes) is required")
    return cfg


def study(args, out=None) -> object:
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
            coef=cfg["coef"], intercept=cfg.get("intercept"),
            positive_rate=cfg.get("positive_rate"),
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
        "full: the full-data estimate; mean-full: the replicates' mean minus it (the "
        "resampling bias); mean-true: their mean minus the true value; SE/SD: the mean "
        "standard error over the replicates' spread; flip: share of replicates whose "
        "estimate has the wrong sign; pred.: the share predicted from the standard error; "
        "cover: coverage of the true value by the 95% Wald interval.",
        file=out,
    )
    print("", file=out)
    print(result.reading(), file=out)
    print("", file=out)
    print(f"outputs: {args.out}/summary.json, replicates.npz, report.md and plots", file=out)
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
    parser = argparse.ArgumentParser(prog="jaxlogreg",
                                     description="Batched logistic regression in JAX.")
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
    p.add_argument("--train-fraction", type=float, default=0.65,
                   help="training share of splits and subsamples (0.65)")
    p.add_argument("--folds", type=int, default=5, help="folds of --scheme kfold (5)")
    p.add_argument("--stratify", action="store_true", help="stratify splits and folds by class")
    p.add_argument("--fresh", action="store_true",
                   help="a fresh data set per replicate instead of resampling one")
    p.add_argument("--solver", choices=SOLVERS, default="newton", help="solver (newton)")
    p.add_argument("--cov-type", choices=COV_TYPES, default="nonrobust",
                   help="standard errors (nonrobust)")
    p.add_argument("--n", type=int, default=1000, help="rows of the data set (1000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the data and the resamples (0)")
    p.add_argument("--config", help="JSON file with another generative model (see jaxlogreg.cli)")
    p.add_argument("--float32", action="store_true", help="compute in float32")
    p.add_argument("--batch", type=int, default=None, help="replicates per chunk written")
    p.add_argument("--out", default="jaxlogreg-study", help="output directory (jaxlogreg-study)")
    again = p.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true",
                       help="continue the study in --out "
                            "(what a run with its settings does anyway)")
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
    f.add_argument("--offset", metavar="COL",
                   help="column added to the linear predictor (not a feature)")
    f.add_argument("--link", choices=LINKS, default="logit", help="link function (logit)")
    f.add_argument("--firth", action="store_true",
                   help="Firth's penalised likelihood: finite estimates under separation (logit)")
    f.add_argument("--alpha", type=float, default=0.0, metavar="A",
                   help="penalty strength on the slopes (0: none)")
    f.add_argument("--l1-ratio", type=float, default=0.0, metavar="R",
                   help="share of the L1 term in the penalty, 0 (ridge) to 1 (lasso) (0)")
    f.add_argument("--cov-type", choices=FIT_COV_TYPES, default="nonrobust",
                   help="standard errors (nonrobust); cluster needs --groups")
    f.add_argument("--groups", metavar="COL",
                   help="column of cluster labels for --cov-type cluster")
    f.add_argument("--bootstrap", type=int, default=0,
                   help="bootstrap resamples for percentile and BCa intervals")
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
