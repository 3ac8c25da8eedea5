"""`jaxlogreg fit DATA`: files read by pandas (CSV with a byte-order mark, blank lines,
quoted cells; Parquet) against the values written, the exact messages for bad files, fits
that fail (separated, singular) exiting 5 with the columns named and the options that fit
them, the model's options (``--weights``, ``--offset``, ``--link``, ``--groups``, ``--alpha``,
``--firth``, ``--bootstrap --firth``) against statsmodels or :func:`jaxlogreg.fit`, and the
parser (choices, ``--version``). Everything runs in this process through
:func:`jaxlogreg.cli.main`; the fits share one shape (60 rows, 3 columns) so that a worker
compiles them once."""

from __future__ import annotations

import importlib.metadata
import io
import re
import sys

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import jaxlogreg
from jaxlogreg import cli, solvers

N = 60


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def data(seed=3):
    rng = np.random.default_rng(seed)
    X = np.round(rng.normal(size=(N, 3)), 6)
    y = (rng.random(N) < 1 / (1 + np.exp(-(0.2 + X @ [1.0, -0.5, 0.25])))).astype(int)
    return X, y


def fit_main(path, capsys, *extra):
    code = cli.main(["fit", str(path), "--target", "y", "--no-compile-cache", *extra])
    return code, capsys.readouterr()


# --------------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------------


def test_awkward_but_valid_csv_reads_as_written_and_fits_as_statsmodels(tmp_path, capsys):
    """A byte-order mark, CRLF line ends, blank and whitespace-only lines, quoted cells and
    header names (one holding a comma), spaces around cells: the values written come back,
    and the fit equals statsmodels' on them."""
    X, y = data()
    rows = [f'{a}, "{b}" ,{c},{t}' for (a, b, c), t in zip(X.tolist(), y, strict=True)]
    rows[10:10] = ["", "   "]
    text = '\ufeff\r\n a ,"b, c",c,y\r\n' + "\r\n".join(rows) + "\r\n\r\n"
    path = tmp_path / "awkward.csv"
    path.write_bytes(text.encode("utf-8"))
    Xr, yr, names = cli.read_csv(path, "y")
    assert names == ("a", "b, c", "c")
    np.testing.assert_array_equal(Xr, X)
    np.testing.assert_array_equal(yr, y)
    code, captured = fit_main(path, capsys)
    assert code == 0 and captured.err == ""
    ref = sm.Logit(y, sm.add_constant(X)).fit(disp=0, method="newton", tol=1e-12)
    table = re.findall(r"^(const|a|b, c|c)\s+(-?\d+\.\d+)", captured.out, re.M)
    assert [name for name, _ in table] == ["const", "a", "b, c", "c"]
    np.testing.assert_allclose([float(v) for _, v in table], ref.params, atol=1e-4)


def test_parquet_reads_as_pandas_wrote_it(tmp_path):
    frame = pd.DataFrame({"y": [0, 1, 1, 0], "a": [0.5, -1.0, 2.0, 3.5], "b": [1, 2, 3, 4]})
    path = tmp_path / "data.parquet"
    frame.to_parquet(path)
    X, y, names = cli.read_csv(path, "y", ["b", "a"])
    assert names == ("b", "a")
    np.testing.assert_array_equal(X, frame[["b", "a"]].to_numpy(np.float64))
    np.testing.assert_array_equal(y, frame["y"].to_numpy(np.float64))
    frame.loc[2, "a"] = np.nan
    frame.to_parquet(path)
    with pytest.raises(ValueError, match=re.escape(f"DATA: {path} has missing values (empty or NA "
                                                   "cells): 'a' on 1 row (row 3)")):
        cli.read_csv(path, "y")
    frame.loc[2, "a"] = 1.0
    frame.loc[1, "y"] = 3
    frame.to_parquet(path)
    with pytest.raises(ValueError,
                       match=re.escape("--target: column 'y' must hold 0 or 1, got 3 on row 2")):
        cli.read_csv(path, "y")


