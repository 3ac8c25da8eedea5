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
    Fits a CSV file (header row, numeric cells) and prints a statsmodels-style summary, with
    bootstrap percentile and BCa intervals when asked (``--bootstrap N``).

Errors are one line on stderr, never a traceback, and the exit status says what kind:

====  =====================================================================================
0     done
2     usage or bad input: a bad argument, an unreadable or invalid CSV or ``--config``, an
      ``--out`` holding another study
3     study files that cannot be used: a damaged or foreign chunk, a damaged ``study.json``,
      an ``--out`` in use by another run (the message names the file and what to do)
4     the operating system refused: a full disk, no permission, a read-only folder, a file
      where a folder should be (the message names the file)
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
import csv
import errno
import json
import math
import statistics
import sys
import zipfile
from pathlib import Path

from ._io import StorageError

SCHEMES = ("splits", "bootstrap", "kfold", "subsample", "bayesian")
EXIT_USAGE, EXIT_STORAGE, EXIT_OS, EXIT_INTERRUPTED = 2, 3, 4, 130
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


def study(args, out=None) -> "object":
    """Run ``jaxlogreg study`` with parsed arguments; returns the StudyResult."""
    import jax

    if not args.float32:
        jax.config.update("jax_enable_x64", True)
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
    if args.config:
        cfg = _load_config(args.config)
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


def read_csv(path, target: str, columns=None):
    """``(X (n, d), y (n,), names)`` from a CSV file with a header row and numeric cells.

    Raises ``ValueError`` naming the file, row and column of the first problem: a missing
    file, an empty file, a missing column, a cell that is not a number, a ragged row.
    """
    import numpy as np

    path = Path(path)
    try:
        with path.open(newline="") as f:
            rows = list(csv.reader(f))
    except OSError as e:
        raise ValueError(f"DATA: cannot read {path}: {e.strerror}") from None
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        raise ValueError(f"DATA: {path} is empty")
    header = [h.strip() for h in rows[0]]
    body = rows[1:]
    if not body:
        raise ValueError(f"DATA: {path} has a header but no data rows")
    if target not in header:
        raise ValueError(f"--target: no column {target!r} in {path} (columns: {', '.join(header)})")
    if columns is None:
        columns = [h for h in header if h != target]
    missing = [c for c in columns if c not in header]
    if missing:
        raise ValueError(f"--columns: no column {missing[0]!r} in {path} (columns: {', '.join(header)})")
    if target in columns:
        raise ValueError(f"--columns: the target {target!r} cannot also be a feature")
    if not columns:
        raise ValueError(f"DATA: {path} has no feature columns besides the target {target!r}")
    index = [header.index(c) for c in columns]
    t = header.index(target)
    values = np.empty((len(body), len(columns) + 1))
    for i, row in enumerate(body):
        if len(row) != len(header):
            raise ValueError(f"DATA: {path} line {i + 2} has {len(row)} cells, the header has {len(header)}")
        for k, j in enumerate(index + [t]):
            cell = row[j].strip()
            try:
                values[i, k] = float(cell)
            except ValueError:
                raise ValueError(
                    f"DATA: {path} line {i + 2}, column {header[j]!r}: not a number: {cell!r}"
                ) from None
            if not math.isfinite(values[i, k]):
                raise ValueError(f"DATA: {path} line {i + 2}, column {header[j]!r}: not finite: {cell!r}")
    y = values[:, -1]
    bad = (y != 0) & (y != 1)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"--target: column {target!r} must hold 0 or 1, got {y[i]:g} on line {i + 2}")
    return values[:, :-1], y, tuple(columns)


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


