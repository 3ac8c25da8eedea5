"""The command line: `jaxlogreg study` (the README's main job) end to end on a small run,
and `jaxlogreg fit DATA.csv` against statsmodels, with its bootstrap intervals and its
errors on bad files."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import statsmodels.api as sm

from jaxlogreg import cli

# Slow tier (pytest -m slow): subprocesses, benchmarks, compilation of large programs.
pytestmark = pytest.mark.slow


def run(*args, cache_home, timeout=600):
    """``python -m jaxlogreg.cli ARGS`` with ``$XDG_CACHE_HOME`` at ``cache_home`` (the
    default compilation cache goes there, not into the user's own)."""
    env = {k: v for k, v in os.environ.items() if k != "JAX_COMPILATION_CACHE_DIR"}
    env["XDG_CACHE_HOME"] = str(cache_home)
    return subprocess.run(
        [sys.executable, "-m", "jaxlogreg.cli", *args], capture_output=True, text=True,
        timeout=timeout, env=env,
    )


def test_study_rejects_bad_arguments(tmp_path):
    proc = run("study", "--replicates", "1", cache_home=tmp_path)
    assert proc.returncode == 2 and "--replicates" in proc.stderr
    assert not any(tmp_path.iterdir())  # refused before anything was set up


@pytest.fixture()
def csv_file(tmp_path):
    rng = np.random.default_rng(5)
    n = 200
    X = rng.normal(size=(n, 2))
    y = (rng.random(n) < 1 / (1 + np.exp(-(0.3 + X @ [1.0, -0.7])))).astype(int)
    path = tmp_path / "data.csv"
    lines = ["a,b,outcome"] + [f"{a:.6f},{b:.6f},{t}" for (a, b), t in zip(X, y, strict=True)]
    path.write_text("\n".join(lines) + "\n")
    return path, np.round(X, 6), y


def test_fit_csv_matches_statsmodels(csv_file, capsys):
    path, X, y = csv_file
    args = cli._parser().parse_args(["fit", str(path), "--target", "outcome", "--bootstrap", "200"])
    out = cli.fit_csv(args)
    ref = sm.Logit(y, sm.add_constant(X)).fit(disp=0, method="newton", tol=1e-12)
    np.testing.assert_allclose(out["params"], ref.params, rtol=1e-8)
    text = capsys.readouterr().out
    assert "Logit" in text or "outcome" in text
    assert "BCa 95%" in text
    lo, hi = out["percentile"].T
    assert np.all(lo < ref.params) and np.all(ref.params < hi)
    assert out["boot_params"].shape[1] == 3


def test_bca_interval_matches_scipy_reference():
    """The BCa interval for a mean, from given bootstrap replicates, against scipy's own
    BCa computation (its quantile levels) on the same replicates."""
    from scipy.stats._resampling import _bca_interval

    rng = np.random.default_rng(2)
    data = rng.exponential(size=40)
    boot = np.array([rng.choice(data, 40).mean() for _ in range(2000)])
    jack = np.array([np.delete(data, i).mean() for i in range(40)])
    ours = cli.bca_interval(boot[:, None], np.array([data.mean()]), jack[:, None])[0]
    a1, a2, _ = _bca_interval((data,), np.mean, -1, 0.025, boot, None, np)
    np.testing.assert_allclose(ours, np.quantile(boot, [float(a1), float(a2)]), rtol=1e-12)


@pytest.mark.parametrize(
    "content, args, message",
    [
        ("", ["--target", "y"], "is empty"),
        ("a,y\n", ["--target", "y"], "no data rows"),
        ("a,y\n1,0\n", ["--target", "z"], "--target: no column 'z'"),
        ("a,y\n1,0\n2,x\n", ["--target", "y"], "line 3, column 'y': not a number: 'x'"),
        ("a,y\n1,0\n2,2\n", ["--target", "y"], "must hold 0 or 1, got 2 on line 3"),
        ("a,y\n1,0\n2\n", ["--target", "y"],
         "has missing values (empty or NA cells): 'y' on 1 row (line 3)"),
        ("a,y\n1,0\n", ["--target", "y", "--columns", "b"], "--columns: no column 'b'"),
    ],
)
def test_fit_csv_errors(tmp_path, content, args, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        cli.read_csv(path, args[1], args[3].split(",") if "--columns" in args else None)


def test_fit_csv_missing_file_exits_2(tmp_path, csv_file):
    proc = run("fit", str(tmp_path / "none.csv"), "--target", "y", cache_home=tmp_path / "cache")
    assert proc.returncode == 2 and "cannot read" in proc.stderr
    # A cache directory that cannot be made (a file stands in its way): a note, and on.
    (tmp_path / "file").write_text("")
    proc = run("fit", str(csv_file[0]), "--target", "outcome", "--compile-cache",
               str(tmp_path / "file" / "jax"), cache_home=tmp_path / "cache")
    assert proc.returncode == 0 and "Logit Regression Results" in proc.stdout, proc.stderr
    assert "no compilation cache: cannot make" in proc.stderr


def test_fit_reads_a_european_spreadsheet_export_end_to_end(tmp_path):
    """A Latin-1 file with semicolons, an empty cell and a oui/non target, in a process of its
    own: read with --encoding and --dropna, the target mapped as the note says (the second
    class in sorted order, 'oui'), and the fit equals statsmodels' on pandas' reading of it."""
    import pandas as pd

    rng = np.random.default_rng(8)
    n = 120
    X = np.round(rng.normal(size=(n, 2)), 4)
    y = rng.random(n) < 1 / (1 + np.exp(-(0.2 + X @ [0.8, -0.5])))
    lines = ["âge;revenu;acheté"] + [f"{a};{b};{'oui' if t else 'non'}"
                                      for (a, b), t in zip(X, y, strict=True)]
    lines[9] = "1.5;;non"
    path = tmp_path / "export.csv"
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("latin-1"))
    proc = run("fit", str(path), "--target", "acheté", "--encoding", "latin-1", "--dropna",
               "--no-compile-cache", cache_home=tmp_path / "cache")
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    ref_frame = pd.read_csv(path, sep=";", encoding="latin-1").dropna()
    ref = sm.Logit((ref_frame["acheté"] == "oui").astype(int),
                   sm.add_constant(ref_frame[["âge", "revenu"]])
                   ).fit(disp=0, method="newton", tol=1e-12)
    rows = [line.split() for line in proc.stdout.splitlines()
            if line.split()[:1] in (["const"], ["âge"], ["revenu"])]
    assert [r[0] for r in rows] == ref.model.exog_names
    np.testing.assert_allclose([float(r[1]) for r in rows], ref.params, atol=1e-4)
    assert "Dep. Variable:                 acheté" in proc.stdout
    assert (f"Note: 1 of {n} rows left out for missing values (--dropna): 'revenu' on 1."
            in proc.stdout)
    assert ("Note: target 'acheté': 'oui' is 1 (the positive class: the second of the two in "
            "sorted order), 'non' is 0; --positive non chooses the other.") in proc.stdout


def test_repeat_run_reads_its_compiled_programs_from_the_cache(csv_file, tmp_path):
    """The default cache is ``$XDG_CACHE_HOME/jaxlogreg/jax``: the first run writes its
    compiled programs there; the second finds every program it compiles there (it adds no
    entry) and prints the same. ``--no-compile-cache`` writes nothing."""
    path, _, _ = csv_file
    args = ("fit", str(path), "--target", "outcome")
    cache = tmp_path / "home" / "jaxlogreg" / "jax"
    first = run(*args, cache_home=tmp_path / "home")
    assert first.returncode == 0, first.stderr
    entries = sorted(p.name for p in cache.iterdir() if p.name.endswith("-cache"))
    assert any(name.startswith("jit__fit_and_check-") for name in entries), entries
    second = run(*args, cache_home=tmp_path / "home")
    assert second.returncode == 0, second.stderr
    assert sorted(p.name for p in cache.iterdir() if p.name.endswith("-cache")) == entries
    assert second.stdout == first.stdout
    off = run(*args, "--no-compile-cache", cache_home=tmp_path / "off")
    assert off.returncode == 0 and off.stdout == first.stdout
    assert not (tmp_path / "off").exists()


def test_errors_in_arguments_and_files_answer_before_jax_is_imported(tmp_path):
    """A missing or bad file, a bad --config and --version are answered from a process that
    never imports JAX (``import jaxlogreg`` imports its modules on first use)."""
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text("a,y\n1,0\nx,1\n")
    bad_config = tmp_path / "model.json"
    bad_config.write_text('{"coef": [1.0], "colour": 2}')
    files = {
        "latin.csv": "âge,y\n1,0\n2,1\n".encode("latin-1"),
        "gaps.csv": b"a,y\n1,0\nNA,1\n,0\n",
        "twice.csv": b"a,a,y\n1,2,0\n",
        "three.csv": b"a,y\n1,a\n2,b\n3,c\n",
        "yesno.csv": b"a;y\n1;yes\n2;no\n",
    }
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    code = ("import sys, jaxlogreg.cli as c\n"
            "try:\n    rc = c.main(sys.argv[1:])\nexcept SystemExit as e:\n    rc = e.code\n"
            "print('jax imported' if 'jax' in sys.modules else 'no jax')\nsys.exit(rc)")
    cases = [
        (["fit", str(tmp_path / "none.csv"), "--target", "y"], 2, "cannot read"),
        (["fit", str(bad_csv), "--target", "y"], 2, "line 3"),
        (["study", "--config", str(bad_config)], 2, "unknown keys ['colour']"),
        (["fit", str(tmp_path / "latin.csv"), "--target", "y"], 2, "is not UTF-8 text"),
        (["fit", str(tmp_path / "latin.csv"), "--target", "y", "--encoding", "nope"], 2,
         "unknown encoding 'nope'"),
        (["fit", str(tmp_path / "gaps.csv"), "--target", "y"], 2, "'a' on 2 rows"),
        (["fit", str(tmp_path / "gaps.csv"), "--target", "y", "--dropna"], 2, "holds only 0s"),
        (["fit", str(tmp_path / "twice.csv"), "--target", "y"], 2, "duplicate column names: 'a'"),
        (["fit", str(tmp_path / "three.csv"), "--target", "y"], 2, "has 3 classes"),
        (["fit", str(tmp_path / "yesno.csv"), "--target", "y", "--positive", "maybe"], 2,
         "--positive: 'maybe' is not a class"),
        (["--version"], 0, ""),
    ]
    for argv, status, message in cases:
        proc = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True,
                              text=True, timeout=120)
        assert proc.returncode == status, (argv, proc.stderr)
        assert proc.stdout.strip().splitlines()[-1] == "no jax", argv
        assert message in proc.stderr, (argv, proc.stderr)