@pytest.mark.parametrize(
    "content, columns, message",
    [
        # duplicate names: pandas would rename the second 'a' to 'a.1' and fit the first
        ("a,b,a,y\n1,2,3,0\n", None, "has duplicate column names: 'a' (columns 1, 3); rename them"),
        ("a,,y\n1,2,0\n", None, ": column 2 of the header has no name"),
        # blank lines do not shift the line numbers
        ("\na,y\n\n1,0\n\n\n2,x\n", None, "line 7, column 'y': not a number: 'x'"),
        ("a,y\n\n1,0\n2,2\n", None, "--target: column 'y' must hold 0 or 1, got 2 on line 4"),
        ("a,y\n1,0\nNA,1\n", None, "has missing values (empty or NA cells): 'a' on 1 row (line 3)"),
        ("a,b,y\n1,2,0\n1, ,1\n2\n", None,
         "has missing values (empty or NA cells): 'b' on 2 rows (first on line 3), 'y' on 1 row "
         "(line 4); fill them in, or pass --dropna to leave out the 2 incomplete rows"),
        ("a,y\n1,0\n-inf,1\n", None, "line 3, column 'a': not finite: '-inf'"),
        ("a,y\n1,0\n\n2,1,3\n", None,
         "has a row longer than the header: Expected 2 fields in line 4, saw 3"),
        ("a,y\n1,1\n2,1\n", None,
         "--target: column 'y' holds only 1s; a logistic regression needs rows of both classes"),
        ("a,b,y\n1,2,0\n", ["b", "z", "w"], "--columns: no columns 'z', 'w' in "),
        ("a,b,y\n1,2,0\n", ["a", "a"], "--columns: 'a' named more than once"),
        ("\n \n", None, "is empty"),
    ],
)
def test_bad_files_are_named_by_line_and_column(tmp_path, content, columns, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(ValueError, match=re.escape(message)):
        cli.read_csv(path, "y", columns)


def test_a_file_that_is_not_utf8_text_is_one_line_and_2(tmp_path, capsys):
    path = tmp_path / "data.csv"
    path.write_bytes(b"a,y\n\xff\xfe,1\n")
    code, captured = fit_main(path, capsys)
    assert code == cli.EXIT_USAGE
    assert one_line(captured.err) == (f"jaxlogreg fit: error: DATA: {path} is not UTF-8 text "
                                      "(invalid start byte at byte 4, line 2); if it is Latin-1 or "
                                      "Windows text, pass --encoding latin-1 (or cp1252)")


def test_missing_readers_say_what_to_install(tmp_path, monkeypatch):
    path = tmp_path / "data.parquet"
    pd.DataFrame({"a": [1.0, 2.0], "y": [0, 1]}).to_parquet(path)
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "fastparquet", None)
    message = (f"DATA: reading the Parquet file {path} needs pyarrow (or fastparquet), which is "
               "not installed")
    with pytest.raises(ValueError, match=re.escape(message)):
        cli.read_csv(path, "y")
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ValueError, match=re.escape('needs pandas, which is not installed: '
                                                   'pip install "jaxlogreg[cli]"')):
        cli.read_csv(path.with_suffix(".csv"), "y")


# --------------------------------------------------------------------------------------------
# separators, encodings, missing values and text targets, through main
# --------------------------------------------------------------------------------------------


def logit(X, y):
    return sm.Logit(y, sm.add_constant(X)).fit(disp=0, method="newton", tol=1e-12)


def printed(out: str, names=("const", "a", "b", "c")):
    """The names and estimates of a summary's coefficient table."""
    rows = re.findall(r"^(\S+)\s+(-?\d+\.\d+)\s+\d+\.\d+", out, re.M)
    assert [name for name, _ in rows] == list(names), out
    return np.array([float(v) for _, v in rows])


def frame_of(X, y, names=("a", "b", "c"), target="y"):
    return pd.DataFrame({**dict(zip(names, X.T, strict=True)), target: y})


