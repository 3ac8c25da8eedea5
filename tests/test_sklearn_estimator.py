"""The scikit-learn estimator `jaxlogreg.sklearn.LogisticRegression`.

References: scikit-learn's own `check_estimator` suite (binary problems), and
``sklearn.linear_model.LogisticRegression`` fitted at a tight tolerance with the same ``C``
(``newton-cholesky`` for ridge and no penalty, ``saga`` for the elastic net), directly and
inside ``Pipeline``, ``GridSearchCV`` and ``cross_val_score``. A batch of sample weights is
checked against a loop of single fits of this estimator and against scikit-learn.

Tolerances: both libraries stop within ~1e-10 of the optimum on well-conditioned data, so
coefficients and probabilities agree to 1e-6 (observed ~1e-10). A batch against its loop
of single fits: each stops within the tolerance of the same optimum, the batch from the
pooled fit and a single fit from zero slopes, so they agree to 1e-8 (observed ~1e-10).

Binary only: the estimator sets scikit-learn's documented tag
``classifier_tags.multi_class = False``, with which scikit-learn's checks leave out the
multiclass checks and run ``check_classifier_not_supporting_multiclass`` instead (a
multiclass target must be refused with "Only binary classification is supported"). No
check is then expected to fail; ``EXPECTED_FAILED_CHECKS`` is where one would be listed
(``parametrize_with_checks(expected_failed_checks=...)``, scikit-learn >= 1.6).

Compilation dominates, so the reference tests share one design (n = 120, d = 3).
"""

from __future__ import annotations

import functools
import math
import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from sklearn import linear_model  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import jaxlogreg  # noqa: E402
from jaxlogreg.sklearn import LogisticRegression  # noqa: E402

N, D, M, B = 120, 3, 7, 3
RTOL = 1e-6
LOOP = 1e-8
# Checks of scikit-learn's suite expected to fail, by name, with the reason (none: see the
# module docstring).
EXPECTED_FAILED_CHECKS: dict[str, str] = {}


@functools.cache
def data():
    """``X (120, 3)``, string labels ``y`` ("no"/"yes"), new rows ``Xn (7, 3)``, and
    ``W (3, 120)`` frequency weights of three models (integers 0..3)."""
    rng = np.random.default_rng(11)
    X = rng.normal(size=(N, D)) * np.array([1.0, 2.0, 0.5]) + np.array([0.0, 1.0, -1.0])
    eta = 0.4 + X @ np.array([0.9, -0.5, 0.7])
    y = np.where(rng.uniform(size=N) < 1.0 / (1.0 + np.exp(-eta)), "yes", "no")
    Xn = rng.normal(size=(M, D))
    W = rng.integers(0, 4, size=(B, N)).astype(np.float64)
    return X, y, Xn, W


def reference(C=1.0, l1_ratio=0.0, **kwargs):
    """scikit-learn's estimator at a tolerance tight enough for a 1e-6 comparison."""
    if l1_ratio > 0:
        return linear_model.LogisticRegression(C=C, l1_ratio=l1_ratio, solver="saga",
                                               tol=1e-13, max_iter=100_000, **kwargs)
    return linear_model.LogisticRegression(C=C, solver="newton-cholesky", tol=1e-12,
                                           max_iter=1000, **kwargs)


def assert_same_model(ours, ref, Xn, rtol=RTOL):
    np.testing.assert_array_equal(ours.classes_, ref.classes_)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(ours.predict_proba(Xn), ref.predict_proba(Xn), rtol=rtol,
                               atol=rtol)
    np.testing.assert_allclose(ours.decision_function(Xn), ref.decision_function(Xn),
                               rtol=rtol, atol=rtol)
    np.testing.assert_array_equal(ours.predict(Xn), ref.predict(Xn))


@pytest.mark.slow  # scikit-learn's whole estimator suite
@parametrize_with_checks(
    [LogisticRegression()], expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS
)
def test_scikit_learn_checks(estimator, check):
    check(estimator)


def test_the_estimator_is_binary_only_by_tag():
    """The tag the checks above rely on, and the refusal it promises."""
    from sklearn.utils import get_tags

    assert get_tags(LogisticRegression()).classifier_tags.multi_class is False
    X = np.arange(12.0).reshape(6, 2)
    with pytest.raises(ValueError, match="Only binary classification is supported"):
        LogisticRegression().fit(X, [0, 1, 2, 0, 1, 2])
    with pytest.raises(ValueError, match="only one class"):
        LogisticRegression().fit(X, ["a"] * 6)


