"""A study's files in ``out`` (`jaxlogreg._study._storage`, *Storage*; `jaxlogreg._io`): chunks
that carry their study's identity and range and are checked against the manifest before use,
the lock on ``out``, outputs that are all or nothing, and runs that leave nothing behind
when they fail. Every study here has the shapes of tests/test_study.py (300 rows, 3
features, 60 replicates in chunks of 25), so that a worker compiles them once for both;
results are compared with the same study run in memory, and files with digests and contents
computed here."""

from __future__ import annotations

import errno
import functools
import hashlib
import json
import os
import re
import shutil

import jax
import numpy as np
import pytest

import jaxlogreg
from jaxlogreg import _io, _study

N, NUM, BATCH = 300, 60, 25
TRUE = np.array([-1.0, 0.8, 0.05, -0.4])
STARTS = [0, 25, 50]
FIRSTS = [0, 25, 35]  # the first replicate each chunk computes (the last overlaps, 35 .. 59)
CHUNKS = [f"replicates_{s:010d}_{min(s + BATCH, NUM):010d}.npz" for s in STARTS]

# The study files' every path, each test with studies of its own: the slow tier (the
# everyday tier keeps tests/test_study.py's interrupted study that resumes).
pytestmark = pytest.mark.slow


@functools.cache
def data():
    sim = jaxlogreg.simulate(jax.random.key(0), N, TRUE[1:], TRUE[0])
    return np.asarray(sim.X), np.asarray(sim.y)


def run(out=None, seed=0, **kw):
    X, y = data()
    split = jaxlogreg.Splits(jax.random.key(seed), NUM, 0.7)
    return jaxlogreg.run_study(X, y, TRUE, scheme=split, batch=BATCH, out=out, **kw)


@functools.cache
def in_memory(seed=0):
    return run(seed=seed)


def assert_same(result, reference):
    for key in _study.REPLICATE_FIELDS:
        np.testing.assert_array_equal(result.replicates[key], reference.replicates[key])
    assert result.table() == reference.table()


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("finished") / "study"
    run(out)
    return out


@pytest.fixture()
def study(finished, tmp_path):
    """A copy of a finished study."""
    out = tmp_path / "study"
    shutil.copytree(finished, out)
    return out


@pytest.fixture()
def interrupted(study):
    """A study whose chunks are all done but whose outputs were never written."""
    for name in (*_study.OUTPUT_FILES, "outputs.json"):
        (study / name).unlink(missing_ok=True)
    return study


@pytest.fixture()
def chunk_calls(monkeypatch):
    """The first replicate of every chunk computed (not read back) from here on (the
    in-memory reference is computed first, so that its chunks are not counted)."""
    in_memory()
    calls = []
    original = _study._run._run_chunk
    monkeypatch.setattr(_study._run, "_run_chunk",
                        lambda *a, **k: calls.append(a[0]) or original(*a, **k))
    return calls


def sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def record(out):
    return json.loads((out / "study.json").read_text())


def record_digest(out, path):
    """Record ``path``'s present bytes in the manifest, as if the study had written them:
    only the checks of the chunk's contents stand between it and the study."""
    rec = record(out)
    rec["chunks"][path.name] = sha(path)
    (out / "study.json").write_text(json.dumps(rec))


def test_chunks_carry_the_study_identity_and_range_and_the_manifest_their_digests(finished):
    rec = record(finished)
    canonical = json.dumps(rec["settings"], sort_keys=True, separators=(",", ":"))
    assert rec["study_id"] == hashlib.sha256(canonical.encode()).hexdigest()[:16]
    X, y = data()
    digest = hashlib.sha256()
    for a in (X, y):
        digest.update(str((a.shape, a.dtype)).encode() + np.ascontiguousarray(a).tobytes())
    assert rec["settings"]["data_digest"] == digest.hexdigest()[:16]
    assert sorted(rec["chunks"]) == CHUNKS
    reference = in_memory()
    for s, name in zip(STARTS, CHUNKS, strict=True):
        path = finished / "chunks" / name
        assert rec["chunks"][name] == sha(path)
        stop = min(s + BATCH, NUM)
        with np.load(path) as f:
            assert str(f["study_id"]) == rec["study_id"]
            assert (int(f["start"]), int(f["stop"])) == (s, stop)
            for key in _study.REPLICATE_FIELDS:
                np.testing.assert_array_equal(f[key], reference.replicates[key][s:stop])
    marker = json.loads((finished / "outputs.json").read_text())
    assert marker["study_id"] == rec["study_id"]
    assert set(marker["files"]) == set(_study.OUTPUT_FILES)
    for name, value in marker["files"].items():
        assert value == sha(finished / name)