@pytest.mark.parametrize("sep, given", [(",", ","), (";", ";"), ("\t", "tab"), ("|", "|")])
def test_separators_are_detected_or_given(tmp_path, capsys, sep, given):
    """A file pandas writes with each separator fits as statsmodels does, with the separator
    detected and given; a wrong one is a one-line error that suggests the right one."""
    X, y = data()
    path = tmp_path / "d.csv"
    frame_of(X, y).to_csv(path, sep=sep, index=False)
    ref = logit(X, y)
    for extra in ([], ["--sep", given]):
        code, captured = fit_main(path, capsys, *extra)
        assert code == 0 and captured.err == "", captured.err
        np.testing.assert_allclose(printed(captured.out), ref.params, atol=1e-4)
    if sep != ",":
        code, captured = fit_main(path, capsys, "--sep", ",")
        assert code == cli.EXIT_USAGE
        line = one_line(captured.err)
        assert line.startswith("jaxlogreg fit: error: --target: no column 'y' in ")
        assert line.endswith(f"the header reads as one column with the separator ',': is it "
                             f"{sep!r} (--sep {given if sep == chr(9) else repr(sep)})?")


@pytest.mark.parametrize("encoding, given", [("utf-8-sig", None), ("utf-16", None),
                                             ("latin-1", "latin-1"), ("cp1252", "cp1252")])
def test_encodings_are_detected_by_their_mark_or_given(tmp_path, capsys, encoding, given):
    """UTF-8 and UTF-16 with a byte-order mark are read as they are; Latin-1 and Windows
    text with --encoding, and without it a one-line error naming the file, the byte and the
    line, and the option."""
    X, y = data()
    names = ("âge", "poids", "taille")
    path = tmp_path / "d.csv"
    frame_of(X, y, names).to_csv(path, index=False, encoding=encoding)
    raw = path.read_bytes()
    code, captured = fit_main(path, capsys, *(["--encoding", given] if given else []))
    assert code == 0 and captured.err == "", captured.err
    np.testing.assert_allclose(printed(captured.out, ("const",) + names), logit(X, y).params,
                               atol=1e-4)
    if given is None:
        return
    try:
        raw.decode("utf-8")
        raise AssertionError("the file should not be UTF-8")
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        where = f"{e.reason} at byte {e.start}, line {line}"
    code, captured = fit_main(path, capsys)
    assert code == cli.EXIT_USAGE
    assert one_line(captured.err) == (
        f"jaxlogreg fit: error: DATA: {path} is not UTF-8 text ({where}); if it is Latin-1 or "
        "Windows text, pass --encoding latin-1 (or cp1252)")


def test_an_unknown_encoding_or_separator_is_an_argparse_error_before_reading(tmp_path, capsys):
    for extra, message in ((["--encoding", "klingon"],
                            "argument --encoding: unknown encoding 'klingon'"),
                           (["--sep", ";;"], "argument --sep: need one character")):
        with pytest.raises(SystemExit) as info:
            cli.main(["fit", str(tmp_path / "none.csv"), "--target", "y", *extra])
        assert info.value.code == cli.EXIT_USAGE
        err = capsys.readouterr().err
        assert message in err and "cannot read" not in err


