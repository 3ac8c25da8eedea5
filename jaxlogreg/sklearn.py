"""A scikit-learn estimator over :func:`jaxlogreg.fit`: binary logistic (or probit, cloglog,
cauchit) regression that sits in a ``Pipeline``, a ``GridSearchCV`` or ``cross_val_score``,
and fits a batch of models at once when given a batch of sample weights.

scikit-learn is an optional dependency (``pip install "jaxlogreg[sklearn]"``); it is imported
by this module only, so ``import jaxlogreg`` never needs it.

The objective and the meaning of ``C``
--------------------------------------
scikit-learn's ``LogisticRegression(C=C, l1_ratio=r)`` minimises, over slopes ``w`` ``(d,)``
and an unpenalised intercept ``b``, with per-row weights ``s_i`` (``sample_weight`` times the
class weight of row ``i``'s class)::

    C * sum_i s_i * l_i  +  r * ||w||_1  +  (1 - r) / 2 * ||w||_2^2

and :func:`jaxlogreg.fit` minimises (:mod:`jaxlogreg._loss`, one owner of the convention)::

    (1 / sum_i s_i) * sum_i s_i * l_i  +  alpha * (r * ||w||_1  +  (1 - r) / 2 * ||w||_2^2)

The first is the second times ``C * sum_i s_i`` when ``alpha = 1 / (C * sum_i s_i)``, so the
two have the same minimiser; that is the mapping :class:`LogisticRegression` uses, with
``sum_i s_i`` taken after the class weights (as scikit-learn's ``lbfgs`` and
``newton-cholesky`` solvers take it). ``C = np.inf`` is no penalty (``alpha = 0``).

A batch of models
-----------------
``fit(X, y, sample_weight=W)`` with a 2-D ``W`` of shape ``(B, n)`` fits ``B`` models over
the one design ``X`` at once (row ``b`` of ``W`` is model ``b``'s frequency weights: 0 drops
a row, 2 counts it twice), each with its own ``alpha = 1 / (C * sum_i s_bi)``. Then
``coef_`` is ``(B, d)``, ``intercept_``, ``n_iter_`` and ``status_`` are ``(B,)``, and every
prediction method puts the model axis first: ``decision_function`` and ``predict`` give
``(B, m)``, ``predict_proba`` and ``predict_log_proba`` ``(B, m, 2)``, ``score`` ``(B,)``.
A 1-D ``sample_weight`` (or None) fits one model, with scikit-learn's shapes: ``coef_``
``(1, d)``, ``intercept_`` ``(1,)``, ``predict_proba`` ``(m, 2)``.

Precision: the fit runs in ``X``'s dtype as JAX holds it, so float32 unless
``jax_enable_x64`` is on. With it on, float64 fits match scikit-learn's to ~1e-10 and
scikit-learn's ``check_estimator`` passes; in float32 they agree to float32 rounding, below
which ``check_sample_weight_equivalence_on_dense_data``'s 1e-7 tolerance lies.
"""

from __future__ import annotations

import math
import numbers
import warnings

import jax
import jax.numpy as jnp
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin  # type: ignore[import-untyped]
from sklearn.exceptions import ConvergenceWarning  # type: ignore[import-untyped]
from sklearn.utils.multiclass import (  # type: ignore[import-untyped]
    check_classification_targets,
    type_of_target,
)
from sklearn.utils.validation import (  # type: ignore[import-untyped]
    check_is_fitted,
    validate_data,
)

from . import _links, _loss, _validate, solvers
from ._fit import fit as _fit
from ._status import Status

__all__ = ["LogisticRegression"]

# scikit-learn's solver names that have a jaxlogreg counterpart with the same method.
_SOLVER_ALIASES = {"newton-cholesky": "newton", "lbfgs": "lbfgs"}
# scikit-learn's solver names without one.
_SKLEARN_ONLY_SOLVERS = ("liblinear", "newton-cg", "sag", "saga")


