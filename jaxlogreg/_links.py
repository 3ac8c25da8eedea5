"""Binary-response link functions, and the per-row quantities of the non-logit links.

The model is ``P(y = 1 | x) = mu = F(eta)`` with ``eta = x^T beta + offset``; ``F`` is the
inverse link. Four links (``eta`` real, ``mu`` in (0, 1))::

    logit    F(eta) = 1 / (1 + exp(-eta))           F'(eta) = F(eta) (1 - F(eta))
    probit   F(eta) = Phi(eta)                      F'(eta) = exp(-eta^2 / 2) / sqrt(2 pi)
    cloglog  F(eta) = 1 - exp(-exp(eta))            F'(eta) = exp(eta - exp(eta))
    cauchit  F(eta) = 1/2 + atan(eta) / pi          F'(eta) = 1 / (pi (1 + eta^2))

Row quantities (:func:`rows`), for a response ``y`` in [0, 1]::

    loss     = -[y log mu + (1 - y) log(1 - mu)]  =  y A(eta) + (1 - y) B(eta)
    score    = d loss / d eta                     =  y A'(eta) + (1 - y) B'(eta)
    observed = d^2 loss / d eta^2                 =  y A''(eta) + (1 - y) B''(eta)
    fisher   = F'^2 / (mu (1 - mu))               = -A'(eta) B'(eta)  =  E_y[observed]

with ``A = -log F >= 0`` and ``B = -log(1 - F) >= 0``, ``A' = -F'/F``, ``B' = F'/(1 - F)``,
``A'' = (F'/F)^2 - F''/F`` and ``B'' = (F'/(1 - F))^2 + F''/(1 - F)``. ``fisher`` is the
expected information weight of a row (Fisher scoring, McCullagh & Nelder, *Generalized
Linear Models*, 2nd ed., 1989, section 2.5), ``observed`` the observed one; for a
non-canonical link they differ, and ``observed`` can be negative (cauchit far in a tail).

Numerics. ``loss`` is a sum of two nonnegative terms and ``fisher`` a product, so neither
cancels; each of ``A, A', A'', B, B', B''`` is evaluated in a form without cancellation
(below), with every ``jnp.where`` branch fed a safe argument so no branch makes NaN. The
logit's rows live in ``jaxlogreg._loss.pointwise``; this module covers the other three.

* probit and cauchit are symmetric, ``F(-u) = 1 - F(u)``, so ``B(eta) = A(-eta)``; with
  ``x = |eta|`` a row needs ``A``, ``q = -A'`` and ``A''`` at ``-x`` (the far tail) and at
  ``x`` (the near side), both from one special-function call.
* probit rests on the scaled complementary error function ``erfcx(z) = exp(z^2) erfc(z)``
  at ``z = x / sqrt(2)``, in (0, 1]. Far: ``A(-x) = x^2 / 2 + log 2 - log erfcx(z)`` (three
  nonnegative terms) and the inverse Mills ratio ``q(-x) = phi / Phi = sqrt(2 / pi) /
  erfcx(z)``. Near: ``p = Phi(-x) = erfcx(z) exp(-x^2 / 2) / 2``, ``A(x) = -log(1 - p)`` and
  ``q(x) = sqrt(2 / pi) exp(-x^2 / 2) / (2 - erfcx(z) exp(-x^2 / 2))``. ``A''(u) = q (q + u)``
  with ``F'' = -u phi``; at ``u = -x < -2`` the difference ``q - x = R(x)`` comes from the
  continued fraction ``R(x) = 1 / (x + 2 / (x + 3 / (x + ...)))`` (the tail of Laplace's
  fraction for the Mills ratio, ``q(-x) = x + R(x)``; Abramowitz & Stegun 26.2.14), 120
  terms in float64 and 40 in float32. ``jax.scipy.special.log_ndtr`` is not used: its
  3-term asymptotic series loses about 5 digits near ``u = -20``, and ``log(ndtr(u))`` all
  digits of the small value for ``u`` in (5, 8]. Tails: ``A(u) = u^2 / 2 + log(-u sqrt(2 pi))
  + O(u^-2)``, ``q(u) = -u + 1 / (-u) + O(u^-3)`` and ``A''(u) = 1 - u^-2 + 6 u^-4 + O(u^-6)``
  as ``u -> -inf``; ``A(u) ~ q(u) ~ phi(u)`` and ``A''(u) ~ u phi(u)`` as ``u -> +inf``,
  which underflow to 0 past ``u ~ 37.5`` (float64) or ``13`` (float32).
* cloglog, with ``e = exp(eta)``: ``B = B' = B'' = e`` and, with ``g = e / expm1(e)`` and
  ``w = e / (1 - exp(-e)) - 1 >= 0``, ``A = -log(1 - exp(-e))``, ``A' = -g``, ``A'' = g w``,
  ``fisher = g e``. For ``e <= 1/2``, ``g = 1 - e/2 + S(e)``, ``w = e/2 + S(e)`` and
  ``A = -eta + log1p(w)``, where ``S(e) = sum_k B_2k e^2k / (2k)!`` (Bernoulli numbers, 8
  terms; the series of ``e / (1 - exp(-e))``, radius ``2 pi``). Tails: as ``eta -> -inf``,
  ``A = -eta + e/2 + O(e^2)``, ``g -> 1``, ``w ~ e / 2``; as ``eta -> +inf``, ``A ~ exp(-e)``
  and ``g ~ e exp(-e)`` underflow to 0 past ``eta ~ 6.6`` (float64) or ``4.5`` (float32)
  (they are computed at ``min(eta, 7)``, where ``e`` is finite), and ``B = e``
  **overflows** past ``eta ~ 709.78`` (float64) or ``88.72`` (float32): there a row with
  ``y < 1`` has an infinite loss, score and observed weight (a row with ``y = 1`` stays
  finite), and autodiff of ``loss`` gives NaN.
* cauchit, with ``s = atan2(1, x) = pi F(-x)`` in (0, pi / 2] (accurate in both tails) and
  ``F'' / F' = -2u / (1 + u^2)``: far ``A(-x) = log(pi / s)``, ``q(-x) = 1 / ((1 + x^2) s)``;
  near ``A(x) = -log(1 - s / pi)``, ``q(x) = 1 / ((1 + x^2) (pi - s))``; ``A''(u) = q (q + 2u
  / (1 + u^2))``. Tails: ``A(u) = log(pi |u|) + O(u^-2)``, ``q ~ 1 / |u|``, ``A'' = -1 / u^2
  + 2 / u^4 + O(u^-6)`` (negative) as ``u -> -inf``; ``A ~ 1 / (pi u)``, ``q ~ 1 / (pi u^2)``,
  ``A'' ~ 2 / (pi u^3)`` as ``u -> +inf``. Valid while ``eta^2`` is finite (``|eta| < 1e154``
  in float64, ``1e19`` in float32).

Accuracy: every quantity is finite for ``|eta|`` up to 1e4 in float64 and 30 in float32 (the
cloglog overflow above aside; ``fisher`` and ``observed`` are never NaN) and within a few
ulps (about 10 at most: probit's ``observed`` near ``|eta| = 1.3``) of its value at the
given ``eta``, times the condition number of the quantities that decay like
``exp(-eta^2 / 2)`` (``~ eta^2``) or ``exp(-exp(eta))`` (``~ exp(eta)``): rounding
``eta^2 / 2`` or ``exp(eta)`` is already that large a relative change. Two exceptions: near
a sign change of cauchit's ``observed`` the error is a few ulps of its terms, not of its
value; and XLA on CPU flushes subnormal results to 0.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import NamedTuple

import jax
import jax.numpy as jnp
import jax.scipy.special as jsp
from jax.scipy.stats import norm

Array = jax.Array

__all__ = [
    "LINKS", "Rows", "inverse", "inverse_derivative", "link_function", "mean_variance", "rows",
]

LINKS = ("logit", "probit", "cloglog", "cauchit")
_ROW_LINKS = ("probit", "cloglog", "cauchit")

_SQRT_HALF = math.sqrt(0.5)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_LOG_2 = math.log(2.0)
_LOG_HALF = math.log(0.5)

# Probit: below u = -_PROBIT_CF_FROM, q(u) + u comes from the continued fraction R(-u),
# truncated after this many partial denominators (enough for full precision at
# x = 2: relative truncation error below 1e-18 in float64 and 2e-9 in float32).
_PROBIT_CF_FROM = 2.0


def _probit_cf_terms(dtype) -> int:
    return 120 if jnp.finfo(dtype).bits == 64 else 40


# Cloglog: S(e) = sum_{k=1..8} B_2k / (2k)! e^2k = e^2 P(e^2), with the coefficients
# B_2k / (2k)! of P highest degree first, as jnp.polyval takes them. B_2 .. B_16 are exact
# rationals (Abramowitz & Stegun, table 23.2).
_BERNOULLI_EVEN = (
    Fraction(1, 6),
    Fraction(-1, 30),
    Fraction(1, 42),
    Fraction(-1, 30),
    Fraction(5, 66),
    Fraction(-691, 2730),
    Fraction(7, 6),
    Fraction(-3617, 510),
)
_CLOGLOG_SERIES = tuple(
    float(b / math.factorial(2 * k)) for k, b in reversed(list(enumerate(_BERNOULLI_EVEN, 1)))
)
# Past eta = 7 the lower-side cloglog quantities (~ e exp(-e), e = exp(7) ~ 1097) are 0 in
# every float dtype; clamping there keeps exp(eta) finite in those branches.
_CLOGLOG_UNDERFLOW = 7.0


class Rows(NamedTuple):
    """Per-row quantities of a binary GLM at ``eta``, each of ``eta``'s shape (module doc).

    Attributes:
      loss: ``-[y log mu + (1 - y) log(1 - mu)]``, the row's negative log-likelihood.
      score: ``d loss / d eta``.
      fisher: ``F'(eta)^2 / (mu (1 - mu))``, the expected information weight.
      observed: ``d^2 loss / d eta^2``, the observed information weight (may be negative).
      mu: ``F(eta)``.
    """

    loss: Array
    score: Array
    fisher: Array
    observed: Array
    mu: Array


def _log1m(p: Array) -> Array:
    """``log(1 - p)`` for ``p`` in [0, 1), to an ulp or two.

    ``log1p(-p)`` where ``p < 0.3``, else ``log(1 - p)`` (``1 - p`` is then exact or within
    half an ulp of a number above 0.7). Not ``log1p`` throughout: XLA's float64 ``log1p`` on
    CPU is off by up to ~120 ulps for arguments in (-0.5, -0.3).
    """
    small = p < 0.3
    return jnp.where(small, jnp.log1p(-jnp.where(small, p, 0.0)), jnp.log(1.0 - p))


def _check_link(link, allowed) -> None:
    if not isinstance(link, str) or link not in allowed:
        raise ValueError(f"link: expected one of {allowed}, got {link!r}")


def _as_float(eta) -> Array:
    eta = jnp.asarray(eta)
    if not jnp.issubdtype(eta.dtype, jnp.floating):
        eta = eta.astype(jnp.result_type(float))
    return eta


def inverse(link: str, eta) -> Array:
    """The inverse link ``mu = F(eta)`` elementwise (module docstring), ``eta``'s shape.

    Accurate to a few ulps relative in both tails: logit is ``jax.nn.sigmoid``, probit
    ``ndtr``, cloglog ``-expm1(-exp(eta))``, cauchit ``atan2(1, -eta) / pi``.
    """
    _check_link(link, LINKS)
    eta = _as_float(eta)
    if link == "logit":
        return jax.nn.sigmoid(eta)
    if link == "probit":
        return jsp.ndtr(eta)
    if link == "cloglog":
        return -jnp.expm1(-jnp.exp(eta))
    return jnp.arctan2(1.0, -eta) / math.pi


def mean_variance(link: str, eta) -> tuple[Array, Array]:
    """``mu = F(eta)`` and the Bernoulli variance ``v = mu (1 - mu)``, each ``eta``'s shape.

    ``1 - mu`` is not formed by subtraction: it is ``F(-eta)`` for the symmetric links
    (logit, probit, cauchit) and ``exp(-exp(eta))`` for cloglog, so ``v`` keeps its relative
    accuracy where ``mu`` is near 1.
    """
    mu = inverse(link, eta)
    if link == "cloglog":
        rest = jnp.exp(-jnp.exp(_as_float(eta)))
    else:
        rest = inverse(link, -_as_float(eta))
    return mu, mu * rest


def inverse_derivative(link: str, eta) -> Array:
    """``F'(eta) = d mu / d eta`` elementwise (module docstring), ``eta``'s shape."""
    _check_link(link, LINKS)
    eta = _as_float(eta)
    if link == "logit":
        return jax.nn.sigmoid(eta) * jax.nn.sigmoid(-eta)
    if link == "probit":
        return norm.pdf(eta)
    if link == "cloglog":
        return jnp.exp(eta - jnp.exp(eta))
    return 1.0 / (math.pi * (1.0 + eta * eta))


def link_function(link: str, mu) -> Array:
    """The link ``eta = F^-1(mu)`` elementwise for ``mu`` in (0, 1), ``mu``'s shape.

    logit ``log(mu / (1 - mu))``; probit ``ndtri(mu)``; cloglog ``log(-log(1 - mu))``;
    cauchit ``tan(pi (mu - 1/2))``, evaluated as ``-1 / tan(pi mu)`` for ``mu < 1/4`` and
    ``1 / tan(pi (1 - mu))`` for ``mu > 3/4`` so that small ``mu`` and ``1 - mu`` keep their
    relative accuracy. ``mu = 0`` and ``1`` map to ``-inf`` and ``inf``.
    """
    _check_link(link, LINKS)
    mu = _as_float(mu)
    if link == "logit":
        return jsp.logit(mu)
    if link == "probit":
        return jsp.ndtri(mu)
    if link == "cloglog":
        return jnp.log(-_log1m(mu))
    low, high = mu < 0.25, mu > 0.75
    middle = jnp.tan(math.pi * (mu - 0.5))
    lower = -1.0 / jnp.tan(math.pi * jnp.where(low, mu, 0.25))
    upper = 1.0 / jnp.tan(math.pi * (1.0 - jnp.where(high, mu, 0.75)))
    return jnp.where(low, lower, jnp.where(high, upper, middle))


# ---------------------------------------------------------------------------------------
# Symmetric links, F(-x) = 1 - F(x): with x = |eta|, every row needs A = -log F and its
# derivatives q = -A' and c = A'' at -x (the far tail, F small) and at x (the near side).
# ---------------------------------------------------------------------------------------


class _Side(NamedTuple):
    a: Array  # A(u) = -log F(u)
    q: Array  # -A'(u) = F'(u) / F(u)
    c: Array  # A''(u)


def _mills_tail(x: Array, terms: int) -> Array:
    """``R(x) = 1 / (x + 2 / (x + 3 / (x + ... terms / x)))`` for ``x >= 2``, bottom up."""

    def body(i, f):
        return x + (terms - i).astype(x.dtype) / f

    return 1.0 / jax.lax.fori_loop(0, terms - 1, body, x)


def _probit_sides(x: Array) -> tuple[_Side, _Side, Array]:
    """Probit's far side ``u = -x``, near side ``u = x`` and ``Phi(-x)`` for ``x >= 0``, from
    one ``erfcx(x / sqrt(2))`` (module docstring)."""
    ex = jsp.erfcx(x * _SQRT_HALF)  # in (0, 1]
    density = jnp.exp(-0.5 * x * x)  # sqrt(2 pi) phi(x); may underflow
    # Far: Phi(-x) = phi(x) sqrt(pi / 2) erfcx(x / sqrt(2)), so q = sqrt(2 / pi) / erfcx.
    q_far = _SQRT_2_OVER_PI / ex
    tail = x > _PROBIT_CF_FROM
    r_tail = _mills_tail(jnp.where(tail, x, _PROBIT_CF_FROM), _probit_cf_terms(x.dtype))
    r = jnp.where(tail, r_tail, q_far - x)
    far = _Side(0.5 * x * x + _LOG_2 - jnp.log(ex), q_far, q_far * r)
    # Near: Phi(x) = 1 - p with p = Phi(-x) = erfcx * exp(-x^2 / 2) / 2.
    p = 0.5 * ex * density
    q_near = _SQRT_2_OVER_PI * density / (2.0 - ex * density)
    near = _Side(-_log1m(p), q_near, q_near * (q_near + x))
    return far, near, p


def _cauchit_sides(x: Array) -> tuple[_Side, _Side, Array]:
    """Cauchit's far side ``u = -x``, near side ``u = x`` and ``F(-x)`` for ``x >= 0``, from
    one ``atan2(1, x) = pi F(-x)`` (module docstring)."""
    small = jnp.arctan2(1.0, x)  # pi F(-x), in (0, pi / 2]
    one_plus_x2 = 1.0 + x * x
    slope = 2.0 * x / one_plus_x2  # -F''(u) / F'(u) at u = x
    q_far = 1.0 / (one_plus_x2 * small)
    far = _Side(jnp.log(math.pi / small), q_far, q_far * (q_far - slope))
    q_near = 1.0 / (one_plus_x2 * (math.pi - small))
    near = _Side(-_log1m(small / math.pi), q_near, q_near * (q_near + slope))
    return far, near, small / math.pi


def _times(weight: Array, value: Array) -> Array:
    """``weight * value`` with ``0 * inf = 0``: a zero-weight term never makes NaN."""
    return jnp.where(weight == 0, 0.0, weight * value)


def _symmetric_rows(sides, eta: Array, y: Array) -> Rows:
    lower = eta <= 0.0
    x = jnp.where(lower, -eta, eta)  # |eta|, with a derivative of -1 at 0 for autodiff
    far, near, tail = sides(x)
    # The y = 1 term is A(eta): the far side when eta <= 0. The y = 0 term is
    # -log(1 - F(eta)) = A(-eta), and B' = -A'(-eta), B'' = A''(-eta).
    one = _Side(*(jnp.where(lower, f, n) for f, n in zip(far, near, strict=True)))
    zero = _Side(*(jnp.where(lower, n, f) for f, n in zip(far, near, strict=True)))
    loss = _times(y, one.a) + _times(1.0 - y, zero.a)
    score = _times(1.0 - y, zero.q) - _times(y, one.q)
    observed = _times(y, one.c) + _times(1.0 - y, zero.c)
    mu = jnp.where(lower, tail, 1.0 - tail)
    return Rows(loss, score, far.q * near.q, observed, mu)


def _cloglog_rows(eta: Array, y: Array) -> Rows:
    small = eta <= _LOG_HALF  # e = exp(eta) <= 1/2: the Bernoulli series
    t_s = jnp.where(small, eta, _LOG_HALF)
    e_s = jnp.exp(t_s)
    series = e_s * e_s * jnp.polyval(jnp.asarray(_CLOGLOG_SERIES, eta.dtype), e_s * e_s)
    g_s = 1.0 - 0.5 * e_s + series
    w_s = 0.5 * e_s + series
    a_s = -t_s + jnp.log1p(w_s)

    t_b = jnp.where(small, _LOG_HALF, jnp.minimum(eta, _CLOGLOG_UNDERFLOW))
    e_b = jnp.exp(t_b)
    f_b = -jnp.expm1(-e_b)  # F(t_b) in [0.39, 1]
    g_b = jnp.exp(t_b - e_b) / f_b
    w_b = e_b / f_b - 1.0
    a_b = -_log1m(jnp.exp(-e_b))

    g = jnp.where(small, g_s, g_b)
    w = jnp.where(small, w_s, w_b)
    a = jnp.where(small, a_s, a_b)
    e = jnp.exp(eta)  # B = B' = B'' = e; overflows past log(max float)
    loss = _times(y, a) + _times(1.0 - y, e)
    score = _times(1.0 - y, e) - _times(y, g)
    observed = _times(y, g * w) + _times(1.0 - y, e)
    fisher = g * jnp.exp(jnp.minimum(eta, _CLOGLOG_UNDERFLOW))
    return Rows(loss, score, fisher, observed, -jnp.expm1(-e))


def rows(link: str, eta, y) -> Rows:
    """Loss, score, Fisher and observed weights, and mean of each row, for a non-logit link.

    Args:
      link: ``"probit"``, ``"cloglog"`` or ``"cauchit"`` (a static Python string). The
        logit's rows live in ``jaxlogreg._loss.pointwise``; any other name raises a
        ``ValueError`` at trace time.
      eta: linear predictor, any shape, floating.
      y: response in [0, 1], the same shape as ``eta`` (a fraction is a proportion).

    Returns:
      :class:`Rows` ``(loss, score, fisher, observed, mu)``, each of ``eta``'s shape, with
      (module docstring for ``A``, ``B`` and the numerics)::

        loss     = -[y log mu + (1 - y) log(1 - mu)]
        score    = d loss / d eta   = -y F'/mu + (1 - y) F'/(1 - mu)
        fisher   = F'^2 / (mu (1 - mu))
        observed = d^2 loss / d eta^2
        mu       = F(eta)
    """
    if link == "logit":
        raise ValueError(
            "link: the logit's rows live in jaxlogreg._loss.pointwise; "
            f"rows covers {_ROW_LINKS}"
        )
    _check_link(link, _ROW_LINKS)
    eta = _as_float(eta)
    y = jnp.asarray(y, eta.dtype)
    if link == "probit":
        return _symmetric_rows(_probit_sides, eta, y)
    if link == "cauchit":
        return _symmetric_rows(_cauchit_sides, eta, y)
    return _cloglog_rows(eta, y)