def test_missing_values_are_counted_per_column_and_dropna_leaves_their_rows_out(tmp_path, capsys):
    """NA spellings and empty cells in the model's columns: refused with each column's count
    (pandas' own NA reading is the reference), or, with --dropna, the rows left out and the
    fit that of statsmodels on pandas' ``dropna``. A column the model does not use may have
    gaps."""
    X, y = data()
    cells = frame_of(X, y).astype(object)
    cells["note"] = ""  # not used (--columns a,b,c): its gaps do not count
    for row, column, text in [(3, "a", "NA"), (10, "a", ""), (7, "b", "n/a"), (20, "y", ""),
                              (10, "c", "NaN"), (33, "b", "null")]:
        cells.loc[row, column] = text
    path = tmp_path / "d.csv"
    cells.to_csv(path, index=False)
    read = pd.read_csv(path)  # pandas' default NA strings: the reference
    used = ["a", "b", "c", "y"]
    counts = read[used].isna().sum()
    assert counts.to_dict() == {"a": 2, "b": 2, "c": 1, "y": 1} and read["note"].isna().all()
    incomplete = int(read[used].isna().any(axis=1).sum())
    code, captured = fit_main(path, capsys, "--columns", "a,b,c")
    assert code == cli.EXIT_USAGE
    first = {c: int(np.flatnonzero(read[c].isna())[0]) + 2 for c in used}  # + header, 1-based
    assert one_line(captured.err) == (
        f"jaxlogreg fit: error: DATA: {path} has missing values (empty or NA cells): 'a' on 2 "
        f"rows (first on line {first['a']}), 'b' on 2 rows (first on line {first['b']}), 'c' on 1 "
        f"row (line {first['c']}), 'y' on 1 row (line {first['y']}); fill them in, or pass "
        f"--dropna to leave out the {incomplete} incomplete rows")
    code, captured = fit_main(path, capsys, "--columns", "a,b,c", "--dropna")
    assert code == 0 and captured.err == ""
    kept = read[used].dropna()
    np.testing.assert_allclose(printed(captured.out), logit(kept[["a", "b", "c"]].to_numpy(),
                                                            kept["y"].to_numpy()).params, atol=1e-4)
    assert f"No. Observations:                   {len(kept)}" in captured.out
    assert (f"Note: {incomplete} of {N} rows left out for missing values (--dropna): 'a' on 2, "
            "'b' on 2, 'c' on 1, 'y' on 1.") in captured.out


@pytest.mark.parametrize(
    "one, zero, extra, positive, why",
    [
        ("yes", "no", [], "yes", "the conventional one"),
        ("True", "False", [], "True", "the conventional one"),
        ("Y", "N", [], "Y", "the conventional one"),
        ("dog", "cat", [], "dog", "the second of the two in sorted order"),
        ("yes", "no", ["--positive", "no"], "no", "--positive"),
        ("cat", "dog", ["--positive", "cat"], "cat", "--positive"),
    ],
)
def test_text_targets_are_two_classes_with_the_positive_one_named(tmp_path, capsys, one, zero,
                                                                  extra, positive, why):
    X, y = data()
    labels = np.where(y == 1, one, zero)
    path = tmp_path / "d.csv"
    frame_of(X, labels).to_csv(path, index=False)
    code, captured = fit_main(path, capsys, *extra)
    assert code == 0 and captured.err == ""
    np.testing.assert_allclose(printed(captured.out),
                               logit(X, (labels == positive).astype(int)).params, atol=1e-4)
    other = zero if positive == one else one
    note = f"Note: target 'y': {positive!r} is 1 (the positive class: {why}), {other!r} is 0"
    assert note + (f"; --positive {other} chooses the other." if not extra else ".") in captured.out


def test_a_numeric_target_of_other_values_takes_positive(tmp_path, capsys):
    X, y = data()
    path = tmp_path / "d.csv"
    frame_of(X, np.where(y == 1, 2, 1)).to_csv(path, index=False)
    code, captured = fit_main(path, capsys)
    assert code == cli.EXIT_USAGE
    assert one_line(captured.err).endswith("; its two values are 1 and 2: pass --positive VALUE to "
                                           "say which is class 1")
    code, captured = fit_main(path, capsys, "--positive", "1")
    assert code == 0
    np.testing.assert_allclose(printed(captured.out), logit(X, 1 - y).params, atol=1e-4)
    assert "Note: target 'y': 1 is 1 (the positive class: --positive), 2 is 0." in captured.out


