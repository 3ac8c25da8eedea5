"""The plain-language reading of a study's table (:meth:`StudyResult.reading`).

Every statement is computed from the study's results and its data, for any data set. With
``z = Phi^-1(1 - (1 - level) / 2)`` (1.96 at 95%), ``SE`` a standard error and ``m`` the
training weight of a replicate out of ``n`` rows (``f = m / n``), the paragraphs are:

* **The data** (the built-in data set only): how it is generated, and which full-data
  estimates have the wrong sign.
* **Signs**: the coefficients grouped by what the data say about their sign, by the Wald
  ``|estimate| / SE`` of the full-data fit (resampling; with fresh data, ``|true| / mean SE``):
  below 1, not determined; 1 to ``z``, leaning but not established at ``1 - level``; beyond
  ``z``, established. Each with its predicted wrong-sign probability, ``pred.``
  (``mean_b Phi(-|t_j| / s_bj)``, for a fresh sample of ``m`` rows).
* **Causes**: variance inflation factors (``VIF_j = 1 / (1 - R_j^2)``: the factor by which
  collinearity multiplies a coefficient's variance) with each inflated column's correlated
  columns, and events per parameter, ``f min(positives, negatives) / (k - 1)`` (``k - 1``
  coefficients besides the intercept), against the 10 of Peduzzi et al. (1996).
* **Flips across replicates** (resampling): replicates scatter around the full-data
  estimate ``b``, so the share with the wrong sign is predicted by
  ``Phi(-sign(t) b / SD_lin)``, ``SD_lin`` the first-order spread (below).
* **Bias**: ``mean - full`` (the resampling bias) and ``mean - true`` (which adds the
  full-data estimate's own error), in units of the full-data SE.
* **SE/SD** against its first-order prediction ``R``: ``1 / sqrt(1 - f)`` for splits,
  subsamples and folds (rows shared between replicates), 1 for bootstraps and fresh data. For
  an unpenalised full-data fit, a replicate's estimate is to first order ``b + H^-1 sum_i
  (w_i / wbar - 1) s_i``, so its SD across replicates is ``SD_lin = SE_sandwich / (R
  sqrt(f))`` and its SE about ``SE_full / sqrt(f)``; hence exactly::

      SE/SD = R * A * C / B,   A = SE_full / SE_sandwich,  C = mean SE / (SE_full / sqrt(f)),
                               B = SD / SD_lin

  A gap from ``R`` of more than 10% (and 3 Monte Carlo SEs of the SD, ``SD / sqrt(2 (B - 1))``)
  is flagged and split into these factors.
* **Separation**: the separated replicates' separating columns, how many each accounts for,
  and, for a two-valued column in splits, the hypergeometric chance that a split keeps
  none of the rows of the class its level lacks.
* **Held-out metrics.**
"""

from __future__ import annotations

import math
import statistics
from typing import TYPE_CHECKING

import numpy as np

from .._datasets import SEED_COEF, SEED_FEATURES, SEED_INTERCEPT
from .._status import Status
from ._diagnostics import none_kept

if TYPE_CHECKING:  # the result calls this module, not the reverse
    from ._summary import StudyResult

# A ratio SE/SD this far from its prediction (relative) is a notable gap.
_NOTABLE_GAP = 0.10
# The usual minimum of events per parameter (Peduzzi et al. 1996).
_EPP_MINIMUM = 10.0
# A VIF from which a column's inflation and its correlated columns are named (SE x 1.41).
_VIF_NAMED = 2.0
# Correlations named beside an inflated column.
_CORRELATION_NAMED = 0.3
# Schemes whose replicates share rows: SE/SD is predicted as 1 / sqrt(1 - f).
_SHARED_ROWS = ("Splits", "Subsample", "KFold", "LeaveOneOut")
_WITH_REPLACEMENT = ("Bootstrap", "BayesianBootstrap")

_NORMAL = statistics.NormalDist()


def _reading(result: StudyResult) -> str:
    """The paragraphs of the module docstring, separated by blank lines."""
    r = _Facts(result)
    paras = [p for p in (
        r.data_paragraph(), r.signs_paragraph(), r.effects_paragraph(), r.collinearity_paragraph(),
        r.events_paragraph(), r.flips_paragraph(), r.bias_paragraph(), r.se_paragraph(),
        r.separation_paragraph(), r.held_out_paragraph(),
    ) if p]
    return "\n\n".join(paras)


