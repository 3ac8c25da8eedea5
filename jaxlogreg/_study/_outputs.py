"""A finished study's outputs: ``summary.json``, ``replicates.npz``, ``report.md``, plots.

**The outputs are all or nothing** (:func:`write_outputs`, :func:`load`): every output is
first written to a temporary name (a full disk there leaves the old set whole), then
``outputs.json`` is removed, the outputs are renamed into place, stale ones (a plot the new
set lacks) removed, and ``outputs.json`` written last with every output's SHA-256
(:func:`jaxlogreg._io.replace_set`). :func:`load` checks every output against it, so a reader
gets the old complete set, the new complete set, or a ``ValueError`` saying the set is
incomplete, never a mix.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from .. import _io
from .._status import Status
from ._identity import _FORMAT, study_id
from ._summary import REPLICATE_FIELDS, StudyResult

# The marker written last, with the SHA-256 of every output.
_MARKER = "outputs.json"
# Outputs of write_outputs, in the order written; the plots only with matplotlib, the
# calibration plot only with held-out rows.
OUTPUT_FILES = ("summary.json", "replicates.npz", "report.md", "coefficients.png",
                "calibration.png")


def _jsonable(v):
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, (np.ndarray, np.generic)):
        return np.asarray(v).tolist()
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v


def write_outputs(result: StudyResult, out) -> list[Path]:
    """Write ``summary.json``, ``replicates.npz``, ``report.md`` and (with matplotlib)
    ``coefficients.png`` and ``calibration.png`` to ``out``, then ``outputs.json`` with the
    digest of each, all or nothing (module docstring); returns the paths of the outputs."""
    out = Path(out)
    table, reading = result.table(), result.reading()
    summary = dict(
        config=result.config, names=list(result.names), true_params=result.true_params,
        summary=result.summary, reference=result.reference, table=table, reading=reading,
    )
    files = {
        "summary.json": _io.json_bytes(_jsonable(summary)),
        "replicates.npz": _io.npz_bytes(**result.replicates),
    }
    plots = _plots(result)
    lines = [
        "# Coefficient-recovery study", "",
        f"{result.summary['replicates']} replicates ({result.summary['used']} used: converged "
        f"with an invertible information matrix); source: {result.config.get('source')}; "
        f"scheme: {json.dumps(result.config.get('scheme'))}.", "",
        "```", table, "```", "",
        "Columns: true value, mean estimate, bias, SD of the estimates, mean model-based SE, "
        "their ratio, RMSE, share of wrong signs (flip), the share predicted from the SE "
        "(pred.), and coverage of the Wald interval.", "",
        reading, "",
    ]
    for name in plots:
        lines += [f"![{Path(name).stem}]({name})", ""]
    files["report.md"] = "\n".join(lines).encode("utf-8")
    files.update(plots)
    _io.replace_set(out, files, _MARKER, stale=OUTPUT_FILES,
                    extra=dict(format=_FORMAT, study_id=study_id(result.config)))
    return [out / name for name in files]


def _plots(result: StudyResult) -> dict[str, bytes]:
    """``{file name: PNG bytes}``: histograms of every coefficient and the pooled
    calibration curve (needs matplotlib; nothing is drawn without it)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return {}
    import io

    s, reps = result.summary, result.replicates
    ok = (np.asarray(reps["status"]) == int(Status.CONVERGED)) & np.asarray(reps["valid"], bool)
    params = np.asarray(reps["params"], np.float64)[ok]
    k = len(result.names)
    cols = min(4, k)
    rows = -(-k // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows), squeeze=False)
    for j, ax in enumerate(axes.ravel()):
        if j >= k:
            ax.axis("off")
            continue
        v = params[:, j]
        m, se, t = s["mean"][j], s["mean_se"][j], result.true_params[j]
        ends = [t] + ([v.min(), v.max()] if len(v) else [])
        if np.isfinite(se) and se > 0:
            ends += [m - 3.5 * se, m + 3.5 * se]
        lo, hi = min(ends), max(ends)
        if len(v):
            ax.hist(v, bins=50, range=(lo, hi), density=True, color="0.75")
        if np.isfinite(se) and se > 0:
            grid = np.linspace(lo, hi, 200)
            ax.plot(grid, np.exp(-0.5 * ((grid - m) / se) ** 2) / (se * math.sqrt(2 * math.pi)),
                    color="C0", lw=1.2, label="N(mean, mean SE)")
        ax.axvline(t, color="C3", lw=1.5, label="true")
        if lo < 0.0 < hi:
            ax.axvline(0.0, color="k", lw=0.6, ls=":")
        ax.set_title(result.names[j], fontsize=9)
        ax.tick_params(labelsize=7)
    axes.ravel()[0].legend(fontsize=7)
    fig.tight_layout()
    plots = {}
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    plots["coefficients.png"] = buf.getvalue()
    pred, obs = s["reliability_predicted"], s["reliability_observed"]
    if np.any(np.isfinite(pred)):
        fig, ax = plt.subplots(figsize=(4, 4))
        ax.plot([0, 1], [0, 1], color="0.6", lw=1, ls="--", label="perfect")
        ax.plot(pred, obs, "o-", color="C0", label="held-out rows, pooled")
        ax.set_xlabel("mean predicted probability")
        ax.set_ylabel("observed frequency")
        lim = float(np.nanmax(np.concatenate([pred, obs]))) * 1.05
        ax.set_xlim(0, max(lim, 0.05))
        ax.set_ylim(0, max(lim, 0.05))
        ax.legend(fontsize=8)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110)
        plt.close(fig)
        plots["calibration.png"] = buf.getvalue()
    return plots


def load(out) -> StudyResult:
    """The :class:`StudyResult` of a finished study directory (``summary.json`` and
    ``replicates.npz``, as :func:`write_outputs` writes them, checked against
    ``outputs.json``).

    Raises:
      ValueError: no such directory, or its outputs are incomplete, changed or damaged
        (:class:`jaxlogreg._io.StorageError`), naming the file.
    """
    out = Path(out)
    if not out.is_dir():
        raise ValueError(f"out: no finished study in {out} (no such folder)")
    fix = "run the study again with the same settings into this folder to write them again"
    try:
        marker, files = _io.read_set(out, _MARKER, what="the study's outputs")
        record = _io.read_json(out / "summary.json", files["summary.json"])
        reps = _io.read_npz(out / "replicates.npz", files["replicates.npz"])
        if marker.get("study_id") != study_id(record["config"]):
            raise _io.StorageError(f"{out / _MARKER}: belongs to another study than {out / 'summary.json'}")
        missing = [k for k in REPLICATE_FIELDS if k not in reps]
        if missing:
            raise _io.StorageError(f"{out / 'replicates.npz'}: lacks the fields {missing}")
        summary = {k: np.asarray(v, np.float64) if isinstance(v, list) else v
                   for k, v in record["summary"].items()}
        reference = record["reference"]
        names, true_params, config = record["names"], record["true_params"], record["config"]
    except _io.StorageError as e:
        raise _io.StorageError(f"{e}; {fix}") from None
    except (KeyError, TypeError, AttributeError) as e:
        raise _io.StorageError(f"{out / 'summary.json'}: not a study summary ({e!r}); {fix}") from None
    if reference is not None:
        reference = {k: np.asarray(v, np.float64) if isinstance(v, list) else v
                     for k, v in reference.items()}
    return StudyResult(tuple(names), np.asarray(true_params, np.float64), reps, summary,
                       reference, config)
