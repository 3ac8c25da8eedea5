"""The built-in data set (``jaxlogreg._datasets``): the default draw read from the package is
the sampler's draw, other draws come from the sampler, and the default data set is what the
module's docstring says it is (checked against statsmodels' full-data fit)."""

from __future__ import annotations

import jax
import numpy as np
import pytest
import statsmodels.api as sm

import jaxlogreg
from jaxlogreg import _datasets


@pytest.mark.slow  # the eager draws compile JAX's gamma and beta samplers per shape
def test_the_saved_default_is_the_samplers_draw_and_other_draws_are_drawn():
    data = jaxlogreg.make_seed_data()
    X, y = (np.asarray(a) for a in _datasets.seed_sample(jax.random.key(0), 1000))
    assert data.X.dtype == data.y.dtype == np.float64
    np.testing.assert_array_equal(data.y, y)
    # The sampler's float32 arithmetic rounds a little differently when compiled otherwise
    # (this suite switches XLA's optimisations off) or on another CPU: a few ulps, compounded
    # through the features' products.
    np.testing.assert_allclose(data.X, X, rtol=1e-5)
    # Only the default is read: another size or seed is the sampler's draw.
    for n, seed in ((1000, 3), (50, 0)):
        other = jaxlogreg.make_seed_data(n=n, seed=seed)
        X, y = _datasets.seed_sample(jax.random.key(seed), n)
        np.testing.assert_array_equal(other.X, np.asarray(X, np.float64))
        np.testing.assert_array_equal(other.y, np.asarray(y, np.float64))


def test_the_default_data_set_is_what_its_docstring_says():
    data = jaxlogreg.make_seed_data()
    X, y = data.X, data.y
    assert X.shape == (1000, 6) and y.shape == (1000,)
    assert set(np.unique(y)) == {0.0, 1.0}
    assert data.feature_names == ("Y1", "Y2", "Y3", "Y4", "Y5", "Y6")
    # Y5 is binary: 305 rows have Y5 = 1, and 4 of them are positive.
    y5 = X[:, 4]
    assert set(np.unique(y5)) == {0.0, 1.0}
    assert int(y5.sum()) == 305 and int(y[y5 == 1].sum()) == 4
    # Y1 = X1 X2 > 0, with mean E[X1] E[X2] = 1 * 7.2 * 4; the others are Y1 times a draw of
    # a known law: Y2 = Y1 exp(X3 / 2), X3 ~ N(0, 1); Y6 = Y1 X8, X8 ~ Beta(2, 5) (mean 2/7,
    # sd 0.16). Checked within about four standard errors of 1,000 draws.
    assert np.all(X[:, 0] > 0) and abs(X[:, 0].mean() / 28.8 - 1) < 0.1
    x3 = 2 * np.log(X[:, 1] / X[:, 0])
    assert abs(x3.mean()) < 0.13 and abs(x3.std() - 1) < 0.1
    x8 = X[:, 5] / X[:, 0]
    assert np.all((x8 > 0) & (x8 < 1)) and abs(x8.mean() - 2 / 7) < 0.02
    # Y1's full-data estimate has the wrong sign (its true coefficient is +0.01), with a
    # standard error of about 0.012.
    ref = sm.Logit(y, sm.add_constant(X)).fit(method="newton", disp=0)
    assert data.coef[0] > 0 > ref.params[1]
    assert 0.010 < ref.bse[1] < 0.014
