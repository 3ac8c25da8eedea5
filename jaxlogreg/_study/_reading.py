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

The paragraphs about the data and the signs are here, those about the replicates (from the
flips on) in :mod:`jaxlogreg._study._reading_replicates`; the predictions and the facts both
read are in :mod:`jaxlogreg._study._facts`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from .._datasets import SEED_COEF, SEED_FEATURES, SEED_INTERCEPT
from ._facts import _NORMAL, _and, _Facts, _pct
from ._reading_replicates import _ReplicateParagraphs

if TYPE_CHECKING:  # the result calls this module, not the reverse
    from ._summary import StudyResult

# The usual minimum of events per parameter (Peduzzi et al. 1996).
_EPP_MINIMUM = 10.0
# A VIF from which a column's inflation and its correlated columns are named (SE x 1.41).
_VIF_NAMED = 2.0
# Correlations named beside an inflated column.
_CORRELATION_NAMED = 0.3


def _reading(result: StudyResult) -> str:
    """The paragraphs of the module docstring, separated by blank lines."""
    r = _Paragraphs(result)
    paras = [p for p in (
        r.data_paragraph(), r.signs_paragraph(), r.effects_paragraph(), r.collinearity_paragraph(),
        r.events_paragraph(), r.flips_paragraph(), r.bias_paragraph(), r.se_paragraph(),
        r.separation_paragraph(), r.held_out_paragraph(),
    ) if p]
    return "\n\n".join(paras)


def _vif(v: float) -> str:
    if not np.isfinite(v):
        return "-"
    return f"{v:.1f}" if v < 10 else f"{v:.0f}"


class _DataParagraphs(_Facts):
    """The paragraphs about the data and what they say of the signs (each None when it has
    nothing to say)."""

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


class _Paragraphs(_DataParagraphs, _ReplicateParagraphs):
    """Every paragraph of the reading, over one result's facts."""

