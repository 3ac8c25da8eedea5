"""Errors of the command line (`jaxlogreg.cli`, module docstring): one line on stderr, never
a traceback, and an exit status per kind (2 usage, 3 study files, 4 the operating system,
130 interrupted); and `fit --bootstrap`: a clean error when no resample converges, warnings
for too few resamples and for many left out, and the BCa acceleration from the empirical
influence values against the jackknife's, computed here by a loop of statsmodels fits.

The studies run in this process on the shapes of tests/test_study.py (300 rows, 3 features,
60 replicates in chunks of 25), so that a worker compiles them once for all. The test with a
second process (the lock held by a running study, then Ctrl-C) is marked slow.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest
import statsmodels.api as sm
from scipy.optimize import linprog

import jaxlogreg
from jaxlogreg import Status, _fit_command, _io, _study, cli

MODEL = {"n": 300, "coef": [0.8, 0.05, -0.4], "intercept": -1.0}
STARTS = [0, 25, 50]


def study_argv(tmp_path, out, *extra):
    config = tmp_path / "model.json"
    config.write_text(json.dumps(MODEL))
    return ["study", "--config", str(config), "--replicates", "60", "--batch", "25",
            "--train-fraction", "0.7", "--out", str(out), "--quiet", "--no-compile-cache", *extra]


def one_line(err: str) -> str:
    """The one line of an error on stderr (no traceback, nothing else)."""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def chunk(out, start, num=60):
    return out / "chunks" / f"replicates_{start:010d}_{min(start + 25, num):010d}.npz"


# --------------------------------------------------------------------------------------------
# study: usage errors leave nothing behind
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--folds", "0"], "--folds: need at least 2 folds, got 0"),
        (["--folds", "-3", "--scheme", "kfold"], "--folds: need at least 2 folds, got -3"),
        (["--batch", "0"], "--batch: need a positive number"),
        (["--resume", "--overwrite"], "not allowed with argument"),
        (["--solver", "nope"], "argument --solver: invalid choice: 'nope'"),
        (["--cov-type", "HC9"], "argument --cov-type: invalid choice: 'HC9'"),
    ],
)
def test_bad_arguments_are_argparse_errors(tmp_path, capsys, extra, message):
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as info:
        cli.main(study_argv(tmp_path, out, *extra))
    assert info.value.code == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert message in err and "usage:" in err and "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--train-fraction", "1.5"], "train_fraction"),
    ],
)
def test_arguments_that_fail_their_checks_leave_nothing_in_out(tmp_path, capsys, extra, message):
    out = tmp_path / "new" / "out"
    assert cli.main(study_argv(tmp_path, out, *extra)) == cli.EXIT_USAGE
    line = one_line(capsys.readouterr().err)
    assert line.startswith("jaxlogreg study: error: ") and message in line
    assert not (tmp_path / "new").exists()


# --------------------------------------------------------------------------------------------
# study: interrupted, the operating system, damaged files
# --------------------------------------------------------------------------------------------


@pytest.fixture()
def chunks_then(monkeypatch):
    """``chunks_then(k, error)``: the first ``k`` chunks computed, then ``error`` raised."""
    original = _study._run._run_chunk

    def arm(k, error):
        calls = []

        def run_chunk(*args, **kwargs):
            calls.append(args[0])
            if len(calls) > k:
                raise error
            return original(*args, **kwargs)

        monkeypatch.setattr(_study._run, "_run_chunk", run_chunk)
        return calls
    return arm


@pytest.mark.slow  # a whole study run twice through the command line
def test_ctrl_c_is_one_line_and_130_and_the_same_command_continues(tmp_path, capsys, chunks_then,
                                                                   monkeypatch):
    out = tmp_path / "out"
    argv = study_argv(tmp_path, out)
    chunks_then(1, KeyboardInterrupt())
    assert cli.main(argv) == cli.EXIT_INTERRUPTED
    line = one_line(capsys.readouterr().err)
    assert line == (f"jaxlogreg study: interrupted; the chunks finished so far are kept in {out}: "
                    "run the same command again (with --resume) to continue from them")
    assert list(json.loads((out / "study.json").read_text())["chunks"]) == [chunk(out, 0).name]
    calls = chunks_then(3, AssertionError("not reached"))
    assert cli.main(argv + ["--resume"]) == 0
    assert calls == [25, 35]  # the last chunk (50 .. 59) computes 35 .. 59


@pytest.mark.slow  # studies through the command line
def test_a_full_disk_is_one_line_naming_the_file_and_4(tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    write = _io.write_bytes
    third = chunk(out, 50)

    def full(path, data):
        if path.name == third.name:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        write(path, data)

    monkeypatch.setattr(_io, "write_bytes", full)
    assert cli.main(study_argv(tmp_path, out)) == cli.EXIT_OS
    assert one_line(capsys.readouterr().err) == (
        f"jaxlogreg study: error: {third}: No space left on device; free some space, then run "
        "the same command again (the chunks finished so far are kept)")
    assert sorted(json.loads((out / "study.json").read_text())["chunks"]) == [
        chunk(out, 0).name, chunk(out, 25).name]


def test_a_folder_that_cannot_be_written_and_a_file_for_out_are_4(tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"

    def denied(*args, dir=None, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", dir)

    monkeypatch.setattr(_io.tempfile, "mkstemp", denied)
    assert cli.main(study_argv(tmp_path, out)) == cli.EXIT_OS
    assert one_line(capsys.readouterr().err) == (
        f"jaxlogreg study: error: {out}: Permission denied; choose a folder you can write to "
        "(--out)")
    assert not out.exists()  # the run made it, and failed before its first chunk
    monkeypatch.undo()
    file = tmp_path / "file"
    file.write_text("mine")
    assert cli.main(study_argv(tmp_path, file)) == cli.EXIT_OS
    line = one_line(capsys.readouterr().err)
    assert line.startswith(f"jaxlogreg study: error: {file}: a file, not a folder;")
    assert "choose another --out" in line and file.read_text() == "mine"


@pytest.mark.slow  # studies through the command line
def test_damaged_or_busy_study_files_are_one_line_and_3(tmp_path, capsys):
    out = tmp_path / "out"
    argv = study_argv(tmp_path, out)
    assert cli.main(argv) == 0
    first = capsys.readouterr().out
    assert cli.main(argv) == 0  # the same study again: read back, printed the same
    assert capsys.readouterr().out == first
    # Stopped before its outputs, with a chunk cut short.
    (out / "outputs.json").unlink()
    damaged = chunk(out, 25)
    damaged.write_bytes(damaged.read_bytes()[:100])
    assert cli.main(argv) == cli.EXIT_STORAGE
    line = one_line(capsys.readouterr().err)
    assert line.startswith(
        f"jaxlogreg study: error: {damaged}: its contents do not match the checksum")
    assert "delete it and run the study again" in line
    damaged.unlink()
    # A study record cut short.
    record = out / "study.json"
    text = record.read_text()
    record.write_text(text[:50])
    assert cli.main(argv) == cli.EXIT_STORAGE
    line = one_line(capsys.readouterr().err)
    assert line.startswith(f"jaxlogreg study: error: {record}: damaged, not valid JSON")
    assert "delete it" in line and "--overwrite" in line
    record.write_text(text)
    with _io.lock_directory(out, ".study.lock"):
        assert cli.main(argv) == cli.EXIT_STORAGE
    assert one_line(capsys.readouterr().err) == (
        f"jaxlogreg study: error: out: {out} is in use by another run (pid {os.getpid()}); wait "
        "for it to finish or choose another out")
    assert cli.main(argv) == 0  # the chunk deleted as advised: computed again
    assert capsys.readouterr().out == first


@pytest.mark.parametrize("error", [
    zipfile.BadZipFile("File is not a zip file"), EOFError("truncated"),
    json.JSONDecodeError("Expecting value", "{", 1),
    ValueError("Cannot load file containing pickled data when allow_pickle=False"),
])
def test_a_damaged_file_read_without_a_name_is_still_one_line_and_3(tmp_path, capsys, monkeypatch,
                                                                    error):
    def damaged(args, out=None):
        raise error

    monkeypatch.setattr(cli, "study", damaged)
    assert cli.main(study_argv(tmp_path, tmp_path / "out")) == cli.EXIT_STORAGE
    line = one_line(capsys.readouterr().err)
    assert line.startswith(
        f"jaxlogreg study: error: a study file is damaged ({type(error).__name__}: ")
    assert "delete the damaged file" in line


@pytest.mark.slow
def test_a_running_study_locks_out_a_second_and_ctrl_c_stops_it_cleanly(tmp_path, capsys):
    """A real second process: while it runs, a run into its folder is refused naming its
    process id; SIGINT (Ctrl-C) ends it with one line and status 130."""
    out = tmp_path / "out"
    argv = study_argv(tmp_path, out)
    long = [a if a != "60" else "100000" for a in argv]  # many chunks: still running when signalled
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"))
    # SIGINT handled as under a terminal: a shell without job control starts background
    # commands (a CI runner's, say) with SIGINT ignored, which the child would inherit, so
    # the child installs Python's own handler before it runs the command line.
    child = ("import runpy, signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
             "runpy.run_module('jaxlogreg.cli', run_name='__main__', alter_sys=True)")
    proc = subprocess.Popen([sys.executable, "-c", child, *long], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300
        while not chunk(out, 0, num=100_000).exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no chunk written"
            time.sleep(0.2)
        assert cli.main(long) == cli.EXIT_STORAGE
        assert f"is in use by another run (pid {proc.pid})" in one_line(capsys.readouterr().err)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == cli.EXIT_INTERRUPTED, err
    assert one_line(err).startswith(
        "jaxlogreg study: interrupted; the chunks finished so far are kept")
    assert json.loads((out / "study.json").read_text())["chunks"]  # kept
    assert not list((out / "chunks").glob(".*.tmp"))


# --------------------------------------------------------------------------------------------
# fit --bootstrap
# --------------------------------------------------------------------------------------------


def write_csv(path, X, y):
    lines = ["a,b,y"] + [f"{float(a)!r},{float(b)!r},{int(t)}"
                         for (a, b), t in zip(X, y, strict=True)]
    path.write_text("\n".join(lines) + "\n")
    return path


def skewed_data(n, seed):
    rng = np.random.default_rng(seed)
    X = np.column_stack([rng.exponential(size=n), rng.normal(size=n)])
    eta = -0.5 + 0.8 * X[:, 0] - 0.6 * X[:, 1]
    return X, (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float)


def test_bca_acceleration_from_influence_values_matches_the_jackknife():
    """Efron's acceleration from the infinitesimal jackknife (jaxlogreg.influence) against
    the one from n leave-one-out statsmodels fits: equal to first order (a few per cent
    apart at n = 200), and so are the intervals."""
    X, y = skewed_data(200, 1)
    res = jaxlogreg.fit(X, y)
    U = np.asarray(jaxlogreg.influence(res, X, y))
    Xc = sm.add_constant(X)
    jack = np.array([
        sm.Logit(np.delete(y, i), np.delete(Xc, i, axis=0))
        .fit(disp=0, method="newton", tol=1e-12).params
        for i in range(len(y))
    ])
    a_jack = _fit_command._acceleration(jack.mean(axis=0) - jack)
    a_inf = _fit_command._acceleration(U)
    assert np.all(np.abs(a_jack) > 0.005)  # skewed enough for the comparison to mean something
    np.testing.assert_allclose(a_inf, a_jack, rtol=0.15)
    assert np.all(np.sign(a_inf) == np.sign(a_jack))
    # The intervals from the same bootstrap estimates (skewed draws around the estimate).
    rng = np.random.default_rng(3)
    est = np.asarray(res.params)
    boot = est + rng.gamma(4.0, 0.1, size=(4000, 3)) - 0.4
    by_jack = cli.bca_interval(boot, est, jack)
    by_inf = cli.bca_interval(boot, est, influence=U)
    spread = boot.std(axis=0)[:, None]
    np.testing.assert_allclose(by_inf / spread, by_jack / spread, atol=0.02)


def test_bca_interval_from_influence_values_matches_scipy_for_a_mean():
    """For a mean the influence values are ``x_i - mean`` exactly: the interval equals
    scipy's BCa (its quantile levels) on the same bootstrap replicates."""
    from scipy.stats._resampling import _bca_interval

    rng = np.random.default_rng(2)
    data = rng.exponential(size=40)
    boot = np.array([rng.choice(data, 40).mean() for _ in range(2000)])
    ours = cli.bca_interval(boot[:, None], np.array([data.mean()]),
                            influence=(data - data.mean())[:, None])[0]
    a1, a2, _ = _bca_interval((data,), np.mean, -1, 0.025, boot, None, np)
    np.testing.assert_allclose(ours, np.quantile(boot, [float(a1), float(a2)]), rtol=1e-12)
    with pytest.raises(ValueError, match="influence: give exactly one"):
        cli.bca_interval(boot[:, None], np.array([data.mean()]))


