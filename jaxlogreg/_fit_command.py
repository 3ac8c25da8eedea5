"""The ``jaxlogreg fit`` command (:func:`fit_csv`): a data file read by
:mod:`jaxlogreg._tabular`, fitted by :func:`jaxlogreg.fit`, printed as a statsmodels-style
summary with notes; bootstrap percentile and BCa intervals when asked (:func:`bca_interval`);
and for a fit that did not converge, the one-line reason naming the columns involved and the
options that may fit it (:func:`_failure`), which :func:`jaxlogreg.cli.main` reports with exit
status 5.

JAX is imported only once the file has been read and checked (:func:`_start_jax`, which the
``study`` command uses too).
"""

from __future__ import annotations

import statistics
import sys

from ._tabular import ROLE_COLUMNS, read_data

# Percentile and BCa 95% intervals read the resamples' 2.5% and 97.5% tails, which take far
# more resamples than a standard error does: Efron and Tibshirani (An Introduction to the
# Bootstrap, 1993) find 25-200 enough for a standard error and give about 1000 as a rough
# minimum for percentile and BCa intervals.
_MIN_INTERVAL_RESAMPLES = 1000
# Above this share of resamples left out as not converged (separated, mostly), the intervals
# describe the resamples that happen to have finite estimates, not all of them: a warning.
_MAX_DROPPED_SHARE = 0.01


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
        return (f"there are {n} rows for {len(labels)} parameters: a model needs more rows "
                "than parameters")
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
    return ("remedies: " + ", ".join(options[:-1]) + (" or " if len(options) > 1 else "")
            + options[-1])


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
    return (f"the model could not be fitted ({status.name}): {why}"
            + (f"; {remedy}" if remedy else ""))


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
                     dropna=getattr(args, "dropna", False),
                     positive=getattr(args, "positive", None))
    X, y, names, given = data.X, data.y, data.names, data.given
    jax = _start_jax(args, x64=True)
    import numpy as np

    from . import Status, _resample, fit, inference, influence, summary

    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    weights, offset, groups = (given.get(opt) for opt in ROLE_COLUMNS)
    model = dict(fit_intercept=not args.no_intercept, alpha=args.alpha, l1_ratio=args.l1_ratio,
                 link=args.link, firth=args.firth)
    res = fit(X, y, weights=weights, offset=offset, **model)
    inf = inference(res, X, y, weights=weights, offset=offset, cov_type=args.cov_type,
                    groups=groups)
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
                      "resamples finite estimates"
                      if "SEPARATED" in dropped and not args.firth else "")
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
        # The penalty is the fit's, read from res.
        U = np.asarray(influence(res, X, y, offset=offset))
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
        print(f"{'':{width}s} {'estimate':>10s} {'boot SD':>9s} {'percentile 95%':>23s} "
              f"{'BCa 95%':>23s}", file=out)
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

