"""The paragraphs of a study's reading about its replicates: flips across replicates, bias,
SE/SD, separation and the held-out metrics (:mod:`jaxlogreg._study._reading` gives the
formulas and the paragraphs about the data)."""

from __future__ import annotations

import math

import numpy as np

from ._diagnostics import none_kept
from ._facts import _SHARED_ROWS, _and, _Facts, _pct, linear_sd, predicted_se_ratio, replicate_flip

# A ratio SE/SD this far from its prediction (relative) is a notable gap.
_NOTABLE_GAP = 0.10


class _ReplicateParagraphs(_Facts):
    """The paragraphs about the replicates (each None when it has nothing to say)."""

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
        groups = None if self.diag is None else self.diag.separation
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
