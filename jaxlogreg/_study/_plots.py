"""A study's plots: the estimates per coefficient, the pooled calibration, the sign flips.

Each ``*_figure`` function returns a matplotlib ``Figure`` (or None when there is nothing to
draw), whose artists carry a ``gid`` naming what they show, so that tests can read the
figure's lines and counts; :func:`render` draws them to PNG bytes (nothing without
matplotlib). Only replicates that converged with an invertible information matrix are
drawn, as in the table.

* ``coefficients.png``: per coefficient, a histogram of the estimates (density), the normal
  curve ``N(mean, mean SE^2)`` (gid ``normal``), vertical lines at the true value (``true``),
  the full-data estimate (``full_data``, resampling only) and zero (``zero``), and the side of
  zero opposite the true value shaded (``wrong_sign``). The legend sits in a free panel (or
  below the panels), the caption under it.
* ``calibration.png``: above, the pooled reliability curve of the held-out rows, each bin's
  observed frequency with its Wilson interval (gid ``bins``); bins resting on fewer than
  :data:`FEW_ROWS` rows drawn hollow, without a line or interval (``few_rows``). Below, the
  rows behind each bin (``rows``, bars, with their counts as text). With resampling every
  row is held out in many replicates, so the rows behind bin ``b`` are the data set's rows
  in proportion to the held-out weight the bin received, ``n W_b / sum_c W_c``; with fresh
  data every held-out row is its own, ``W_b``.
* ``sign_flips.png``: per coefficient with a nonzero true value, the share of replicates
  with the wrong sign (``observed``, with its Wilson interval over the replicates used),
  the share predicted for fresh samples (``predicted``, the table's pred.) and, resampling
  one data set, the share predicted across its replicates (``replicate_predicted``,
  :func:`jaxlogreg._study._facts.replicate_flip`).

The Wilson interval of a share ``p`` of ``N`` at ``z = Phi^-1(0.975)`` is ``(p + z^2 / 2N
+- z sqrt(p (1 - p) / N + z^2 / 4N^2)) / (1 + z^2 / N)`` (Wilson 1927).
"""

from __future__ import annotations

import io
import math
import statistics
import textwrap
from typing import TYPE_CHECKING

import numpy as np

from .._status import Status
from ._facts import predicted_se_ratio, replicate_flip

if TYPE_CHECKING:
    from ._summary import StudyResult

# A calibration bin resting on fewer rows than this is drawn as too thin to read.
FEW_ROWS = 5
_Z95 = statistics.NormalDist().inv_cdf(0.975)