def test_a_repeat_run_reads_the_finished_study_back(study, chunk_calls):
    again = run(study)
    assert chunk_calls == []
    assert_same(again, in_memory())


def test_a_run_continues_an_interrupted_study_and_recomputes_unrecorded_chunks(interrupted,
                                                                              chunk_calls):
    # A chunk written but never recorded (the run stopped in between): computed again, and
    # its file (here another study's chunk of the same name) overwritten.
    other = interrupted.parent / "other"
    run(other, seed=5)
    name = CHUNKS[1]
    shutil.copyfile(other / "chunks" / name, interrupted / "chunks" / name)
    rec = record(interrupted)
    del rec["chunks"][name]
    (interrupted / "study.json").write_text(json.dumps(rec))
    (interrupted / "chunks" / CHUNKS[2]).unlink()  # recorded, then deleted: computed again
    chunk_calls.clear()
    result = run(interrupted, resume=True)
    assert chunk_calls == FIRSTS[1:]
    assert_same(result, in_memory())
    assert record(interrupted)["chunks"][name] == sha(interrupted / "chunks" / name)
    assert_same(_study.load(interrupted), in_memory())


def _swap(out):
    a, b = (out / "chunks" / n for n in CHUNKS[:2])
    data_a, data_b = a.read_bytes(), b.read_bytes()
    a.write_bytes(data_b)
    b.write_bytes(data_a)
    return [a, b], "holds replicates start, stop = (25, 50), not (0, 25) as its name says"


def _foreign(out):
    other = out.parent / "other"
    run(other, seed=5)
    path = out / "chunks" / CHUNKS[0]
    shutil.copyfile(other / "chunks" / CHUNKS[0], path)
    return [path], "belongs to another study"


def _fewer_rows(out):
    path = out / "chunks" / CHUNKS[0]
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    np.savez(path, **{k: v[:5] if k in _study.REPLICATE_FIELDS else v for k, v in arrays.items()})
    return [path], "field 'index' has shape (5,), expected (25,)"


def _truncated(out):
    path = out / "chunks" / CHUNKS[2]
    path.write_bytes(path.read_bytes()[:200])
    return [path], "damaged, not a readable .npz file"


def _garbled(out):
    path = out / "chunks" / CHUNKS[1]
    path.write_bytes(b"not a zip archive")  # np.load takes it for a pickle, and refuses it
    return [path], "damaged, not a readable .npz file ("


@pytest.mark.parametrize("tamper", [_swap, _foreign, _fewer_rows, _truncated, _garbled])
def test_a_chunk_that_does_not_match_is_refused(interrupted, tamper, chunk_calls):
    paths, message = tamper(interrupted)
    path = paths[0]
    # First as it is: the bytes no longer match the manifest.
    with pytest.raises(_io.StorageError,
                       match=re.escape(f"{path}: its contents do not match the checksum")):
        run(interrupted, resume=True)
    # Then recorded as if the study had written it: its contents give it away.
    for p in paths:
        record_digest(interrupted, p)
    with pytest.raises(ValueError, match=re.escape(f"{path}: {message}")
                       + ".*; delete it and run the study again"):
        run(interrupted, resume=True)
    assert not (interrupted / "summary.json").exists()
    # Deleted, as the message says: computed again.
    for p in paths:
        p.unlink()
    chunk_calls.clear()
    assert_same(run(interrupted, resume=True), in_memory())
    assert len(chunk_calls) == len(paths)


