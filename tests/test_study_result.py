"""A study's typed parts (issue 19 item 4): :class:`jaxlogreg.StudyReplicates`,
:class:`jaxlogreg.StudySummary`, :class:`jaxlogreg.StudyReference`,
:class:`jaxlogreg.StudyDiagnostics` and :class:`jaxlogreg.StudyData`.

Their fields are checked against what they hold computed here: the summary from the
replicates' own arrays in NumPy, the full-data fit and its standard errors with statsmodels'
``Logit``, the VIFs with statsmodels' ``variance_inflation_factor``. Each record reads as
the mapping it replaces (the same values under the same keys), a study written to disk reads
back to equal records, and a study written before the optional fields loads them as None.
The studies have the shapes of tests/test_study.py (300 rows, 3 features, 60 train splits of
70% in chunks of 25), so that a worker compiles them once for both files.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import statistics

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import statsmodels.api as sm
from statsmodels.stats.outliers_influence import variance_inflation_factor

import jaxlogreg
from jaxlogreg import Status, _io, _study

N, NUM, BATCH, FRACTION = 300, 60, 25, 0.7
TRUE = np.array([-0.7, 0.9, 0.1, -0.5])
RECORDS = {
    "replicates": jaxlogreg.StudyReplicates, "summary": jaxlogreg.StudySummary,
    "reference": jaxlogreg.StudyReference, "diagnostics": jaxlogreg.StudyDiagnostics,
}


@functools.cache
def data():
    sim = jaxlogreg.simulate(jax.random.key(21), N, TRUE[1:], TRUE[0])
    return np.asarray(sim.X), np.asarray(sim.y)


def scheme():
    return jaxlogreg.Splits(jax.random.key(22), NUM, FRACTION)


def run(**kw):
    X, y = data()
    return jaxlogreg.run_study(X, y, TRUE, scheme=scheme(), batch=BATCH, **kw)


@functools.cache
def in_memory():
    return run()


def records(result):
    """Each typed part of a result by its name, the data description among them."""
    found = {name: getattr(result, name) for name in RECORDS}
    found["data"] = result.diagnostics.data
    return found


# --------------------------------------------------------------------------------------------
# What the fields hold
# --------------------------------------------------------------------------------------------


def test_the_records_are_typed_and_their_fields_are_the_keys():
    result = in_memory()
    for name, cls in RECORDS.items():
        assert isinstance(getattr(result, name), cls), name
    assert isinstance(result.diagnostics.data, jaxlogreg.StudyData)
    assert _study.REPLICATE_FIELDS == tuple(f.name for f in dataclasses.fields(result.replicates))
    assert tuple(result.replicates) == _study.REPLICATE_FIELDS
    reps = result.replicates
    k = len(TRUE)
    assert reps.params.shape == reps.bse.shape == (NUM, k)
    assert reps.status.shape == reps.valid.shape == reps.auc.shape == (NUM,)
    assert reps.reliability_weight.shape == (NUM, 10)
    np.testing.assert_array_equal(reps.index, np.arange(NUM))


def test_the_summary_fields_are_the_summary_of_the_replicates():
    """Every field of the summary, computed here from the replicates' arrays."""
    result = in_memory()
    reps, s = result.replicates, result.summary
    ok = (reps.status == Status.CONVERGED) & reps.valid
    est, se = reps.params[ok], reps.bse[ok]
    z = statistics.NormalDist().inv_cdf(0.975)
    np.testing.assert_allclose(s.mean, est.mean(0), rtol=1e-12)
    np.testing.assert_allclose(s.bias, est.mean(0) - TRUE, rtol=1e-12)
    np.testing.assert_allclose(s.resampling_bias, est.mean(0) - result.reference.params,
                               rtol=1e-12)
    np.testing.assert_allclose(s.sd, est.std(0, ddof=1), rtol=1e-12)
    np.testing.assert_allclose(s.mean_se, se.mean(0), rtol=1e-12)
    np.testing.assert_allclose(s.se_ratio, se.mean(0) / est.std(0, ddof=1), rtol=1e-12)
    np.testing.assert_allclose(s.rmse, np.sqrt(((est - TRUE) ** 2).mean(0)), rtol=1e-12)
    np.testing.assert_array_equal(s.sign_flip, (np.sign(est) != np.sign(TRUE)).mean(0))
    nd = statistics.NormalDist()
    predicted = [np.mean([nd.cdf(-abs(t) / v) for v in se[:, j]]) for j, t in enumerate(TRUE)]
    np.testing.assert_allclose(s.predicted_flip, predicted, rtol=1e-8)
    np.testing.assert_array_equal(s.coverage, (np.abs(est - TRUE) <= z * se).mean(0))
    # The counts and shares of the statuses.
    counts = {m.name: int(np.sum(reps.status == m.value)) for m in Status
              if m is not Status.RUNNING}
    assert s.status_counts == counts
    assert s.replicates == NUM and s.used == int(ok.sum())
    shares = {name: counts[name] / NUM for name in ("CONVERGED", "SEPARATED", "SINGULAR")}
    assert (s.converged_share, s.separated_share, s.singular_share) == tuple(shares.values())
    assert s.other_share == pytest.approx(1 - sum(shares.values()), abs=1e-15)
    assert s.mean_n_iter == pytest.approx(reps.n_iter.mean(), rel=1e-15)
    # The held-out metrics: mean and SD over the replicates used.
    for key in ("log_loss", "brier", "auc", "calibration_intercept", "calibration_slope"):
        values = getattr(reps, key)[ok]
        assert np.all(np.isfinite(values))
        assert getattr(s, key) == pytest.approx(values.mean(), rel=1e-12)
        assert getattr(s, key + "_sd") == pytest.approx(values.std(ddof=1), rel=1e-12)
    # The pooled reliability curve: each replicate's bins weighted by their weight.
    w = reps.reliability_weight[ok]
    total = w.sum(0)
    np.testing.assert_allclose(s.reliability_weight, total, rtol=1e-12)
    for key in ("reliability_predicted", "reliability_observed"):
        own = np.where(w > 0, getattr(reps, key)[ok], 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            pooled = np.where(total > 0, (own * w).sum(0) / total, np.nan)
        np.testing.assert_allclose(getattr(s, key), pooled, rtol=1e-12)


def test_the_reference_and_diagnostics_fields_against_statsmodels():
    X, y = data()
    result = in_memory()
    ref, facts = result.reference, result.diagnostics.data
    design = sm.add_constant(X)
    model = sm.Logit(y, design).fit(disp=0, method="newton", tol=1e-12)
    robust = sm.Logit(y, design).fit(disp=0, method="newton", tol=1e-12, cov_type="HC0")
    np.testing.assert_allclose(ref.params, model.params, rtol=1e-8)
    np.testing.assert_allclose(ref.bse, model.bse, rtol=1e-7)
    np.testing.assert_allclose(ref.bse_sandwich, robust.bse, rtol=1e-6)
    assert ref.status == Status.CONVERGED and ref.n == N
    train = np.asarray(scheme().materialize(jnp.asarray(y)))[0]
    assert ref.n_train == train.sum()
    vif = [variance_inflation_factor(design, j) for j in range(1, design.shape[1])]
    np.testing.assert_allclose(ref.vif, vif, rtol=1e-8)
    # The data description: counts, SDs, correlations of the full data set.
    assert (facts.n, facts.positives, facts.negatives) == (N, y.sum(), N - y.sum())
    np.testing.assert_allclose(facts.vif, vif, rtol=1e-8)
    np.testing.assert_allclose(facts.sd, X.std(axis=0), rtol=1e-12)
    np.testing.assert_allclose(facts.correlation, np.corrcoef(X.T), rtol=1e-10)
    assert facts.binary == [None] * X.shape[1]  # continuous columns
    assert facts.n_train == ref.n_train
    separated = sum(g["replicates"] for g in result.diagnostics.separation)
    assert separated == result.summary.status_counts["SEPARATED"]


# --------------------------------------------------------------------------------------------
# Records read as mappings
# --------------------------------------------------------------------------------------------


def assert_reads_as_its_mapping(record):
    names = [f.name for f in dataclasses.fields(record)]
    present = [n for n in names if getattr(record, n) is not None]
    assert list(record) == list(record.keys()) == present
    assert len(record) == len(present)
    as_dict = dict(record)
    assert list(as_dict) == present
    for name in names:
        value = getattr(record, name)
        if value is None:  # an optional field left out: absent, as from the dict
            assert name not in record and record.get(name) is None
            with pytest.raises(KeyError):
                record[name]
        else:
            assert name in record
            assert record[name] is value and as_dict[name] is value
            assert record.get(name) is value
    values = list(record.values())
    assert len(values) == len(present)
    assert all(v is getattr(record, n) for v, n in zip(values, present, strict=True))
    assert "no such key" not in record and record.get("no such key", 1) == 1
    with pytest.raises(KeyError):
        record["no such key"]
    with pytest.raises(TypeError):  # read-only
        record[names[0]] = None
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(record, names[0], None)


def test_mapping_access_equals_attribute_access():
    result = in_memory()
    for record in records(result).values():
        assert_reads_as_its_mapping(record)
    # The writers' uses: keyword arguments and a dict of the arrays.
    assert {**result.replicates}.keys() == set(_study.REPLICATE_FIELDS)
    # An optional field that is None is left out of the mapping (and of the files).
    older = dataclasses.replace(result.reference, bse_sandwich=None)
    assert_reads_as_its_mapping(older)
    assert "bse_sandwich" not in older and "bse_sandwich" in result.reference
    assert set(dict(result.reference)) - set(older) == {"bse_sandwich"}


def test_a_result_built_from_dicts_gets_records_and_missing_keys_are_named():
    result = in_memory()
    plain = jaxlogreg.StudyResult(
        result.names, result.true_params, dict(result.replicates), dict(result.summary),
        dict(result.reference), result.config,
        {"data": dict(result.diagnostics.data), "separation": result.diagnostics.separation})
    for name, cls in RECORDS.items():
        assert isinstance(getattr(plain, name), cls)
        assert dict(getattr(plain, name)).keys() == dict(getattr(result, name)).keys()
    assert isinstance(plain.diagnostics.data, jaxlogreg.StudyData)
    assert plain.table() == result.table() and plain.reading() == result.reading()
    assert plain.summary.bias is result.summary.bias
    partial = {k: v for k, v in dict(result.summary).items() if k != "bias"}
    with pytest.raises(KeyError, match=r"StudySummary needs the keys \['bias'\]"):
        jaxlogreg.StudySummary.from_mapping(partial)


# --------------------------------------------------------------------------------------------
# Written and read back
# --------------------------------------------------------------------------------------------


def assert_equal_records(result, reference):
    assert result.names == reference.names
    np.testing.assert_array_equal(result.true_params, reference.true_params)
    assert result.config == reference.config
    for name, record in records(reference).items():
        got = records(result)[name]
        assert type(got) is type(record) and list(got) == list(record), name
        for key in record:
            if isinstance(record[key], np.ndarray):
                assert isinstance(got[key], np.ndarray), (name, key)
                if np.issubdtype(record[key].dtype, np.floating):
                    assert got[key].dtype == np.float64, (name, key)
            if key != "data":
                np.testing.assert_equal(got[key], record[key], err_msg=f"{name}.{key}")


def test_a_study_written_to_disk_reads_back_to_equal_records(tmp_path):
    out = tmp_path / "study"
    written = run(out=out)
    assert_equal_records(written, in_memory())
    loaded = _study.load(out)
    assert_equal_records(loaded, written)
    for key in _study.REPLICATE_FIELDS:  # the arrays of replicates.npz, dtypes too
        assert loaded.replicates[key].dtype == written.replicates[key].dtype
    repeat = run(out=out)  # the finished study, read back by run_study
    assert_equal_records(repeat, written)
    # The files hold the records' keys.
    record = json.loads((out / "summary.json").read_text())
    for name in ("summary", "reference", "diagnostics"):
        assert set(record[name]) == set(getattr(written, name)), name
    assert set(record["diagnostics"]["data"]) == set(written.diagnostics.data)
    with np.load(out / "replicates.npz") as npz:
        assert set(npz.files) == set(_study.REPLICATE_FIELDS)


def rewrite_summary(out, change):
    """Rewrite a finished study's ``summary.json`` through ``change(record)``, as an earlier
    (or later) version of jaxlogreg would have written it (without ``sign_flips.png``,
    which studies written before it lack), its outputs' digests updated."""
    record = json.loads((out / "summary.json").read_text())
    change(record)
    marker = json.loads((out / "outputs.json").read_text())
    files = {name: (out / name).read_bytes() for name in _study.OUTPUT_FILES
             if name != "sign_flips.png" and (out / name).exists()}
    files["summary.json"] = _io.json_bytes(record)
    _io.replace_set(out, files, "outputs.json", stale=_study.OUTPUT_FILES,
                    extra=dict(format=marker["format"], study_id=marker["study_id"]))


def test_a_study_written_before_the_optional_fields_loads_them_as_none(tmp_path):
    """As tests/test_study_report.py's study written before the diagnostics: no
    diagnostics, no sandwich SE, no resampling bias. The fields are None and absent from
    the mappings; the rest equals the study as written, and it is written again as it was."""
    out = tmp_path / "study"
    written = run(out=out)

    def older(record):
        del (record["diagnostics"], record["reference"]["bse_sandwich"],
             record["summary"]["resampling_bias"])

    rewrite_summary(out, older)
    old = _study.load(out)
    assert old.diagnostics is None
    assert old.reference.bse_sandwich is None and "bse_sandwich" not in old.reference
    assert old.summary.resampling_bias is None and "resampling_bias" not in old.summary
    assert_reads_as_its_mapping(old.reference)
    assert_reads_as_its_mapping(old.summary)
    for name in ("replicates", "summary", "reference"):
        new = getattr(written, name)
        for key in getattr(old, name):
            np.testing.assert_equal(getattr(old, name)[key], new[key])
    # The resampling bias from the reference, as the table shows it.
    np.testing.assert_allclose(_study._summary.resampling_bias(old),
                               old.summary.mean - old.reference.params, rtol=1e-15)
    assert old.table() == written.table()
    _study.write_outputs(old, out)
    again = json.loads((out / "summary.json").read_text())
    assert "diagnostics" in again and again["diagnostics"] is None
    assert "bse_sandwich" not in again["reference"]
    assert "resampling_bias" not in again["summary"]


def test_keys_a_later_version_adds_are_ignored_and_a_missing_one_is_refused(tmp_path):
    out = tmp_path / "study"
    written = run(out=out)

    def later(record):
        record["summary"]["a_later_field"] = [1.0, 2.0]
        record["reference"]["a_later_field"] = 3
        record["diagnostics"]["data"]["a_later_field"] = None

    rewrite_summary(out, later)
    loaded = _study.load(out)
    assert "a_later_field" not in loaded.summary and "a_later_field" not in loaded.reference
    assert_equal_records(loaded, written)
    rewrite_summary(out, lambda record: record["summary"].pop("bias"))
    with pytest.raises(ValueError, match=r"summary.json: not a study summary .*'bias'"):
        _study.load(out)
