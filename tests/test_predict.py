"""Prediction from fitted models (`jaxlogreg.predict`).

References: statsmodels' ``GLM(family=Binomial(link=...)).fit().predict(exog, offset=...)``
(``which="linear"`` for the link scale) for every link, each fitted with an offset by both
libraries; single-model predictions in a loop for batches; the eager call for ``jax.jit``
and ``jax.vmap``.

Tolerances: ``fit`` and statsmodels each stop within ~1e-10 of the optimum, so predictions
from the two fits agree to ``rtol = 1e-7`` (and ``atol = 1e-7`` on the link scale, where
``eta`` may be near 0), at statsmodels' own estimates to 1e-12; batched against looped or
jitted against eager, the same arithmetic up to its order, to 1e-12.

Compilation dominates, so every test shares one design (n = 80, d = 2), one set of new rows
(m = 6) and one batch size, and every batch test uses the one batched fit (probit, the link the
``jax.jit`` test needs).
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import numpy as np
import pytest
import statsmodels.api as sm

import jaxlogreg
from jaxlogreg import Status

SM_LINK = {"logit": sm.families.links.Logit, "probit": sm.families.links.Probit,
           "cloglog": sm.families.links.CLogLog, "cauchit": sm.families.links.Cauchy}
N, D, M, B = 80, 2, 6, 3
RTOL = 1e-7
SAME_RTOL = 1e-12


@functools.cache
def data():
    """``X (80, 2)``, labels ``Y (3, 80)`` of three models, a training offset ``o (80,)``;
    new rows ``Xn (6, 2)`` and their offset ``on (6,)``."""
    rng = np.random.default_rng(20)
    X = rng.normal(size=(N, D))
    o = rng.normal(0.0, 0.3, size=N)
    eta = 0.3 + X @ np.array([0.8, -0.6]) + o
    Y = np.stack([(rng.uniform(size=N) < 1.0 / (1.0 + np.exp(-eta - k / 4))) for k in range(B)])
    Xn = rng.normal(size=(M, D))
    on = rng.normal(0.0, 0.3, size=M)
    return X, Y.astype(np.float64), o, Xn, on


@functools.cache
def fitted(link="logit", batched=False, fit_intercept=True):
    X, Y, o, _, _ = data()
    res = jaxlogreg.fit(X, Y if batched else Y[0], offset=o, link=link,
                        fit_intercept=fit_intercept)
    assert np.all(np.asarray(res.status) == Status.CONVERGED)
    return res


@pytest.mark.parametrize("link", list(SM_LINK))
def test_matches_statsmodels_for_every_link(link):
    X, Y, o, Xn, on = data()
    res = fitted(link)
    assert res.link == link
    glm = sm.GLM(Y[0], sm.add_constant(X), offset=o,
                 family=sm.families.Binomial(link=SM_LINK[link]())).fit(tol=1e-12)
    exog = sm.add_constant(Xn, has_constant="add")
    mu = glm.predict(exog, offset=on)
    eta = glm.predict(exog, offset=on, which="linear")
    np.testing.assert_allclose(jaxlogreg.predict(res, Xn, on), mu, rtol=RTOL)
    np.testing.assert_allclose(jaxlogreg.predict(res, Xn, on, kind="link"), eta, rtol=RTOL,
                               atol=RTOL)  # eta may be near 0
    # No offset: statsmodels' predict without one (it does not reuse the training offset
    # for new exog).
    np.testing.assert_allclose(jaxlogreg.predict(res, Xn), glm.predict(exog, offset=np.zeros(M)),
                               rtol=RTOL)
    # At statsmodels' own estimates the two agree to rounding: the formula, not the fits.
    same = dataclasses.replace(res, intercept=jax.device_put(glm.params[0]),
                               coef=jax.device_put(glm.params[1:]))
    np.testing.assert_allclose(jaxlogreg.predict(same, Xn, on), mu, rtol=SAME_RTOL)
    np.testing.assert_allclose(jaxlogreg.predict(same, Xn, on, kind="link"), eta,
                               rtol=SAME_RTOL, atol=1e-15)


def test_without_intercept_matches_statsmodels():
    X, Y, o, Xn, on = data()
    res = fitted(fit_intercept=False)
    glm = sm.GLM(Y[0], X, offset=o, family=sm.families.Binomial()).fit(tol=1e-12)
    np.testing.assert_allclose(jaxlogreg.predict(res, Xn, on), glm.predict(Xn, offset=on),
                               rtol=RTOL)


def loop(res, Xn, on=None, kind="probability"):
    """``(B, M)``: each model's prediction on its own."""
    rows = []
    for i in range(res.batch_shape[0]):
        x = Xn if Xn.ndim == 2 else Xn[i]
        o = None if on is None else (on if on.ndim == 1 else on[i])
        rows.append(jaxlogreg.predict(res[i], x, o, kind=kind))
    return np.stack(rows)


