"""A study's report (issue 18): the reading's statements computed from the data, checked on
simulated data where the answer is known, and the plots read back as matplotlib objects.

Every expected value is computed here, independently of the package: variance inflation
factors with statsmodels' ``variance_inflation_factor``, full-data fits and their model-based
and sandwich (HC0) standard errors with statsmodels' ``Logit``, correlations and counts with
NumPy, the chance that a split keeps none of a few rows with scipy's hypergeometric
distribution, Wilson intervals with statsmodels' ``proportion_confint``. The studies have
the shapes of tests/test_study.py (300 rows, 3 features, 60 train splits of 70% in chunks of
25), so that a worker compiles them once for all three files.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import statistics

import jax
import numpy as np
import pytest
import statsmodels.api as sm
from scipy.stats import hypergeom
from statsmodels.stats.outliers_influence import variance_inflation_factor
from statsmodels.stats.proportion import proportion_confint

import jaxlogreg
from jaxlogreg import Status, _io, _study
from jaxlogreg._study import _diagnostics, _plots

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

# NUM splits: enough that the binary study's SE/SD gap on z (about 25-35% above its
# prediction) stands clear of the 3-sigma noise of an SD estimate, whatever the draw.
N, NUM, BATCH, FRACTION = 300, 120, 25, 0.7
NAMES = ("intercept", "x1", "x2", "z")
NORMAL = statistics.NormalDist()


def splits(seed=3):
    return jaxlogreg.Splits(jax.random.key(seed), NUM, FRACTION)


def study(X, y, true, names=NAMES, **kw):
    return jaxlogreg.run_study(X, y, true, scheme=splits(), batch=BATCH, names=names, **kw)


def reference_fit(X, y):
    """statsmodels' full-data fit: (params, model-based SE, HC0 SE)."""
    design = sm.add_constant(X)
    model = sm.Logit(y, design).fit(disp=0, method="newton", tol=1e-12)
    robust = sm.Logit(y, design).fit(disp=0, method="newton", tol=1e-12, cov_type="HC0")
    return model.params, model.bse, robust.bse


def used(result):
    reps = result.replicates
    return (reps["status"] == Status.CONVERGED) & reps["valid"]


# --------------------------------------------------------------------------------------------
# Data sets whose answers are known
# --------------------------------------------------------------------------------------------

# Two rows with z = 1 are positive, out of about 90: a split that keeps neither is separated
# along z (its training rows with z = 1 are all negative), and nothing else separates.
SEPARATING_POSITIVES = 2


@functools.cache
def binary_data():
    rng = np.random.default_rng(18)
    x = rng.normal(size=(N, 2))
    z = (rng.random(N) < 0.3).astype(float)
    y = (rng.random(N) < 1 / (1 + np.exp(-(-0.3 + 1.0 * x[:, 0] - 0.6 * x[:, 1])))).astype(float)
    ones = np.flatnonzero(z == 1)
    y[ones] = 0.0
    y[ones[:SEPARATING_POSITIVES]] = 1.0
    return np.column_stack([x, z]), y


BINARY_TRUE = np.array([-0.3, 1.0, -0.6, -4.0])


@functools.cache
def binary_study():
    X, y = binary_data()
    return study(X, y, BINARY_TRUE)


@functools.cache
def collinear_data():
    """x3 = x1 + x2 + a little noise: its VIF is about (2 + 0.09) / 0.09."""
    rng = np.random.default_rng(19)
    x1, x2 = rng.normal(size=(2, N))
    x3 = x1 + x2 + 0.3 * rng.normal(size=N)
    X = np.column_stack([x1, x2, x3])
    y = (rng.random(N) < 1 / (1 + np.exp(-(-0.2 + 0.5 * x1 + 0.3 * x2 + 0.2 * x3)))).astype(float)
    return X, y


COLLINEAR_TRUE = np.array([-0.2, 0.5, 0.3, 0.2])


@functools.cache
def determined_data():
    """Independent columns with effects many standard errors from zero: every sign is
    determined by the data (checked against statsmodels below)."""
    rng = np.random.default_rng(20)
    X = rng.normal(size=(N, 3))
    y = (rng.random(N) < 1 / (1 + np.exp(-(1.0 + X @ [1.5, -1.2, 1.0])))).astype(float)
    return X, y