class LogisticRegression(ClassifierMixin, BaseEstimator):
    """Binary logistic regression fitted by :func:`jaxlogreg.fit`, as a scikit-learn
    classifier (module docstring: the objective, ``C``, and the batch of models).

    Parameters:
      C: inverse penalty strength, positive; ``np.inf`` for no penalty. The fit is
        :func:`jaxlogreg.fit` with ``alpha = 1 / (C * sum_i s_i)``, ``s_i`` the sample
        weight times the class weight of row ``i`` (per model for a batch), so the
        estimates equal scikit-learn's ``LogisticRegression(C=C)``.
      l1_ratio: share of the L1 term in ``[0, 1]`` (0: ridge, 1: lasso), scikit-learn's
        meaning; a positive value with ``solver="auto"`` fits by proximal Newton.
      fit_intercept: fit an unpenalised intercept.
      tol: jaxlogreg's convergence tolerance (Newton: half the squared Newton decrement and
        every ``|grad_j f|`` of the mean objective at most ``tol``; see
        :func:`jaxlogreg.fit`), not scikit-learn's criterion; None picks by dtype (1e-10
        for float64, 1e-5 for float32).
      max_iter: iteration bound of the solver.
      solver: ``"auto"`` (jaxlogreg's choice: proximal Newton with an L1 term, Newton up to
        48 parameters, L-BFGS above), any of :func:`jaxlogreg.solvers.names`, a settings
        object (:class:`jaxlogreg.Newton`, ...), or scikit-learn's ``"newton-cholesky"``
        (jaxlogreg's ``"newton"``) and ``"lbfgs"``. ``"firth"`` (Firth's bias-reduced
        fit) needs ``C=np.inf``.
      class_weight: None, ``"balanced"`` (``n / (2 n_k)`` with weighted class counts, per
        model), or a mapping from class labels to positive weights (a class left out
        weighs 1), as in scikit-learn.
      link: ``"logit"`` (logistic regression), ``"probit"``, ``"cloglog"`` or
        ``"cauchit"``: ``P(y = classes_[1] | x) = F(x @ coef + intercept)``.

    Attributes (after ``fit``; ``B = 1`` unless ``sample_weight`` is 2-D):
      classes_: ``(2,)`` the labels; ``classes_[1]`` is the positive class.
      coef_: ``(B, d)`` slopes.
      intercept_: ``(B,)`` intercepts (0 when ``fit_intercept=False``).
      n_iter_: ``(B,)`` int iterations each model took.
      status_: ``(B,)`` int :class:`jaxlogreg.Status` codes of the models.
      result_: the :class:`jaxlogreg.FitResult` (batch shape ``()`` for one model, ``(B,)``
        for a batch), for :func:`jaxlogreg.inference` and the rest of the library.
      n_features_in_: ``d``; feature_names_in_: ``(d,)`` column names when ``X`` was a
        DataFrame with string column names.

    Only binary targets are supported: a target of three or more classes is a ValueError.
    A model that does not converge (any :class:`jaxlogreg.Status` but ``CONVERGED``:
    ``MAX_ITER``, ``SEPARATED``, ``SINGULAR``, ...) issues scikit-learn's
    ``ConvergenceWarning``, one per ``fit`` (a batch's says how many models and why), and
    keeps the coefficients the solver stopped at, as scikit-learn does.
    """

    def __init__(
        self,
        *,
        C=1.0,
        l1_ratio=0.0,
        fit_intercept=True,
        tol=None,
        max_iter=100,
        solver="auto",
        class_weight=None,
        link="logit",
    ):
        self.C = C
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter
        self.solver = solver
        self.class_weight = class_weight
        self.link = link

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Binary only: scikit-learn's checks then skip the multiclass ones and check that a
        # multiclass target is refused with "Only binary classification is supported".
        tags.classifier_tags.multi_class = False
        return tags

    # -- fitting -------------------------------------------------------------------------

    def fit(self, X, y, sample_weight=None):
        """Fit one model, or ``B`` models when ``sample_weight`` is ``(B, n)``.

        Args:
          X: ``(n, d)`` features (array-like or DataFrame; no sparse matrices).
          y: ``(n,)`` labels of exactly two classes.
          sample_weight: None (ones), ``(n,)`` nonnegative weights of one model, or
            ``(B, n)``: one row of weights per model, all fitted over the same ``X`` and
            ``y`` at once.

        Returns:
          self.
        """
        self._check_params()
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32])
        check_classification_targets(y)
        classes = np.unique(y)
        if classes.size > 2:
            y_type = type_of_target(y, input_name="y", raise_unknown=True)
            raise ValueError(
                "Only binary classification is supported. The type of the target is "
                f"{y_type} ({classes.size} classes); fit one model per class (e.g. with "
                "sklearn.multiclass.OneVsRestClassifier) for more."
            )
        if classes.size < 2:
            raise ValueError(
                f"y: needs samples of 2 classes, but the data contains only one class: "
                f"{classes[0]!r}"
            )
        n = X.shape[0]
        y01 = (y == classes[1]).astype(X.dtype)
        weights = self._sample_weight(sample_weight, y01, classes, n, X.dtype)
        class_weight = self._class_weight(classes)

        if self.C == math.inf:
            alpha = np.zeros(() if weights is None or weights.ndim == 1 else weights.shape[0])
        else:
            spec = _validate.class_weight_spec(class_weight)
            alpha = 1.0 / (self.C * _weight_sums(y01, weights, spec))
        res = _fit(
            X, y01, weights=weights, fit_intercept=bool(self.fit_intercept),
            solver=self._solver(), tol=self.tol, max_iter=self.max_iter,
            alpha=alpha.astype(X.dtype), l1_ratio=float(self.l1_ratio),
            class_weight=class_weight, link=self.link,
        )

        self.classes_ = classes
        self.result_ = res
        d = X.shape[1]
        self.coef_ = np.asarray(res.coef).reshape(-1, d)
        self.intercept_ = np.asarray(res.intercept).reshape(-1)
        self.n_iter_ = np.asarray(res.n_iter).reshape(-1)
        self.status_ = np.asarray(res.status).reshape(-1)
        self._warn_unless_converged()
        return self

    def _check_params(self):
        """ValueError naming the parameter for a value :func:`jaxlogreg.fit` cannot take or
        that this mapping does not define (the rest is :func:`jaxlogreg.fit`'s to check)."""
        C = _number(self.C)
        if C is None or not C > 0:
            raise ValueError(f"C: expected a positive number (np.inf: no penalty), got {self.C!r}")
        r = _number(self.l1_ratio)
        if r is None or not 0.0 <= r <= 1.0:
            raise ValueError(f"l1_ratio: expected a number in [0, 1], got {self.l1_ratio!r}")
        m = self.max_iter
        if isinstance(m, bool) or not isinstance(m, numbers.Integral) or int(m) < 1:
            raise ValueError(f"max_iter: expected a positive integer, got {m!r}")
        t = _number(self.tol)
        if self.tol is not None and (t is None or not 0 < t < math.inf):
            raise ValueError(f"tol: expected a positive number or None, got {self.tol!r}")
        if not isinstance(self.fit_intercept, (bool, np.bool_)):
            raise ValueError(f"fit_intercept: expected a bool, got {self.fit_intercept!r}")
        if self.link not in _links.LINKS:
            raise ValueError(f"link: expected one of {_links.LINKS}, got {self.link!r}")

    def _solver(self):
        """jaxlogreg's solver for ``self.solver`` (scikit-learn's names translated)."""
        solver = self.solver
        if isinstance(solver, str):
            if solver in _SKLEARN_ONLY_SOLVERS:
                raise ValueError(
                    f"solver: scikit-learn's {solver!r} has no jaxlogreg counterpart; use "
                    f"'auto', 'newton-cholesky', 'lbfgs' or one of {solvers.names()}"
                )
            return _SOLVER_ALIASES.get(solver, solver)
        return solver

    def _class_weight(self, classes):
        """``self.class_weight`` as :func:`jaxlogreg.fit` takes it: None, ``"balanced"`` or a
        mapping keyed by the 0/1 labels it sees (``classes[1]`` is 1)."""
        cw = self.class_weight
        if cw is None or isinstance(cw, str):
            _validate.class_weight_spec(cw)  # a ValueError naming class_weight if unknown
            return cw
        if not hasattr(cw, "items"):
            raise ValueError(
                f"class_weight: expected 'balanced', a mapping from class labels to weights or "
                f"None, got {type(cw).__name__}"
            )
        known = set(classes.tolist())
        unknown = [k for k in cw if k not in known]
        if unknown:
            raise ValueError(
                f"class_weight: keys {unknown!r} are not classes of y (classes: "
                f"{classes.tolist()!r})"
            )
        return {label: cw[c] for label, c in enumerate(classes.tolist()) if c in cw}

    @staticmethod
    def _sample_weight(sample_weight, y01, classes, n, dtype):
        """``None``, ``(n,)`` or ``(B, n)`` nonnegative finite weights, as a new array."""
        if sample_weight is None:
            return None
        try:
            w = np.array(sample_weight, dtype=dtype)
        except (TypeError, ValueError):
            raise ValueError(
                f"sample_weight: expected numbers, got {type(sample_weight).__name__}"
            ) from None
        if w.ndim == 0:  # a scalar weighs every row alike (scikit-learn's convention)
            w = np.full(n, w, dtype)
        if w.ndim not in (1, 2) or w.shape[-1] != n:
            raise ValueError(
                f"sample_weight: expected shape ({n},) for one model or (B, {n}) for B models "
                f"(one row of weights per model), got {w.shape}"
            )
        bad = ~np.isfinite(w) | (w < 0)
        if bad.any():
            index = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(
                f"sample_weight: weights must be finite and nonnegative; entry {index} is "
                f"{w[index]}"
            )
        total = w.sum(axis=-1)
        if np.any(total == 0):
            raise ValueError(
                "sample_weight: all weights are zero"
                + (f" for model {int(np.argmin(total))}" if w.ndim == 2 else "")
            )
        if w.ndim == 1:
            # One model whose weighted rows hold a single class has no finite fit.
            present = [bool(np.any(w[y01 == k] > 0)) for k in (0, 1)]
            if not all(present):
                raise ValueError(
                    "sample_weight: the rows of positive weight hold only one class "
                    f"({classes[present.index(True)]!r}); a binary classifier needs both"
                )
        return w

    def _warn_unless_converged(self):
        status = self.status_
        failed = status != int(Status.CONVERGED)
        if not failed.any():
            return
        remedy = ("Increase max_iter, scale the features, or lower C (a stronger penalty) "
                  "for separated or collinear data.")
        if status.size == 1:
            s = Status(int(status[0]))
            message = f"jaxlogreg's fit did not converge ({s.name}): {s.message}. {remedy}"
        else:
            counts = {k: v for k, v in Status.counts(status[failed]).items() if v}
            message = (f"{int(failed.sum())} of {status.size} models did not converge "
                       f"({counts}; status_ holds each model's jaxlogreg.Status). {remedy}")
        warnings.warn(message, ConvergenceWarning, stacklevel=3)

    # -- prediction ----------------------------------------------------------------------

    def _linear_predictor(self, X):
        """``eta = X @ coef + intercept``: ``(m,)`` for one model, ``(B, m)`` for a batch."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        eta = self.coef_ @ X.T + self.intercept_[:, None]
        return eta[0] if self.result_.batch_shape == () else eta

    def decision_function(self, X):
        """``eta - g(1/2)`` with ``eta = X @ coef + intercept`` and ``g`` the link: positive
        exactly where ``P(y = classes_[1]) > 1/2``. For the logit, probit and cauchit links
        ``g(1/2) = 0`` and this is ``eta`` (scikit-learn's decision function); for cloglog
        it is ``eta - log(log 2)``.

        Returns:
          ``(m,)``, or ``(B, m)`` for a batch of models.
        """
        eta = self._linear_predictor(X)
        return eta - _decision_threshold(self.link)

    def predict_proba(self, X):
        """``[:, [P(y = classes_[0]), P(y = classes_[1])]]`` with ``P(y = classes_[1]) =
        F(X @ coef + intercept)``, ``F`` the inverse link.

        Returns:
          ``(m, 2)``, or ``(B, m, 2)`` for a batch of models.
        """
        eta = self._linear_predictor(X)
        p1 = np.asarray(_links.inverse(self.link, jnp.asarray(eta)), dtype=eta.dtype)
        return np.stack([1.0 - p1, p1], axis=-1)

    def predict_log_proba(self, X):
        """``log(predict_proba(X))``: ``(m, 2)``, or ``(B, m, 2)`` for a batch."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X):
        """The more probable class, ``classes_[1]`` where ``decision_function(X) > 0``.

        Returns:
          ``(m,)`` labels, or ``(B, m)`` for a batch of models.
        """
        positive = self.decision_function(X) > 0  # checks first that self is fitted
        return self.classes_[positive.astype(np.intp)]

    def score(self, X, y, sample_weight=None):
        """Mean accuracy of ``predict(X)`` against ``y``, weighted by ``sample_weight``.

        For one model a float (scikit-learn's ``ClassifierMixin.score``); for a batch of
        ``B`` models ``(B,)`` accuracies, ``sample_weight`` then ``(m,)`` shared or
        ``(B, m)`` one row per model (e.g. the held-out rows of each split).
        """
        check_is_fitted(self)
        if self.result_.batch_shape == ():
            return super().score(X, y, sample_weight=sample_weight)
        predicted = self.predict(X)
        y = np.asarray(y)
        if y.shape != predicted.shape[-1:]:
            raise ValueError(f"y: expected shape {predicted.shape[-1:]}, got {y.shape}")
        correct = (predicted == y).astype(np.float64)
        if sample_weight is None:
            return correct.mean(axis=-1)
        w = np.broadcast_to(np.asarray(sample_weight, np.float64), correct.shape)
        return (w * correct).sum(axis=-1) / w.sum(axis=-1)


def _number(value) -> float | None:
    """``value`` as a float when it is a real number (not a bool), else None."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        return None
    return float(value)


def _weight_sums(y01, weights, class_weight):
    """``sum_i s_i`` per model after the class weights, as :func:`jaxlogreg.fit` forms them
    (:func:`jaxlogreg._loss.response_weights`): ``()`` for one model, ``(B,)`` for a batch."""
    y = jnp.asarray(y01)
    w = jnp.ones_like(y) if weights is None else jnp.asarray(weights, y.dtype)

    def total(w_b):
        return jnp.sum(_loss.response_weights(y, w_b, None, class_weight)[1])

    return np.asarray(total(w) if w.ndim == 1 else jax.vmap(total)(w), np.float64)


def _decision_threshold(link: str) -> float:
    """``g(1/2)``, the linear predictor at which ``P(y = 1) = 1/2``."""
    return float(_links.link_function(link, 0.5))
