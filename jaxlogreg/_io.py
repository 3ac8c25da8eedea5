"""Files that are whole or absent, sets of files that are complete or refused, and a lock.

**One file.** Every write goes to a temporary file in the target's directory, is flushed to
disk, given the permissions the user's umask allows (``0o666 & ~umask``, as ``open`` would
give; ``mkstemp`` alone makes ``0o600``), and is then renamed over the target
(``os.replace``, atomic on POSIX and Windows); on POSIX the directory is flushed too, so that
the rename survives a power cut. A job killed mid-write leaves at worst a stray ``.tmp``
file, never a truncated result that a resumed job would trust. An ``OSError`` names the file
it was writing.

**A set of files** (:func:`replace_set`, :func:`read_set`). Files that only make sense
together (a study's summary, replicates and report) cannot be renamed into place in one
step. So every file is first written to a temporary name (an error there leaves the old set
untouched), then the set's marker file is removed, the files are renamed into place, and a
new marker recording each file's SHA-256 is written last. :func:`read_set` reads the marker
and the files and checks every digest: a reader gets either a complete set, old or new, or
a :class:`StorageError`, never a silent mix.

**A lock** (:func:`lock_directory`): an exclusive ``fcntl.flock`` on a lock file in the
directory, taken without waiting, held for the life of a job and released by the operating
system if the job dies. Where there is no ``fcntl`` (Windows), the lock is the lock file
itself, created with ``O_CREAT | O_EXCL`` and removed on release; a job killed there leaves it
behind, and the error names the file to delete.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import json
import os
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "StorageError", "write_bytes", "write_text", "write_json", "write_npz", "read_npz",
    "read_json", "json_bytes", "npz_bytes", "replace_set", "read_set", "sha256", "lock_directory",
]


class StorageError(ValueError):
    """A file on disk that cannot be trusted: damaged, from another job, incomplete, or in
    use by another job. The message names the file and what to do about it."""


def sha256(data: bytes) -> str:
    """Hex SHA-256 digest of ``data``."""
    return hashlib.sha256(data).hexdigest()


def _umask() -> int:
    # There is no way to read the umask without setting it: set a harmless value and put the
    # old one back at once (a file another thread creates in between gets 0o022).
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _named(e: OSError, path: Path) -> OSError:
    """``e`` naming ``path``, the file the user asked for, where it names no file (a failed
    ``write`` or ``fsync``) or a temporary one; the same errno, so the same ``OSError``
    subclass."""
    if e.errno is None or (e.filename is not None and not str(e.filename).endswith(".tmp")):
        return e
    return OSError(e.errno, e.strerror or os.strerror(e.errno), str(path))


# Errors of flushing a directory that mean the file system cannot do it (some network and
# FUSE file systems), not that the rename before it failed.
_NO_DIR_FSYNC = {errno.EINVAL, errno.ENOTSUP, getattr(errno, "EOPNOTSUPP", errno.ENOTSUP),
                 errno.EBADF, errno.EISDIR, errno.EACCES}


def _fsync_dir(folder: Path) -> None:
    """Flush a directory's entries (a rename) to disk; POSIX only (a no-op elsewhere)."""
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as e:
        if e.errno not in _NO_DIR_FSYNC:
            raise _named(e, folder) from None


@contextlib.contextmanager
def _removed_on_error(tmp, path: Path):
    """Remove the temporary file ``tmp`` if the block fails; an ``OSError`` is raised again
    naming ``path``, the file the user knows."""
    try:
        yield
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError):
            raise _named(e, path) from None
        raise


def _write_temp(path: Path, data: bytes) -> Path:
    """``data`` in a new temporary file beside ``path`` (flushed, with the umask's
    permissions); returns its path. Nothing is left behind on error."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    with _removed_on_error(tmp, path):
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
    return Path(tmp)


def write_bytes(path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (creating its directory)."""
    path = Path(path)
    tmp = _write_temp(path, data)
    with _removed_on_error(tmp, path):
        os.replace(tmp, path)
        _fsync_dir(path.parent)


