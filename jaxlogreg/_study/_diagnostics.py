"""What a study's data are like, and why its separated replicates separate: the causes its
reading names, computed from the data in NumPy.

:func:`describe_data` summarises one data set ``X (n, d)``, ``y (n,)`` (the full data set
when resampling, replicate 0's with ``generate``)::

    positives = sum_i y_i,  negatives = sum_i (1 - y_i)
    vif_j     = 1 / (1 - R_j^2)   R_j^2 of column j on the others and a constant
                                  (statsmodels' variance_inflation_factor on add_constant(X))
    corr      = Pearson correlations of the columns, (d, d)
    binary_j  = for a column with two distinct values lo < hi: its rows and positives at each

:func:`sandwich_se` is the full-data fit's HC0 (sandwich) standard error, against which the
reading checks the spread of the replicates (*SE/SD* in :mod:`jaxlogreg._study._reading`).

:func:`separating_columns` names the columns along which one separated replicate's training
rows are separated (a direction ``d`` with ``s_i x_i . d >= 0`` on every training row,
``s_i = +1`` for a positive row and ``-1`` for a negative one, and ``> 0`` on some: along it
the log-likelihood rises without bound, so no finite estimate exists):

1. Exactly, one column alone: column ``j`` separates when, over the training rows, every
   positive's ``x_j`` is at most every negative's (``max x_j[pos] <= min x_j[neg]``, the
   direction ``-e_j`` with a free intercept) or at least it (``+e_j``), and ``x_j`` is not
   constant there. Of several such columns, the one with the largest share of step 2's
   direction is named.
2. Otherwise, a direction ``delta``: the Newton direction ``-H^+ g`` at the parameters the
   fit stopped at (``H^+`` the pseudo-inverse of the weighted information, ``g`` the
   gradient of the negative log-likelihood on the training rows) when it is a recession
   direction there (no training row moves against its class), as when the solver stopped
   on its first step; else the way the coefficients went, ``params - centre`` (``centre``
   the full-data fit, or the true values with fresh data). The columns named are those
   whose share of the linear predictor, ``|delta_j| sd(x_j)``, is at least a quarter of the
   largest (the rule of ``jaxlogreg fit``'s message), and the training rows are checked
   along ``X_S delta_S`` (the named columns only, free intercept): ``exact`` says whether
   they are separated along it.

A row with a fractional label ``0 < y_i < 1`` is both a positive and a negative here.
"""

from __future__ import annotations

import math

import numpy as np

from .._inference import variance_inflation_factors

# A column is named in a separating direction when its share of the linear predictor is at
# least this fraction of the largest share (the rule of `jaxlogreg fit`'s message).
_SHARE = 0.25


