"""Running a study: check the arguments, then fit, draw and score each chunk of replicates.

Each chunk is one compiled program of the draw, :func:`jaxlogreg.fit`,
:func:`jaxlogreg.inference` and the held-out metrics (:mod:`jaxlogreg._study._held_out`),
started before the chunk before it is fetched; the chunks' per-replicate arrays are
summarised by :mod:`jaxlogreg._study._summary` and, with ``out``, kept by
:mod:`jaxlogreg._study._storage`.
"""

from __future__ import annotations

import contextlib
import functools
import json
import sys
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from .. import _dispatch, _resample, _validate, solvers
from .._batch import chunked_map
from .._fit import fit
from .._inference import inference, variance_inflation_factors
from .._status import Status
from ._diagnostics import describe_data, group_separations, sandwich_se, separating_columns
from ._held_out import _columns, _held_out_metrics, _metrics_program, _no_metrics
from ._identity import _describe_scheme, _digest, _recorded
from ._records import StudyData, StudyDiagnostics, StudyReference, StudyReplicates
from ._storage import _Store
from ._summary import REPLICATE_FIELDS, StudyResult, summarize

# The standard errors a study can report (a cluster covariance needs groups it has none of).
_COV_TYPES = ("nonrobust", "HC0", "HC1")
# Per-observation values a study chunk may hold at once (predictions, held-out weights).
_CHUNK_ELEMENTS = 10_000_000
# Weights a draw makes at once, so that its random words stay in a CPU's caches, which a
# whole chunk's ``(size, n)`` in one vmapped draw does not.
_DRAW_ELEMENTS = 2**19
_PROGRESS_CHUNKS = 8
# Whether the replicates are scored on their held-out rows: benchmarks/bench_study.py turns
# it off to time the fits and their standard errors alone.
_SCORE_HELD_OUT = True
# A scheme whose replicates hold out a varying number of rows (_fixed_width).
_VARIES = "varies"