def _pct(p: float) -> str:
    """A share as a percentage with the digits it needs (below 0.1% said so)."""
    if not np.isfinite(p):
        return "-"
    if p == 0:
        return "0%"
    if p < 0.001:
        return "below 0.1%"
    if p < 0.1:
        return f"{100 * p:.2g}%"
    return f"{100 * p:.0f}%"


def _and(items: list[str]) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _vif(v: float) -> str:
    if not np.isfinite(v):
        return "-"
    return f"{v:.1f}" if v < 10 else f"{v:.0f}"


def predicted_se_ratio(result: StudyResult) -> float | None:
    """The first-order prediction ``R`` of SE/SD (module docstring), None where none is made
    (an unknown scheme, or no training fraction below 1 for one that shares rows)."""
    cfg, ref = result.config, result.reference
    if ref is None:
        return 1.0  # fresh data: every replicate is an independent sample
    kind = (cfg.get("scheme") or {}).get("kind")
    f = ref["n_train"] / ref["n"]
    if kind in _SHARED_ROWS and 0.0 < f < 1.0:
        return 1.0 / math.sqrt(1.0 - f)
    if kind in _WITH_REPLACEMENT:
        return 1.0
    return None


def linear_sd(result: StudyResult) -> np.ndarray | None:
    """``(k,)`` the first-order SD of the estimates across replicates of one data set,
    ``SE_sandwich / (R sqrt(f))`` (module docstring); None without a sandwich SE of the
    full-data fit or a prediction ``R``."""
    ref = result.reference
    ratio = predicted_se_ratio(result)
    if ref is None or ratio is None or "bse_sandwich" not in ref:
        return None
    f = ref["n_train"] / ref["n"]
    return np.asarray(ref["bse_sandwich"], np.float64) / (ratio * math.sqrt(f))


def replicate_flip(result: StudyResult) -> np.ndarray | None:
    """``(k,)`` the predicted share of replicates of one data set with the wrong sign:
    ``Phi(-sign(t) b / SD)``, ``b`` the full-data estimate and ``SD`` its first-order spread
    (:func:`linear_sd`; the replicates' own SD for studies that lack it). None without a
    converged full-data fit; NaN where ``t = 0``."""
    ref = result.reference
    if ref is None or ref["status"] != int(Status.CONVERGED):
        return None
    sd = linear_sd(result)
    if sd is None:
        sd = np.asarray(result.summary["sd"], np.float64)
    b = np.asarray(ref["params"], np.float64)
    t = result.true_params
    with np.errstate(invalid="ignore", divide="ignore"):
        z = -np.sign(t) * b / sd
    return np.where(t != 0, np.array([_NORMAL.cdf(v) if np.isfinite(v) else np.nan for v in z]),
                    np.nan)