def test_chunks_with_no_study_record_are_never_used(tmp_path, finished, chunk_calls):
    out = tmp_path / "out"
    shutil.copytree(finished / "chunks", out / "chunks")  # another study's chunks, no record
    (out / "notes.txt").write_text("mine")
    first = out / "chunks" / CHUNKS[0]
    with pytest.raises(_io.StorageError, match=f"out: {first} is not part of a study recorded"):
        run(out, seed=5)
    with pytest.raises(_io.StorageError, match="is not part of a study recorded"):
        run(out, seed=0, resume=True)  # not even for the very study they came from
    assert chunk_calls == [] and not (out / "study.json").exists()
    assert sorted(p.name for p in (out / "chunks").iterdir()) == CHUNKS
    # overwrite=True removes them (and nothing else) and computes afresh.
    reference = in_memory(5)
    chunk_calls.clear()
    assert_same(run(out, seed=5, overwrite=True), reference)
    assert chunk_calls == FIRSTS
    assert (out / "notes.txt").read_text() == "mine"
    # An output of something else in out is not overwritten either.
    other = tmp_path / "other"
    other.mkdir()
    (other / "report.md").write_text("my report")
    with pytest.raises(_io.StorageError, match=f"{other / 'report.md'} is not part of a study"):
        run(other)
    assert sorted(p.name for p in other.iterdir()) == ["report.md"]


def test_another_study_is_refused_naming_the_differences_and_replaced_with_overwrite(study):
    (study / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match=r"holds a different study "
                                         r"\(settings differ: scheme\); pass overwrite"):
        run(study, seed=5)
    with pytest.raises(ValueError, match="overwrite: cannot both resume"):
        run(study, seed=5, resume=True, overwrite=True)
    assert_same(_study.load(study), in_memory())
    assert_same(run(study, seed=5, overwrite=True), in_memory(5))
    assert_same(_study.load(study), in_memory(5))
    assert (study / "notes.txt").read_text() == "mine"


def test_a_study_begun_under_another_draw_of_the_splits_is_not_resumed(interrupted):
    """The record names the splits' draw; a study recorded without it (an earlier draw of
    the same key) would mix two draws' splits if resumed, and is refused."""
    rec = record(interrupted)
    assert rec["settings"]["scheme"]["draw"] == jaxlogreg.Splits.draw
    del rec["settings"]["scheme"]["draw"]
    rec["study_id"] = _study._identity.study_id(rec["settings"])
    (interrupted / "study.json").write_text(json.dumps(rec))
    with pytest.raises(ValueError, match=r"holds a different study \(settings differ: scheme\)"):
        run(interrupted)


