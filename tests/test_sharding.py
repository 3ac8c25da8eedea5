"""Fits spread over devices (`jaxlogreg._sharding`) against the single-device fit.

The sharded fits need several devices, and this process has initialised JAX with one: they
run in subprocesses with 4 simulated CPU devices
(``XLA_FLAGS=--xla_force_host_platform_device_count=4``), which also compute the
single-device fits (``jaxlogreg._fit._solve``, ``jaxlogreg.fit``, on the default device)
they are compared with, and print both as JSON (floats round-trip exactly). Those processes
skip most XLA optimisations (``jax_disable_most_optimizations``): compilation dominates their
time, and both sides of every comparison are compiled alike. The multi-host recipe is tested
as far as one machine allows: two processes, each fitting its block of a bootstrap's models
through a window of the scheme, merged and compared with this process's fit of all of them.

Every subprocess is started at once, on first use, so that their compilations overlap.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import tempfile
import textwrap

import jax
import numpy as np
import pytest

import jaxlogreg
from jaxlogreg import Status, _sharding

# Slow tier (pytest -m slow): subprocesses, benchmarks, compilation of large programs.
pytestmark = pytest.mark.slow

FIELDS = ("coef", "intercept", "status", "n_iter", "loss", "grad_norm")
RTOL = 1e-12

_PRELUDE = """
import json, sys
import jax, numpy as np
jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")
import jaxlogreg
from jaxlogreg import _fit, _sharding
rng = np.random.default_rng(5)
FIELDS = ("coef", "intercept", "status", "n_iter", "loss", "grad_norm")

def logistic(X, coef):
    return (rng.uniform(size=X.shape[:-1]) < 1 / (1 + np.exp(-(X @ coef)))).astype(float)

def prepare(X, y, weights=None, alpha=0.0):
    return _fit._prepare(X, y, weights, None, True, "newton", None, None, alpha, 0.0, None,
                         None, None, None)

def dump(res):
    out = {f: np.asarray(getattr(res, f)).tolist() for f in FIELDS}
    s = res.coef.sharding
    out["spec"] = list(s.spec) if hasattr(s, "spec") else None  # mesh axis per array axis
    out["n_devices"] = len(s.device_set)
    return out
"""

_FAST = """
assert jax.device_count() == 4
jax.config.update("jax_disable_most_optimizations", True)
"""

_MODELS = _FAST + """
cases = {}
# A shared X and a (32, n) weights array (model 3 separated), the sharded fit under jax.jit.
X = rng.normal(size=(120, 3))
y = logistic(X, np.array([0.8, -0.5, 0.3]))
W = rng.integers(0, 3, size=(32, 120)).astype(float)
W[3] = y == (X[:, 0] > 0)
prep = prepare(X, y, W)
jitted = jax.jit(lambda W: _sharding.sharded_solve(prep._replace(data=prepare(X, y, W).data),
                                                    None, prep.alpha, 4))
cases["weights"] = dict(single=dump(_fit._solve(prep, None, prep.alpha)), sharded=dump(jitted(W)))

# A bootstrap over 3 penalties: batch shape (3, 5), B = 15 padded to 16; a Mesh given.
scheme = jaxlogreg.Bootstrap(jax.random.key(1), num=5)
prep = prepare(X, y, scheme, np.array([[0.0], [1e-3], [1e-1]]))
mesh = jax.sharding.Mesh(np.array(jax.devices()), ("hosts",))
cases["scheme"] = dict(single=dump(_fit._solve(prep, None, prep.alpha)),
                       sharded=dump(_sharding.sharded_solve(prep, None, prep.alpha, mesh)))

# One X per model, (8, n, d), and a list of devices.
Xs = rng.normal(size=(8, 60, 2))
prep = prepare(Xs, logistic(Xs, np.array([1.0, -0.7])))
cases["per_model_X"] = dict(
    single=dump(_fit._solve(prep, None, prep.alpha)),
    sharded=dump(_sharding.sharded_solve(prep, None, prep.alpha, jax.devices())),
)
print(json.dumps(cases))
"""

_ROWS = _FAST + """
# Rows split across the devices: n = 4001, padded to 4004 with zero-weight rows.
n = 4001
X = rng.normal(size=(n, 3))
y = logistic(X, np.array([0.5, -0.4, 0.2]))
w = rng.integers(1, 4, size=n).astype(float)
offset = rng.normal(0, 0.3, size=n)

def single(y, w):  # the one-device fit of one model
    return dump(jaxlogreg.fit(X, y, weights=w, offset=offset))