class _Facts:
    """The numbers the paragraphs state, and the paragraphs (each None when it has nothing
    to say)."""

    def __init__(self, result: StudyResult):
        self.result = result
        self.s = result.summary
        self.t = np.asarray(result.true_params, np.float64)
        self.names = result.names
        self.cfg = result.config
        self.ref = result.reference
        self.diag = result.diagnostics or {}
        self.data = self.diag.get("data")
        self.offset = 1 if self.cfg.get("fit_intercept", True) else 0
        self.level = float(self.cfg.get("level", 0.95))
        self.z = _NORMAL.inv_cdf(1.0 - (1.0 - self.level) / 2.0)
        # The full-data fit when there is one and it converged, else None.
        self.full: dict | None = (self.ref if self.ref is not None
                                     and self.ref["status"] == int(Status.CONVERGED) else None)
        if self.ref is not None:
            self.n, self.m = int(self.ref["n"]), float(self.ref["n_train"])
        elif self.data is not None:
            self.n, self.m = int(self.data["n"]), float(self.data["n_train"])
        else:
            self.n = int(self.cfg.get("n", 0))
            self.m = float(self.n)
        kind = (self.cfg.get("scheme") or {}).get("kind")
        self.kind = kind
        self.per = "training split" if kind == "Splits" else "fit"

    # -- the data ------------------------------------------------------------------------

    def data_paragraph(self) -> str | None:
        if self.cfg.get("model") != "seed":
            return None
        terms = " ".join(f"{'-' if c < 0 else '+'} {abs(c):g} {nm}"
                         for c, nm in zip(SEED_COEF, SEED_FEATURES, strict=True))
        source = (f"one draw of {self.n} rows (seed {self.cfg.get('seed', 0)}, "
                  f"jaxlogreg.make_seed_data)" if self.ref is not None
                  else f"a fresh draw of {self.n} rows per replicate")
        text = (
            f"The data: the built-in data set, {source}. Eight independent variables X1..X8 "
            "are mapped to six features: Y1 = X1 X2; Y2, Y3, Y4 and Y6 are Y1 times a function "
            "of X3, (X4, X5), X6 and X8; Y5 = 1{X7 > 0.7} is binary. Labels are drawn with "
            f"P(y = 1) = sigmoid({SEED_INTERCEPT:g} {terms}), the coefficients of the study it "
            "is modelled on (the true values in the table)."
        )
        if self.full is not None:
            b, se = np.asarray(self.full["params"]), np.asarray(self.full["bse"])
            wrong = [j for j in range(self.offset, len(self.t))
                     if self.t[j] != 0 and np.sign(b[j]) != np.sign(self.t[j])]
            for j in wrong:
                nm = self.names[j]
                text += (f" In this draw the full-data estimate of {nm} has the wrong sign, "
                         f"{b[j]:.3g} against the true {self.t[j]:.3g}"
                         + (", as the fitted Y1 had in that study" if nm == "Y1" else "")
                         + f": at {self.n} rows its SE ({se[j]:.3g}) is "
                         f"{'more' if se[j] > abs(self.t[j]) else 'less'} than its true value, "
                         f"and a data set of this size from the model gives it the wrong sign "
                         f"with probability about Phi(-|true| / SE) = "
                         f"{_pct(_NORMAL.cdf(-abs(self.t[j]) / se[j]))}.")
            if not wrong:
                text += " In this draw every full-data estimate has the sign of its true value."
        return text

    # -- signs ---------------------------------------------------------------------------

    def signs_paragraph(self) -> str | None:
        s, t = self.s, self.t
        if self.full is not None:
            b = np.asarray(self.full["params"], np.float64)
            se = np.asarray(self.full["bse"], np.float64)
            with np.errstate(invalid="ignore", divide="ignore"):
                zs = b / se
            head = (f"What the full data ({self.n} rows) say about each sign, by |estimate| / SE "
                    "of the full-data fit (its Wald z), with the predicted probability that a "
                    f"fit to a fresh sample of {self.m:.0f} rows has the wrong sign (pred.):")

            def entry(j):
                text = f"{self.names[j]} ({b[j]:.3g}, SE {se[j]:.3g}, z = {zs[j]:+.2f}"
                if t[j] != 0:
                    text += f", pred. {_pct(s['predicted_flip'][j])}"
                    if np.sign(b[j]) != np.sign(t[j]):
                        text += f"; the true {t[j]:.3g} has the other sign"
                return text + ")"
        else:
            mean_se = np.asarray(s["mean_se"], np.float64)
            with np.errstate(invalid="ignore", divide="ignore"):
                zs = t / mean_se
            what = (f"a sample of {self.m:.0f} rows" if self.ref is None
                    else f"{self.m:.0f} rows (the full-data fit did not converge)")
            head = (f"What {what} can say about each sign, by |true value| / mean SE (the z a "
                    "fit can expect), with the predicted probability that a fit has the wrong "
                    "sign (pred.):")

            def entry(j):
                text = f"{self.names[j]} (|true| / SE = {abs(zs[j]):.2f}"
                if t[j] != 0:
                    text += f", pred. {_pct(s['predicted_flip'][j])}"
                return text + ")"
        a = abs(zs)
        level = f"{1 - self.level:.0%}"
        if self.full is not None:
            bands = [
                ("|z| < 1, the sign is not determined by these data (the estimate is within one "
                 "standard error of zero)", a < 1),
                (f"1 <= |z| < {self.z:.2f}, the sign leans one way but is not established at the "
                 f"{level} level (two-sided)", (a >= 1) & (a < self.z)),
                (f"|z| >= {self.z:.2f}, the sign is established at the {level} level", a >= self.z),
            ]
        else:
            bands = [
                ("|z| < 1, the effect is small against its standard error: samples of this "
                 "size do not determine its sign", a < 1),
                (f"1 <= |z| < {self.z:.2f}, the sign is usually right, but most samples of this "
                 f"size do not establish it at the {level} level (two-sided)",
                 (a >= 1) & (a < self.z)),
                (f"|z| >= {self.z:.2f}, most samples of this size establish the sign at the "
                 f"{level} level", a >= self.z),
            ]
        lines = [head]
        for label, members in bands:
            idx = [j for j in np.flatnonzero(members)]
            if idx:
                lines.append(f"- {label}: " + "; ".join(entry(j) for j in idx) + ".")
        undefined = [self.names[j] for j in range(len(t)) if not np.isfinite(zs[j])]
        if undefined:
            lines.append(f"- no standard error: {', '.join(undefined)}.")
        return "\n".join(lines) if len(lines) > 1 else None

    def effects_paragraph(self) -> str | None:
        """Statement (1): effects small against their SE, with the numbers."""
        s, t = self.s, self.t
        mean_se = np.asarray(s["mean_se"], np.float64)
        small = [j for j in range(self.offset, len(t))
                 if t[j] != 0 and np.isfinite(mean_se[j]) and abs(t[j]) / mean_se[j] < 1]
        if not small:
            return None
        one = len(small) == 1
        ratios = _and([f"{abs(t[j]) / mean_se[j]:.2f}" for j in small])
        ses = _and([f"{mean_se[j]:.3g}" for j in small])
        preds = _and([_pct(s["predicted_flip"][j]) for j in small])
        return (f"Small effects: the true effect{'' if one else 's'} of "
                f"{_and([f'{self.names[j]} ({t[j]:.3g})' for j in small])} "
                f"{'is' if one else 'are'} small against the standard error a fit to "
                f"{self.m:.0f} rows has ({ratios} of {'it' if one else 'them'}: SE {ses}), so "
                f"samples of this size do not determine {'its sign' if one else 'their signs'}: "
                "an estimate is about normal around the true value with that SE, and falls on "
                f"the other side of zero with probability {preds} (pred.).")

    # -- causes --------------------------------------------------------------------------

    def collinearity_paragraph(self) -> str | None:
        data = self.data
        vif = None
        if data is not None:
            vif = np.asarray(data["vif"], np.float64)
        elif self.ref is not None and self.ref.get("vif") is not None:
            vif = np.asarray(self.ref["vif"], np.float64)
        if vif is None or not len(vif):
            return None
        cols = self.names[self.offset:]
        where = "the full data" if self.ref is not None else "replicate 0's data"
        order = [j for j in np.argsort(-np.where(np.isfinite(vif), vif, -1), kind="stable")]
        listed = ", ".join(f"{cols[j]} {_vif(vif[j])}" for j in order)
        text = (f"Collinearity: variance inflation factors of the columns ({where}, with the "
                f"intercept): {listed}. A VIF of v multiplies a coefficient's variance by v (its "
                "SE by sqrt(v)) against uncorrelated columns.")
        inflated = [j for j in order if np.isfinite(vif[j]) and vif[j] >= _VIF_NAMED]
        if not inflated:
            return text + (f" Every VIF is below {_VIF_NAMED:g}: collinearity inflates no "
                           "standard error by more than 41%, so it is not what limits these "
                           "estimates.")
        corr = None if data is None else np.asarray(data["correlation"], np.float64)
        parts = []
        for j in inflated:
            part = (f"{cols[j]}'s SE is {math.sqrt(vif[j]):.2f} times what it would be with "
                    "uncorrelated columns")
            if corr is not None:
                r = corr[j]
                mates = [i for i in np.argsort(-np.abs(np.nan_to_num(r)), kind="stable")
                         if i != j and np.isfinite(r[i]) and abs(r[i]) >= _CORRELATION_NAMED]
                if mates:
                    part += (f"; {cols[j]} is correlated with "
                             + _and([f"{cols[i]} ({r[i]:+.2f})" for i in mates]))
            parts.append(part)
        severe = [cols[j] for j in inflated if vif[j] >= 10]
        return (text + " " + "; ".join(parts) + "."
                + (f" A VIF of 10 or more ({', '.join(severe)}) is usually read as severe."
                   if severe else ""))

    def events_paragraph(self) -> str | None:
        data = self.data
        if data is None:
            return None
        pos, neg = float(data["positives"]), float(data["negatives"])
        coefs = len(self.t) - self.offset
        if coefs < 1:
            return None
        f = self.m / self.n if self.n else 1.0
        rare = min(pos, neg)
        per_fit = f * rare
        epp = per_fit / coefs
        where = (f"the {self.n} rows" if self.ref is not None
                 else f"replicate 0's {self.n} rows")
        rarer = "positives" if pos <= neg else "negatives"
        text = (f"Events per parameter: {where} hold {pos:.0f} positives and {neg:.0f} "
                f"negatives; the rarer class ({rarer}) gives about {per_fit:.0f} rows per "
                f"{self.per} of {self.m:.0f} rows, {epp:.1f} per coefficient ({coefs}, the "
                "intercept not counted).")
        if epp < 5:
            text += (f" That is far below the {_EPP_MINIMUM:.0f} often asked for (Peduzzi et al. "
                     "1996): the maximum-likelihood estimates are biased away from zero, their "
                     "standard errors and Wald intervals are unreliable, and separated fits are "
                     "common.")
        elif epp < _EPP_MINIMUM:
            text += (f" That is below the {_EPP_MINIMUM:.0f} often asked for (Peduzzi et al. "
                     "1996): the maximum-likelihood estimates are biased away from zero, their "
                     "standard errors and Wald intervals are less accurate, and some fits "
                     "separate.")
        elif epp < 2 * _EPP_MINIMUM:
            text += (f" That meets the {_EPP_MINIMUM:.0f} often asked for (Peduzzi et al. 1996), "
                     "not by much: small-sample bias is modest, but effects small against their "
                     "standard errors stay undetermined.")
        else:
            text += (f" That is ample (at least {2 * _EPP_MINIMUM:.0f}): small-sample bias and "
                     "separation are not what limits these estimates.")
        return text

    # -- flips across replicates ----------------------------------------------------------

    def flips_paragraph(self) -> str | None:
        expected = replicate_flip(self.result)
        if self.full is None or expected is None:
            return None
        s, t = self.s, self.t
        b = np.asarray(self.full["params"], np.float64)
        sd_lin = linear_sd(self.result)
        lines = []
        for j in range(self.offset, len(t)):
            flip = s["sign_flip"][j]
            if t[j] == 0 or not np.isfinite(flip):
                continue
            wrong = np.sign(b[j]) != np.sign(t[j])
            if not (wrong or flip >= 0.1 or abs(flip - s["predicted_flip"][j]) >= 0.1):
                continue
            sd = sd_lin[j] if sd_lin is not None else s["sd"][j]
            lines.append(
                f"{self.names[j]}: the full-data estimate {b[j]:.3g} has the "
                f"{'wrong' if wrong else 'right'} sign; with SD {sd:.3g} across replicates "
                f"({'first-order, from the full data' if sd_lin is not None else 'observed'}), "
                f"Phi(-sign(true) b / SD) = {_pct(expected[j])} of them are expected on the "
                f"wrong side; {_pct(flip)} are (pred. {_pct(s['predicted_flip'][j])})"
            )
        if not lines:
            return None
        return ("Why flip and pred. differ: every replicate refits rows of the same "
                f"{self.n}, so the estimates scatter around the full-data estimate, not around "
                "the true value, and the share with the wrong sign says where this data set "
                "landed; pred. is the share for fresh samples. " + "; ".join(lines) + ".")

    # -- bias ----------------------------------------------------------------------------

    def bias_paragraph(self) -> str | None:
        s, t = self.s, self.t
        used = int(s.get("used", 0))
        if used < 2:
            return None
        if self.ref is not None:
            from ._summary import resampling_bias

            if self.full is None:
                return None
            b = np.asarray(self.full["params"], np.float64)
            se = np.asarray(self.full["bse"], np.float64)
            rb = resampling_bias(self.result)
            with np.errstate(invalid="ignore", divide="ignore"):
                rb_se, err_se = np.abs(rb) / se, np.abs(b - t) / se
            j1 = int(np.nanargmax(rb_se)) if np.any(np.isfinite(rb_se)) else 0
            j2 = int(np.nanargmax(err_se)) if np.any(np.isfinite(err_se)) else 0
            return (
                "Bias, two ways: mean-full, the replicate mean minus the full-data estimate, "
                f"is the resampling bias, what {self._resampling()} does to the estimate (mostly "
                "maximum likelihood's small-sample bias, away from zero, at that size); "
                "mean-true, the replicate mean minus the true value, adds the "
                "full data set's own error (full - true), which no resampling of it can reveal. "
                f"Here |mean-full| is at most {rb_se[j1]:.2f} full-data SE ({self.names[j1]}), "
                f"|full - true| up to {err_se[j2]:.2f} SE ({self.names[j2]})"
                + (": mean-true mostly measures where this data set landed, not a bias of the "
                   "estimator." if err_se[j2] > rb_se[j1] else ".") + self._left_out()
            )
        sd, bias = np.asarray(s["sd"], np.float64), np.asarray(s["bias"], np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            zb = bias / (sd / math.sqrt(used))
        sig = [f"{self.names[j]} ({bias[j]:+.3g}, {zb[j]:+.1f} Monte Carlo SE)"
               for j in range(len(t)) if np.isfinite(zb[j]) and abs(zb[j]) > 3]
        return ("Bias: with a fresh data set per replicate, mean-true is the estimator's bias "
                f"at {self.m:.0f} rows, known to within its Monte Carlo SE, SD / sqrt({used}). "
                + (f"It is beyond 3 Monte Carlo SE for {_and(sig)}." if sig
                   else "It is within 3 Monte Carlo SE for every coefficient.") + self._left_out())

    def _left_out(self) -> str:
        """The caveat that the means leave out separated replicates (empty without any)."""
        if not self.s.get("separated_share", 0) > 0:
            return ""
        return (" The separated replicates, whose estimates are infinite, are left out: the "
                "table's means, SDs and shares are conditional on a finite estimate.")

    def _resampling(self) -> str:
        """What a replicate does to the data, in words."""
        if self.kind in ("Splits", "Subsample", "KFold"):
            return f"fitting {self.m:.0f} of the {self.n} rows"
        if self.kind == "Bootstrap":
            return f"resampling the {self.n} rows with replacement"
        if self.kind == "BayesianBootstrap":
            return f"reweighting the {self.n} rows (Bayesian bootstrap)"
        if self.kind == "LeaveOneOut":
            return "leaving one row out"
        return "resampling the rows"

    # -- SE/SD ---------------------------------------------------------------------------

    def se_paragraph(self) -> str | None:
        s = self.s
        ratio = predicted_se_ratio(self.result)
        obs = np.asarray(s["se_ratio"], np.float64)
        used = int(s.get("used", 0))
        finite = np.isfinite(obs)
        if ratio is None or not finite.any() or used < 3:
            return None
        f = self.m / self.n if self.n else 1.0
        if self.ref is None:
            text = ("SE/SD: with a fresh data set per replicate, the mean model-based SE should "
                    "match the SD of the estimates (SE/SD near 1)")
        elif self.kind in _SHARED_ROWS:
            text = (f"SE/SD: each replicate keeps {f:.0%} of the rows and shares most of them with "
                    "every other, so the estimates vary less across replicates than across "
                    "independent samples: to first order the mean model-based SE should exceed "
                    f"their SD by sqrt(1 / (1 - {f:.2f})) = {ratio:.2f}")
        else:
            text = ("SE/SD: a bootstrap's estimates vary about as much as independent samples "
                    "of the same size would, so to first order the mean model-based SE should "
                    "match their SD (SE/SD near 1)")
        lo, hi = np.nanmin(obs), np.nanmax(obs)
        text += (f"; observed {lo:.2f}" + (f" to {hi:.2f}" if hi - lo >= 0.005 else "") + ".")
        noise = 3.0 / math.sqrt(2.0 * (used - 1))  # relative Monte Carlo SE of an SD, times 3
        gap = obs / ratio - 1.0
        notable = [j for j in range(len(obs))
                   if finite[j] and abs(gap[j]) > max(_NOTABLE_GAP, noise)]
        if notable:
            below = [j for j in notable if gap[j] < 0]
            above = [j for j in notable if gap[j] > 0]
            parts = []
            if below:
                parts.append(f"below it for {_and([self.names[j] for j in below])}")
            if above:
                parts.append(f"above it for {_and([self.names[j] for j in above])}")
            text += (f" A notable gap (more than {_NOTABLE_GAP:.0%}, and beyond 3 Monte Carlo "
                     f"SE of the SD, {noise:.1%}): {' and '.join(parts)}.")
            text += self._gap_factors(notable, ratio, f)
        else:
            text += (f" Every ratio is within {_NOTABLE_GAP:.0%} of the prediction (or within "
                     "Monte Carlo error).")
        if self.ref is not None:
            text += (" Coverage of the true value (cover) reflects the full-data estimate's "
                     "own error more than the intervals' calibration.")
        else:
            mc_se = math.sqrt(self.level * (1 - self.level) / used)
            bad = [self.names[j] for j in range(len(obs)) if np.isfinite(s["coverage"][j])
                   and abs(s["coverage"][j] - self.level) > 3 * mc_se]
            text += (f" The Wald intervals should cover the true value {self.level:.0%} of the "
                     "time" + (f"; they do not (beyond 3 Monte Carlo SE) for {_and(bad)}, a "
                               "sign of small-sample bias or non-normal estimates." if bad
                               else ", and do within Monte Carlo error."))
        return text

    def _gap_factors(self, notable: list[int], ratio: float, f: float) -> str:
        """The exact factorisation SE/SD = R A C / B of the flagged coefficients and what
        the factors say (module docstring); an explanation without it where the full-data
        sandwich SE is missing."""
        s, ref = self.s, self.ref
        epp = self._epp()
        few = (f" (here {epp:.1f} events per parameter)" if epp is not None else "")
        sd_lin = linear_sd(self.result)
        if ref is None or "bse_sandwich" not in ref or self.full is None or sd_lin is None:
            return (" The prediction assumes the model-based SE is right and the estimates "
                    "are about linear in the rows; small samples" + few + " and a few rows "
                    "that carry a coefficient break both"
                    + (", and leaving out the separated replicates trims the tail of the "
                       "separating columns' estimates." if self.s.get("separated_share", 0) > 0
                       else "."))
        se_full = np.asarray(ref["bse"], np.float64)
        sand = np.asarray(ref["bse_sandwich"], np.float64)
        A = se_full / sand
        C = np.asarray(s["mean_se"], np.float64) / (se_full / math.sqrt(f))
        B = np.asarray(s["sd"], np.float64) / sd_lin
        rows = [f"{self.names[j]} {s['se_ratio'][j]:.2f} = {ratio:.2f} x {A[j]:.2f} x {C[j]:.2f} / "
                f"{B[j]:.2f}" for j in notable]
        text = (" The ratio factorises exactly as SE/SD = R x A x C / B, with A = model-based / "
                "sandwich SE of the full-data fit, C = mean SE / (full-data SE x sqrt(n / m)) "
                "and B = SD / its first-order prediction from the sandwich SE: "
                + "; ".join(rows) + ".")
        sel = np.asarray(notable)
        causes = []
        a, b, c = (float(np.exp(np.mean(np.log(v[sel])))) for v in (A, B, C))
        if abs(a - 1) > 0.05:
            causes.append(
                f"A {'below' if a < 1 else 'above'} 1: on these rows the scores vary "
                f"{'more' if a < 1 else 'less'} than the model expects (the sandwich SE "
                f"{'exceeds' if a < 1 else 'falls short of'} the model-based one), and "
                "replicates of one data set reproduce the data's own variation, not the "
                "model's")
        if abs(b - 1) > 0.05:
            causes.append(
                f"B {'above' if b > 1 else 'below'} 1: the estimates move "
                f"{'more' if b > 1 else 'less'} than linearly with the rows kept, as they do "
                "when few events" + few + " or a few rows carry a coefficient")
        if abs(c - 1) > 0.05:
            causes.append(
                f"C {'above' if c > 1 else 'below'} 1: the SE of a fit to m rows is not the "
                "full-data SE times sqrt(n / m), the small-sample departure of the model-based SE")
        if causes:
            text += " " + "; ".join(causes) + "."
        return text

    def _epp(self) -> float | None:
        if self.data is None or len(self.t) - self.offset < 1 or not self.n:
            return None
        rare = min(float(self.data["positives"]), float(self.data["negatives"]))
        return self.m / self.n * rare / (len(self.t) - self.offset)

    # -- separation ----------------------------------------------------------------------

    def separation_paragraph(self) -> str | None:
        s = self.s
        B = int(s["replicates"])
        count = int(round(s["separated_share"] * B))
        if count == 0:
            return None
        text = (f"{count} replicates ({_pct(count / B)}) are separated: on their training rows "
                "some direction of the coefficients raises the likelihood without bound, so "
                "no finite estimate exists, and they are left out of the table.")
        groups = self.diag.get("separation")
        if groups is None:
            return text + (" The columns of their separating directions were not recorded "
                           "(a study written by an earlier version of jaxlogreg).")
        parts = []
        for g in groups:
            cols, k = g["columns"], int(g["replicates"])
            share = "all" if k == count else f"{k}"
            if not cols:
                parts.append(f"in {share} of them every training row has the same label"
                             if g.get("one_label") else
                             f"for {share} of them the columns could not be told")
                continue
            if len(cols) == 1:
                sign = "-inf" if g["signs"][0] < 0 else "+inf"
                part = f"{cols[0]} accounts for {share} of them"
                if g["empty"] is not None:
                    value, cls = g["empty"]
                    part += (f": on each, no training row with {cols[0]} = {value:g} is {cls}, so "
                             f"{cols[0]}'s coefficient runs off to {sign} (checked on the rows)")
                    part += self._none_kept(cols[0], value, cls, k, B)
                elif g["exact"]:
                    part += (f": on each, {cols[0]} alone orders the training rows with every "
                             f"positive on one side, so its coefficient runs off to {sign} "
                             "(checked on the rows)")
            else:
                named = _and([f"{c} ({'+' if sg > 0 else '-'})"
                              for c, sg in zip(cols, g["signs"], strict=True)])
                part = (f"the direction {named} accounts for {share} of them ("
                        + ("the training rows checked to be separated along it)" if g["exact"]
                           else "the direction the coefficients took; not confirmed on the rows)"))
            parts.append(part)
        text += " " + "; ".join(parts) + "."
        return text + (" Firth's correction or a penalty gives such replicates finite estimates; "
                       "merging a rare level or dropping the column removes the cause.")

    def _none_kept(self, column: str, value: float, cls: str, k: int, B: int) -> str:
        """For a split of one data set: the full data's rows of ``column = value`` and the
        hypergeometric chance that a split keeps none of those of class ``cls``."""
        if self.data is None or self.ref is None:
            return ""
        j = list(self.names[self.offset:]).index(column)
        info = self.data["binary"][j]
        if info is None or value not in info["values"]:
            return ""
        level = info["values"].index(value)
        rows = info["rows"][level]
        positives = info["positives"][level]
        of_class = positives if cls == "positive" else rows - positives
        if abs(of_class - round(of_class)) > 1e-9:
            return ""
        of_class = int(round(of_class))
        text = (f". Of the {self.n} rows, {rows} have {column} = {value:g}, and only {of_class} "
                f"of them {'is' if of_class == 1 else 'are'} {cls}")
        scheme = self.cfg.get("scheme") or {}
        if self.kind != "Splits":
            return text
        m = int(round(self.m))
        if scheme.get("stratify"):
            pos = int(round(float(self.data["positives"])))
            total = pos if cls == "positive" else self.n - pos
            kept = round(float(scheme["train_fraction"]) * total)
            how = f"its {kept} training {cls}s drawn from {total}"
        else:
            total, kept = self.n, m
            how = f"its {m} training rows drawn from {self.n}"
        p = none_kept(total, kept, of_class)
        mc = math.sqrt(max(p * (1 - p), 1e-300) / B)
        return (text + f"; a split keeps none of them ({how}) with probability "
                f"C({total - of_class}, {kept}) / C({total}, {kept}) = {100 * p:.2f}% "
                "(hypergeometric), against "
                f"{100 * k / B:.2f}% observed (Monte Carlo SE {100 * mc:.2f}%)")

    # -- held-out rows -------------------------------------------------------------------

    def held_out_paragraph(self) -> str | None:
        s = self.s
        if not np.isfinite(s.get("auc", np.nan)):
            return None
        return (
            f"On the held-out rows: ROC AUC {s['auc']:.3f}, log loss {s['log_loss']:.3f}, "
            f"Brier score {s['brier']:.3f}, calibration slope {s['calibration_slope']:.2f} "
            "(1 is ideal; below 1 means the predictions are too extreme, the mark of "
            "overfitting) and calibration intercept "
            f"{s['calibration_intercept']:+.2f} (0 is ideal)."
        )
