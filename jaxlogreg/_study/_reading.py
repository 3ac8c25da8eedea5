"""The plain-language reading of a study's table (:meth:`StudyResult.reading`)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # the result calls this module, not the reverse
    from ._summary import StudyResult


def _reading(result: StudyResult) -> str:
    """A few paragraphs explaining the table: which coefficients the data cannot pin down,
    why signs flip, how to read the standard errors, and what went wrong in fits."""
    s, t, names = result.summary, result.true_params, result.names
    ref = result.reference
    cfg = result.config
    intercept = 1 if cfg.get("fit_intercept", True) else 0
    paras = []
    n_fit = ref["n_train"] if ref is not None else cfg.get("n")
    weak = []
    for j in range(intercept, len(t)):
        if t[j] == 0 or not np.isfinite(s["mean_se"][j]):
            continue
        ratio = s["mean_se"][j] / abs(t[j])
        if ratio > 0.5:
            weak.append((j, ratio))
    if weak:
        parts = []
        for j, ratio in weak:
            parts.append(
                f"{names[j]} (true {t[j]:.4g}, standard error about {s['mean_se'][j]:.3g}, "
                f"{ratio:.1f} times the effect; a fresh sample would give the wrong sign with "
                f"probability about {s['predicted_flip'][j]:.0%})"
            )
        paras.append(
            f"Not identifiable at this sample size ({n_fit:.0f} rows per fit): "
            + "; ".join(parts)
            + ". When the standard error is comparable to the effect, the data cannot tell "
            "the effect's sign from noise: the estimate is roughly normal around the true value "
            "with that standard error, so its sign is close to a coin flip."
        )
    vif = None if ref is None else ref.get("vif")
    if vif is not None:
        high = [(names[j + intercept], v) for j, v in enumerate(vif) if np.isfinite(v) and v > 10]
        if high:
            paras.append(
                "Correlated features inflate those standard errors: variance inflation factors "
                + ", ".join(f"{nm} {v:.0f}" for nm, v in high)
                + " (a VIF of v multiplies a coefficient's standard error by sqrt(v)); "
                "features built from the same quantity carry largely the same information."
            )
    if ref is not None:
        f = ref["n_train"] / ref["n"]
        lines = []
        for j in range(intercept, len(t)):
            flip = s["sign_flip"][j]
            if not np.isfinite(flip) or flip < 0.2:
                continue
            b, se = ref["params"][j], ref["bse"][j]
            side = "the wrong sign" if np.sign(b) != np.sign(t[j]) else "the right sign"
            lines.append(
                f"{names[j]}: the full-data estimate is {b:.4g} (SE {se:.3g}), {side}, "
                f"and {flip:.0%} of the replicates have the wrong sign"
            )
        if lines:
            paras.append(
                "Why the signs flip across replicates: every replicate resamples the same "
                f"{ref['n']} rows, so the estimates scatter around the full-data estimate, not "
                "around the true value. " + "; ".join(lines) + ". The flip rate across "
                "replicates of one data set says where this sample happened to land; across "
                "fresh samples the wrong-sign rate would be near the predicted column."
            )
        if 0.0 < f < 1.0 and cfg.get("scheme", {}).get("kind") in ("Splits", "Subsample"):
            paras.append(
                f"Standard errors against the spread across replicates: each split keeps "
                f"{f:.0%} of the rows and shares most of them with every other split, so the "
                "estimates vary less across splits than across independent samples. The mean "
                "standard error should exceed their SD by about sqrt(1 / (1 - "
                f"{f:.2f})) = {1 / math.sqrt(1 - f):.2f} (the SE/SD column), and coverage of the "
                "true value reflects the full-data estimate's own error more than the "
                "intervals' calibration."
            )
    else:
        bad = [names[j] for j in range(len(t)) if np.isfinite(s["coverage"][j])
               and abs(s["coverage"][j] - cfg.get("level", 0.95)) > 0.03]
        paras.append(
            "With a fresh data set per replicate, the mean standard error should match the SD "
            "of the estimates (SE/SD near 1) and the intervals should cover the true value at "
            f"the nominal {cfg.get('level', 0.95):.0%}"
            + (f"; they do not for {', '.join(bad)}, a sign of small-sample bias or "
               "non-normality of the estimates." if bad else "; they do here.")
        )
    sep = s["separated_share"]
    if sep > 0:
        paras.append(
            f"{sep:.1%} of the replicates are separated (a combination of features predicts "
            "the outcome perfectly on their rows): no finite estimate exists for them, and they "
            "are left out of the table. Firth's correction or a penalty gives them finite "
            "estimates."
        )
    if np.isfinite(s.get("auc", np.nan)):
        paras.append(
            f"On the held-out rows: ROC AUC {s['auc']:.3f}, log loss {s['log_loss']:.3f}, "
            f"Brier score {s['brier']:.3f}, calibration slope {s['calibration_slope']:.2f} "
            "(1 is ideal; below 1 means the predictions are too extreme, the mark of "
            "overfitting) and calibration intercept "
            f"{s['calibration_intercept']:+.2f} (0 is ideal)."
        )
    return "\n\n".join(paras)