def test_fit_bootstrap_with_no_converged_resample_is_a_clean_error(tmp_path, capsys):
    x = np.linspace(-2, 2, 30)
    X = np.column_stack([x, np.cos(7 * x)])
    path = write_csv(tmp_path / "separated.csv", X, x > 0)
    code = cli.main(["fit", str(path), "--target", "y", "--bootstrap", "20", "--no-compile-cache"])
    assert code == cli.EXIT_FIT
    line = one_line(capsys.readouterr().err)
    assert line.startswith("jaxlogreg fit: error: the model could not be fitted (SEPARATED)")
    assert line.endswith("no bootstrap was run: there is no estimate for its intervals to surround")


def mle_exists(X, y, w):
    """Whether the logistic MLE (with intercept) of the rows with weight > 0 exists, by
    linear programming (as tests/test_fit_behaviour.py): it does not iff some direction b
    has s_i x_i^T b >= 0 for every row and > 0 for some, s_i = 2 y_i - 1."""
    keep = w > 0
    A = (2.0 * y[keep] - 1.0)[:, None] * np.column_stack([np.ones(keep.sum()), X[keep]])
    res = linprog(-A.sum(axis=0), A_ub=-A, b_ub=np.zeros(len(A)), bounds=[(-1.0, 1.0)] * A.shape[1],
                  method="highs")
    assert res.status == 0, res.message
    return -res.fun < 1e-7


