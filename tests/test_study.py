"""Monte Carlo studies (`jaxlogreg.run_study`): per-replicate fits against statsmodels and
scikit-learn, summaries against their definitions computed here in NumPy, resuming an
interrupted study, chunk invariance, and calibration of the standard errors in a
well-specified simulation."""

from __future__ import annotations

import functools
import json
import statistics

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import statsmodels.api as sm
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

import jaxlogreg
from jaxlogreg import Status, _study, cli

N = 300
TRUE = np.array([-1.0, 0.8, 0.05, -0.4])


@functools.cache
def data():
    sim = jaxlogreg.simulate(jax.random.key(7), N, TRUE[1:], TRUE[0])
    return np.asarray(sim.X), np.asarray(sim.y)


def scheme(num=60, seed=3):
    return jaxlogreg.Splits(jax.random.key(seed), num, 0.7)


@functools.cache
def splits_study(batch=25):
    X, y = data()
    return jaxlogreg.run_study(X, y, TRUE, scheme=scheme(), batch=batch)


@pytest.mark.slow
def test_replicates_match_statsmodels_and_scikit_learn():
    X, y = data()
    result = splits_study()
    W = np.asarray(scheme().materialize(jnp.asarray(y)))
    H = np.asarray(jax.vmap(scheme().held_out, in_axes=(0, None))(jnp.arange(60), jnp.asarray(y)))
    reps = result.replicates
    np.testing.assert_array_equal(reps["index"], np.arange(60))
    for b in (0, 17, 59):
        train, test = W[b] > 0, H[b] > 0
        np.testing.assert_array_equal(train, ~test)
        ref = sm.Logit(y[train], sm.add_constant(X[train])).fit(disp=0, method="newton", tol=1e-12)
        assert reps["status"][b] == Status.CONVERGED and reps["valid"][b]
        np.testing.assert_allclose(reps["params"][b], ref.params, rtol=1e-8)
        np.testing.assert_allclose(reps["bse"][b], ref.bse, rtol=1e-7)
        p = ref.predict(sm.add_constant(X[test]))
        np.testing.assert_allclose(reps["log_loss"][b], log_loss(y[test], p), rtol=1e-8)
        np.testing.assert_allclose(reps["brier"][b], brier_score_loss(y[test], p), rtol=1e-8)
        np.testing.assert_allclose(reps["auc"][b], roc_auc_score(y[test], p), rtol=1e-10)
        lp = np.log(p / (1 - p))
        slope = sm.GLM(y[test], sm.add_constant(lp), family=sm.families.Binomial()).fit(tol=1e-12)
        np.testing.assert_allclose(reps["calibration_slope"][b], slope.params[1], rtol=1e-6)


def test_held_out_places_count_the_flags_before_each_entry():
    # Rows of 70 entries: two full words of 32 flags and a part word; all-set and none-set rows.
    flags = np.random.default_rng(3).random((6, 70)) < 0.4
    flags[4], flags[5] = True, False
    expected = np.cumsum(flags, axis=1) - flags
    np.testing.assert_array_equal(_study._held_out._places(jnp.asarray(flags)), expected)