@pytest.mark.parametrize(
    "labels, extra, message",
    [
        (["a", "b", "c"], [], "--target: column 'y' has 3 classes ('a', 'b', 'c'); a logistic "
                              "regression models two"),
        ([0, 1, 2], [], "--target: column 'y' must hold 0 or 1, got 2 on line 4; it holds 3 "
                        "distinct values, and a logistic regression models two classes"),
        (["yes", "no", "yes"], ["--positive", "maybe"],
         "--positive: 'maybe' is not a class of the target 'y' ('no', 'yes')"),
        ([0, 1, 0], ["--positive", "yes"],
         "--positive: 'yes' is not a value of the target 'y', which holds the numbers '0', '1'"),
        (["0", "1", "x"], [], "line 4, column 'y': not a number: 'x'"),
        (["no", "no", "no"], [], "--target: column 'y' holds only 'no'; a logistic regression "
                                 "needs rows of both classes"),
    ],
)
def test_targets_that_are_not_two_classes_are_one_line_and_2(tmp_path, capsys, labels, extra,
                                                             message):
    X, _ = data()
    path = tmp_path / "d.csv"
    frame_of(X[:, :1], np.resize(labels, N), names=("a",)).to_csv(path, index=False)
    code, captured = fit_main(path, capsys, *extra)
    assert code == cli.EXIT_USAGE
    line = one_line(captured.err)
    assert line.startswith("jaxlogreg fit: error: ") and message in line, line


def test_duplicate_column_names_are_one_line_and_2(tmp_path, capsys):
    """pandas would read the second 'a' as 'a.1' and fit the first one twice."""
    path = tmp_path / "d.csv"
    path.write_text("a,b,a,y\n1,2,3,0\n2,1,0,1\n")
    code, captured = fit_main(path, capsys)
    assert code == cli.EXIT_USAGE
    assert one_line(captured.err) == (f"jaxlogreg fit: error: DATA: {path} has duplicate column "
                                      "names: 'a' (columns 1, 3); rename them")


def test_parquet_takes_no_separator_or_encoding(tmp_path, capsys):
    X, y = data()
    path = tmp_path / "d.parquet"
    frame_of(X, np.where(y == 1, "yes", "no")).to_parquet(path)
    code, captured = fit_main(path, capsys)
    assert code == 0 and "'yes' is 1" in captured.out
    np.testing.assert_allclose(printed(captured.out), logit(X, y).params, atol=1e-4)
    code, captured = fit_main(path, capsys, "--sep", ";")
    assert code == cli.EXIT_USAGE
    assert one_line(captured.err) == (f"jaxlogreg fit: error: --sep: {path} is a Parquet file, "
                                      "which has no separator; drop --sep")


# --------------------------------------------------------------------------------------------
# fits that fail
# --------------------------------------------------------------------------------------------


def write(path, X, y, names=("a", "b", "c")):
    pd.DataFrame(dict(zip(names, X.T, strict=True), y=y)).to_csv(path, index=False)
    return path


def test_a_constant_column_is_singular_named_and_exits_5(tmp_path, capsys):
    X, y = data()
    X[:, 1] = 3.0
    assert np.linalg.matrix_rank(np.column_stack([np.ones(N), X])) == 3
    code, captured = fit_main(write(tmp_path / "d.csv", X, y), capsys)
    assert code == cli.EXIT_FIT == 5
    assert one_line(captured.err).startswith(
        "jaxlogreg fit: error: the model could not be fitted (SINGULAR): 'b' is constant (3 on "
        "every row), as the intercept already is; remedies: drop the constant or collinear "
        "columns (--columns)")
    assert "Status:                      SINGULAR" in captured.out  # the summary came first
    assert "Note: LLR p-value is nan: the likelihood-ratio test compares" in captured.out