@pytest.mark.parametrize(
    "params",
    [
        dict(),
        dict(C=0.05, class_weight="balanced"),
        dict(C=3.0, class_weight={"yes": 2.5}, fit_intercept=False),
        dict(C=math.inf),
        dict(C=0.2, l1_ratio=0.5),
    ],
    ids=["default", "balanced", "dict-weights-no-intercept", "no-penalty", "elastic-net"],
)
def test_equals_scikit_learn(params):
    """Same ``C``, class weights and sample weights: the same model (the mapping
    ``alpha = 1 / (C * sum_i s_i)`` with ``s`` after the class weights)."""
    X, y, Xn, W = data()
    sw = W[0] + 0.5  # fractional, not all ones: the weights enter the mapping of C
    ours = LogisticRegression(**params).fit(X, y, sample_weight=sw)
    ref = reference(**params).fit(X, y, sample_weight=sw)
    assert_same_model(ours, ref, Xn)
    assert ours.coef_.shape == (1, D) and ours.intercept_.shape == (1,)
    assert ours.n_iter_.shape == (1,) and ours.n_iter_[0] >= 1
    np.testing.assert_array_equal(ours.status_, [int(jaxlogreg.Status.CONVERGED)])
    assert ours.score(Xn, ref.predict(Xn)) == 1.0
    if params.get("l1_ratio"):
        assert np.any(ours.coef_ != 0)


def test_solvers_by_scikit_learn_names():
    X, y, Xn, _ = data()
    ref = reference(C=0.5).fit(X, y)
    for solver in ("lbfgs", "newton-cholesky", jaxlogreg.LBFGS(memory=5)):
        assert_same_model(LogisticRegression(C=0.5, solver=solver).fit(X, y), ref, Xn)
    with pytest.raises(ValueError, match="solver: scikit-learn's 'saga'"):
        LogisticRegression(solver="saga").fit(X, y)


def test_links_predict_the_more_probable_class():
    """For every link ``decision_function > 0`` exactly where ``P(classes_[1]) > 1/2``, and
    ``predict_proba`` is ``F(X @ coef + intercept)`` with ``F`` the link's CDF (SciPy's
    normal, Gumbel-minimum and Cauchy CDFs as the references)."""
    from scipy import special, stats

    X, y, _, _ = data()
    Xn = np.linspace(-3, 3, 41)[:, None] * np.array([[1.0, -1.0, 0.5]])
    cdf = {"logit": special.expit, "probit": stats.norm.cdf,
           "cloglog": lambda e: -np.expm1(-np.exp(e)), "cauchit": stats.cauchy.cdf}
    for link, F in cdf.items():
        est = LogisticRegression(link=link).fit(X, y)
        eta = Xn @ est.coef_[0] + est.intercept_[0]
        proba = est.predict_proba(Xn)
        np.testing.assert_allclose(proba[:, 1], F(eta), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-15)
        decision = est.decision_function(Xn)
        assert np.any(decision > 0) and np.any(decision < 0)
        np.testing.assert_array_equal(decision > 0, proba[:, 1] > 0.5)
        np.testing.assert_array_equal(est.predict(Xn), np.where(decision > 0, "yes", "no"))
        shift = math.log(math.log(2.0)) if link == "cloglog" else 0.0
        np.testing.assert_allclose(decision, eta - shift, rtol=1e-12, atol=1e-14)


def test_a_batch_of_sample_weights_equals_a_loop_of_single_fits():
    """``sample_weight`` ``(B, n)``: ``B`` models at once, each the single fit with its row
    of weights (and its own ``alpha``), also against scikit-learn; predictions carry the
    model axis first."""
    X, y, Xn, W = data()
    params = dict(C=0.3, class_weight="balanced")
    batch = LogisticRegression(**params).fit(X, y, sample_weight=W)
    assert batch.coef_.shape == (B, D)
    assert batch.intercept_.shape == batch.n_iter_.shape == batch.status_.shape == (B,)
    assert batch.result_.batch_shape == (B,)
    proba = batch.predict_proba(Xn)
    assert proba.shape == (B, M, 2)
    assert batch.decision_function(Xn).shape == batch.predict(Xn).shape == (B, M)
    assert batch.predict_log_proba(Xn).shape == (B, M, 2)
    held_out = (W == 0).astype(np.float64)  # each model scored on the rows it did not see
    scores = batch.score(X, y, sample_weight=held_out)
    assert scores.shape == (B,)
    for b in range(B):
        single = LogisticRegression(**params).fit(X, y, sample_weight=W[b])
        np.testing.assert_allclose(batch.coef_[b], single.coef_[0], rtol=LOOP, atol=LOOP)
        np.testing.assert_allclose(batch.intercept_[b], single.intercept_[0], rtol=LOOP,
                                   atol=LOOP)
        np.testing.assert_allclose(proba[b], single.predict_proba(Xn), rtol=LOOP, atol=LOOP)
        np.testing.assert_array_equal(batch.predict(Xn)[b], single.predict(Xn))
        assert scores[b] == single.score(X, y, sample_weight=held_out[b])
        ref = reference(**params).fit(X, y, sample_weight=W[b])
        np.testing.assert_allclose(batch.coef_[b], ref.coef_[0], rtol=RTOL, atol=RTOL)
        np.testing.assert_allclose(batch.intercept_[b], ref.intercept_[0], rtol=RTOL,
                                   atol=RTOL)
    # The weights matter: the models differ from each other.
    assert np.ptp(batch.coef_[:, 0]) > 1e-3