def describe_data(X, y) -> dict:
    """Facts about one data set (module docstring): ``n``, ``positives``, ``negatives``,
    ``vif (d,)``, ``correlation (d, d)``, ``sd (d,)`` (ddof 0) and ``binary``, a ``(d,)``
    list holding for each two-valued column ``{"values": [lo, hi], "rows": [n_lo, n_hi],
    "positives": [p_lo, p_hi]}`` and None for the others. NaN where a column is constant
    (its correlations) or the VIF is undefined."""
    X = np.asarray(X, np.float64)
    y = np.asarray(y, np.float64)
    n, d = X.shape
    if d >= 2:
        vif = np.asarray(variance_inflation_factors(X), np.float64)
    else:  # one column: nothing to be collinear with
        vif = np.ones(d) if np.ptp(X[:, 0]) > 0 else np.full(d, np.nan)
    sd = X.std(axis=0)
    centred = (X - X.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    with np.errstate(invalid="ignore"):
        corr = np.where(np.outer(sd > 0, sd > 0), centred.T @ centred / n, np.nan)
    np.fill_diagonal(corr, np.where(sd > 0, 1.0, np.nan))
    binary: list[dict | None] = []
    for j in range(d):
        values = np.unique(X[:, j])
        if len(values) != 2:
            binary.append(None)
            continue
        at = [X[:, j] == v for v in values]
        binary.append(dict(values=[float(v) for v in values], rows=[int(m.sum()) for m in at],
                           positives=[float(y[m].sum()) for m in at]))
    return dict(n=int(n), positives=float(y.sum()), negatives=float((1.0 - y).sum()),
                vif=vif, correlation=corr, sd=sd, binary=binary)


def sandwich_se(X, y, params, fit_intercept: bool) -> np.ndarray:
    """``(k,)`` HC0 standard errors of an unpenalised logit fit ``params (k,)`` to ``X (n,
    d)``, ``y (n,)`` (statsmodels' ``cov_type="HC0"``)::

        cov = H^-1 (sum_i (y_i - p_i)^2 x_i x_i^T) H^-1,   H = sum_i p_i (1 - p_i) x_i x_i^T

    with ``x_i`` the row and its 1 for the intercept, ``p_i = sigmoid(x_i . params)``. NaN
    where ``H`` is singular."""
    X = np.asarray(X, np.float64)
    if fit_intercept:
        X = np.concatenate([np.ones((len(X), 1)), X], axis=1)
    eta = X @ np.asarray(params, np.float64)
    p = 0.5 * (1.0 + np.tanh(0.5 * eta))  # the logistic function, without overflow
    r = np.asarray(y, np.float64) - p
    H = X.T @ (X * (p * (1.0 - p))[:, None])
    meat = X.T @ (X * (r * r)[:, None])
    try:
        Hinv = np.linalg.inv(H)
    except np.linalg.LinAlgError:
        return np.full(X.shape[1], np.nan)
    return np.sqrt(np.diag(Hinv @ meat @ Hinv))


def separating_columns(X, y, weights, params, centre, fit_intercept: bool) -> dict:
    """The columns of one separated replicate's separating direction (module docstring).

    Args:
      X, y, weights: ``(n, d)``, ``(n,)``, ``(n,)``: the replicate's data and training weights
        (rows with weight 0 are not in its training set).
      params: ``(k,)`` its parameters when the fit stopped (intercept first when fitted).
      centre: ``(k,)`` where a replicate's estimate would be without separation.
      fit_intercept: whether the model has an intercept (else the direction passes through 0).

    Returns:
      ``{"columns": (j, ...), "signs": (+1 | -1, ...), "exact": bool, "empty": None |
      (value, "positive" | "negative"), "one_label": bool}``: column indices of ``X`` (in
      order), the direction's sign on each, whether the training rows were checked to be
      separated along it, for one two-valued column the value at which its training rows
      have no row of that class, and whether every training row has the same label (the
      intercept alone separates; no columns then).
    """
    X = np.asarray(X, np.float64)
    y = np.asarray(y, np.float64)
    w = np.asarray(weights, np.float64)
    train = w > 0
    Xt, yt, wt = X[train], y[train], w[train]
    pos, neg = yt > 0, yt < 1
    if not pos.any() or not neg.any():
        return dict(columns=(), signs=(), exact=True, empty=None, one_label=True)
    params = np.asarray(params, np.float64)
    delta = _direction(Xt, yt, wt, params, fit_intercept)
    if delta is None:
        delta = params - np.asarray(centre, np.float64)
    coef = delta[int(fit_intercept):]
    sd = Xt.std(axis=0)
    share = np.abs(coef) * sd
    share = np.where(np.isfinite(share), share, 0.0)

    alone = []  # (share, j, sign, empty)
    for j in range(X.shape[1]):
        col = Xt[:, j]
        if col.min() == col.max():
            continue  # constant on the training rows: no direction
        xp, xn = col[pos], col[neg]
        if fit_intercept:
            low, high = xp.max() <= xn.min(), xp.min() >= xn.max()
        else:  # through 0: positives on one side of it, negatives on the other
            low = xp.max() <= 0.0 <= xn.min()
            high = xp.min() >= 0.0 >= xn.max()
        if not (low or high):
            continue
        empty = None
        values = np.unique(col)
        if len(values) == 2:
            lo, hi = float(values[0]), float(values[1])
            if low:  # positives low or negatives high: hi has no positive, or lo no negative
                empty = (hi, "positive") if xp.max() == lo else (lo, "negative")
            else:
                empty = (lo, "positive") if xp.min() == hi else (hi, "negative")
        alone.append((share[j], j, -1 if low else 1, empty))
    if alone:
        _, j, sign, empty = max(alone, key=lambda a: (a[0], -a[1]))
        return dict(columns=(j,), signs=(sign,), exact=True, empty=empty, one_label=False)

    if share.max() <= 0.0:
        return dict(columns=(), signs=(), exact=False, empty=None, one_label=False)
    cols = tuple(int(j) for j in range(len(share)) if share[j] >= _SHARE * share.max())
    proj = Xt[:, list(cols)] @ coef[list(cols)]
    pp, pn = proj[pos], proj[neg]
    if fit_intercept:
        exact = bool(pp.min() >= pn.max() and proj.min() < proj.max())
    else:
        exact = bool(pp.min() >= 0.0 >= pn.max() and np.any(proj != 0.0))
    return dict(columns=cols, signs=tuple(int(np.sign(coef[j])) for j in cols), exact=exact,
                empty=None, one_label=False)


def _direction(X, y, w, params, fit_intercept: bool) -> np.ndarray | None:
    """The Newton direction ``-H^+ g`` of the weighted negative log-likelihood at ``params``
    (``(k,)``, on rows ``X (n, d)``, ``y``, ``w``) when it is a recession direction there:
    every row moves toward its class or not at all (``s_i (X d)_i >= -1e-9 max |X d|``, a
    fractional row counting as moving against), and some row moves. None otherwise."""
    if fit_intercept:
        X = np.concatenate([np.ones((len(X), 1)), X], axis=1)
    eta = X @ params
    p = 0.5 * (1.0 + np.tanh(0.5 * eta))
    g = X.T @ (w * (p - y))
    H = X.T @ (X * (w * p * (1.0 - p))[:, None])
    d = -np.linalg.lstsq(H, g, rcond=None)[0]
    move = X @ d
    reach = np.max(np.abs(move))
    if not np.isfinite(reach) or reach <= 0.0:
        return None
    side = np.where(y >= 1, 1.0, np.where(y <= 0, -1.0, 0.0))
    toward = np.where(side == 0, -np.abs(move), side * move)
    return d if toward.min() >= -1e-9 * reach else None


def group_separations(found: list[dict], names, fit_intercept: bool) -> list[dict]:
    """The separated replicates grouped by their separating direction, the commonest first:
    ``[{"columns": [name, ...], "signs": [...], "exact": bool, "empty": None | [value,
    class], "one_label": bool, "replicates": count}, ...]`` (JSON-ready; ``names``
    intercept first when fitted)."""
    counts: dict[tuple, int] = {}
    for f in found:
        key = (f["columns"], f["signs"], f["exact"], f["empty"], f["one_label"])
        counts[key] = counts.get(key, 0) + 1
    offset = int(fit_intercept)
    groups = [dict(columns=[names[j + offset] for j in cols], signs=list(signs), exact=exact,
                   empty=None if empty is None else [empty[0], empty[1]], one_label=one_label,
                   replicates=count)
              for (cols, signs, exact, empty, one_label), count in counts.items()]
    groups.sort(key=lambda g: -g["replicates"])
    return groups


def none_kept(total: int, kept: int, among: int) -> float:
    """The probability that ``kept`` rows drawn without replacement from ``total`` include
    none of ``among`` given rows: ``C(total - among, kept) / C(total, kept) = prod_{i <
    among} (total - kept - i) / (total - i)`` (hypergeometric)."""
    if among > total - kept:
        return 0.0
    return math.prod((total - kept - i) / (total - i) for i in range(among))