def write_text(path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    write_bytes(path, text.encode("utf-8"))


def json_bytes(obj) -> bytes:
    """``obj`` as indented JSON (sorted keys), UTF-8 bytes."""
    return (json.dumps(obj, indent=2, sort_keys=True, allow_nan=True) + "\n").encode("utf-8")


def write_json(path, obj) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    write_bytes(path, json_bytes(obj))


def npz_bytes(**arrays) -> bytes:
    """NumPy arrays as the bytes of a ``.npz`` file."""
    buf = io.BytesIO()
    named: dict[str, Any] = {k: np.asarray(v) for k, v in arrays.items()}
    np.savez(buf, **named)  # (Any: numpy's stub would match the values to `allow_pickle`)
    return buf.getvalue()


def write_npz(path, **arrays) -> None:
    """Write NumPy arrays to a ``.npz`` file atomically."""
    write_bytes(path, npz_bytes(**arrays))


def read_npz(path, data: bytes | None = None) -> dict[str, np.ndarray]:
    """The arrays of a ``.npz`` file as a dict (loaded into memory), from ``path`` or from
    ``data``, its bytes already read. A missing file raises ``FileNotFoundError``; a
    truncated or garbled one :class:`StorageError` naming it."""
    try:
        with np.load(path if data is None else io.BytesIO(data), allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    except (zipfile.BadZipFile, EOFError, ValueError, KeyError) as e:
        # np.load reads a file that is no zip archive as a pickle, which it refuses with a
        # ValueError ("pickled data"); a truncated archive is a BadZipFile or an EOFError.
        raise StorageError(f"{path}: damaged, not a readable .npz file ({e})") from None


def read_json(path, data: bytes | None = None):
    """The JSON value in ``path`` (or in ``data``, its bytes already read). A missing file
    raises ``FileNotFoundError``; a truncated or garbled one :class:`StorageError` naming
    it."""
    try:
        return json.loads(Path(path).read_bytes() if data is None else data)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise StorageError(f"{path}: damaged, not valid JSON ({e})") from None


def replace_set(folder, files: dict[str, bytes], marker: str, stale: Iterable[str] = (),
                extra: dict | None = None) -> None:
    """Replace a set of files in ``folder`` so that :func:`read_set` sees all of the old set
    or all of the new one, never a mix (module docstring).

    Args:
      folder: the directory (created when missing).
      files: ``{name: bytes}`` of the new set.
      marker: name of the marker file written last: ``{"files": {name: sha256}, **extra}``.
      stale: names that belong to sets of this kind; those not in ``files`` are removed
        (a plot the new set does not have).
      extra: more JSON-serialisable entries for the marker.
    """
    folder = Path(folder)
    temps: dict[str, Path] = {}
    try:
        for name, data in files.items():
            temps[name] = _write_temp(folder / name, data)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(folder / marker)
        for name in list(temps):
            try:
                os.replace(temps[name], folder / name)
            except OSError as e:
                raise _named(e, folder / name) from None
            del temps[name]
        for name in stale:
            if name not in files:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(folder / name)
        _fsync_dir(folder)
        record = dict(extra or {}, files={name: sha256(data) for name, data in files.items()})
        write_json(folder / marker, record)
    finally:
        for tmp in temps.values():
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def read_set(folder, marker: str, what: str = "the set") -> tuple[dict, dict[str, bytes]]:
    """``(marker record, {name: bytes})`` of a set written by :func:`replace_set`, every
    file checked against its digest. Raises :class:`StorageError` naming the file when the
    marker or a file is missing or does not match (``what`` names the set in the
    message)."""
    folder = Path(folder)
    try:
        record = read_json(folder / marker)
    except FileNotFoundError:
        raise StorageError(
            f"{folder / marker}: missing, so {what} in {folder} is incomplete (a run stopped "
            "while writing it, or an older version wrote it)"
        ) from None
    names = record.get("files") if isinstance(record, dict) else None
    if not isinstance(names, dict):
        raise StorageError(f"{folder / marker}: damaged, it lists no files")
    contents = {}
    for name, digest in names.items():
        try:
            data = (folder / name).read_bytes()
        except FileNotFoundError:
            raise StorageError(
                f"{folder / name}: missing, so {what} in {folder} is incomplete") from None
        if sha256(data) != digest:
            raise StorageError(
                f"{folder / name}: does not match the checksum in {folder / marker}, so {what} "
                f"in {folder} is incomplete or was changed after it was written"
            )
        contents[name] = data
    return record, contents


@contextlib.contextmanager
def lock_directory(folder, name: str, what: str = "out") -> Iterator[Path]:
    """Hold an exclusive lock on ``folder`` (which must exist) for the ``with`` block.

    Args:
      folder: the directory to lock.
      name: the lock file's name in ``folder``; it records the holder's process id.
      what: the argument ``folder`` came from, for the message.

    Yields the lock file's path. Raises :class:`StorageError` at once, naming the folder and
    the holder's process id, when another process (or another lock in this one: ``flock``
    locks belong to open files, not processes) holds it (module docstring).
    """
    path = Path(folder) / name
    if fcntl is None:
        yield from _exclusive_file(path, what)
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise _named(e, path) from None
            raise StorageError(
                f"{what}: {folder} is in use by another run (pid {_holder(path)}); wait for "
                f"it to finish or choose another {what}"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield path
    finally:
        os.close(fd)  # closing the file releases the lock


def _exclusive_file(path: Path, what: str) -> Iterator[Path]:
    """The lock without ``fcntl``: a lock file that only one process can create."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except FileExistsError:
        raise StorageError(
            f"{what}: {path.parent} is in use by another run (pid {_holder(path)}); wait for "
            f"it to finish or choose another {what} (if no run is using it, delete {path})"
        ) from None
    try:
        os.write(fd, f"{os.getpid()}\n".encode())
        os.close(fd)
        yield path
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)


def _holder(path: Path) -> str:
    """The process id a lock file records ("unknown" while it is being written)."""
    try:
        text = path.read_text().strip()
    except OSError:
        return "unknown"
    return text if text.isdigit() else "unknown"
