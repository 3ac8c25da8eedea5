"""Monte Carlo coefficient-recovery studies: refit on every replicate, summarise, explain.

A study fits one model per replicate and asks how well the known coefficients are
recovered. Replicates come from one of two sources (or both):

* **Resampling one data set** (``X (n, d)``, ``y (n,)`` and a scheme such as
  :class:`jaxlogreg.Splits`): replicate ``b`` trains on the scheme's weights of model ``b``
  and is evaluated on its held-out rows. This is the seed study: one synthetic data set,
  10,000 train splits.
* **Fresh data** (``generate``): replicate ``b`` fits its own data set ``generate(b) ->
  (X (n, d), y (n,))``, a pure JAX function of the index (for example one replicate of
  :func:`jaxlogreg.simulate`); with a scheme too, it trains on the scheme's part of its
  own data. This is the sampling distribution the model-based standard errors describe.

Replicates are processed in chunks of ``batch`` consecutive indices, each one call of
:func:`jaxlogreg.fit`, :func:`jaxlogreg.inference` and the held-out metrics of
:mod:`jaxlogreg._metrics`, all batched on the device. With ``out``, each finished chunk is
written atomically to ``out/chunks/`` as it completes; a run with the same settings into the
same ``out`` reuses the chunks a killed run left and computes only the rest, giving the same
result as an uninterrupted run (see *Storage* in :mod:`jaxlogreg._study._storage`).

The modules, in the order the data flows through them (each imports only those above it,
apart from the type of :class:`StudyResult` that the reading's modules name):

* ``_identity``: the settings that identify a study, their id, the format of its files.
* ``_held_out``: a chunk's metrics on each replicate's held-out rows.
* ``_diagnostics``: what the data are like (VIFs, correlations, class counts, two-valued
  columns), the full-data fit's sandwich SE, and the columns of each separated replicate's
  separating direction: the causes the reading names.
* ``_records``: the typed parts of a :class:`StudyResult` (:class:`StudyReplicates`,
  :class:`StudySummary`, :class:`StudyReference`, :class:`StudyDiagnostics` with
  :class:`StudyData`), frozen dataclasses that read as mappings too.
* ``_facts``, ``_reading_replicates``, ``_reading``, ``_summary``: the per-replicate fields,
  their per-coefficient summary (its formulas), :class:`StudyResult` and the plain-language
  reading of its table: the first-order predictions and the facts the reading states
  (``_facts``, also the plots'), its paragraphs about the replicates and about the data.
* ``_plots``: ``coefficients.png``, ``calibration.png`` and ``sign_flips.png``, as
  matplotlib figures whose artists name what they show.
* ``_outputs``: ``summary.json``, ``replicates.npz``, ``report.md`` and the plots, written
  and read back all or nothing (:func:`write_outputs`, :func:`load`).
* ``_storage``: a study's files in ``out``: the lock, the record and the chunks.
* ``_run``: :func:`run_study`, which checks the arguments, draws, fits and scores each
  chunk (``_run_chunk``, one program per chunk), and summarises. A test that replaces a
  helper patches it in the module that calls it, e.g. ``_study._run._run_chunk``: the names
  re-exported here are copies.
"""

# Beside the public names: the private ones that tests, benchmarks and scripts use, and the
# submodules themselves.
from . import (  # noqa: F401
    _diagnostics,
    _facts,
    _held_out,
    _identity,
    _outputs,
    _plots,
    _reading,
    _reading_replicates,
    _records,
    _run,
    _storage,
    _summary,
)
from ._held_out import _held_out_columns, _held_out_metrics, _held_out_rows, _predict  # noqa: F401
from ._identity import study_id  # noqa: F401
from ._outputs import OUTPUT_FILES, load, write_outputs
from ._records import (
    StudyData,
    StudyDiagnostics,
    StudyReference,
    StudyReplicates,
    StudySummary,
)
from ._run import _draw, _run_chunk, _standard_errors, run_study  # noqa: F401
from ._summary import REPLICATE_FIELDS, StudyResult, summarize  # noqa: F401

__all__ = [
    "run_study", "StudyResult", "StudyReplicates", "StudySummary", "StudyReference",
    "StudyDiagnostics", "StudyData", "REPLICATE_FIELDS", "OUTPUT_FILES", "load", "write_outputs",
]