cases = {}
cases["one"] = dict(
    single=single(y, w),
    sharded=dump(_sharding.fit_rows_sharded(X, y, weights=w, offset=offset, devices=4)),
)
# A batch of three: two ordinary models and a completely separated one.
Y = np.stack([y, logistic(X, np.array([-0.3, 0.6, 0.1])), (X[:, 0] > 0).astype(float)])
W = np.stack([w, np.ones(n), np.ones(n)])
singles = [single(Y[b], W[b]) for b in range(3)]
cases["batch"] = dict(
    single={f: [r[f] for r in singles] for f in FIELDS},
    sharded=dump(_sharding.fit_rows_sharded(X, Y, weights=W, offset=offset, devices=4)),
)
print(json.dumps(cases))
"""

# A "host" of the multi-host recipe: the data in a JSON file (argv[1]), its block of the 16
# models of a bootstrap, fitted through a window of the scheme.
_HOST = """
data = json.load(open(sys.argv[1]))
X, y = np.asarray(data["X"]), np.asarray(data["y"])
scheme = jaxlogreg.Bootstrap(jax.random.key(11), num=16)
r = _sharding.replicate_range(scheme.num, process_index={i}, process_count=2)
window = _sharding.scheme_window(scheme, r.start, r.stop)
res = jaxlogreg.fit(X, y, weights=window, chunk_size=8)
print(json.dumps(dict(
    start=r.start, weights=np.asarray(window.materialize(y)).tolist(),
    replicates=dict(index=list(range(len(r))), params=np.asarray(res.params).tolist(),
                    status=np.asarray(res.status).tolist(), n_iter=np.asarray(res.n_iter).tolist()),
)))
"""


@functools.lru_cache(maxsize=None)
def host_data():
    """``X (60, 2)``, ``y (60,)`` of the multi-host test, and a JSON file holding them."""
    rng = np.random.default_rng(8)
    X = rng.normal(size=(60, 2))
    y = (rng.uniform(size=60) < 1 / (1 + np.exp(-(X @ np.array([0.9, -0.6]))))).astype(float)
    path = os.path.join(tempfile.mkdtemp(), "data.json")
    with open(path, "w") as f:
        json.dump(dict(X=X.tolist(), y=y.tolist()), f)
    return X, y, path


@functools.lru_cache(maxsize=None)
def _started() -> dict:
    """Every subprocess, started: name -> (process, stdout file, stderr file)."""
    path = host_data()[2]
    jobs = {"models": (_MODELS, 4, []), "rows": (_ROWS, 4, [])}
    jobs.update({f"host{i}": (_HOST.format(i=i), 1, [path]) for i in range(2)})
    started = {}
    for name, (code, devices, args) in jobs.items():
        env = dict(os.environ, JAX_PLATFORMS="cpu",
                   XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}")
        out, err = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")
        proc = subprocess.Popen([sys.executable, "-c", _PRELUDE + textwrap.dedent(code), *args],
                                env=env, stdout=out, stderr=err, text=True)
        started[name] = (proc, out, err)
    return started


@pytest.fixture(scope="module", autouse=True)
def _reap_subprocesses():
    """After the module: stop any subprocess still running (when only some tests ran)."""
    yield
    if _started.cache_info().currsize:
        for proc, out, err in _started().values():
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            out.close()
            err.close()


@functools.lru_cache(maxsize=None)
def result(name: str) -> dict:
    """The JSON the subprocess ``name`` printed on its last line."""
    proc, out, err = _started()[name]
    proc.wait(timeout=900)
    out.seek(0)
    err.seek(0)
    assert proc.returncode == 0, err.read()[-4000:]
    return json.loads(out.read().strip().splitlines()[-1])


def params(r: dict) -> np.ndarray:
    return np.concatenate([np.asarray(r["intercept"])[..., None], np.asarray(r["coef"])], axis=-1)


def assert_same_fit(sharded: dict, single: dict, bitwise: bool = False):
    """Statuses and iteration counts equal; parameters within ``RTOL`` of each model's
    largest, losses within ``RTOL`` relative, gradient norms within 1e-12; or all bitwise."""
    for f in ("status", "n_iter"):
        np.testing.assert_array_equal(sharded[f], single[f], err_msg=f)
    if bitwise:
        for f in ("coef", "intercept", "loss", "grad_norm"):
            np.testing.assert_array_equal(sharded[f], single[f], err_msg=f)
        return
    a, b = params(sharded), params(single)
    scale = np.max(np.abs(b), axis=-1, keepdims=True)
    assert np.all(np.abs(a - b) <= RTOL * scale), np.max(np.abs(a - b) / scale)
    np.testing.assert_allclose(sharded["loss"], single["loss"], rtol=RTOL)
    np.testing.assert_allclose(sharded["grad_norm"], single["grad_norm"], rtol=0, atol=1e-12)


def models(case: dict, keep) -> dict:
    """``case`` restricted to the models ``keep`` (an index along the batch)."""
    return {f: np.asarray(case[f])[keep] for f in FIELDS}


# --------------------------------------------------------------------------------------------
# The model axis
# --------------------------------------------------------------------------------------------


def test_shared_X_weights_batch_under_jit_equals_the_single_device_fit():
    case = result("models")["weights"]
    sharded, single = case["sharded"], case["single"]
    assert np.shape(sharded["coef"]) == (32, 3)
    np.testing.assert_array_equal(sharded["status"], single["status"])
    assert sharded["status"][3] == Status.SEPARATED
    ok = np.asarray(single["status"]) == Status.CONVERGED
    assert ok.sum() == 31
    assert_same_fit(models(sharded, ok), models(single, ok))
    # 32 models over 4 devices: sharded along the model axis, 8 per device.
    assert sharded["spec"] == ["devices"]
    assert sharded["n_devices"] == 4


def test_scheme_batch_of_shape_3_5_keeps_global_model_indices():
    case = result("models")["scheme"]
    sharded, single = case["sharded"], case["single"]
    assert np.shape(sharded["coef"]) == (3, 5, 3)
    assert np.all(np.asarray(single["status"]) == Status.CONVERGED)
    assert_same_fit(sharded, single)
    # B = 15 over 4 devices needs padding: the result is replicated on the mesh's devices.
    assert sharded["spec"] == []
    assert sharded["n_devices"] == 4


def test_per_model_X_batch_is_bitwise_the_single_device_fit():
    """Nothing couples the models of a chunk when each has its own X (no shared matrix
    product whose blocking depends on the chunk), so the fits agree to the last bit."""
    case = result("models")["per_model_X"]
    assert np.shape(case["sharded"]["coef"]) == (8, 2)
    assert_same_fit(case["sharded"], case["single"], bitwise=True)
    assert case["sharded"]["spec"] == ["devices"]


# --------------------------------------------------------------------------------------------
# The row axis
# --------------------------------------------------------------------------------------------


def test_rows_sharded_fit_of_one_model_equals_the_single_device_fit():
    case = result("rows")["one"]
    assert case["single"]["status"] == Status.CONVERGED
    assert_same_fit(case["sharded"], case["single"])
    assert case["sharded"]["spec"] == []  # replicated on the 4 devices
    assert case["sharded"]["n_devices"] == 4


def test_rows_sharded_batch_keeps_statuses():
    case = result("rows")["batch"]
    sharded, single = case["sharded"], case["single"]
    assert sharded["status"] == [Status.CONVERGED, Status.CONVERGED, Status.SEPARATED]
    np.testing.assert_array_equal(sharded["status"], single["status"])
    np.testing.assert_array_equal(sharded["n_iter"], single["n_iter"])
    assert_same_fit(models(sharded, slice(0, 2)), models(single, slice(0, 2)))


# --------------------------------------------------------------------------------------------
# Devices, and several hosts as far as one machine allows
# --------------------------------------------------------------------------------------------


def test_as_mesh_rejects_bad_devices():
    with pytest.raises(ValueError, match="devices"):
        _sharding.as_mesh(0)
    with pytest.raises(ValueError, match="devices"):
        _sharding.as_mesh(len(jax.local_devices()) + 1)
    with pytest.raises(ValueError, match="models"):
        _sharding.as_mesh(jax.sharding.Mesh(np.array(jax.devices()), ("models",)))
    assert _sharding.as_mesh(None).size == len(jax.local_devices())


def test_replicate_ranges_tile_the_indices():
    for num, count in [(10, 3), (7, 7), (2, 4), (10_000, 6)]:
        ranges = [_sharding.replicate_range(num, i, count) for i in range(count)]
        assert [i for r in ranges for i in r] == list(range(num))
        assert max(map(len, ranges)) - min(map(len, ranges)) <= 1
    assert _sharding.replicate_range(5) == range(5)  # one process: everything
    with pytest.raises(ValueError, match="process_index"):
        _sharding.replicate_range(5, 2, 2)


def test_two_hosts_each_fitting_half_the_models_merge_to_the_whole():
    """Each "host" process draws and fits its block of the models through a window of the
    scheme; the blocks merged equal this process's draw and fit of all the models (chunks
    of 8 models in both, so the chunks hold the same models)."""
    _started()  # the hosts work while this process fits the whole
    X, y, _ = host_data()
    scheme = jaxlogreg.Bootstrap(jax.random.key(11), num=16)
    whole = jaxlogreg.fit(X, y, weights=scheme, chunk_size=8)
    halves = [result(f"host{i}") for i in range(2)]
    assert [h["start"] for h in halves] == [0, 8]
    np.testing.assert_array_equal(np.concatenate([h["weights"] for h in halves]),
                                  scheme.materialize(y))
    pieces = [(h["start"], h["replicates"]) for h in halves]
    merged = _sharding.merge_replicates(pieces[::-1])
    np.testing.assert_array_equal(merged["index"], np.arange(16))
    assert np.all(np.asarray(whole.status) == Status.CONVERGED)
    np.testing.assert_array_equal(merged["status"], whole.status)
    np.testing.assert_array_equal(merged["n_iter"], whole.n_iter)
    np.testing.assert_allclose(merged["params"], whole.params, rtol=RTOL, atol=0)
    with pytest.raises(ValueError, match="missing or doubled"):
        _sharding.merge_replicates(pieces[:1] + pieces[:1])
    with pytest.raises(ValueError, match="missing or doubled"):
        _sharding.merge_replicates(pieces[1:])