DETERMINED_TRUE = np.array([1.0, 1.5, -1.2, 1.0])


# --------------------------------------------------------------------------------------------
# The reading's statements
# --------------------------------------------------------------------------------------------


def test_separating_binary_column_is_named_with_its_count_and_its_chance():
    X, y = binary_data()
    result = binary_study()
    # The oracle: a split separates exactly when it keeps none of the positives with z = 1.
    # The splits' training weights, drawn by the library under one jit (eagerly, each of its
    # operations would compile on its own).
    W = np.asarray(jax.jit(lambda y: splits().materialize(y))(jax.device_put(y)))
    rows = (X[:, 2] == 1) & (y == 1)
    keeps_none = W[:, rows].sum(axis=1) == 0
    separated = result.replicates["status"] == Status.SEPARATED
    np.testing.assert_array_equal(separated, keeps_none)
    count = int(keeps_none.sum())
    assert 0 < count < NUM
    assert result.diagnostics["separation"] == [dict(
        columns=["z"], signs=[-1], exact=True, empty=[1.0, "positive"], one_label=False,
        replicates=count)]
    reading = result.reading()
    assert f"{count} replicates ({100 * count / NUM:.2g}%) are separated" in reading
    assert "z accounts for all of them: on each, no training row with z = 1 is positive" in reading
    ones = int((X[:, 2] == 1).sum())
    assert (f"Of the {N} rows, {ones} have z = 1, and only {SEPARATING_POSITIVES} of them are "
            "positive") in reading
    m = round(FRACTION * N)
    chance = hypergeom(N, SEPARATING_POSITIVES, m).pmf(0)
    assert (f"C({N - SEPARATING_POSITIVES}, {m}) / C({N}, {m}) = {100 * chance:.2f}% "
            f"(hypergeometric), against {100 * count / NUM:.2f}% observed") in reading
    assert "identifiable" not in reading and "coin flip" not in reading


def test_separating_columns_of_a_direction_no_single_column_gives():
    """Completely separated by x1 + x2 > 0 with a gap, while no column alone separates: the
    direction the fit took names both columns, checked on the rows; a direction that does
    not separate is reported as unchecked."""
    rng = np.random.default_rng(21)
    X = rng.normal(size=(200, 3))
    s = X[:, 0] + X[:, 1]
    keep = np.abs(s) > 0.4
    X, y = X[keep], (s[keep] > 0).astype(float)
    for j in range(3):  # no column alone orders the classes
        assert X[y == 1, j].min() < X[y == 0, j].max() and X[y == 1, j].max() > X[y == 0, j].min()
    res = jaxlogreg.fit(X, y)
    assert Status(int(res.status)) == Status.SEPARATED
    ones, start = np.ones(len(y)), np.asarray(res.params)
    found = _diagnostics.separating_columns(X, y, ones, start, np.zeros(4), True)
    assert found["columns"] == (0, 1) and found["exact"] and found["signs"] == (1, 1)
    # From a point where the Newton direction is no recession direction, the way the
    # coefficients went is named; here one that does not separate the rows.
    moved = np.array([0.0, 1.0, -1.0, 0.0])
    assert _diagnostics._direction(X, y, ones, moved, True) is None
    wrong = _diagnostics.separating_columns(X, y, ones, moved, np.zeros(4), True)
    assert wrong["columns"] == (0, 1) and not wrong["exact"] and not wrong["one_label"]