def test_collinear_columns_are_named_with_their_relation(tmp_path, capsys):
    X, y = data()
    X[:, 2] = X[:, 0] - 2.0 * X[:, 1]
    assert np.linalg.matrix_rank(np.column_stack([np.ones(N), X])) == 3
    code, captured = fit_main(write(tmp_path / "d.csv", X, y), capsys)
    assert code == cli.EXIT_FIT
    line = one_line(captured.err)
    assert "(SINGULAR): 'a', 'b', 'c' are collinear (" in line
    # Whichever column the relation is solved for, it is the one built above.
    relation = re.search(r"are collinear \((\w+) = (.*?)\);", line)
    lhs, rhs = relation.groups()
    coef = {name: float(sign.replace(" ", "") + value) for sign, value, name in
            re.findall(r"(^-|\s[-+]\s|^)([\d.e+-]+)\*(\w+)", rhs)}
    built = {"c": {"a": 1.0, "b": -2.0}, "a": {"c": 1.0, "b": 2.0}, "b": {"a": 0.5, "c": -0.5}}
    assert coef == pytest.approx(built[lhs], rel=1e-3)


def test_separated_classes_name_the_separating_column_and_exit_5(tmp_path, capsys):
    X, _ = data()
    y = (X[:, 1] > 0).astype(int)  # b alone separates; a and c are noise
    code, captured = fit_main(write(tmp_path / "d.csv", X, y), capsys)
    assert code == cli.EXIT_FIT
    line = one_line(captured.err)
    assert line.startswith("jaxlogreg fit: error: the model could not be fitted (SEPARATED): the "
                           "classes are separated, so no finite maximum-likelihood estimate "
                           "exists; the coefficients ran off along 'b' (+")
    assert "'a'" not in line and "'c'" not in line
    assert line.endswith("; remedies: drop or merge the separating columns (--columns), --firth "
                         "(Firth's penalised likelihood, finite under separation) or --alpha A (a "
                         "ridge penalty, A > 0)")
    assert "Status:                     SEPARATED" in captured.out
    assert "Note: Log-Likelihood and Pseudo R-squ. are those of the coefficients where the fit " \
           "stopped" in captured.out


# --------------------------------------------------------------------------------------------
# the parser
# --------------------------------------------------------------------------------------------


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == f"jaxlogreg {importlib.metadata.version('jaxlogreg')}\n"


def test_solver_choices_are_the_registry_and_each_is_accepted():
    action = next(a for a in cli._parser()._subparsers._group_actions[0].choices["study"]._actions
                  if a.dest == "solver")
    assert action.choices == ("auto",) + solvers.names()
    assert {"auto", "newton", "lbfgs", "prox_newton", "sgd", "adam", "firth"} <= set(action.choices)
    for name in action.choices:
        solvers.resolve(name, p=3)  # raises for a name the library does not know


@pytest.mark.parametrize("command", ["study", "fit"])
def test_help_shows_choices_and_a_description(command, capsys):
    with pytest.raises(SystemExit):
        cli.main([command, "--help"])
    out = capsys.readouterr().out
    assert {"study": "{nonrobust,HC0,HC1}", "fit": "{nonrobust,HC0,HC1,cluster}"}[command] in out
    assert ("{logit,probit,cloglog,cauchit}" in out) == (command == "fit")
    assert ("{auto,newton," in out) == (command == "study")
    summaries = {"study": "Refit one synthetic data set", "fit": "Fit a logistic regression"}
    assert summaries[command] in out


def test_a_bad_cov_type_is_an_argparse_error_before_the_file_is_read(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["fit", str(tmp_path / "none.csv"), "--target", "y", "--cov-type", "HC3"])
    assert info.value.code == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert "argument --cov-type: invalid choice: 'HC3'" in err and "cannot read" not in err


# --------------------------------------------------------------------------------------------
# the model's options
# --------------------------------------------------------------------------------------------


def fit_args(path, *extra):
    """``fit_csv``'s dict for ``jaxlogreg fit PATH --target y EXTRA`` (what it prints goes to
    a buffer), after the parser's and main's checks of the options."""
    parser = cli._parser()
    args = parser.parse_args(["fit", str(path), "--target", "y", "--no-compile-cache", *extra])
    cli._check_fit_args(parser, args)
    return cli.fit_csv(args, out=io.StringIO(), err=io.StringIO())