def test_pipeline_grid_search_and_cross_validation_match_scikit_learn():
    """In a Pipeline under GridSearchCV and cross_val_score, on the same folds, the same
    choice of ``C`` and the same held-out log losses as scikit-learn's estimator."""
    X, y, _, _ = data()
    folds = KFold(n_splits=3, shuffle=True, random_state=0)
    grid = {"logisticregression__C": [0.01, 0.1, 1.0]}
    ours = GridSearchCV(make_pipeline(StandardScaler(), LogisticRegression()), grid,
                        cv=folds, scoring="neg_log_loss").fit(X, y)
    ref = GridSearchCV(make_pipeline(StandardScaler(), reference()), grid, cv=folds,
                       scoring="neg_log_loss").fit(X, y)
    assert ours.best_params_ == ref.best_params_
    np.testing.assert_allclose(ours.cv_results_["mean_test_score"],
                               ref.cv_results_["mean_test_score"], rtol=RTOL)
    scores = cross_val_score(LogisticRegression(C=0.1), X, y, cv=folds, scoring="neg_log_loss")
    expected = cross_val_score(reference(C=0.1), X, y, cv=folds, scoring="neg_log_loss")
    np.testing.assert_allclose(scores, expected, rtol=RTOL)


def test_feature_names_from_a_data_frame():
    pd = pytest.importorskip("pandas")
    X, y, Xn, _ = data()
    frame = pd.DataFrame(X, columns=["age", "dose", "weight"])
    est = LogisticRegression().fit(frame, pd.Series(y, name="outcome"))
    np.testing.assert_array_equal(est.feature_names_in_, ["age", "dose", "weight"])
    assert est.n_features_in_ == D
    np.testing.assert_allclose(est.coef_, LogisticRegression().fit(X, y).coef_, rtol=LOOP)


def test_non_convergence_issues_convergence_warnings():
    """Where scikit-learn warns: a separated data set without a penalty (no finite
    estimate), and an iteration bound too small; in a batch, one warning counting the
    failed models."""
    X = np.array([[-2.0], [-1.0], [-0.5], [0.5], [1.0], [2.0]])
    y = np.array([0, 0, 0, 1, 1, 1])
    with pytest.warns(ConvergenceWarning, match="SEPARATED"):
        est = LogisticRegression(C=math.inf).fit(X, y)
    assert est.status_[0] == int(jaxlogreg.Status.SEPARATED)
    Xd, yd, _, W = data()
    with pytest.warns(ConvergenceWarning, match="MAX_ITER"):
        LogisticRegression(max_iter=1).fit(Xd, yd)
    with pytest.warns(ConvergenceWarning, match=f"{B} of {B} models did not converge"):
        LogisticRegression(max_iter=1).fit(Xd, yd, sample_weight=W)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a converged fit warns of nothing
        LogisticRegression().fit(Xd, yd)


def test_bad_input_is_a_value_error_naming_the_argument():
    X, y, _, W = data()
    cases = [
        (dict(C=0.0), {}, "C:"),
        (dict(C=-1.0), {}, "C:"),
        (dict(l1_ratio=1.5), {}, "l1_ratio:"),
        (dict(max_iter=0), {}, "max_iter:"),
        (dict(tol=-1e-3), {}, "tol:"),
        (dict(link="logistic"), {}, "link:"),
        (dict(class_weight="even"), {}, "class_weight:"),
        (dict(class_weight={"maybe": 2.0}), {}, "class_weight: keys"),
        (dict(solver="firth"), {}, "alpha"),  # Firth's fit takes no penalty: C=np.inf
        ({}, dict(sample_weight=W[:, :-1]), "sample_weight: expected shape"),
        ({}, dict(sample_weight=-W[0]), "sample_weight: weights must be"),
        ({}, dict(sample_weight=np.where(np.arange(B)[:, None] == 1, 0.0, W)),
         "sample_weight: all weights are zero for model 1"),
        ({}, dict(sample_weight=(y == "yes").astype(float)), "only one class"),
    ]
    for params, fit_kwargs, match in cases:
        with pytest.raises(ValueError, match=match):
            LogisticRegression(**params).fit(X, y, **fit_kwargs)


def test_clone_keeps_the_parameters_and_fit_does_not_change_them():
    est = LogisticRegression(C=0.5, solver=jaxlogreg.Newton(), class_weight={"yes": 2.0})
    copy = clone(est)
    assert copy.get_params() == est.get_params()
    X, y, _, _ = data()
    copy.fit(X, y)
    assert copy.get_params() == est.get_params()
    assert copy.set_params(C=2.0).C == 2.0
