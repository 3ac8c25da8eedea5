"""The README's main job: `jaxlogreg demo` on a small batch, checked against statsmodels."""

import io
import subprocess
import sys

import numpy as np
import statsmodels.api as sm

import jaxlogreg
from jaxlogreg import cli


def _logit_params(X, y, counts=None):
    """statsmodels Logit on the rows repeated `counts` times (frequency weights)."""
    if counts is not None:
        rows = np.repeat(np.arange(len(y)), counts.astype(int))
        X, y = X[rows], y[rows]
    return sm.Logit(y, sm.add_constant(X)).fit(method="newton", disp=0).params


def test_demo_table_matches_statsmodels_loop():
    buf = io.StringIO()
    out = cli.demo(replicates=6, n=1000, seed=0, out=buf)
    text = buf.getvalue()
    data = jaxlogreg.make_seed_data(n=1000, seed=0)

    np.testing.assert_allclose(out["estimate"], _logit_params(data.X, data.y), rtol=1e-8)

    import jax

    counts = np.asarray(cli._bootstrap_counts(jax.random.PRNGKey(0), 6, 1000))
    assert counts.shape == (6, 1000) and (counts.sum(axis=1) == 1000).all()
    ref = np.array([_logit_params(data.X, data.y, c) for c in counts])
    assert out["status_counts"]["CONVERGED"] == 6
    np.testing.assert_allclose(out["boot_mean"], ref.mean(axis=0), rtol=1e-7)
    np.testing.assert_allclose(out["boot_sd"], ref.std(axis=0, ddof=1), rtol=1e-6)
    flips = np.mean(np.sign(ref) != np.sign(out["true"]), axis=0)
    np.testing.assert_array_equal(out["sign_flips"], flips)
    for name in out["names"]:
        assert f"\n{name} " in text


def test_console_script_runs():
    proc = subprocess.run(
        [sys.executable, "-m", "jaxlogreg.cli", "demo", "--replicates", "4"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "sign flips" in proc.stdout and "intercept" in proc.stdout


def test_demo_rejects_bad_arguments():
    proc = subprocess.run(
        [sys.executable, "-m", "jaxlogreg.cli", "demo", "--replicates", "1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and "--replicates" in proc.stderr