def with_roles(path, X, y, **columns):
    """The shared 60 x 3 design and ``y``, with the named extra columns after the features."""
    frame = pd.DataFrame(dict(zip(("a", "b", "c"), X.T, strict=True)))
    for name, values in columns.items():
        frame[name] = values
    frame["y"] = y
    frame.to_csv(path, index=False)
    return path


def test_weights_and_offset_are_statsmodels_glm_and_no_features(tmp_path):
    X, y = data()
    rng = np.random.default_rng(7)
    w = rng.integers(1, 4, N).astype(float)
    o = np.round(0.5 * rng.normal(size=N), 6)
    path = with_roles(tmp_path / "d.csv", X, y, w=w, o=o)
    got = fit_args(path, "--weights", "w", "--offset", "o")
    assert got["names"] == ("const", "a", "b", "c")
    ref = sm.GLM(y, sm.add_constant(X), family=sm.families.Binomial(), freq_weights=w,
                 offset=o).fit(tol=1e-12)
    np.testing.assert_allclose(got["params"], ref.params, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(got["bse"], ref.bse, rtol=1e-6)
    # The weights matter: without them the answer moves.
    plain = fit_args(path, "--offset", "o", "--columns", "a,b,c")
    assert np.abs(plain["params"] - got["params"]).max() > 1e-2


def test_probit_link_is_statsmodels_glm(tmp_path):
    X, y = data()
    got = fit_args(write(tmp_path / "d.csv", X, y), "--link", "probit")
    family = sm.families.Binomial(link=sm.families.links.Probit())
    ref = sm.GLM(y, sm.add_constant(X), family=family).fit(tol=1e-12)
    np.testing.assert_allclose(got["params"], ref.params, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(got["bse"], ref.bse, rtol=1e-6)  # expected information, GLM's


def test_cluster_standard_errors_over_text_labels_are_statsmodels(tmp_path):
    X, y = data()
    g = np.random.default_rng(5).integers(0, 12, N)
    path = with_roles(tmp_path / "d.csv", X, y, site=[f"s{k}" for k in g])
    got = fit_args(path, "--groups", "site", "--cov-type", "cluster")
    assert got["names"] == ("const", "a", "b", "c")
    ref = sm.Logit(y, sm.add_constant(X)).fit(disp=0, method="newton", tol=1e-12,
                                             cov_type="cluster", cov_kwds={"groups": g})
    np.testing.assert_allclose(got["params"], ref.params, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(got["bse"], ref.bse, rtol=1e-6)


def test_firth_fits_separated_data_as_the_library_does(tmp_path, capsys):
    X, _ = data()
    y = (X[:, 1] > 0).astype(int)
    code, captured = fit_main(write(tmp_path / "d.csv", X, y), capsys, "--firth")
    assert code == 0 and captured.err == ""
    assert "Status:                     CONVERGED" in captured.out
    assert "Note: the estimates maximise Firth's penalised likelihood" in captured.out
    table = re.findall(r"^(const|a|b|c)\s+(-?\d+\.\d+)\s+(\d+\.\d+)", captured.out, re.M)
    ref = jaxlogreg.fit(X, y.astype(float), firth=True)
    assert [name for name, _, _ in table] == ["const", "a", "b", "c"]
    printed = np.array([float(v) for _, v, _ in table])
    assert np.isfinite(printed).all() and np.isfinite([float(s) for _, _, s in table]).all()
    np.testing.assert_allclose(printed, np.asarray(ref.params), atol=1e-4)


def test_alpha_and_l1_ratio_are_the_library_fit(tmp_path, capsys):
    X, y = data()
    path = write(tmp_path / "d.csv", X, y)
    for extra, kwargs in [(("--alpha", "0.05"), dict(alpha=0.05)),
                          (("--alpha", "0.05", "--l1-ratio", "0.5"),
                           dict(alpha=0.05, l1_ratio=0.5))]:
        got = fit_args(path, *extra)
        ref = jaxlogreg.fit(X, y.astype(float), **kwargs)
        np.testing.assert_allclose(got["params"], np.asarray(ref.params), rtol=1e-10, atol=1e-12)
        assert np.abs(got["params"][1:]).sum() < np.abs(jaxlogreg.fit(X, y).coef).sum()


def test_bootstrap_with_firth_keeps_the_resamples_plain_resampling_drops(tmp_path):
    X, _ = data()
    # Little overlap: the full data have a finite estimate, a fifth of the resamples not.
    noise = np.random.default_rng(100).normal(size=N)
    y = (X[:, 1] + 0.2 * noise > 0).astype(int)
    path = write(tmp_path / "d.csv", X, y)
    parser = cli._parser()
    plain = parser.parse_args(["fit", str(path), "--target", "y", "--no-compile-cache",
                               "--bootstrap", "200"])
    err = io.StringIO()
    got = cli.fit_csv(plain, out=io.StringIO(), err=err)
    assert got["failure"] is None and got["dropped"] > 0.01 * 200
    assert "(SEPARATED " in err.getvalue()
    assert "; --firth fits every resample by Firth's method" in err.getvalue()
    firth = parser.parse_args(["fit", str(path), "--target", "y", "--no-compile-cache",
                               "--bootstrap", "200", "--firth"])
    err = io.StringIO()
    got = cli.fit_csv(firth, out=io.StringIO(), err=err)
    assert got["dropped"] == 0 and "did not converge" not in err.getvalue()
    assert np.isfinite(got["boot_params"]).all() and got["boot_params"].shape == (200, 4)
    ref = jaxlogreg.fit(X, y.astype(float), firth=True)
    np.testing.assert_allclose(got["params"], np.asarray(ref.params), atol=1e-8)


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--weights", "z"], "--weights: no column 'z' in "),
        (["--offset", "y"], "--offset: 'y' is the target; it cannot also be the offset"),
        (["--weights", "w", "--offset", "w"],
         "--offset: 'w' is already the frequency weights (--weights)"),
        (["--weights", "w", "--columns", "a,w"],
         "--columns: 'w' is the frequency weights (--weights); it cannot also be a feature"),
        (["--groups", "z", "--cov-type", "cluster"], "--groups: no column 'z' in "),
        (["--weights", "neg"], "--weights: column 'neg' must be nonnegative, got -1 on line 3"),
    ],
)
def test_bad_role_columns_are_one_line_naming_the_column(tmp_path, capsys, extra, message):
    path = tmp_path / "d.csv"
    path.write_text("a,w,neg,y\n1,1,1,0\n2,1,-1,1\n3,2,1,0\n")
    code, captured = fit_main(path, capsys, *extra)
    assert code == cli.EXIT_USAGE
    line = one_line(captured.err)
    assert line.startswith("jaxlogreg fit: error: " + message), line


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--cov-type", "cluster"], "--cov-type cluster needs --groups COL"),
        (["--groups", "g"], "--groups: the clusters are used by --cov-type cluster only"),
        (["--firth", "--alpha", "1"],
         "--firth: Firth's penalised likelihood takes no other penalty"),
        (["--firth", "--link", "probit"], "--firth: Firth's method is for the logit link"),
        (["--l1-ratio", "0.5"], "--l1-ratio: mixes the penalty of --alpha, which is 0"),
        (["--alpha", "-1"], "--alpha: need a finite number >= 0, got -1"),
        (["--bootstrap", "10", "--weights", "w"],
         "--bootstrap: resamples rows, but with --weights"),
        (["--link", "logistic"], "argument --link: invalid choice: 'logistic'"),
    ],
)
def test_options_that_cannot_work_together_are_argparse_errors_before_reading(tmp_path, capsys,
                                                                               extra, message):
    with pytest.raises(SystemExit) as info:
        cli.main(["fit", str(tmp_path / "none.csv"), "--target", "y", *extra])
    assert info.value.code == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert message in err and "cannot read" not in err


def test_link_choices_are_the_library_links():
    from jaxlogreg import _links

    assert cli.LINKS == _links.LINKS
