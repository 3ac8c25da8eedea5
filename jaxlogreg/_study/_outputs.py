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
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from .. import _io
from . import _plots
from ._identity import _FORMAT, study_id
from ._records import StudyDiagnostics, StudyReference, StudyReplicates, StudySummary
from ._summary import REPLICATE_FIELDS, StudyResult

# The marker written last, with the SHA-256 of every output.
_MARKER = "outputs.json"
# Outputs of write_outputs, in the order written; the plots only with matplotlib, the
# calibration plot only with held-out rows (a study written before sign_flips.png existed
# loads without it).
OUTPUT_FILES = ("summary.json", "replicates.npz", "report.md", "coefficients.png",
                "calibration.png", "sign_flips.png")


def _jsonable(v):
    if isinstance(v, Mapping):  # a dict, or a study's record (its fields that are not None)
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, (np.ndarray, np.generic)):
        return np.asarray(v).tolist()
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v


def write_outputs(result: StudyResult, out) -> list[Path]:
    """Write ``summary.json``, ``replicates.npz``, ``report.md`` and (with matplotlib)
    ``coefficients.png``, ``calibration.png`` and ``sign_flips.png`` to ``out``, then
    ``outputs.json`` with the digest of each, all or nothing (module docstring); returns the
    paths of the outputs."""
    out = Path(out)
    table, reading = result.table(), result.reading()
    summary = dict(
        config=result.config, names=list(result.names), true_params=result.true_params,
        summary=result.summary, reference=result.reference, table=table, reading=reading,
        diagnostics=result.diagnostics,
    )
    files = {
        "summary.json": _io.json_bytes(_jsonable(summary)),
        "replicates.npz": _io.npz_bytes(**result.replicates),
    }
    plots = _plots.render(result)
    files["report.md"] = report(result, table, reading, plots).encode("utf-8")
    files.update(plots)
    _io.replace_set(out, files, _MARKER, stale=OUTPUT_FILES,
                    extra=dict(format=_FORMAT, study_id=study_id(result.config)))
    return [out / name for name in files]


def report(result: StudyResult, table: str, reading: str, plots) -> str:
    """``report.md``: what was run, the table and its columns, the reading, and each plot
    with what it shows."""
    s, cfg = result.summary, result.config
    resample = result.reference is not None
    columns = (
        "Columns: the true value (true)"
        + (", the estimate from the full data set (full)" if resample else "")
        + ", the mean estimate over the replicates used (mean)"
        + (", mean minus the full-data estimate (mean-full, the resampling bias)"
           if resample else "")
        + ", mean minus the true value (mean-true"
        + (", which adds the full-data estimate's own error)" if resample else ", the bias)")
        + ", the SD of the estimates (SD), the mean model-based standard error (mean SE), "
        "their ratio (SE/SD), the root mean squared error against the true value (RMSE), the "
        "share of replicates whose estimate has the wrong sign (flip), the share predicted "
        "for fresh samples of the replicates' size from the standard errors (pred., mean of "
        "Phi(-|true| / SE)), and the share of Wald intervals at "
        f"{float(cfg.get('level', 0.95)):.0%} that cover the true value (cover)."
    )
    lines = [
        "# Coefficient-recovery study", "",
        f"{s['replicates']} replicates ({s['used']} used: converged with an invertible "
        f"information matrix); source: {cfg.get('source')}; scheme: "
        f"{json.dumps(cfg.get('scheme'))}.", "",
        "```", table, "```", "",
        columns, "",
        reading, "",
    ]
    for name, caption in _plots.captions(result, plots).items():
        lines += [f"![{Path(name).stem}]({name})", "", caption, ""]
    return "\n".join(lines)


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
            raise _io.StorageError(
                f"{out / _MARKER}: belongs to another study than {out / 'summary.json'}")
        missing = [k for k in REPLICATE_FIELDS if k not in reps]
        if missing:
            raise _io.StorageError(f"{out / 'replicates.npz'}: lacks the fields {missing}")
        # The JSON lists of the records' array fields become float64 arrays; the fields
        # that studies written before them lack (the summary's resampling_bias, the
        # reference's bse_sandwich, the diagnostics) are None.
        summary = StudySummary.from_mapping(record["summary"])
        reference = (None if record["reference"] is None
                     else StudyReference.from_mapping(record["reference"]))
        diagnostics = record.get("diagnostics")
        if diagnostics is not None:
            diagnostics = StudyDiagnostics.from_mapping(diagnostics)
        names, true_params, config = record["names"], record["true_params"], record["config"]
    except _io.StorageError as e:
        raise _io.StorageError(f"{e}; {fix}") from None
    except (KeyError, TypeError, AttributeError) as e:
        raise _io.StorageError(
            f"{out / 'summary.json'}: not a study summary ({e!r}); {fix}") from None
    return StudyResult(tuple(names), np.asarray(true_params, np.float64),
                       StudyReplicates.from_mapping(reps), summary, reference, config,
                       diagnostics)
