"""Statsmodels-style inference for every model of a batch at once.

Given fitted models (a :class:`~jaxlogreg.FitResult`) and the data they were fitted to,
:func:`inference` computes what statsmodels' ``Logit(...).fit()`` (and, for every link,
``GLM(family=Binomial(link=...), freq_weights=w)``) results report: standard errors under
several covariance types, Wald z statistics, p-values and confidence intervals, the
log-likelihood and that of the intercept-only model, pseudo R-squared, information criteria,
residuals, leverage and Cook's distance. :func:`laplace` gives the Laplace approximation to
the posterior of a ridge-penalised fit. It is batched exactly like :func:`jaxlogreg.fit`: a
shared design ``X (n, d)`` with per-model ``y``/``weights``/``offset``/``trials`` of shape
``(..., n)``, or per-model designs ``X (..., n, d)``; every result has the batch shape
``(...)`` in front.

Conventions (the model's are those of :mod:`jaxlogreg._loss`)
--------------------------------------------------------------
For one model with parameters ``beta`` (``k = d + fit_intercept`` of them, the intercept
first, statsmodels' ``add_constant`` order), design ``X`` (with its column of ones) and
offset ``o``, the rows are first put in the loss's convention exactly as :func:`jaxlogreg.fit`
puts them (:func:`jaxlogreg._loss.response_weights`): from the frequency weights ``f_i``
(``weights``), binomial trials ``t_i`` (``trials``; 1 without) and class weights, each row
gets a response ``y_i`` in [0, 1] (the proportion of successes) and a weight
``w_i = f_i m_i``, ``m_i`` the row's multiplicity: ``t_i`` times its class weight
(``t_i (c1 y_i + c0 (1 - y_i))``; 1 for a plain 0/1 row). With ``F`` the inverse link of
``res.link`` and, from :func:`jaxlogreg._loss.row_terms`, ``s_i = d l_i / d eta_i`` the row
score and ``c_i`` the row's information weight::

    eta_i = x_i^T beta + o_i,  mu_i = F(eta_i),  v_i = mu_i (1 - mu_i)
    l_i   = y_i log mu_i + (1 - y_i) log(1 - mu_i)        (row log-likelihood)
    llf   = sum_i w_i l_i                                   (a weight of 2 = the row twice)
    I     = X^T diag(w c) X                                 (information)
    nobs  = sum_i f_i t_i,  df_model = k - 1,  df_resid = nobs - k

``information="expected"`` (the default, statsmodels GLM's for the nonrobust covariance)
uses the Fisher weight ``c_i = F'(eta_i)^2 / v_i``; ``information="observed"`` the observed
``c_i = d^2 (-l_i) / d eta_i^2`` (statsmodels' ``Probit``, and GLM with ``method="newton"``
or ``cov_type="oim"``). For the logit, the canonical link, both are ``v_i`` and
``s_i = mu_i - y_i``. For a non-canonical link they differ by ``(y_i - mu_i)`` times a
function of ``eta_i``, so at the maximum their inverses are asymptotically equal.

These equal statsmodels' ``Logit`` on the data with every row repeated ``f_i`` times, and
``GLM(family=Binomial(link=...), freq_weights=f)``. ``df_model = k - 1`` also when
``fit_intercept=False``: statsmodels' Logit assumes a constant is among the columns (fit
``add_constant(X)`` with ``fit_intercept=False`` and every number here is statsmodels'),
and ``llnull`` is always the model with an intercept (plus the offset) and nothing else,
with the same link and weights, as statsmodels computes it.

Binomial counts (``trials``): ``llf`` is the log-likelihood of the expanded 0/1 data
(``t_i y_i`` successes and ``t_i (1 - y_i)`` failures as separate rows); statsmodels' GLM on
``endog = [successes, failures]`` adds the log binomial coefficients ``sum_i f_i log C(t_i,
t_i y_i)`` to its ``llf`` and ``llnull``. Parameters, standard errors, ``deviance`` and
``pearson_chi2`` are statsmodels'; ``nobs`` counts trials (statsmodels counts rows), which
changes ``df_resid``, ``bic`` and the pseudo R-squared of Cox-Snell and Nagelkerke. Per-row
residuals are those of the count: the response residual ``t (y - mu)``, Pearson's
``sqrt(t) (y - mu) / sqrt(v)`` and the deviance residual ``sign(y - mu) sqrt(t d_i)`` (as
statsmodels and R report them).

Class weights (the fit's, which ``res.class_weight`` records: :mod:`jaxlogreg._spec`)
multiply each row's log-likelihood, as statsmodels' GLM ``var_weights`` do for the binomial
family: with ``class_weight`` and 0/1 labels every number is that of
``GLM(freq_weights=f, var_weights=c_y)``. The estimates, ``llf``, ``deviance`` and the
nonrobust covariance are also those of the rows repeated ``f_i c_{y_i}`` times, but ``nobs``
does not count class weights and the robust covariances keep a row one observation (its
score multiplied by its class weight, below). The nonrobust covariance is the inverse Hessian
of the weighted log-likelihood, not a sampling covariance: use ``"HC0"`` for the sandwich.

Covariance types (``cov_type``). An observation is a row, and its frequency weight ``f_i``
counts copies of it; its score is ``u_i = m_i s_i x_i`` (the derivative of its weighted
log-likelihood), and ``u_g = sum_{i in g} f_i u_i = sum_{i in g} w_i s_i x_i``::

    "nonrobust"  V = I^-1
    "HC0"        V = I^-1 M I^-1,      M = sum_i f_i u_i u_i^T = X^T diag(w m s^2) X
    "HC1"        V = N / (N - k) * HC0
    "cluster"    V = G / (G - 1) * (N - 1) / (N - k) * I^-1 (sum_g u_g u_g^T) I^-1

``N = sum_i f_i`` is the number of observations (``nobs`` unless there are trials: a row of
``t_i`` trials is one observation here, as in statsmodels' GLM on counts). ``G`` is the
number of groups with positive total weight in the model (a bootstrap resample that drops a
whole group has one group fewer). The bread ``I`` follows ``information``.
These are statsmodels' conventions for ``Logit(...).fit(cov_type="HC0")``, for
``cov_type="cluster"`` with its default ``use_correction=True``, and for
``sandwich_covariance.cov_white_simple(res, use_correction=True)`` (HC1). Differences worth
knowing: statsmodels' GLM robust covariances always use the observed information in the bread
(``information="observed"`` here; ``"expected"`` is R's ``sandwich::vcovHC(glm)``); its
Logit ``cov_type="HC1"`` applies no small-sample factor at all (it returns HC0); and with GLM
``freq_weights`` its cluster correction, its ``nobs`` and so its Cox-Snell pseudo R-squared
count rows (``n``) rather than ``sum f`` (and its HC0 is NaN when a weight is 0). Here
frequency weights always mean repeated rows.

Models that cannot be inferred on
---------------------------------
A model whose fit did not converge (``status != CONVERGED``: separated, singular, ...) or
whose information matrix is numerically singular (:func:`jaxlogreg._linalg.factor`) gets
NaN for everything that rests on the covariance or on the estimate being a maximum:
``cov_params``, ``bse``, ``tvalues``, ``pvalues``, ``conf_int``, ``odds_ratios_conf_int``,
``llr_pvalue``, ``hat_matrix_diag``, ``cooks_distance`` and the tests built on them;
``valid`` is False for it. Quantities that are plain functions of the reported parameters
(``params``, ``odds_ratios``, ``llf``, ``deviance``, residuals, ...) are still reported.
Nothing raises inside a batch. (The observed information of a cauchit model can be
indefinite far from the data; the factorisation then refuses it too.)

Computation and compilation
---------------------------
The work of :func:`inference` is one jitted function; ``cov_type`` and ``alpha`` are traced
values, so changing them does not recompile (the covariance is chosen by a ``lax.switch``
that stays a real branch under ``vmap``: only the chosen type is computed); ``link``,
``information`` and ``class_weight`` are static, as in :func:`jaxlogreg.fit`. Everything
works inside a user's ``jax.jit`` (cluster labels may then be traced). Shared designs are
never copied per model: ``I``, ``M`` and the leverage use
:func:`jaxlogreg._loss.column_products` (``(B, n) @ (n, k (k + 1) / 2)`` products), and models
are processed in chunks as in :func:`jaxlogreg.fit`. Per-observation results (residuals,
leverage, Cook's distance) are ``(..., n)``. The cluster covariance forms a
``(chunk, n, k)`` array of score rows per chunk.

Modules
-------
In the order the data flows through them (each imports only those above it):

* ``_common``: what every computation shares: one model's rows in the loss's convention
  (:func:`_model_problem`), a batch split into per-model and shared arrays, the
  intercept-only log-likelihood (:func:`_null_loglik`), the chi-squared tail, and the checks
  of a fit and its data at the Python boundary.
* ``_results``: :class:`InferenceResult` and :func:`inference`, which validates its
  arguments and computes every model's statistics in one jitted function (``_statistics``).
* ``_tests``: the Wald, likelihood-ratio and score tests and their results.
* ``_laplace``: the Laplace approximation (:func:`laplace`) and its posterior predictive.
* ``_summary``: one model's statsmodels-style text table, and every model as a dict of
  numpy arrays or rows of a CSV file.
* ``_vif``: variance inflation factors of a design (it needs no fit).

The names re-exported here are copies: a test that replaces a helper patches it in the
module that looks it up, e.g. ``_inference._results._inference_plan``.
"""

# Beside the public names: the private ones that other modules and tests use, and the
# submodules themselves.
from . import _common, _laplace, _results, _summary, _tests, _vif  # noqa: F401
from ._common import INFORMATION, _null_loglik  # noqa: F401
from ._laplace import LaplaceResult, laplace, predictive
from ._results import _INFERENCE, COV_TYPES, InferenceResult, _inference, inference  # noqa: F401
from ._summary import csv_columns, summary, to_csv, to_dict
from ._tests import Chi2TestResult, LRTestResult, lr_test, score_test, wald_test
from ._vif import variance_inflation_factors

__all__ = [
    "InferenceResult",
    "Chi2TestResult",
    "LRTestResult",
    "LaplaceResult",
    "inference",
    "wald_test",
    "lr_test",
    "score_test",
    "laplace",
    "predictive",
    "variance_inflation_factors",
    "summary",
    "to_dict",
    "to_csv",
    "csv_columns",
    "COV_TYPES",
    "INFORMATION",
]
