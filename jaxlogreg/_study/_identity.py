"""What identifies a study: its settings, the id made from them, and the format of its files.

The study's **id** is a SHA-256 of its settings as canonical JSON (sorted keys, no spaces);
the settings hold a digest of the data (of replicate 0's data with ``generate``, which
catches a changed generator in most cases; ``config`` should record what defines it).
:func:`jaxlogreg._study._run.run_study` builds the settings from its arguments with the
helpers here; the chunks, the record and the outputs all carry the id.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

# The format of a study's record and of its outputs' marker.
_FORMAT = "jaxlogreg-study/1"


def study_id(settings: dict) -> str:
    """The study's identity: 16 hex digits of the SHA-256 of ``settings`` as canonical JSON
    (sorted keys, no spaces)."""
    text = json.dumps(settings, sort_keys=True, separators=(",", ":"), allow_nan=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _describe_scheme(scheme) -> dict | None:
    """The scheme's class and settings (its key as data), for the record and for resuming."""
    if scheme is None:
        return None
    desc: dict[str, Any] = {"kind": type(scheme).__name__}
    if scheme.draw is not None:
        desc["draw"] = scheme.draw
    for field in dataclasses.fields(scheme):
        value = getattr(scheme, field.name)
        if field.name == "key":
            key = value
            if jnp.issubdtype(jnp.asarray(key).dtype, jax.dtypes.prng_key):
                key = jax.random.key_data(key)
            desc["key"] = np.asarray(key).tolist()
        elif isinstance(value, (int, float, bool, str)):
            desc[field.name] = value
    return desc


def _digest(X, y) -> str:
    """A short hash of the data, so that a resumed study checks it resumes the same data."""
    h = hashlib.sha256()
    for a in (X, y):
        a = np.ascontiguousarray(np.asarray(a))
        h.update(str((a.shape, a.dtype)).encode())
        h.update(a.tobytes())
    return h.hexdigest()[:16]


def _recorded(value):
    """A setting as JSON for the record (``fit`` checks its value): None, a number or nested
    lists of numbers, else its ``repr``."""
    if value is None:
        return None
    try:
        value = np.asarray(value).tolist()
        json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)
    return value