def test_collinear_columns_their_vif_correlations_and_events_per_parameter():
    X, y = collinear_data()
    result = study(X, y, COLLINEAR_TRUE, names=("intercept", "x1", "x2", "x3"))
    design = sm.add_constant(X)
    vif = np.array([variance_inflation_factor(design, j) for j in range(1, 4)])
    assert vif[2] > 10  # the answer known by construction
    data = result.diagnostics["data"]
    np.testing.assert_allclose(data["vif"], vif, rtol=1e-8)
    corr = np.corrcoef(X.T)
    np.testing.assert_allclose(data["correlation"], corr, rtol=1e-10, atol=1e-12)
    reading = result.reading()
    fmt = lambda v: f"{v:.1f}" if v < 10 else f"{v:.0f}"  # noqa: E731  (the reading's rounding)
    order = np.argsort(-vif, kind="stable")
    names = ["x1", "x2", "x3"]
    assert ("variance inflation factors of the columns (the full data, with the intercept): "
            + ", ".join(f"{names[j]} {fmt(vif[j])}" for j in order) + ".") in reading
    # x3 is named with its SE factor and the columns it is correlated with, strongest first.
    mates = [i for i in np.argsort(-np.abs(corr[2]), kind="stable")
             if i != 2 and abs(corr[2, i]) >= 0.3]
    assert f"x3's SE is {math.sqrt(vif[2]):.2f} times what it would be" in reading
    assert ("x3 is correlated with "
            + " and ".join(f"{names[i]} ({corr[2, i]:+.2f})" for i in mates)) in reading
    assert "A VIF of 10 or more (x3" in reading
    # Events per parameter: the rarer class, times the training share, per coefficient.
    pos, neg = y.sum(), len(y) - y.sum()
    epp = FRACTION * min(pos, neg) / 3
    assert (f"the {N} rows hold {pos:.0f} positives and {neg:.0f} negatives; the rarer class "
            f"({'positives' if pos <= neg else 'negatives'}) gives about "
            f"{FRACTION * min(pos, neg):.0f} rows per training split of {FRACTION * N:.0f} rows, "
            f"{epp:.1f} per coefficient (3, the intercept not counted)") in reading


def test_a_sample_that_determines_every_sign():
    X, y = determined_data()
    params, bse, _ = reference_fit(X, y)
    z = params / bse
    assert np.all(np.abs(z) > 3)  # the answer known: every sign is determined
    result = study(X, y, DETERMINED_TRUE, names=("intercept", "a", "b", "c"))
    reading = result.reading()
    bands = [line for line in reading.splitlines() if line.startswith("- ")]
    assert len(bands) == 1 and bands[0].startswith("- |z| >= 1.96, the sign is established")
    for name, zj in zip(("intercept", "a", "b", "c"), z, strict=True):
        assert f"{name} (" in bands[0] and f"z = {zj:+.2f}" in bands[0]
    assert "Small effects" not in reading and "not determined" not in reading
    assert "That is ample" in reading  # 70% of the rarer class over 3 coefficients is > 20
    assert "separated" not in reading
    # Every coefficient's predicted wrong-sign share, from the replicates' SEs, is tiny.
    ok = used(result)
    pred = [np.mean([NORMAL.cdf(-abs(t) / s) for s in result.replicates["bse"][ok, j]])
            for j, t in enumerate(DETERMINED_TRUE)]
    np.testing.assert_allclose(result.summary["predicted_flip"], pred, rtol=1e-8)