@pytest.mark.parametrize("kind", ["probability", "link"])
def test_batch_equals_a_loop(kind):
    _, _, _, Xn, on = data()
    res = fitted(link="probit", batched=True)
    assert res.batch_shape == (B,)
    rng = np.random.default_rng(1)
    XB = Xn + rng.normal(size=(B, M, D))
    OB = on + rng.normal(size=(B, M))
    # A shared design, per-model designs, per-model offsets.
    for x, o in [(Xn, None), (Xn, on), (XB, on), (Xn, OB), (XB, OB)]:
        out = jaxlogreg.predict(res, x, o, kind=kind)
        assert out.shape == (B, M)
        np.testing.assert_allclose(out, loop(res, x, o, kind), rtol=SAME_RTOL, atol=0)


def test_batch_axes_broadcast():
    """The models' batch ``(B,)`` against new rows ``(K, 1, M, D)``: ``(K, B, M)``."""
    _, _, _, Xn, on = data()
    res = fitted(link="probit", batched=True)
    XK = np.stack([Xn, 2.0 * Xn])[:, None]
    out = jaxlogreg.predict(res, XK, on)
    assert out.shape == (2, B, M)
    out = np.asarray(out)  # indexed below in NumPy
    for k in range(2):
        np.testing.assert_allclose(out[k], jaxlogreg.predict(res, XK[k, 0], on),
                                   rtol=SAME_RTOL)
    # One model against a batch of designs.
    out = jaxlogreg.predict(fitted(), XK[:, 0])
    assert out.shape == (2, M)
    np.testing.assert_allclose(np.asarray(out)[1], jaxlogreg.predict(fitted(), XK[1, 0]),
                               rtol=SAME_RTOL)


def test_jit_and_vmap():
    _, _, _, Xn, on = data()
    res = fitted(link="probit", batched=True)
    eager = jaxlogreg.predict(res, Xn, on)
    jitted = jax.jit(jaxlogreg.predict, static_argnames="kind")
    np.testing.assert_allclose(jitted(res, Xn, on), eager, rtol=SAME_RTOL)
    np.testing.assert_allclose(jitted(res, Xn, on, kind="link"),
                               jaxlogreg.predict(res, Xn, on, kind="link"), rtol=SAME_RTOL)
    mapped = jax.vmap(jaxlogreg.predict, in_axes=(0, None, None))(res, Xn, on)
    np.testing.assert_allclose(mapped, eager, rtol=SAME_RTOL)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda r, x, o: jaxlogreg.predict(r, x[:, :1]), "^X: last axis has length 1"),
        (lambda r, x, o: jaxlogreg.predict(r, x[0]), "^X: expected at least 2"),
        (lambda r, x, o: jaxlogreg.predict(r, x.astype(str)), "^X: "),
        (lambda r, x, o: jaxlogreg.predict(r, x, kind="mean"), "^kind: expected one of"),
        (lambda r, x, o: jaxlogreg.predict(r, x, o[:-1]), "^offset: last axis has length"),
        (lambda r, x, o: jaxlogreg.predict(r, x, np.zeros((2, M))), "^X, offset: batch axes"),
        (lambda r, x, o: jaxlogreg.predict(r, np.zeros((2, M, D))), "^X, offset: batch axes"),
        (lambda r, x, o: jaxlogreg.predict(r.coef, x), "^res: expected a FitResult"),
    ],
    ids=["X columns", "X 1-D", "X strings", "kind", "offset rows", "offset batch", "X batch",
         "res"],
)
def test_value_errors_name_the_argument(call, match):
    _, _, _, Xn, on = data()
    with pytest.raises(ValueError, match=match):
        call(fitted(link="probit", batched=True), Xn, on)