def wilson(p, n, z: float = _Z95) -> tuple[np.ndarray, np.ndarray]:
    """``(lower, upper)`` Wilson score interval of shares ``p`` out of ``n`` (module
    docstring), elementwise; NaN where ``n <= 0`` or ``p`` is NaN."""
    p = np.asarray(p, np.float64)
    n = np.asarray(n, np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        denom = 1.0 + z * z / n
        centre = (p + z * z / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    bad = ~(n > 0) | ~np.isfinite(p)
    return np.where(bad, np.nan, centre - half), np.where(bad, np.nan, centre + half)


def _used(result: StudyResult) -> np.ndarray:
    reps = result.replicates
    return (np.asarray(reps["status"]) == int(Status.CONVERGED)) & np.asarray(reps["valid"], bool)


def _describe_scheme(result: StudyResult) -> str:
    scheme = result.config.get("scheme") or {}
    kind = scheme.get("kind")
    if result.reference is None:
        return "a fresh data set per replicate" + (f", {kind}" if kind else "")
    f = result.reference["n_train"] / result.reference["n"]
    return f"{kind} of {result.reference['n']} rows, {f:.0%} training weight"


def coefficients_caption(result: StudyResult) -> str:
    """What ``coefficients.png`` shows, the normal curve's width above all."""
    used = int(_used(result).sum())
    ratio = predicted_se_ratio(result)
    text = (f"Histograms: the estimates of the {used} replicates used. Curve: a normal with the "
            "replicates' mean and the mean model-based SE as its SD, the spread a fit of this "
            "size has across independent samples.")
    if result.reference is not None and ratio is not None and ratio > 1.0:
        text += (f" Replicates of one data set share rows, so the histogram is narrower than "
                 f"the curve by design (by about {1 / ratio:.2f}, sqrt(1 - training share); the "
                 "SE/SD column).")
    elif ratio is not None:
        text += " The histogram and the curve should have about the same width (SE/SD near 1)."
    text += (" Lines: the true value"
             + (", the full-data estimate" if result.reference is not None else "")
             + " and zero; shaded: the side of zero opposite the true value (the wrong sign).")
    return text


def calibration_caption(result: StudyResult) -> str:
    return (f"Pooled reliability curve of the held-out rows: each bin's mean prediction against "
            f"its observed frequency, with a 95% Wilson interval from the rows behind the bin "
            f"(lower panel). Bins resting on fewer than {FEW_ROWS} rows are drawn hollow, "
            "without an interval: too few rows to read."
            + (" Each row is held out in many replicates: the rows behind a bin are the data "
               "set's rows in proportion to the held-out weight it received."
               if result.reference is not None else ""))


def sign_flips_caption(result: StudyResult) -> str:
    return ("Share of replicates whose estimate has the wrong sign (with its 95% Wilson "
            "interval), against the share predicted for fresh samples of the same size from "
            "the standard errors (pred.)"
            + (" and the share predicted across replicates of this one data set, from where "
               "its full-data estimate lies" if replicate_flip(result) is not None else "")
            + ".")


def captions(result: StudyResult, plots) -> dict[str, str]:
    """``{file name: caption}`` of the plots drawn (``plots``, file names), for report.md."""
    every = {"coefficients.png": coefficients_caption, "calibration.png": calibration_caption,
             "sign_flips.png": sign_flips_caption}
    return {name: every[name](result) for name in plots}


def coefficients_figure(result: StudyResult):
    """The ``coefficients.png`` figure (module docstring)."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.ticker import MaxNLocator

    s = result.summary
    used = _used(result)
    params = np.asarray(result.replicates["params"], np.float64)[used]
    ref = result.reference
    full = None if ref is None else np.asarray(ref["params"], np.float64)
    k = len(result.names)
    cols = min(4, k)
    rows = -(-k // cols)
    free = rows * cols > k
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 2.8 * rows + (0.9 if free else 1.5)),
                             squeeze=False)
    for j, ax in enumerate(axes.ravel()):
        if j >= k:
            ax.axis("off")
            continue
        v = params[:, j]
        m, se, t = s["mean"][j], s["mean_se"][j], result.true_params[j]
        ends = [t] + ([v.min(), v.max()] if len(v) else [])
        if full is not None and np.isfinite(full[j]):
            ends.append(full[j])
        if np.isfinite(se) and se > 0 and np.isfinite(m):
            ends += [m - 3.5 * se, m + 3.5 * se]
        lo, hi = min(ends), max(ends)
        pad = 0.03 * (hi - lo) if hi > lo else 1.0
        lo, hi = lo - pad, hi + pad
        if t > 0 and lo < 0:
            ax.axvspan(lo, 0.0, color="C3", alpha=0.12, lw=0, gid="wrong_sign")
        elif t < 0 and hi > 0:
            ax.axvspan(0.0, hi, color="C3", alpha=0.12, lw=0, gid="wrong_sign")
        if len(v):
            ax.hist(v, bins=50, range=(lo, hi), density=True, color="0.72", gid="estimates")
        if np.isfinite(se) and se > 0 and np.isfinite(m):
            grid = np.linspace(lo, hi, 200)
            ax.plot(grid, np.exp(-0.5 * ((grid - m) / se) ** 2) / (se * math.sqrt(2 * math.pi)),
                    color="C0", lw=1.2, gid="normal")
        ax.axvline(0.0, color="k", lw=0.8, ls=":", gid="zero")
        ax.axvline(t, color="C3", lw=1.5, gid="true")
        if full is not None:
            ax.axvline(full[j], color="C2", lw=1.5, ls="--", gid="full_data")
        ax.set_xlim(lo, hi)
        flip = s["sign_flip"][j]
        ax.set_title(
            f"{result.names[j]}" + (f": wrong sign {flip:.1%}" if np.isfinite(flip) else ""),
            fontsize=9)
        ax.set_xlabel(f"estimate of {result.names[j]}", fontsize=8)
        ax.set_ylabel("density", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=5))
    handles = [
        Patch(color="0.72", label="estimates (histogram)"),
        Line2D([], [], color="C0", lw=1.2, label="N(mean, mean SE)"),
        Line2D([], [], color="C3", lw=1.5, label="true value"),
    ]
    if full is not None:
        handles.append(Line2D([], [], color="C2", lw=1.5, ls="--", label="full-data estimate"))
    handles += [Line2D([], [], color="k", lw=0.8, ls=":", label="zero"),
                Patch(color="C3", alpha=0.15, label="wrong sign")]
    if free:
        legend = axes.ravel()[-1].legend(handles=handles, loc="center", fontsize=8, frameon=False)
    else:
        legend = fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8,
                            frameon=False, bbox_to_anchor=(0.5, 0.06))
    legend.set_gid("legend")
    fig.suptitle(f"Estimates across {int(used.sum())} replicates ({_describe_scheme(result)})",
                 fontsize=11)
    caption = textwrap.fill(coefficients_caption(result), width=int(34 * cols))
    fig.text(0.5, 0.01, caption, ha="center", va="bottom", fontsize=7.5, gid="caption")
    lines = caption.count("\n") + 1
    bottom = (0.012 * lines * 9 / (2.8 * rows + 1.5)) + (0.02 if free else 0.09)
    fig.tight_layout(rect=(0, min(bottom, 0.4), 1, 0.96))
    return fig


def calibration_rows(result: StudyResult) -> np.ndarray:
    """``(bins,)`` the rows behind each bin of the pooled reliability curve (module
    docstring)."""
    w = np.asarray(result.summary["reliability_weight"], np.float64)
    if result.reference is None:
        return w
    total = w.sum()
    return result.reference["n"] * w / total if total > 0 else np.zeros_like(w)


def _count(rows: float) -> str:
    """A bin's rows as a short label: 0.4, 37, 5782, 379k."""
    if rows < 1:
        return f"{rows:.1g}"
    return f"{rows:.0f}" if rows < 10_000 else f"{rows / 1000:.0f}k"


def calibration_figure(result: StudyResult):
    """The ``calibration.png`` figure (module docstring); None without held-out rows."""
    import matplotlib.pyplot as plt

    s = result.summary
    pred = np.asarray(s["reliability_predicted"], np.float64)
    obs = np.asarray(s["reliability_observed"], np.float64)
    if not np.any(np.isfinite(pred)):
        return None
    rows = calibration_rows(result)
    bins = len(pred)
    edges = np.linspace(0.0, 1.0, bins + 1)
    centres = 0.5 * (edges[:-1] + edges[1:])
    enough = np.isfinite(pred) & (rows >= FEW_ROWS)
    few = np.isfinite(pred) & (rows < FEW_ROWS)
    lo, hi = wilson(obs, rows)
    fig, (ax, bar) = plt.subplots(2, 1, figsize=(5, 6), sharex=True,
                                  gridspec_kw=dict(height_ratios=(3, 1.3)))
    ax.plot([0, 1], [0, 1], color="0.6", lw=1, ls="--", label="perfect calibration", gid="perfect")
    below, above = obs[enough] - lo[enough], hi[enough] - obs[enough]
    bars = ax.errorbar(pred[enough], obs[enough],
                       yerr=np.clip(np.vstack([below, above]), 0.0, None),
                       fmt="o-", color="C0", ms=5, capsize=3,
                       label="held-out rows, pooled (95% Wilson)")
    bars[0].set_gid("bins")  # the data line (the others are the caps and the bars)
    if few.any():
        ax.plot(pred[few], obs[few], "o", mfc="none", mec="0.5", ms=6, gid="few_rows",
                label=f"fewer than {FEW_ROWS} rows: too few to read")
    ax.set_ylabel("observed frequency")
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.02, 1.02)
    ax.set_title("Calibration on the held-out rows", fontsize=11)
    ax.legend(fontsize=8, loc="upper left")
    bar.bar(centres, rows, width=0.9 / bins, color="0.6", gid="rows")
    for x, h in zip(centres, rows, strict=True):
        bar.text(x, h, _count(h), ha="center", va="bottom", fontsize=7, gid="row_count")
    bar.set_xlabel(f"predicted probability (bins of width 1/{bins})")
    bar.set_ylabel("rows per bin")
    bar.set_ylim(0, max(rows.max() * 1.25, 1.0))
    fig.tight_layout()
    return fig


def sign_flips_figure(result: StudyResult):
    """The ``sign_flips.png`` figure (module docstring); None when no true value is nonzero."""
    import matplotlib.pyplot as plt

    s = result.summary
    t = np.asarray(result.true_params, np.float64)
    which = [j for j in range(len(t)) if t[j] != 0 and np.isfinite(s["sign_flip"][j])]
    if not which:
        return None
    used = int(_used(result).sum())
    obs = np.asarray(s["sign_flip"], np.float64)[which]
    pred = np.asarray(s["predicted_flip"], np.float64)[which]
    lo, hi = wilson(obs, used)
    y = np.arange(len(which))[::-1]
    fig, ax = plt.subplots(figsize=(6.5, 1.0 + 0.42 * len(which)))
    marks = ax.errorbar(obs, y, xerr=np.clip(np.vstack([obs - lo, hi - obs]), 0.0, None),
                        fmt="o", color="k", ms=6, capsize=3,
                        label=f"observed ({used} replicates; 95% Wilson)")
    marks[0].set_gid("observed")
    ax.plot(pred, y, "D", mfc="none", mec="C0", ms=7, mew=1.5, gid="predicted",
            label="predicted for fresh samples (pred.)")
    across = replicate_flip(result)
    if across is not None:
        ax.plot(across[which], y, "x", color="C3", ms=8, mew=1.8, gid="replicate_predicted",
                label="predicted across replicates of this data set")
    ax.set_yticks(y, [result.names[j] for j in which])
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.7, len(which) - 0.3)
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
    ax.set_xlabel("share of replicates with the wrong sign")
    ax.set_title("Wrong signs: observed against predicted", fontsize=11)
    ax.grid(axis="x", color="0.9")
    ax.legend(fontsize=7.5, loc="best")
    fig.tight_layout()
    return fig


def figures(result: StudyResult) -> dict:
    """``{file name: Figure}`` of the plots there is something to draw for."""
    import matplotlib

    matplotlib.use("Agg")
    out = {"coefficients.png": coefficients_figure(result),
           "calibration.png": calibration_figure(result),
           "sign_flips.png": sign_flips_figure(result)}
    return {name: fig for name, fig in out.items() if fig is not None}


def render(result: StudyResult) -> dict[str, bytes]:
    """``{file name: PNG bytes}`` of :func:`figures` (empty without matplotlib)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return {}
    import matplotlib.pyplot as plt

    plots: dict[str, bytes] = {}
    for name, fig in figures(result).items():
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110)
        plt.close(fig)
        plots[name] = buf.getvalue()
    return plots