def test_bands_small_effects_and_both_biases_on_the_binary_data():
    X, y = binary_data()
    result = binary_study()
    params, bse, hc0 = reference_fit(X, y)
    z = params / bse
    reading = result.reading()
    bands = {line.split(",")[0]: line for line in reading.splitlines() if line.startswith("- ")}
    for name, zj in zip(NAMES, z, strict=True):
        band = ("- |z| < 1" if abs(zj) < 1 else "- 1 <= |z| < 1.96" if abs(zj) < 1.96
                else "- |z| >= 1.96")
        assert f"{name} ({params[NAMES.index(name)]:.3g}, SE" in bands[band]
    # Both biases: replicate mean minus the full-data estimate and minus the true value.
    ok = used(result)
    mean = result.replicates["params"][ok].mean(axis=0)
    np.testing.assert_allclose(result.summary["resampling_bias"], mean - params,
                               rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(result.summary["bias"], mean - BINARY_TRUE, rtol=1e-12)
    header = result.table().splitlines()[0].split()
    assert header[:5] == ["true", "full", "mean", "mean-full", "mean-true"]
    rb = np.abs(mean - params) / bse
    err = np.abs(params - BINARY_TRUE) / bse
    assert (f"|mean-full| is at most {rb.max():.2f} full-data SE ({NAMES[int(np.argmax(rb))]})"
            in reading)
    assert f"|full - true| up to {err.max():.2f} SE ({NAMES[int(np.argmax(err))]})" in reading
    np.testing.assert_allclose(result.reference["bse_sandwich"], hc0, rtol=1e-6)


def test_se_over_sd_against_its_prediction_and_the_factors_of_a_gap():
    X, y = binary_data()
    result = binary_study()
    params, bse, hc0 = reference_fit(X, y)
    ok = used(result)
    est, se = result.replicates["params"][ok], result.replicates["bse"][ok]
    ratio = se.mean(0) / est.std(0, ddof=1)
    R = 1 / math.sqrt(1 - FRACTION)
    A = bse / hc0
    C = se.mean(0) / (bse / math.sqrt(FRACTION))
    B = est.std(0, ddof=1) / (hc0 * math.sqrt((1 - FRACTION) / FRACTION))
    np.testing.assert_allclose(R * A * C / B, ratio, rtol=1e-6)  # the factorisation is exact
    reading = result.reading()
    assert (f"sqrt(1 / (1 - {FRACTION:.2f})) = {R:.2f}; observed {ratio.min():.2f} to "
            f"{ratio.max():.2f}.") in reading
    noise = 3 / math.sqrt(2 * (ok.sum() - 1))
    notable = [j for j in range(4) if abs(ratio[j] / R - 1) > max(0.1, noise)]
    assert notable, "the data set should show a gap to check"
    for j in notable:
        assert (f"{NAMES[j]} {ratio[j]:.2f} = {R:.2f} x {A[j]:.2f} x {C[j]:.2f} / {B[j]:.2f}"
                in reading)
    for j in set(range(4)) - set(notable):
        assert f"{NAMES[j]} {ratio[j]:.2f} = " not in reading


def test_a_study_written_before_the_diagnostics_still_loads_and_renders(tmp_path):
    """A study folder as an earlier version wrote it (no diagnostics, no sandwich SE, no
    resampling bias, no sign-flip plot) loads, reads and is drawn again."""
    X, y = binary_data()
    out = tmp_path / "study"
    study(X, y, BINARY_TRUE, out=out)
    record = json.loads((out / "summary.json").read_text())
    del (record["diagnostics"], record["reference"]["bse_sandwich"],
         record["summary"]["resampling_bias"])
    marker = json.loads((out / "outputs.json").read_text())
    files = {name: (out / name).read_bytes() for name in _study.OUTPUT_FILES
             if name != "sign_flips.png"}
    files["summary.json"] = _io.json_bytes(record)
    _io.replace_set(out, files, "outputs.json", stale=_study.OUTPUT_FILES,
                    extra=dict(format=marker["format"], study_id=marker["study_id"]))
    old = _study.load(out)
    assert old.diagnostics is None
    reading = old.reading()
    assert "were not recorded (a study written by an earlier version" in reading
    assert "Collinearity" in reading  # from the reference's VIFs
    assert old.table() == binary_study().table()  # mean-full from the reference
    names = [p.name for p in _study.write_outputs(old, out)]
    assert "sign_flips.png" in names and _study.load(out).diagnostics is None


# --------------------------------------------------------------------------------------------
# The plots, read back as matplotlib objects
# --------------------------------------------------------------------------------------------


def by_gid(ax, gid):
    return [a for a in ax.get_children() if a.get_gid() == gid]


def test_coefficients_plot_labels_lines_shading_legend_and_caption():
    import matplotlib.pyplot as plt

    X, y = binary_data()
    result = binary_study()
    params, _, _ = reference_fit(X, y)
    ok = used(result)
    fig = _plots.coefficients_figure(result)
    try:
        axes = [ax for ax in fig.axes if ax.get_visible() and ax.axison]
        assert len(axes) == 4
        assert f"Estimates across {int(ok.sum())} replicates" in fig.get_suptitle()
        for j, ax in enumerate(axes):
            name = NAMES[j]
            assert ax.get_xlabel() == f"estimate of {name}" and ax.get_ylabel() == "density"
            assert ax.get_title().startswith(name)
            (true,) = by_gid(ax, "true")
            (full,) = by_gid(ax, "full_data")
            (zero,) = by_gid(ax, "zero")
            assert true.get_xdata()[0] == BINARY_TRUE[j]
            np.testing.assert_allclose(full.get_xdata()[0], params[j], rtol=1e-6)
            assert zero.get_xdata()[0] == 0.0
            # The normal curve peaks at 1 / (mean SE sqrt(2 pi)).
            (curve,) = by_gid(ax, "normal")
            mean_se = result.replicates["bse"][ok, j].mean()
            assert np.max(curve.get_ydata()) <= 1 / (mean_se * math.sqrt(2 * math.pi)) * (1 + 1e-12)
            assert np.max(curve.get_ydata()) > 0.99 / (mean_se * math.sqrt(2 * math.pi))
            # The histogram is a density of the replicates used.
            bars = by_gid(ax, "estimates")
            assert bars and abs(sum(b.get_height() * b.get_width() for b in bars) - 1) < 1e-9
            # The wrong-sign side is shaded: from zero away from the true value's side.
            lo, hi = ax.get_xlim()
            shade = by_gid(ax, "wrong_sign")
            if lo < 0 < hi:
                (patch,) = shade
                x0, x1 = sorted([patch.get_x(), patch.get_x() + patch.get_width()])
                assert (x1 == 0.0 and x0 <= lo) if BINARY_TRUE[j] > 0 else (x0 == 0.0 and x1 >= hi)
            else:
                assert not shade
        legends = [a for a in fig.findobj() if a.get_gid() == "legend"]
        (legend,) = legends
        labels = [t.get_text() for t in legend.get_texts()]
        assert labels == ["estimates (histogram)", "N(mean, mean SE)", "true value",
                          "full-data estimate", "zero", "wrong sign"]
        fig.canvas.draw()
        box = legend.get_window_extent()
        for ax in axes:  # in a free corner: over no panel
            assert not box.overlaps(ax.get_window_extent())
        (caption,) = [t for t in fig.texts if t.get_gid() == "caption"]
        text = caption.get_text().replace("\n", " ")
        assert "narrower than the curve by design" in text
        assert f"{math.sqrt(1 - FRACTION):.2f}" in text
    finally:
        plt.close(fig)


def test_coefficients_plot_puts_the_legend_in_a_free_panel():
    """Five coefficients fill five of eight panels: the legend takes a free one."""
    import matplotlib.pyplot as plt

    result = binary_study()
    cols = [0, 1, 2, 3, 3]
    five = dataclasses.replace(
        result, names=NAMES + ("z again",), true_params=result.true_params[cols],
        replicates={**result.replicates, "params": result.replicates["params"][:, cols],
                    "bse": result.replicates["bse"][:, cols]},
        summary={k: (v[cols] if isinstance(v, np.ndarray) and v.shape == (4,) else v)
                 for k, v in result.summary.items()},
        reference={**result.reference, "params": result.reference["params"][cols]})
    fig = _plots.coefficients_figure(five)
    try:
        hidden = [ax for ax in fig.axes if not ax.axison]
        assert len(hidden) == 3 and hidden[-1].get_legend().get_gid() == "legend"
        assert [ax.get_xlabel() for ax in fig.axes if ax.axison] == [
            f"estimate of {name}" for name in five.names]
    finally:
        plt.close(fig)


def test_calibration_plot_rows_wilson_intervals_and_thin_bins():
    import matplotlib.pyplot as plt

    result = binary_study()
    ok = used(result)
    reps = result.replicates
    w = reps["reliability_weight"][ok]
    total = w.sum(axis=0)
    pred = np.nansum(reps["reliability_predicted"][ok] * w, axis=0) / np.where(total > 0, total, 1)
    obs = np.nansum(reps["reliability_observed"][ok] * w, axis=0) / np.where(total > 0, total, 1)
    rows = N * total / total.sum()  # each row is held out equally often across splits
    # Make one bin thin (fewer than 5 rows) to see it drawn as such.
    thin = int(np.argmax(total))
    weights = total.copy()
    weights[thin] = 3.0 / N * (total.sum() - total[thin]) / (1 - 3.0 / N)
    rows_thin = N * weights / weights.sum()
    assert abs(rows_thin[thin] - 3.0) < 1e-9
    for summary_weight, expected in ((total, rows), (weights, rows_thin)):
        res = dataclasses.replace(
            result, summary={**result.summary, "reliability_weight": summary_weight})
        fig = _plots.calibration_figure(res)
        try:
            top, bottom = fig.axes
            heights = [p.get_height() for p in bottom.patches if p.get_gid() == "rows"]
            np.testing.assert_allclose(heights, expected, rtol=1e-10)
            counts = [t.get_text() for t in bottom.texts if t.get_gid() == "row_count"]
            assert counts == [f"{h:.1g}" if h < 1 else f"{h:.0f}" if h < 1e4 else f"{h / 1000:.0f}k"
                              for h in expected]
            assert bottom.get_ylabel() == "rows per bin"
            assert "predicted probability" in bottom.get_xlabel()
            assert top.get_ylabel() == "observed frequency"
            enough = np.isfinite(pred) & (expected >= 5)
            (line,) = by_gid(top, "bins")
            np.testing.assert_allclose(line.get_xdata(), pred[enough], rtol=1e-10)
            np.testing.assert_allclose(line.get_ydata(), obs[enough], rtol=1e-10)
            # Each bin's interval is the Wilson interval of its rows.
            lo, hi = proportion_confint(obs[enough] * expected[enough], expected[enough],
                                        method="wilson")
            (bars_v,) = [c for c in top.collections if c.get_segments()]
            segs = np.array([s[:, 1] for s in bars_v.get_segments()])
            np.testing.assert_allclose(segs.min(axis=1), lo, rtol=1e-8, atol=1e-12)
            np.testing.assert_allclose(segs.max(axis=1), hi, rtol=1e-8, atol=1e-12)
            few = by_gid(top, "few_rows")
            if np.any(expected < 5):
                (hollow,) = few
                np.testing.assert_allclose(hollow.get_xdata(),
                                           pred[np.isfinite(pred) & (expected < 5)])
                assert hollow.get_markerfacecolor() == "none"
            else:
                assert not few
        finally:
            plt.close(fig)
    assert rows_thin[thin] < 5


def test_sign_flip_plot_observed_against_predicted():
    import matplotlib.pyplot as plt

    X, y = binary_data()
    result = binary_study()
    params, _, hc0 = reference_fit(X, y)
    ok = used(result)
    est, se = result.replicates["params"][ok], result.replicates["bse"][ok]
    observed = (np.sign(est) != np.sign(BINARY_TRUE)).mean(axis=0)
    predicted = [np.mean([NORMAL.cdf(-abs(t) / s) for s in se[:, j]])
                 for j, t in enumerate(BINARY_TRUE)]
    sd_lin = hc0 * math.sqrt((1 - FRACTION) / FRACTION)
    across = [NORMAL.cdf(-np.sign(t) * b / s)
              for t, b, s in zip(BINARY_TRUE, params, sd_lin, strict=True)]
    fig = _plots.sign_flips_figure(result)
    try:
        (ax,) = fig.axes
        assert [t.get_text() for t in ax.get_yticklabels()] == list(NAMES)
        assert ax.get_xlabel() == "share of replicates with the wrong sign"
        assert "observed against predicted" in ax.get_title()
        ys = np.arange(4)[::-1]
        for gid, values in (("observed", observed), ("predicted", predicted),
                            ("replicate_predicted", across)):
            (line,) = by_gid(ax, gid)
            np.testing.assert_allclose(line.get_xdata(), values, rtol=1e-6, atol=1e-12, err_msg=gid)
            np.testing.assert_array_equal(line.get_ydata(), ys)
        lo, hi = proportion_confint(observed * ok.sum(), ok.sum(), method="wilson")
        (bars,) = [c for c in ax.collections if c.get_segments()]
        segs = np.array([s[:, 0] for s in bars.get_segments()])
        np.testing.assert_allclose(segs.min(axis=1), np.minimum(lo, observed),
                                   rtol=1e-8, atol=1e-12)
        np.testing.assert_allclose(segs.max(axis=1), hi, rtol=1e-8, atol=1e-12)
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert any(label.startswith("observed") for label in labels) and len(labels) == 3
    finally:
        plt.close(fig)