@pytest.mark.slow
def test_metrics_over_the_held_out_rows_alone_equal_the_weighted_metrics():
    # Out-of-bag sets differ in size, so most replicates are padded with rows of weight 0.
    X, y = data()
    B = 40
    oob = jax.vmap(jaxlogreg.Bootstrap(jax.random.key(5), B).held_out, in_axes=(0, None))
    held = oob(jnp.arange(B), jnp.asarray(y, jnp.float64))
    sizes = np.asarray(jnp.sum(held, axis=1))
    assert sizes.min() < sizes.max()
    p = jax.nn.sigmoid(jax.random.normal(jax.random.key(6), (B, N)))
    rows = _study._held_out_columns(held)
    assert rows is not None and sizes.max() <= rows < N
    y_rows, index, w_rows = _study._held_out_rows(jnp.asarray(y, jnp.float64), held, rows=rows)
    p_rows = jnp.take_along_axis(p, index, axis=-1)
    assert y_rows.shape == p_rows.shape == w_rows.shape == (B, rows)
    np.testing.assert_array_equal(np.sum(w_rows, axis=1), sizes)
    # Labels of each replicate's own (the fresh-data case) are gathered the same way.
    labels = jnp.broadcast_to(jnp.asarray(y, jnp.float64), (B, N))
    own = _study._held_out_rows(labels, held, rows=rows)
    np.testing.assert_array_equal(own[0], y_rows)
    # The logits of the gathered rows alone equal those of every row, gathered.
    params = jax.random.normal(jax.random.key(7), (B, X.shape[1] + 1))
    np.testing.assert_allclose(
        _study._held_out._predict_rows(jnp.asarray(X), params, index, True),
        jnp.take_along_axis(_study._predict(jnp.asarray(X), params, True), index, axis=-1),
        rtol=1e-13, atol=1e-13)
    for b in (0, 1, B - 1):  # against scikit-learn on the out-of-bag rows themselves
        test = np.asarray(held[b]) > 0
        yb, pb = y[test], np.asarray(p[b])[test]
        np.testing.assert_allclose(
            jaxlogreg.log_loss(y_rows[b], p_rows[b], w_rows[b]), log_loss(yb, pb), rtol=1e-12)
        np.testing.assert_allclose(
            jaxlogreg.roc_auc(y_rows[b], p_rows[b], w_rows[b]), roc_auc_score(yb, pb), rtol=1e-12)
    full = jaxlogreg.calibration(y, p, held)
    part = jaxlogreg.calibration(y_rows, p_rows, w_rows)
    np.testing.assert_allclose(part.slope, full.slope, rtol=1e-8)
    np.testing.assert_allclose(part.intercept, full.intercept, rtol=1e-8, atol=1e-10)