def test_a_damaged_study_record_is_refused_naming_it(study):
    text = (study / "study.json").read_text()
    (study / "study.json").write_text(text[: len(text) // 2])
    with pytest.raises(_io.StorageError,
                       match=f"{study / 'study.json'}: damaged, not valid JSON.*delete it"):
        run(study)
    (study / "study.json").write_text(json.dumps({"num": NUM}))  # a record of an older version
    with pytest.raises(_io.StorageError, match="not a study record of this version"):
        run(study)


def test_a_second_run_is_locked_out(study, monkeypatch):
    with _io.lock_directory(study, ".study.lock"):
        with pytest.raises(_io.StorageError,
                           match=rf"out: {study} is in use by another run \(pid {os.getpid()}\)"):
            run(study)
    assert_same(run(study), in_memory())  # released


def test_the_lock_without_fcntl_is_an_exclusive_file(tmp_path, monkeypatch):
    monkeypatch.setattr(_io, "fcntl", None)
    folder = tmp_path / "out"
    folder.mkdir()
    with _io.lock_directory(folder, ".study.lock") as path:
        assert path.read_text() == f"{os.getpid()}\n"
        with pytest.raises(_io.StorageError,
                           match=rf"in use by another run \(pid {os.getpid()}\).*delete {path}"):
            with _io.lock_directory(folder, ".study.lock"):
                pass
    assert not path.exists()
    with _io.lock_directory(folder, ".study.lock"):  # free again
        pass


def test_failed_runs_leave_nothing_behind(tmp_path, monkeypatch):
    new = tmp_path / "new" / "study"
    with pytest.raises(ValueError, match="solver: unknown solver"):
        run(new, solver="nope")
    with pytest.raises(ValueError, match="cov_type:"):
        run(new, cov_type="cluster")
    assert not (tmp_path / "new").exists()
    # A failure in the first chunk, after the folder and the record were made.
    def fail(*args, **kwargs):
        raise ValueError("boom")

    monkeypatch.setattr(_study._run, "_run_chunk", fail)
    with pytest.raises(ValueError, match="boom"):
        run(new)
    assert not (tmp_path / "new").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="boom"):
        run(empty)
    assert list(empty.iterdir()) == []
    file = tmp_path / "file"
    file.write_text("")
    with pytest.raises(NotADirectoryError, match="a file, not a folder"):
        run(file)


def test_a_full_disk_keeps_the_finished_chunks(tmp_path, monkeypatch, chunk_calls):
    out = tmp_path / "study"
    write = _io.write_bytes

    def full_at_the_third_chunk(path, data):
        if path.name == CHUNKS[2]:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        write(path, data)

    monkeypatch.setattr(_io, "write_bytes", full_at_the_third_chunk)
    with pytest.raises(OSError, match="No space left") as info:
        run(out)
    assert info.value.filename == str(out / "chunks" / CHUNKS[2])
    assert sorted(record(out)["chunks"]) == CHUNKS[:2]
    assert not (out / "summary.json").exists()
    monkeypatch.setattr(_io, "write_bytes", write)
    chunk_calls.clear()
    assert_same(run(out), in_memory())
    assert chunk_calls == FIRSTS[2:]


def test_outputs_are_all_or_nothing(study, monkeypatch):
    before = {p.name: p.read_bytes() for p in study.iterdir() if p.is_file()}
    new = in_memory(5)
    write_temp = _io._write_temp

    def full_disk(path, data):  # the disk fills while the new set is written
        if path.name == "replicates.npz":
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return write_temp(path, data)

    monkeypatch.setattr(_io, "_write_temp", full_disk)
    with pytest.raises(OSError, match="No space left"):
        _study.write_outputs(new, study)
    after = {p.name: p.read_bytes() for p in study.iterdir() if p.is_file()}
    assert after == before  # the old set, whole, and no temporary file left
    assert_same(_study.load(study), in_memory())
    monkeypatch.setattr(_io, "_write_temp", write_temp)

    # A rename fails half way: the marker is gone, so the mix is refused, never read.
    replace, renamed = os.replace, []

    def fails_second(src, dst):
        renamed.append(dst)
        if len(renamed) == 2:
            raise OSError(errno.EIO, "Input/output error")
        replace(src, dst)

    monkeypatch.setattr(_io.os, "replace", fails_second)
    with pytest.raises(OSError, match="Input/output error"):
        _study.write_outputs(new, study)
    monkeypatch.setattr(_io.os, "replace", replace)
    assert not any(p.name.endswith(".tmp") for p in study.iterdir())
    with pytest.raises(ValueError,
                       match="outputs.json: missing, so the study's outputs .* incomplete"):
        _study.load(study)
    # The same study run again writes its outputs again from its chunks.
    assert_same(run(study), in_memory())
    assert_same(_study.load(study), in_memory())


def test_load_refuses_a_changed_or_incomplete_set(study):
    report = study / "report.md"
    report.write_text(report.read_text() + "\nedited")
    with pytest.raises(ValueError, match=f"{report}: does not match the checksum"):
        _study.load(study)
    (study / "replicates.npz").unlink()
    with pytest.raises(ValueError, match="replicates.npz: missing"):
        _study.load(study)
    with pytest.raises(ValueError, match="no such folder"):
        _study.load(study / "none")


def test_a_set_without_a_plot_removes_the_old_plot(tmp_path):
    folder = tmp_path / "set"
    _io.replace_set(folder, {"a.txt": b"a", "b.png": b"b"}, "marker.json", stale=("a.txt", "b.png"))
    _io.replace_set(folder, {"a.txt": b"A"}, "marker.json", stale=("a.txt", "b.png"))
    assert sorted(p.name for p in folder.iterdir()) == ["a.txt", "marker.json"]
    marker, files = _io.read_set(folder, "marker.json")
    assert files == {"a.txt": b"A"}
    assert marker["files"] == {"a.txt": hashlib.sha256(b"A").hexdigest()}


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o002])
def test_files_are_written_with_the_users_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        _io.write_bytes(tmp_path / "f", b"x")
        _io.replace_set(tmp_path, {"g": b"y"}, "marker.json")
    finally:
        os.umask(old)
    for name in ("f", "g", "marker.json"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o666 & ~umask


def test_a_failed_write_names_its_file_and_leaves_the_old_one(tmp_path, monkeypatch):
    path = tmp_path / "f"
    path.write_bytes(b"old")

    def no_space(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(_io.os, "fsync", no_space)
    with pytest.raises(OSError) as info:
        _io.write_bytes(path, b"new")
    monkeypatch.undo()
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(path)
    assert path.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["f"]