def fit_csv(args, out=None, err=None) -> dict:
    """Run ``jaxlogreg fit DATA.csv`` with parsed arguments; returns what it printed.
    Warnings about the bootstrap go to ``err`` (default stderr)."""
    import jax

    jax.config.update("jax_enable_x64", True)
    import numpy as np

    from . import Status, fit, inference, influence, summary
    from . import _resample

    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    columns = [c.strip() for c in args.columns.split(",")] if args.columns else None
    X, y, names = read_csv(args.data, args.target, columns)
    res = fit(X, y, fit_intercept=not args.no_intercept)
    inf = inference(res, X, y, cov_type=args.cov_type)
    labels = (("const",) if not args.no_intercept else ()) + names
    print(summary(inf, names=list(labels), yname=args.target), file=out)
    status = Status(int(res.status))
    result = dict(names=labels, params=np.asarray(res.params), status=int(res.status))
    if status != Status.CONVERGED:
        print(f"\nfit status: {status.name}: {status.message}", file=out)
    if args.bootstrap:
        B = args.bootstrap
        boot = fit(X, y, weights=_resample.Bootstrap(jax.random.key(args.seed), B),
                   fit_intercept=not args.no_intercept)
        codes = np.asarray(boot.status)
        ok = codes == int(Status.CONVERGED)
        dropped = {k: v for k, v in Status.counts(codes[~ok]).items() if v}
        reasons = ", ".join(f"{k} {v}" for k, v in dropped.items())
        if not ok.any():
            raise ValueError(
                f"--bootstrap: none of the {B} resamples converged ({reasons}), so there are no "
                "bootstrap intervals; separated data have no finite estimates (a penalty or "
                "Firth's method gives them some)"
            )
        if status != Status.CONVERGED:
            raise ValueError(
                f"--bootstrap: the fit of the whole data set did not converge ({status.name}), "
                "so there is no estimate for bootstrap intervals to surround"
            )
        params = np.asarray(boot.params)[ok]
        # The infinitesimal jackknife: one linear solve per observation with the fit's
        # information matrix, instead of n leave-one-out refits (asymptotically equal).
        U = np.asarray(influence(res, X, y))
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
                "the intervals may be too narrow",
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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jaxlogreg", description="Batched logistic regression in JAX.")
    common = argparse.ArgumentParser(add_help=False)
    cache = common.add_mutually_exclusive_group()
    cache.add_argument("--compile-cache", metavar="DIR", default=None,
                       help="keep compiled programs here for later runs "
                            "($JAX_COMPILATION_CACHE_DIR, else ~/.cache/jaxlogreg/jax)")
    cache.add_argument("--no-compile-cache", action="store_true",
                       help="compile everything afresh and keep nothing")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("study", parents=[common],
                       help="the seed coefficient-recovery study (the main job)")
    p.add_argument("--replicates", type=int, default=10_000, help="replicates (10000)")
    p.add_argument("--scheme", choices=SCHEMES, default="splits", help="resampling scheme (splits)")
    p.add_argument("--train-fraction", type=float, default=0.65, help="training share of splits and subsamples (0.65)")
    p.add_argument("--folds", type=int, default=5, help="folds of --scheme kfold (5)")
    p.add_argument("--stratify", action="store_true", help="stratify splits and folds by class")
    p.add_argument("--fresh", action="store_true", help="a fresh data set per replicate instead of resampling one")
    p.add_argument("--solver", default="newton", help="solver name (newton)")
    p.add_argument("--cov-type", default="nonrobust", help="standard errors: nonrobust, HC0, HC1 (nonrobust)")
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
    f = sub.add_parser("fit", parents=[common], help="fit a CSV file and print a summary")
    f.add_argument("data", help="CSV file with a header row and numeric cells")
    f.add_argument("--target", required=True, help="the 0/1 outcome column")
    f.add_argument("--columns", help="comma-separated feature columns (default: all others)")
    f.add_argument("--no-intercept", action="store_true", help="fit without an intercept")
    f.add_argument("--cov-type", default="nonrobust", help="nonrobust, HC0 or HC1 (nonrobust)")
    f.add_argument("--bootstrap", type=int, default=0, help="bootstrap resamples for percentile and BCa intervals")
    f.add_argument("--seed", type=int, default=0, help="seed of the bootstrap (0)")
    return parser


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
    elif args.bootstrap < 0 or args.bootstrap == 1:
        parser.error("--bootstrap: need 0 (none) or at least 2 resamples")
    if not args.no_compile_cache:
        from ._cache import enable_compilation_cache

        enable_compilation_cache(args.compile_cache)
    prefix = f"jaxlogreg {args.command}:"
    try:
        if args.command == "study":
            study(args)
        else:
            fit_csv(args)
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