def test_summary_follows_its_definitions():
    result = splits_study()
    reps, s = result.replicates, result.summary
    ok = (reps["status"] == Status.CONVERGED) & reps["valid"]
    est, se = reps["params"][ok], reps["bse"][ok]
    z = statistics.NormalDist().inv_cdf(0.975)
    np.testing.assert_allclose(s["mean"], est.mean(0), rtol=1e-12)
    np.testing.assert_allclose(s["bias"], est.mean(0) - TRUE, rtol=1e-12)
    full = sm.Logit(data()[1], sm.add_constant(data()[0])).fit(disp=0, method="newton", tol=1e-12)
    np.testing.assert_allclose(s["resampling_bias"], est.mean(0) - full.params,
                               rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(s["sd"], est.std(0, ddof=1), rtol=1e-12)
    np.testing.assert_allclose(s["se_ratio"], se.mean(0) / est.std(0, ddof=1), rtol=1e-12)
    np.testing.assert_allclose(s["rmse"], np.sqrt(((est - TRUE) ** 2).mean(0)), rtol=1e-12)
    np.testing.assert_allclose(s["sign_flip"], (np.sign(est) != np.sign(TRUE)).mean(0))
    nd = statistics.NormalDist()
    predicted = [np.mean([nd.cdf(-abs(t) / v) for v in se[:, j]]) for j, t in enumerate(TRUE)]
    np.testing.assert_allclose(s["predicted_flip"], predicted, rtol=1e-8)
    np.testing.assert_allclose(s["coverage"], (np.abs(est - TRUE) <= z * se).mean(0))
    assert s["replicates"] == 60 and s["used"] == int(ok.sum())
    assert "x2" in result.table() and "mean-full" in result.table()
    reading = result.reading()
    assert "x2 (0.05) is small against the standard error" in reading
    assert "identifiable" not in reading and "coin flip" not in reading


@pytest.mark.slow
def test_chunking_does_not_change_the_replicates():
    a, b = splits_study(batch=25), splits_study(batch=60)
    for key in ("params", "bse", "status", "n_iter", "auc"):
        np.testing.assert_allclose(a.replicates[key], b.replicates[key], rtol=1e-9, atol=1e-12)


def test_each_chunk_is_one_program_started_before_the_last_is_fetched(monkeypatch):
    """A splits study: its chunks share one compiled program, the held-out width comes from
    the scheme (never read from the device), and chunk i + 1 is started before chunk i is
    fetched."""
    X, y = data()
    events = []
    original = _study._run._run_chunk

    def run_chunk(first, *args):
        events.append(("start", first))
        fetch = original(first, *args)
        return lambda: events.append(("fetch", first)) or fetch()

    def no_width(held):
        raise AssertionError("the held-out width was read from the device")

    monkeypatch.setattr(_study._run, "_run_chunk", run_chunk)
    monkeypatch.setattr(_study._held_out, "_held_out_columns", no_width)
    chunk = _study._run._CHUNK_PROGRAM

    def compiled():
        return chunk.default._cache_size() + chunk.quick._cache_size()

    programs = compiled()
    result = jaxlogreg.run_study(X, y, TRUE, scheme=scheme(), batch=25)  # the shared shapes
    assert compiled() <= programs + 1  # none if compiled already
    assert events == [("start", 0), ("start", 25), ("fetch", 0), ("start", 35), ("fetch", 25),
                      ("fetch", 35)]  # the last chunk, aligned to end at 60, starts at 35
    np.testing.assert_array_equal(result.replicates["index"], np.arange(60))
    assert np.all(np.isfinite(result.replicates["auc"]))  # every replicate scored


def test_interrupted_study_resumes_to_the_same_result(tmp_path, monkeypatch):
    X, y = data()
    full = jaxlogreg.run_study(X, y, TRUE, scheme=scheme(), batch=25, out=tmp_path / "a")
    # An interrupted run: the study record and the first chunk only.
    part = tmp_path / "b"
    (part / "chunks").mkdir(parents=True)
    (part / "study.json").write_text((tmp_path / "a" / "study.json").read_text())
    first = sorted((tmp_path / "a" / "chunks").iterdir())[0]
    (part / "chunks" / first.name).write_bytes(first.read_bytes())
    calls = []
    original = _study._run._run_chunk
    monkeypatch.setattr(_study._run, "_run_chunk",
                        lambda *a, **k: calls.append(a[0]) or original(*a, **k))
    resumed = jaxlogreg.run_study(X, y, TRUE, scheme=scheme(), batch=25, out=part, resume=True)
    assert calls == [25, 35]  # the chunks starting at 25 and 50 (aligned to end at 60)
    for key in _study.REPLICATE_FIELDS:
        np.testing.assert_array_equal(resumed.replicates[key], full.replicates[key])
    summary = json.loads((part / "summary.json").read_text())
    np.testing.assert_allclose(summary["summary"]["mean"], full.summary["mean"], rtol=1e-12)
    for name in ("replicates.npz", "report.md", "coefficients.png", "calibration.png",
                 "sign_flips.png"):
        assert (part / name).stat().st_size > 0
    again = _study.load(part)  # what scripts/study_report.py re-renders from
    assert again.table() == full.table() and again.reading() == full.reading()
    # The same study again, without resume: read back, nothing computed.
    calls.clear()
    repeat = jaxlogreg.run_study(X, y, TRUE, scheme=scheme(), batch=25, out=part)
    assert calls == [] and repeat.table() == full.table()
    for key in _study.REPLICATE_FIELDS:
        np.testing.assert_array_equal(repeat.replicates[key], full.replicates[key])
    with pytest.raises(ValueError, match=r"holds a different study \(settings differ: scheme\)"):
        jaxlogreg.run_study(X, y, TRUE, scheme=scheme(seed=4), batch=25, out=part, resume=True)


def test_fresh_data_standard_errors_are_calibrated():
    """With a fresh data set per replicate (well specified, n = 400), Wald intervals cover
    the truth at about 95%, the SE matches the spread, and the wrong-sign rate of a small
    coefficient is near the one predicted from its standard errors."""
    coef, intercept = jnp.asarray([0.6, 0.08]), -0.5
    key = jax.random.key(11)

    def generate(b):
        s = jaxlogreg.simulate(jax.random.fold_in(key, b), 400, coef, intercept)
        return s.X, s.y

    B = 800
    result = jaxlogreg.run_study(generate=generate, num=B, true_params=[intercept, 0.6, 0.08],
                                 batch=400)
    s = result.summary
    assert s["used"] == B
    half_width = 4 * np.sqrt(0.95 * 0.05 / B)
    assert np.all(np.abs(s["coverage"] - 0.95) < half_width)
    assert np.all(np.abs(s["se_ratio"] - 1.0) < 4 / np.sqrt(2 * B))
    flip = s["sign_flip"][2]
    assert 0.1 < flip < 0.45
    assert abs(flip - s["predicted_flip"][2]) < 4 * np.sqrt(flip * (1 - flip) / B)
    assert np.isnan(s["auc"])  # no scheme: no held-out part
    # The reading describes replicate 0's data (VIF, events per parameter) and says that
    # SE/SD should be near 1 here.
    X0, y0 = (np.asarray(a) for a in generate(0))
    data = result.diagnostics["data"]
    assert data["n"] == 400 and data["positives"] == y0.sum() and data["n_train"] == 400
    assert "replicate 0's 400 rows" in result.reading()
    assert "SE/SD near 1" in result.reading()


@pytest.mark.slow
def test_fresh_data_with_a_scheme_are_scored_on_their_own_held_out_rows():
    coef, intercept = jnp.asarray([0.6, -0.3]), -0.5
    key = jax.random.key(12)

    def generate(b):
        s = jaxlogreg.simulate(jax.random.fold_in(key, b), 200, coef, intercept)
        return s.X, s.y

    B = 6
    split = jaxlogreg.Splits(jax.random.key(13), B, 0.7)
    result = jaxlogreg.run_study(generate=generate, scheme=split,
                                 true_params=[intercept, 0.6, -0.3])
    reps = result.replicates
    for b in (0, B - 1):
        X, y = (np.asarray(a) for a in generate(b))
        train = np.asarray(split.weights(b, jnp.asarray(y))) > 0
        ref = sm.Logit(y[train], sm.add_constant(X[train])).fit(disp=0, method="newton", tol=1e-12)
        np.testing.assert_allclose(reps["params"][b], ref.params, rtol=1e-8)
        p = ref.predict(sm.add_constant(X[~train]))
        np.testing.assert_allclose(reps["log_loss"][b], log_loss(y[~train], p), rtol=1e-8)
        np.testing.assert_allclose(reps["auc"][b], roc_auc_score(y[~train], p), rtol=1e-10)


@pytest.mark.slow
def test_a_bootstrap_study_is_scored_on_each_replicates_out_of_bag_rows():
    """The bootstrap's out-of-bag rows vary in number, so its chunks take the held-out width
    from the draw, a step at a time: replicates in two chunks (the second overlapping the
    first) against statsmodels on the resampled rows and scikit-learn on the out-of-bag
    ones."""
    X, y = data()
    B = 6
    boot = jaxlogreg.Bootstrap(jax.random.key(14), B)
    reps = jaxlogreg.run_study(X, y, TRUE, scheme=boot, batch=4).replicates
    for b in (0, 3, B - 1):
        counts = np.asarray(boot.weights(b, jnp.asarray(y)))
        ref = sm.GLM(y, sm.add_constant(X), family=sm.families.Binomial(),
                     freq_weights=counts).fit(tol=1e-12)
        np.testing.assert_allclose(reps["params"][b], ref.params, rtol=1e-8)
        oob = counts == 0
        p = ref.predict(sm.add_constant(X[oob]))
        np.testing.assert_allclose(reps["log_loss"][b], log_loss(y[oob], p), rtol=1e-8)
        np.testing.assert_allclose(reps["auc"][b], roc_auc_score(y[oob], p), rtol=1e-10)


def test_bad_study_arguments():
    X, y = data()
    with pytest.raises(ValueError, match="scheme: needed"):
        jaxlogreg.run_study(X, y, TRUE)
    with pytest.raises(ValueError, match="true_params: expected shape"):
        jaxlogreg.run_study(X, y, TRUE[:2], scheme=scheme())
    with pytest.raises(ValueError, match="generate: needed"):
        jaxlogreg.run_study(true_params=TRUE)
    with pytest.raises(ValueError, match="level: must be in"):
        jaxlogreg.run_study(X, y, TRUE, scheme=scheme(), level=1.5)


def test_command_line_study_with_a_config_file(tmp_path, capsys):
    """`jaxlogreg study --config model.json` (in process, on the shapes of the studies above
    so that it reuses their compilations) equals run_study on the same simulated data."""
    config = tmp_path / "model.json"
    config.write_text(json.dumps({"n": N, "coef": list(TRUE[1:]), "intercept": TRUE[0],
                                  "names": ["a", "b", "c"]}))
    out = tmp_path / "study"
    argv = ["study", "--config", str(config), "--replicates", "60", "--batch", "25",
            "--train-fraction", "0.7", "--out", str(out), "--quiet", "--no-compile-cache"]
    assert cli.main(argv) == 0
    text = capsys.readouterr().out
    assert "a " in text and "flip" in text and "small against the standard error" in text
    for name in ("summary.json", "replicates.npz", "report.md", "coefficients.png",
                 "calibration.png", "sign_flips.png"):
        assert (out / name).stat().st_size > 0
    data_key, scheme_key = jax.random.split(jax.random.key(0))
    sim = jaxlogreg.simulate(data_key, N, TRUE[1:], TRUE[0])
    direct = jaxlogreg.run_study(sim.X, sim.y, TRUE, scheme=jaxlogreg.Splits(scheme_key, 60, 0.7),
                                 batch=25)
    reps = np.load(out / "replicates.npz")
    for key in ("params", "bse", "status", "auc"):
        np.testing.assert_array_equal(reps[key], direct.replicates[key])
    summary = json.loads((out / "summary.json").read_text())
    ref = sm.Logit(np.asarray(sim.y), sm.add_constant(np.asarray(sim.X))).fit(disp=0, tol=1e-12)
    np.testing.assert_allclose(summary["reference"]["params"], ref.params, rtol=1e-7)
    # The same study into the same folder again: read back and printed as before.
    assert cli.main(argv) == 0
    assert capsys.readouterr().out == text
    # Another study there: refused, naming what differs, and replaced with --overwrite.
    assert cli.main(argv + ["--seed", "1"]) == 2
    err = capsys.readouterr().err
    assert "holds a different study (settings differ: data_digest, scheme, seed)" in err
    assert "--overwrite" in err


def test_progress_counts_replicates_and_notes_the_compilation(capsys, monkeypatch):
    """The bar counts replicates (60 in chunks of 25: 25, 50, 60), with a note while the
    first chunk compiles; here the line that stands in for tqdm."""
    import builtins

    real_import = builtins.__import__

    def no_tqdm(name, *args, **kwargs):
        if name.startswith("tqdm"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tqdm)
    X, y = data()
    jaxlogreg.run_study(X, y, TRUE, scheme=scheme(), batch=25, progress=True)
    err = capsys.readouterr().err
    assert "compiling the study's programs" in err
    assert [part.split()[-1] for part in err.split("\r") if "replicates" in part] == [
        "25/60\x1b[K", "50/60\x1b[K", "60/60\x1b[K"]


def test_the_default_chunk_lets_a_study_of_one_chunk_show_progress(monkeypatch):
    """By default a study is cut into at least 8 chunks of at least 256 replicates: 10,000
    replicates of n = 300 (1e7 values would allow 33,333 per chunk) into chunks of 1,250."""
    X, y = data()
    sizes = []

    def first_chunk(first, size, *args):
        sizes.append(size)
        raise KeyboardInterrupt  # stop once the first chunk's size is known

    monkeypatch.setattr(_study._run, "_run_chunk", first_chunk)
    with pytest.raises(KeyboardInterrupt):
        jaxlogreg.run_study(X, y, TRUE, scheme=scheme(num=10_000))
    assert sizes == [1250]


def test_a_dataframe_names_the_study_coefficients():
    """A pandas DataFrame's columns name the coefficients, as statsmodels names them; the
    replicates are those of the same data as an array."""
    import pandas as pd

    X, y = data()
    frame = pd.DataFrame(X, columns=["age", "dose", "score"])
    # The shared study's chunks (batch 25): no program of its own to compile.
    named = jaxlogreg.run_study(frame, pd.Series(y, name="event"), TRUE, scheme=scheme(), batch=25)
    assert named.names == ("intercept", "age", "dose", "score")
    plain = splits_study()
    assert plain.names == ("intercept", "x1", "x2", "x3")
    np.testing.assert_array_equal(named.replicates["params"], plain.replicates["params"])
    assert [line.split()[0] for line in named.table().splitlines()[1:]] == list(named.names)
