"""Files that are either whole or absent: atomic writes for long jobs that resume.

Every write goes to a temporary file in the target's directory, is flushed to disk, and is
then renamed over the target (``os.replace``, atomic on POSIX and Windows). A job killed
mid-write leaves at worst a stray ``.tmp`` file, never a truncated result that a resumed job
would trust.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["write_bytes", "write_text", "write_json", "write_npz", "read_npz"]


def write_bytes(path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (creating its directory)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_text(path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    write_bytes(path, text.encode("utf-8"))


def write_json(path, obj) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, allow_nan=True) + "\n")


def write_npz(path, **arrays) -> None:
    """Write NumPy arrays to a ``.npz`` file atomically."""
    buf = io.BytesIO()
    named: dict[str, Any] = {k: np.asarray(v) for k, v in arrays.items()}
    np.savez(buf, **named)  # (Any: numpy's stub would match the values to `allow_pickle`)
    write_bytes(path, buf.getvalue())


def read_npz(path) -> dict[str, np.ndarray]:
    """The arrays of a ``.npz`` file as a dict (loaded into memory)."""
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}