def run_study(
    X=None,
    y=None,
    true_params=None,
    *,
    scheme: _resample.Scheme | None = None,
    generate: Callable | None = None,
    num: int | None = None,
    names=None,
    fit_intercept: bool = True,
    solver="newton",
    alpha=0.0,
    l1_ratio: float = 0.0,
    cov_type: str = "nonrobust",
    level: float = 0.95,
    tol=None,
    max_iter=None,
    batch: int | None = None,
    chunk_size: int | None = None,
    out=None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = False,
    config: dict | None = None,
) -> StudyResult:
    """Fit every replicate of a Monte Carlo study and summarise coefficient recovery.

    Args:
      X, y: ``(n, d)`` and ``(n,)``: the data set to resample (with ``scheme``); None with
        ``generate``.
      true_params: ``(k,)`` true parameters, intercept first when ``fit_intercept``.
      scheme: a resampling scheme (:class:`jaxlogreg.Splits`, :class:`jaxlogreg.Bootstrap`,
        ...): ``scheme.num`` replicates; with ``generate``, each replicate's train/held-out
        partition of its own data.
      generate: ``generate(index) -> (X (n, d), y (n,))``, a pure, vmappable JAX function
        of an int32 replicate index: fresh data per replicate.
      num: number of replicates with ``generate`` (default ``scheme.num``).
      names: ``(k,)`` parameter names (default ``intercept`` and a pandas DataFrame ``X``'s
        column names, else ``intercept, x1, x2, ...``).
      fit_intercept, solver, alpha, l1_ratio, tol, max_iter, chunk_size: as
        :func:`jaxlogreg.fit`; ``cov_type`` as :func:`jaxlogreg.inference`.
      level: confidence level of the Wald intervals whose coverage is reported.
      batch: replicates per chunk (default: about 1e7 values per chunk, from ``n``, and at
        least 8 chunks of at least 256 replicates, so that the progress bar moves).
      out: a directory: chunks are written to ``out/chunks/`` as they finish (atomically),
        and the outputs of :func:`write_outputs` when all are done; None keeps everything in
        memory. See *Storage* in :mod:`jaxlogreg._study._storage`.
      resume: continue the study in ``out``. A run whose settings match the study in
        ``out`` always continues it (or reads it back when finished), so this only states
        the intent; a study with other settings is refused either way.
      overwrite: replace a study with other settings in ``out`` (removing its record,
        chunks and outputs, nothing else), and start afresh.
      progress: show a progress bar over replicates, moved as each chunk finishes, with a
        note while the first chunk compiles (tqdm when installed, else a line on stderr).
      config: extra JSON-serialisable settings to record with the study (the CLI records
        its generative model here).

    Returns:
      :class:`StudyResult`.

    Raises:
      ValueError: bad arguments, naming the argument; an ``out`` that holds another study,
        files of something else, a damaged or foreign chunk, or is in use by another run
        (:class:`jaxlogreg._io.StorageError`, a ``ValueError``, naming the file and what to
        do).
      OSError: ``out`` cannot be written (a full disk, no permission, a file where the
        folder should be), naming the file.
    """
    num = _replicate_count(X, y, scheme, generate, num)
    if not 0.0 < float(level) < 1.0:
        raise ValueError(f"level: must be in (0, 1), got {level}")
    if cov_type not in _COV_TYPES:
        raise ValueError(
            f"cov_type: a study's standard errors are one of {_COV_TYPES}, got {cov_type!r}")
    if resume and overwrite:
        raise ValueError("overwrite: cannot both resume the study in out and overwrite it")
    if true_params is None:
        raise ValueError("true_params: the parameters the data were generated from are needed")
    true_params = np.asarray(true_params, dtype=np.float64)
    X, y, n, d, dtype, names = _study_data(X, y, generate, true_params, fit_intercept, names)
    k = d + int(fit_intercept)
    solvers.resolve(solver, k, float(l1_ratio))  # an unknown solver raises, naming it
    if batch is None:
        # About 1e7 values per chunk, and at least _PROGRESS_CHUNKS chunks (of at least 256
        # replicates) so that a progress bar moves during a study of one chunk's size.
        batch = max(256, min(_CHUNK_ELEMENTS // max(n, 1), -(-num // _PROGRESS_CHUNKS)))
    batch = int(min(batch, num))
    if batch < 1:
        raise ValueError(f"batch: must be a positive integer, got {batch}")

    # The data (replicate 0's with generate): the digest identifies it, the reading describes it.
    first_data = (X, y) if generate is None else generate(jnp.asarray(0, jnp.int32))
    settings = dict(
        num=num, n=int(n), d=int(d), fit_intercept=bool(fit_intercept), solver=str(solver),
        alpha=float(np.asarray(alpha)) if np.ndim(alpha) == 0 else np.asarray(alpha).tolist(),
        l1_ratio=float(l1_ratio), cov_type=cov_type, level=float(level), batch=batch,
        scheme=_describe_scheme(scheme), source="resample" if X is not None else "generate",
        dtype=str(np.dtype(dtype)), names=list(names), true_params=true_params.tolist(),
        tol=_recorded(tol), max_iter=_recorded(max_iter),
        data_digest=_digest(*first_data),
        **(config or {}),
    )
    settings = json.loads(json.dumps(settings))  # as it reads back from study.json
    fit_kw = dict(
        fit_intercept=fit_intercept, solver=solver, alpha=alpha, l1_ratio=l1_ratio, tol=tol,
        max_iter=max_iter, chunk_size=chunk_size,
    )
    opened = (_Store(out, settings, overwrite=overwrite, progress=progress)
              if out is not None else contextlib.nullcontext())
    with opened as store:
        if store is not None and store.finished is not None:
            return store.finished
        reference = None
        if X is not None:
            assert scheme is not None
            reference = _reference_fit(X, y, scheme, fit_kw, cov_type, level, n, dtype, batch)
        chunk_kw = dict(fit_kw)
        if reference is not None and reference.status == int(Status.CONVERGED):
            # Every replicate starts from the full-data fit, whatever chunk it falls in, so a
            # replicate's fit does not depend on the chunking.
            chunk_kw["init"] = reference.params

        reps = _replicates(num, batch, store, progress, X, y, scheme, generate, chunk_kw,
                           cov_type, work=num * int(n))

        summary = summarize(reps, true_params, level,
                            None if reference is None else reference.params)
        n_train = (reference.n_train if reference is not None else
                   _train_weight(scheme, first_data[1], dtype, batch) if scheme is not None
                   else float(n))
        centre = reference.params if reference is not None else true_params
        diagnostics = StudyDiagnostics(
            data=StudyData(**describe_data(*first_data), n_train=n_train),
            separation=_separations(X, y, scheme, generate, reps, centre, fit_intercept,
                                    names, batch, dtype),
        )
        result = StudyResult(names, true_params, reps, summary, reference, settings, diagnostics)
        if store is not None:
            store.finish(result)
    return result


def _replicate_count(X, y, scheme, generate, num) -> int:
    """The number of replicates: ``num`` with ``generate`` (or the scheme's, when not given),
    else the scheme's; the sources of data checked (a data set with a scheme, or a
    generator, not both)."""
    if (X is None) != (y is None):
        raise ValueError("X, y: give both (a data set to resample) or neither (with generate)")
    if X is None and generate is None:
        raise ValueError("generate: needed when no data set X, y is given")
    if X is not None and generate is not None:
        raise ValueError("generate: give either a data set X, y or generate, not both")
    if X is not None and scheme is None:
        raise ValueError("scheme: needed to resample a data set (e.g. jaxlogreg.Splits(key, num))")
    if scheme is not None and not isinstance(scheme, _resample.Scheme):
        raise ValueError(f"scheme: expected a resampling scheme, got {type(scheme).__name__}")
    if generate is not None:
        num = scheme.num if num is None and scheme is not None else num
        if num is None or isinstance(num, bool) or int(num) < 1:
            raise ValueError(
                f"num: the number of replicates must be a positive integer, got {num!r}")
        num = int(num)
        if scheme is not None and scheme.num < num:
            raise ValueError(f"scheme: has {scheme.num} models, fewer than num = {num} replicates")
    else:
        assert scheme is not None  # checked above: a data set comes with a scheme
        num = scheme.num
    return num


def _study_data(X, y, generate, true_params, fit_intercept: bool, names):
    """``(X, y, n, d, dtype, names)``: the data set as JAX arrays (None with ``generate``),
    its shape and computing dtype (``generate``'s replicate 0 without one), and the ``k``
    parameter names, checked against ``true_params (k,)``."""
    columns = _validate.column_names(X)  # a pandas DataFrame's, before it becomes an array
    if X is not None:
        X = jnp.asarray(X)
        y = jnp.asarray(y)
        if X.ndim != 2 or y.ndim != 1:
            raise ValueError(f"X, y: expected shapes (n, d) and (n,), got {X.shape} and {y.shape}")
        n, d = X.shape
        dtype = X.dtype if jnp.issubdtype(X.dtype, jnp.floating) else jnp.result_type(float)
    else:
        assert generate is not None  # checked above: no data set means a generator
        shapes = jax.eval_shape(generate, jax.ShapeDtypeStruct((), jnp.int32))
        (n, d), dtype = shapes[0].shape, shapes[0].dtype
        if shapes[1].shape != (n,):
            raise ValueError(f"generate: must return X (n, d) and y (n,), got shapes "
                             f"{shapes[0].shape} and {shapes[1].shape}")
    k = d + int(fit_intercept)
    if true_params.shape != (k,):
        raise ValueError(
            f"true_params: expected shape ({k},) "
            f"({'intercept first, then ' if fit_intercept else ''}"
            f"one per column of X), got {true_params.shape}"
        )
    if names is None:
        columns = columns if columns is not None else tuple(f"x{j + 1}" for j in range(d))
        names = (("intercept",) if fit_intercept else ()) + columns
    names = tuple(names)
    if len(names) != k:
        raise ValueError(f"names: expected {k} names, got {len(names)}")
    return X, y, n, d, dtype, names


def _reference_fit(X, y, scheme, fit_kw: dict, cov_type: str, level: float, n: int,
                   dtype, batch: int) -> StudyReference:
    """The fit of the whole data set a resampling study compares its replicates with
    (``batch``: the study's chunk, :func:`_train_weight`)."""
    fit_intercept, alpha = fit_kw["fit_intercept"], fit_kw["alpha"]
    full = fit(X, y, **fit_kw)
    full_inf = inference(full, X, y, cov_type=cov_type, alpha=1.0 - level)
    full_params = np.asarray(full.params, np.float64)
    converged = int(full.status) == int(Status.CONVERGED)
    return StudyReference(
        params=full_params, bse=np.asarray(full_inf.bse, np.float64),
        status=int(full.status), n=int(n), n_train=_train_weight(scheme, y, dtype, batch),
        vif=np.asarray(variance_inflation_factors(X), np.float64),
        # The spread the replicates should show to first order (the reading's SE/SD).
        bse_sandwich=(sandwich_se(X, y, full_params, fit_intercept)
                      if converged and np.all(np.asarray(alpha) == 0) else None),
    )


def _replicates(num: int, batch: int, store, progress: bool, X, y, scheme, generate,
                chunk_kw: dict, cov_type: str, work: int) -> StudyReplicates:
    """Every replicate's arrays, chunk by chunk of ``batch``: read from ``store`` where it
    holds them, else computed (:func:`_run_chunk`; ``work``, the study's replicates times
    rows, chooses how its program compiles) and saved. Each chunk is started before the one
    before it is fetched and saved, so the device does not wait on the host."""
    starts = list(range(0, num, batch))
    bar = _progress(num, progress)
    pieces = []
    computed = 0
    pending = None  # (start, stop, first, fetch) of a chunk started and not yet fetched

    def finish(start, stop, first, fetch):
        piece = {key: v[start - first:] for key, v in fetch().items()}
        if store is not None:
            store.save(start, stop, piece)
        pieces.append(piece)
        bar.update(stop - start)

    for s in starts:
        stop = min(s + batch, num)
        piece = store.load(s, stop) if store is not None else None
        if piece is not None:
            if pending is not None:
                finish(*pending)
                pending = None
            pieces.append(piece)
            bar.update(stop - s)
            continue
        if computed == 0:
            bar.note("compiling the study's programs (a later run finds them in the "
                     "compilation cache)")
        computed += 1
        first = max(0, min(s, num - batch))  # the last chunk overlaps, keeping its shape
        try:
            fetch = _run_chunk(first, batch, X, y, scheme, generate, chunk_kw, cov_type, work)
        except BaseException:
            if pending is not None:  # the chunk before is finished work: keep it
                finish(*pending)
            raise
        if pending is not None:  # this chunk is under way while the one before is fetched
            finish(*pending)
        pending = (s, stop, first, fetch)
    if pending is not None:
        finish(*pending)
    bar.close()
    return StudyReplicates(**{key: np.concatenate([p[key] for p in pieces])
                              for key in REPLICATE_FIELDS})


def _train_weight(scheme, y, dtype, batch: int) -> float:
    """The training weight of the scheme's replicate 0 on ``y (n,)``: its rows for splits.
    Drawn by the program that draws a chunk's separated replicates (:func:`_weights_at`,
    ``batch`` of them), so that a study compiles one draw of its own."""
    W = _weights_at(scheme, np.zeros(batch, np.int32), jnp.asarray(y, dtype))
    return float(np.asarray(W)[0].sum())


def _separations(X, y, scheme, generate, reps: StudyReplicates, centre, fit_intercept, names,
                 batch, dtype) -> list[dict]:
    """The separated replicates grouped by the columns of their separating direction
    (:func:`jaxlogreg._study._diagnostics.separating_columns` on each one's training rows,
    its data drawn again in batches of ``batch`` replicates, the chunks' shape)."""
    separated = np.flatnonzero(np.asarray(reps["status"]) == int(Status.SEPARATED))
    params = np.asarray(reps["params"], np.float64)
    found = []
    for start in range(0, len(separated), batch):
        index = separated[start:start + batch]
        padded = np.zeros(batch, np.int32)  # padding repeats replicate 0; its rows are unused
        padded[:len(index)] = np.asarray(reps["index"])[index]
        if generate is not None:
            Xs, ys = _generate(generate, jnp.asarray(padded))
        else:
            Xs, ys = X, y
        if scheme is not None:
            W = np.asarray(_weights_at(scheme, padded, jnp.asarray(ys, dtype)))
        else:
            W = np.ones((batch, np.shape(ys)[-1]))
        Xs, ys = np.asarray(Xs, np.float64), np.asarray(ys, np.float64)
        for i, b in enumerate(index):
            Xb, yb = (Xs[i], ys[i]) if generate is not None else (Xs, ys)
            found.append(separating_columns(Xb, yb, W[i], params[b], centre, fit_intercept))
    return group_separations(found, names, fit_intercept)


def _weights_of(scheme, index, y):
    return jax.vmap(scheme.weights, in_axes=(0, None if y.ndim == 1 else 0))(index, y)


# A study's draws of replicates by index (one program per count; quickly compiled for a small
# draw on a CPU, jaxlogreg._dispatch.QUICK_WORK).
_WEIGHTS_OF = _dispatch.Programs(_weights_of, ())


def _weights_at(scheme, index, y) -> jax.Array:
    """``(len(index), n)`` training weights of the scheme's replicates ``index`` (an
    ``int32`` array); ``y`` is ``(n,)`` or one row per replicate ``(len(index), n)``."""
    args = (scheme, jnp.asarray(index), y)
    return _WEIGHTS_OF.pick(len(index) * y.shape[-1], y, args)(*args)


def _run_chunk(first, size, X, y, scheme, generate, fit_kw, cov_type,
               work: int) -> Callable[[], dict]:
    """Start replicates ``first .. first + size - 1`` of a study of ``work`` replicates
    times rows; returns a function that waits for them and gives their per-replicate arrays
    (NumPy).

    The chunk's weights are drawn once, ``(size, n)``, and shared by the fit, the inference
    and the held-out metrics (memory ``O(size * n)``, the bound of a study chunk). When the
    scheme fixes how many rows a replicate holds out (:meth:`jaxlogreg.Splits.held_out_most`
    and the like), or there are none to score, the chunk is one compiled program
    (:func:`_chunk_program`), dispatched without waiting on the device: the caller starts
    the next chunk before it fetches this one. Otherwise (the bootstrap's out-of-bag rows)
    the metrics' width is read from the fits' held-out rows first.
    """
    scored = _SCORE_HELD_OUT and scheme is not None and scheme.has_held_out
    rows = _fixed_width(scheme, y) if scored else None
    static, dynamic = _split_settings(fit_kw)
    settings = dict(size=size, generate=generate, fit_kw=static, cov_type=cov_type)
    first = jnp.asarray(first, jnp.int32)
    args = (first, X, y, scheme, dynamic)
    if rows is _VARIES:  # the width waits for the draw: the metrics are a second program
        out, X, y, res, held = _CHUNK_FITS.pick(work, X, args)(*args, **settings)
        piece = {key: np.asarray(v) for key, v in jax.device_get(out).items()}
        piece.update(_held_out_metrics(X, y, res, held, size, work))
        return lambda: piece
    out = _CHUNK_PROGRAM.pick(work, X, args)(*args, scored=scored, rows=rows, **settings)

    def fetch() -> dict:
        piece = {key: np.asarray(v) for key, v in jax.device_get(out).items()}
        return piece if scored else {**piece, **_no_metrics(size)}

    return fetch


def _chunk_parts(first, X, y, scheme, dynamic_kw, *, size, generate, fit_kw, cov_type):
    """``(out, X, y, res, held)`` of one chunk, under its caller's trace: the replicates'
    data (``generate``) or weights (``scheme``), the fits (:func:`jaxlogreg.fit` with
    ``fit_kw``, static ``(name, value)`` pairs, and ``dynamic_kw``, the array-valued
    settings) and their standard errors; ``out`` holds the per-replicate arrays, ``held``
    the held-out weights (None without)."""
    index = first + jnp.arange(size, dtype=jnp.int32)
    if generate is not None:
        X, y = jax.vmap(generate)(index)
    weights = held = None
    if scheme is not None:
        window = _resample.window(scheme, first, size)
        weights, held = _draw(window, jnp.asarray(y, X.dtype), scheme.has_held_out)
    res = fit(X, y, weights=weights, **dict(fit_kw), **dynamic_kw)
    bse, valid = _standard_errors(res, X, y, weights, cov_type=cov_type)
    out = dict(index=index, params=res.params, bse=bse, status=res.status, n_iter=res.n_iter,
               valid=valid)
    return out, X, y, res, held


_CHUNK_STATICS = ("size", "generate", "fit_kw", "cov_type")


def _chunk_program(first, X, y, scheme, dynamic_kw, *, scored, rows, **settings) -> dict:
    """One chunk as one program (:func:`_chunk_parts`) with, when ``scored``, the held-out
    metrics over ``rows`` columns (None: every row). ``first`` is traced, so every chunk of
    the study shares the program."""
    out, X, y, res, held = _chunk_parts(first, X, y, scheme, dynamic_kw, **settings)
    if scored:
        out.update(_metrics_program(X, y, res.params, held, fit_intercept=res.fit_intercept,
                                    rows=rows))
    return out


# The chunk's programs, compiled quickly for a small study on a CPU
# (jaxlogreg._dispatch.QUICK_STUDY_WORK); the second, the fits of a chunk whose held-out
# width is read from its draw (:func:`_run_chunk`).
_CHUNK_PROGRAM = _dispatch.Programs(_chunk_program, _CHUNK_STATICS + ("scored", "rows"),
                                    quick_work=_dispatch.QUICK_STUDY_WORK)
_CHUNK_FITS = _dispatch.Programs(_chunk_parts, _CHUNK_STATICS,
                                 quick_work=_dispatch.QUICK_STUDY_WORK)


def _split_settings(fit_kw: dict) -> tuple[tuple, dict]:
    """``fit_kw`` as the chunk program takes it: the hashable settings as sorted ``(name,
    value)`` pairs (static), the others (a start, strengths per column) as arrays."""
    static, dynamic = [], {}
    for name, value in fit_kw.items():
        try:
            hash(value)
        except TypeError:
            dynamic[name] = jnp.asarray(value)
        else:
            static.append((name, value))
    return tuple(sorted(static)), dynamic


def _fixed_width(scheme, y):
    """The held-out metrics' columns for every chunk of ``scheme`` on labels ``y`` (None
    with ``generate``): :func:`_columns` of the most rows a replicate holds out, when the
    scheme fixes it; ``_VARIES`` when it does not."""
    if y is None:
        return _VARIES
    most = scheme.held_out_most(np.asarray(y))
    return _VARIES if most is None else _columns(most, np.shape(y)[-1])


@functools.partial(jax.jit, static_argnames=("cov_type",))
def _standard_errors(res, X, y, weights, *, cov_type):
    """``(bse, valid)`` of :func:`jaxlogreg.inference` for a chunk's fits (data the fit has
    checked). Compiled as one program, of which XLA keeps only what these two need: not the
    intercept-only fits behind ``llnull``, the deviance or the tests (about a tenth of the
    whole inference's time on the seed study)."""
    inf = inference(res, X, y, weights=weights, cov_type=cov_type)
    return inf.bse, inf.valid


@functools.partial(jax.jit, static_argnums=(0,))
def _generate(generate, index):
    return jax.vmap(generate)(index)


@functools.partial(jax.jit, static_argnames=("has_held_out",))
def _draw(window, y, has_held_out):
    """``(num, n)`` training weights and held-out weights (None without) of a window. The
    held-out rows are those of training weight 0 (the schemes' contract,
    :mod:`jaxlogreg._resample`): one draw gives both. Drawn in blocks of about
    ``_DRAW_ELEMENTS`` weights; a model's weights do not depend on the blocks."""
    index = jnp.arange(window.num, dtype=jnp.int32)
    block = max(1, _DRAW_ELEMENTS // y.shape[-1])
    if y.ndim == 1:
        weights = chunked_map(lambda i: window.weights(i, y), index, block)
    else:
        weights = chunked_map(lambda iy: window.weights(*iy), (index, y), block)
    held = (weights == 0).astype(weights.dtype) if has_held_out else None
    return weights, held


class _NoBar:
    def note(self, text: str) -> None:
        pass

    def update(self, k: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


class _LineBar:
    """A one-line progress report of replicates on stderr, for when tqdm is not installed."""

    def __init__(self, total: int):
        self.total, self.done = total, 0

    def note(self, text: str) -> None:
        print(f"\rstudy: {text}", end="", file=sys.stderr, flush=True)

    def update(self, k: int = 1) -> None:
        self.done += k
        print(f"\rstudy: replicates {self.done}/{self.total}\033[K", end="", file=sys.stderr,
              flush=True)

    def close(self) -> None:
        print(file=sys.stderr)


class _TqdmBar:
    """tqdm's bar over replicates, with a note shown in its postfix until the next update."""

    def __init__(self, tqdm, total: int):
        self.bar = tqdm(total=total, unit="replicate", desc="study")

    def note(self, text: str) -> None:
        self.bar.set_postfix_str(text)

    def update(self, k: int = 1) -> None:
        self.bar.set_postfix_str("")
        self.bar.update(k)

    def close(self) -> None:
        self.bar.close()


def _progress(total: int, enabled: bool):
    """A progress bar over ``total`` replicates (tqdm's when installed), or none."""
    if not enabled:
        return _NoBar()
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _LineBar(total)
    return _TqdmBar(tqdm, total)
