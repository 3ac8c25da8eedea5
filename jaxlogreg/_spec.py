"""The fit's specification, read from its result by the functions that take one.

A :class:`~jaxlogreg.FitResult` records what :func:`jaxlogreg.fit` minimised beyond the
data: ``class_weight`` and ``l1_ratio`` (static fields), ``alpha`` ``(...)`` and
``penalty_factor`` ``(..., d)`` (leaves). :func:`jaxlogreg.inference`,
:func:`jaxlogreg.influence`, :func:`jaxlogreg.laplace` and :func:`jaxlogreg.score_test`
keep their keyword arguments of the same names, defaulting to :data:`FROM_FIT`: the
result's value. A value passed is checked against the result's:

* ``class_weight`` and ``l1_ratio`` always (they are static): ``class_weight`` after
  validation (``{0: 1, 1: 1}`` is no class weights, as ``fit`` computes it);
* ``alpha`` and ``penalty_factor`` when both the value and the result's are concrete (not
  traced): the value must broadcast to the result's shape and agree to rounding
  (``|given - fit| <= 8 eps |fit|``, ``eps`` of the coarser of the two dtypes). Under a
  trace (``jax.jit``, ``jax.vmap``, a derivative) they cannot be compared, and the value
  passed is used as given.

A disagreement is a ``ValueError`` naming the argument and both values. A result that
records no specification (``alpha`` None: a FitResult built by hand) is checked against
nothing: the values passed are used, and the defaults are its fields (no penalty, penalty
factors of ones and no class weights unless set).
"""

from __future__ import annotations

import numpy as np

from . import _validate
from ._result import FROM_FIT, FromFit

__all__ = ["FROM_FIT", "FromFit", "recorded", "class_weight", "penalty"]


def recorded(res) -> bool:
    """Whether ``res`` records its fit's specification (``res.alpha`` is not None)."""
    return getattr(res, "alpha", None) is not None


def _mapping(cw):
    """A ``FitResult.class_weight`` tuple of ``(label, weight)`` pairs as the mapping
    ``fit`` takes; anything else as it is."""
    if isinstance(cw, tuple) and all(isinstance(p, tuple) and len(p) == 2 for p in cw):
        return dict(cw)
    return cw


def _effective(spec):
    """Validated class weights with ``(1, 1)``, no class weights, as None."""
    return None if spec == (1.0, 1.0) else spec


def class_weight(res, given, res_name: str = "res"):
    """The class weights to use with ``res``, validated as the loss takes them: None,
    ``"balanced"`` or ``(c0, c1)`` (:func:`jaxlogreg._validate.class_weight_spec`).

    ``given``: the caller's ``class_weight`` (None, ``"balanced"``, a mapping ``{0: c0, 1:
    c1}`` or ``res.class_weight``'s pairs), or :data:`FROM_FIT` for the result's.

    Raises:
      ValueError: naming ``class_weight``, when ``given`` is not a class weight or disagrees
        with the one ``res`` records.
    """
    field = getattr(res, "class_weight", None)
    try:
        stored = _validate.class_weight_spec(_mapping(field))
    except ValueError as e:
        raise ValueError(f"{res_name}: its class_weight is not one fit takes ({e})") from None
    if given is FROM_FIT:
        return stored
    spec = _validate.class_weight_spec(_mapping(given))
    if recorded(res) and _effective(spec) != _effective(stored):
        raise ValueError(
            f"class_weight: {given!r} disagrees with the fit's class weights {field!r} "
            f"({res_name}.class_weight); leave class_weight out to use the fit's"
        )
    return spec


def penalty(res, alpha, l1_ratio, penalty_factor, d: int, dtype, res_name: str = "res"):
    """The penalty to use with ``res``: ``(alpha, l1_ratio, penalty_factor)``.

    Each argument is the caller's value (as :func:`jaxlogreg.fit` takes it) or
    :data:`FROM_FIT` for the result's. Returns ``alpha`` as an array in ``dtype`` (shape
    ``(...)``: the result's batch shape when from the result, else as given; ``0`` for a
    result that records none), ``l1_ratio`` a Python float, and ``penalty_factor`` in
    ``dtype``: ``(d,)`` when given (ones for None), the result's ``(..., d)`` when from a
    result that has one, else ``(d,)`` ones.

    Raises:
      ValueError: naming the argument, for a value :func:`jaxlogreg.fit` would refuse, one
        that disagrees with the result's (module docstring), or a result whose penalty
        factors are not ``d`` per model.
    """
    rec = recorded(res)
    own_l1 = getattr(res, "l1_ratio", 0.0)
    a, r, pf = _validate.penalty_inputs(
        0.0 if alpha is FROM_FIT else alpha,
        own_l1 if l1_ratio is FROM_FIT else l1_ratio,
        None if penalty_factor is FROM_FIT else penalty_factor, d, dtype,
    )
    if l1_ratio is not FROM_FIT and rec and r != float(own_l1):
        raise ValueError(
            f"l1_ratio: {l1_ratio!r} disagrees with the fit's l1_ratio {own_l1!r} "
            f"({res_name}.l1_ratio); leave l1_ratio out to use the fit's"
        )
    own_alpha = getattr(res, "alpha", None)
    if own_alpha is not None:
        own_alpha = _validate._as_array(f"{res_name}.alpha", own_alpha, dtype)
        if alpha is FROM_FIT:
            a = own_alpha
        else:
            _check_same("alpha", alpha, a, own_alpha, res_name)
    own_pf = getattr(res, "penalty_factor", None)
    if own_pf is not None:
        own_pf = _validate._as_array(f"{res_name}.penalty_factor", own_pf, dtype, 1)
        if own_pf.shape[-1] != d:
            raise ValueError(
                f"{res_name}: penalty_factor has {own_pf.shape[-1]} columns, X has d = {d}"
            )
        if penalty_factor is FROM_FIT:
            pf = own_pf
        elif rec:
            _check_same("penalty_factor", penalty_factor, pf, own_pf, res_name)
    return a, r, pf


def _check_same(name: str, given, value, stored, res_name: str) -> None:
    """ValueError naming ``name`` unless ``value`` (``given`` validated) broadcasts to the
    result's ``stored`` and agrees with it to rounding; nothing when either is traced."""
    if not (_validate._is_concrete(value) and _validate._is_concrete(stored)):
        return
    v, s = np.asarray(value), np.asarray(stored)
    try:
        v = np.broadcast_to(v, s.shape)
    except ValueError:
        raise ValueError(
            f"{name}: shape {np.shape(given)} does not broadcast to the fit's {name} of shape "
            f"{s.shape} ({res_name}.{name}); leave {name} out to use the fit's"
        ) from None
    eps = max(np.finfo(v.dtype).eps, np.finfo(s.dtype).eps)
    bad = ~(np.abs(v - s) <= 8 * eps * np.abs(s))
    if bad.any():
        idx = _validate._first(bad.reshape(s.shape or (1,)))
        at = f" at index {idx}" if s.ndim else ""
        gv, sv = (v[idx], s[idx]) if s.ndim else (v[()], s[()])
        raise ValueError(
            f"{name}: {gv}{at} disagrees with the fit's {sv} ({res_name}.{name}); leave {name} "
            "out to use the fit's"
        )