def test_fit_bootstrap_reports_what_it_left_out_and_warns(tmp_path, capsys, monkeypatch):
    """A small data set with a strong effect: some resamples are separated. The count left
    out equals the separated resamples found by linear programming; warnings for fewer
    than 1000 resamples and for more than 1% left out; no leave-one-out fits."""
    import jax

    from jaxlogreg import _resample

    rng = np.random.default_rng(4)
    X = rng.normal(size=(40, 2))
    y = (rng.random(40) < 1 / (1 + np.exp(-(2.5 * X[:, 0] - 1.5 * X[:, 1])))).astype(float)
    path = write_csv(tmp_path / "data.csv", X, y)

    def no_jackknife(*args, **kwargs):
        raise AssertionError("leave-one-out fits are not needed")

    monkeypatch.setattr(_resample, "LeaveOneOut", no_jackknife)
    B = 200
    args = cli._parser().parse_args(["fit", str(path), "--target", "y", "--bootstrap", str(B)])
    result = cli.fit_csv(args)
    W = np.asarray(_resample.Bootstrap(jax.random.key(0), B).materialize(y))
    separated = sum(not mle_exists(X, y, w) for w in W)
    assert 0.01 * B < separated < B
    assert result["dropped"] == separated and len(result["boot_params"]) == B - separated
    captured = capsys.readouterr()
    assert (f"Bootstrap ({B} resamples, {B - separated} converged, {separated} left out: "
            f"SEPARATED {separated}; BCa acceleration from the empirical influence values)"
            in captured.out)
    lines = captured.err.strip().splitlines()
    assert len(lines) == 2 and "Traceback" not in captured.err
    assert lines[0].startswith(f"jaxlogreg fit: warning: the 95% intervals rest on {B - separated} "
                               "converged resamples") and "1000" in lines[0]
    assert lines[1].startswith(f"jaxlogreg fit: warning: {separated} of {B} resamples")
    assert "may be too narrow" in lines[1]
    lo, hi = result["percentile"].T
    params = np.asarray(result["params"])
    assert np.all(lo < params) and np.all(params < hi)
    assert np.all(result["bca"][:, 0] < result["bca"][:, 1])
    assert Status.SEPARATED.name in captured.out
