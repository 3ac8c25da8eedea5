"""A study's files in ``out``: the lock, the record, the chunks.

**Storage.** A study with ``out`` keeps there::

    .study.lock           the lock: one run at a time (it holds the running process's id)
    study.json            the record: the study's id and settings, and the manifest of
                          finished chunks, {file name: SHA-256 of its bytes}
    chunks/replicates_<start>_<stop>.npz
                          per-replicate arrays of replicates start .. stop - 1, with the
                          study's id and (start, stop) as arrays of their own
    summary.json, replicates.npz, report.md, coefficients.png, calibration.png
    outputs.json          written last: the SHA-256 of each output above

The study's id and settings are described in :mod:`jaxlogreg._study._identity`; the outputs
and ``outputs.json`` in :mod:`jaxlogreg._study._outputs`.

* A run holds an exclusive lock on ``out`` for its lifetime (:func:`jaxlogreg._io.
  lock_directory`); a second run into the same ``out`` is refused at once, naming the
  first one's process id.
* Into an ``out`` with no record, a run starts afresh, unless ``chunks/`` holds any file or
  an output is already there: those belong to something else and are never used or
  overwritten (``overwrite=True`` removes the study files named above, nothing else).
* Into an ``out`` whose record has the same id, a run reads back the finished study when its
  outputs are complete, else continues it: a chunk the manifest lists is used only if its
  bytes match the recorded digest and it holds this study's id, its own (start, stop), the
  replicate indices ``start .. stop - 1`` and every field with ``stop - start`` rows of the
  right shape; any mismatch is refused with a ``ValueError`` naming the file (delete it and
  run again to recompute it). A chunk the manifest does not list (a run stopped between
  writing it and recording it) is computed again and overwritten.
* Into an ``out`` holding another study, a run is refused, naming the settings that differ;
  ``overwrite=True`` replaces that study.
* A run that stops before it has recorded a chunk of a study it started removes what it
  wrote, the folder too if it made it: a run whose arguments fail leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import errno
import re
import sys
from pathlib import Path

import numpy as np

from .. import _io
from ._identity import _FORMAT, study_id
from ._outputs import _MARKER, OUTPUT_FILES, load, write_outputs
from ._summary import _FIELD_TAILS, REPLICATE_FIELDS, StudyResult

_RECORD, _LOCK = "study.json", ".study.lock"
_CHUNK_NAME = re.compile(r"replicates_\d{10}_\d{10}\.npz")


class _Store:
    """A study's files in ``out``, held under its lock from ``__enter__`` to ``__exit__``
    (*Storage* in the module docstring). After ``__enter__``, ``finished`` is the finished
    study read back from ``out`` when there is one, else None."""

    def __init__(self, out, settings: dict, *, overwrite: bool = False, progress: bool = False):
        self.out = Path(out)
        self.settings = settings
        self.study_id = study_id(settings)
        self.overwrite = overwrite
        self.progress = progress
        self.manifest: dict[str, str] = {}  # chunk file name -> SHA-256 of its bytes
        self.finished: StudyResult | None = None
        self._lock = contextlib.ExitStack()
        # What this run made, removed again if it fails before it has recorded a chunk:
        # folders (outermost first) and files (the lock, the record, an unrecorded chunk).
        self._made_dirs: list[Path] = []
        self._made_files: list[Path] = []
        self._recorded = False  # this run has recorded a chunk in the manifest

    @property
    def record(self) -> Path:
        return self.out / _RECORD

    def __enter__(self) -> _Store:
        try:
            self._open()
        except BaseException:
            self._close(failed=True)
            raise
        return self

    def __exit__(self, kind, value, traceback) -> None:
        self._close(failed=kind is not None)

    def _open(self) -> None:
        out = self.out
        if out.exists() and not out.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, "a file, not a folder", str(out))
        self._made_dirs = [f for f in reversed([out, *out.parents]) if not f.exists()]
        out.mkdir(parents=True, exist_ok=True)
        if not (out / _LOCK).exists():
            self._made_files.append(out / _LOCK)
        self._lock.enter_context(_io.lock_directory(out, _LOCK, what="out"))
        if self.overwrite:
            self._clear()
        record = self._read_record()
        if record is None:
            stray = self._strays()
            if stray is not None:
                raise _io.StorageError(
                    f"out: {stray} is not part of a study recorded in {out} (there is no "
                    f"{_RECORD}), so it may belong to something else and is neither used nor "
                    f"overwritten; delete it, pass overwrite=True (--overwrite) to remove the "
                    f"study files in {out}, or choose another out (--out)"
                )
            self._made_files.append(self.record)
            self._write_record()
            return
        previous = record["settings"]
        if previous != self.settings:
            changed = sorted(k for k in set(previous) | set(self.settings)
                             if previous.get(k) != self.settings.get(k))
            raise ValueError(
                f"out: {out} holds a different study (settings differ: {', '.join(changed)}); "
                "pass overwrite=True (--overwrite) to replace it, or choose another out (--out)"
            )
        if record["study_id"] != self.study_id:
            raise _io.StorageError(
                f"{self.record}: its study id {record['study_id']} does not match its settings "
                f"(id {self.study_id}): the file was changed; delete it (and {out / 'chunks'}) "
                "or pass overwrite=True (--overwrite) to start the study afresh"
            )
        self.manifest = dict(record["chunks"])
        for tmp in (out / "chunks").glob(".replicates_*.tmp"):  # left by a killed run
            tmp.unlink(missing_ok=True)
        try:
            done = load(out)
        except ValueError:  # no complete outputs (yet): the study continues
            return
        if done.config == self.settings:
            self.finished = done
            if self.progress:
                print(f"study: {out} holds this study, finished; reading it back (pass "
                      "overwrite=True, --overwrite, to compute it again)", file=sys.stderr)

    def _read_record(self) -> dict | None:
        """The study record, None when there is none; a ``StorageError`` when it is damaged."""
        fix = (f"delete it (and {self.out / 'chunks'}), pass overwrite=True (--overwrite) to "
               f"start the study afresh, or choose another out (--out)")
        try:
            record = _io.read_json(self.record)
        except FileNotFoundError:
            return None
        except _io.StorageError as e:
            raise _io.StorageError(f"{e}; {fix}") from None
        if not (isinstance(record, dict) and record.get("format") == _FORMAT
                and isinstance(record.get("study_id"), str)
                and isinstance(record.get("settings"), dict)
                and isinstance(record.get("chunks"), dict)):
            raise _io.StorageError(
                f"{self.record}: not a study record of this version of jaxlogreg "
                f"(format {_FORMAT}); {fix}"
            )
        return record

    def _write_record(self) -> None:
        _io.write_json(self.record, dict(format=_FORMAT, study_id=self.study_id,
                                         settings=self.settings,
                                         chunks=dict(sorted(self.manifest.items()))))

    def _strays(self) -> Path | None:
        """A file in ``out`` that a study would use or overwrite though no study record
        claims it (any file in ``chunks/``, an output), or None."""
        chunks = self.out / "chunks"
        if chunks.is_dir() and any(chunks.iterdir()):
            return min(chunks.iterdir())
        for name in (*OUTPUT_FILES, _MARKER):
            if (self.out / name).exists():
                return self.out / name
        return None

    def _clear(self) -> None:
        """Remove the study files in ``out`` (record, chunks, outputs), nothing else."""
        chunks = self.out / "chunks"
        if chunks.is_dir():
            for path in chunks.iterdir():
                if _CHUNK_NAME.fullmatch(path.name) or (
                        path.name.startswith(".replicates_") and path.name.endswith(".tmp")):
                    path.unlink()
        for name in (_MARKER, *OUTPUT_FILES, _RECORD):  # the marker first: no half set is read
            (self.out / name).unlink(missing_ok=True)

    def _close(self, failed: bool) -> None:
        try:
            if failed and not self._recorded:
                # Failed before recording a chunk: nothing of value is lost by removing what
                # this run made (rmdir: only folders left empty).
                for path in reversed(self._made_files):
                    with contextlib.suppress(OSError):
                        path.unlink()
                for folder in reversed(self._made_dirs):
                    with contextlib.suppress(OSError):
                        folder.rmdir()
        finally:
            self._lock.close()

    def _path(self, start: int, stop: int) -> Path:
        return self.out / "chunks" / f"replicates_{start:010d}_{stop:010d}.npz"

    def load(self, start: int, stop: int) -> dict | None:
        """Replicates ``start .. stop - 1`` from their chunk file, checked (module
        docstring); None when the manifest does not list it or the file is gone."""
        path = self._path(start, stop)
        digest = self.manifest.get(path.name)
        if digest is None:
            return None
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        fix = ("delete it and run the study again (the same settings, the same out) to "
               "compute it again, or choose another out (--out)")
        if _io.sha256(data) != digest:
            raise _io.StorageError(
                f"{path}: its contents do not match the checksum recorded in {self.record} "
                f"(damaged or replaced after it was written); {fix}"
            )
        try:
            arrays = _io.read_npz(path, data)
        except _io.StorageError as e:
            raise _io.StorageError(f"{e}; {fix}") from None
        owner = arrays.get("study_id")
        if owner is None or owner.shape != () or str(owner) != self.study_id:
            raise _io.StorageError(
                f"{path}: belongs to another study (id {owner if owner is None else str(owner)}"
                f", this study's is {self.study_id}); {fix}"
            )
        span = tuple(int(arrays[k]) if k in arrays and arrays[k].shape == ()
                     and np.issubdtype(arrays[k].dtype, np.integer) else None
                     for k in ("start", "stop"))
        if span != (start, stop):
            raise _io.StorageError(
                f"{path}: holds replicates start, stop = {span}, not {(start, stop)} as its "
                f"name says; {fix}"
            )
        k, rows = len(self.settings["names"]), stop - start
        for field in REPLICATE_FIELDS:
            tail = _FIELD_TAILS.get(field, ())
            want = (rows, *(k if t == "k" else t for t in tail))
            got = arrays[field].shape if field in arrays else None
            if got != want:
                raise _io.StorageError(
                    f"{path}: field {field!r} has shape {got}, expected {want}; {fix}"
                )
        if not np.array_equal(arrays["index"], np.arange(start, stop)):
            raise _io.StorageError(
                f"{path}: its replicate indices are not {start} .. {stop - 1}; {fix}")
        return {field: arrays[field] for field in REPLICATE_FIELDS}

    def save(self, start: int, stop: int, piece: dict) -> None:
        """Write replicates ``start .. stop - 1`` with the study's id and their range, then
        record the file's digest in the manifest."""
        path = self._path(start, stop)
        data = _io.npz_bytes(**piece, study_id=np.asarray(self.study_id),
                             start=np.asarray(start, np.int64), stop=np.asarray(stop, np.int64))
        if not path.parent.exists():
            self._made_dirs.append(path.parent)
        self._made_files.append(path)
        _io.write_bytes(path, data)
        self.manifest[path.name] = _io.sha256(data)
        self._write_record()
        self._recorded = True

    def finish(self, result: StudyResult) -> None:
        write_outputs(result, self.out)
