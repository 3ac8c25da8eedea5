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

Where this process's default backend is an accelerator (a GPU), every such test runs a
second time on it (the ``platform`` fixture): the subprocesses then use the accelerator's
devices, up to 4 (the same 4 when there are more), and the multi-host test's whole fit runs
there too. The CPU tests are the same on every machine.

Every subprocess of a platform is started at once, on first use, so that their compilations
overlap.
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
from jaxlogreg._study import _hosts

# Slow tier (pytest -m slow): subprocesses, benchmarks, compilation of large programs.
pytestmark = pytest.mark.slow

# The fields compared, the fit's recorded alpha and penalty factors among them.
FIELDS = ("coef", "intercept", "status", "n_iter", "loss", "grad_norm", "alpha",
          "penalty_factor")
RTOL = 1e-12
# Devices of the multi-device subprocesses.
DEVICES = 4
# The platforms the subprocess tests run on: the CPU (simulated devices) and this process's
# accelerator, if it has one.
PLATFORMS = ["cpu"] + ([jax.default_backend()] if jax.default_backend() != "cpu" else [])

_PRELUDE = """
import json, sys
import jax, numpy as np
jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")
import jaxlogreg
from jaxlogreg import _fit, _sharding
from jaxlogreg._study import _hosts
rng = np.random.default_rng(5)
FIELDS = ("coef", "intercept", "status", "n_iter", "loss", "grad_norm", "alpha",
          "penalty_factor")

def logistic(X, coef):
    return (rng.uniform(size=X.shape[:-1]) < 1 / (1 + np.exp(-(X @ coef)))).astype(float)

def prepare(X, y, weights=None, alpha=0.0):
    return _fit._prepare(X, y, weights, None, True, "newton", None, None, alpha, 0.0, None,
                         None, None, None)

def dump(res):
    out = {f: np.asarray(getattr(res, f)).tolist() for f in FIELDS}
    out["l1_ratio"], out["class_weight"] = res.l1_ratio, res.class_weight
    s = res.coef.sharding
    out["spec"] = list(s.spec) if hasattr(s, "spec") else None  # mesh axis per array axis
    out["n_devices"] = len(s.device_set)
    return out
"""

# DEVICES is defined ahead of these programs: the devices they shard over (the first ones).
_FAST = """
assert jax.device_count() >= DEVICES
jax.config.update("jax_disable_most_optimizations", True)
"""

_MODELS = _FAST + """
def sharded_solve(prep, start, alpha, devices):
    run = _sharding.mapper(devices, prep.statics["batch_shape"])
    return _fit._solve(prep, start, alpha, run)

cases = {}
# A shared X and a (32, n) weights array (model 3 separated), the sharded fit under jax.jit.
X = rng.normal(size=(120, 3))
y = logistic(X, np.array([0.8, -0.5, 0.3]))
W = rng.integers(0, 3, size=(32, 120)).astype(float)
W[3] = y == (X[:, 0] > 0)
prep = prepare(X, y, W)
jitted = jax.jit(lambda W: sharded_solve(prep._replace(data=prepare(X, y, W).data),
                                          None, prep.alpha, DEVICES))
cases["weights"] = dict(single=dump(_fit._solve(prep, None, prep.alpha)), sharded=dump(jitted(W)))

# A bootstrap over 3 penalties: batch shape (3, 5), B = 15 padded to 16; a Mesh given.
scheme = jaxlogreg.Bootstrap(jax.random.key(1), num=5)
prep = prepare(X, y, scheme, np.array([[0.0], [1e-3], [1e-1]]))
mesh = jax.sharding.Mesh(np.array(jax.devices()[:DEVICES]), ("hosts",))
cases["scheme"] = dict(single=dump(_fit._solve(prep, None, prep.alpha)),
                       sharded=dump(sharded_solve(prep, None, prep.alpha, mesh)))

# One X per model, (8, n, d), and a list of devices.
Xs = rng.normal(size=(8, 60, 2))
prep = prepare(Xs, logistic(Xs, np.array([1.0, -0.7])))
cases["per_model_X"] = dict(
    single=dump(_fit._solve(prep, None, prep.alpha)),
    sharded=dump(sharded_solve(prep, None, prep.alpha, jax.devices()[:DEVICES])),
)

# fit(devices=...) with a whole specification: per-model strengths, penalty factors, an
# elastic net, class weights.
spec = dict(weights=W[:8], alpha=np.linspace(0.01, 0.05, 8), penalty_factor=[1.0, 0.0, 2.0],
            l1_ratio=0.5, class_weight={1: 2.0}, solver="prox_newton")
cases["spec"] = dict(single=dump(jaxlogreg.fit(X, y, **spec)),
                     sharded=dump(jaxlogreg.fit(X, y, devices=DEVICES, **spec)))
print(json.dumps(cases))
"""

_ROWS = _FAST + """
# Rows split across the devices: n = 4001, padded to a multiple of their count (4004 on 4)
# with zero-weight rows.
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
    sharded=dump(_sharding.fit_rows_sharded(X, y, weights=w, offset=offset, devices=DEVICES)),
)
# A batch of three: two ordinary models and a completely separated one.
Y = np.stack([y, logistic(X, np.array([-0.3, 0.6, 0.1])), (X[:, 0] > 0).astype(float)])
W = np.stack([w, np.ones(n), np.ones(n)])
singles = [single(Y[b], W[b]) for b in range(3)]
cases["batch"] = dict(
    single={f: [r[f] for r in singles] for f in FIELDS},
    sharded=dump(_sharding.fit_rows_sharded(X, Y, weights=W, offset=offset, devices=DEVICES)),
)
print(json.dumps(cases))
"""

# A "host" of the multi-host recipe: the data in a JSON file (argv[1]), its block of the 16
# models of a bootstrap, fitted through a window of the scheme.
_HOST = """
data = json.load(open(sys.argv[1]))
X, y = np.asarray(data["X"]), np.asarray(data["y"])
scheme = jaxlogreg.Bootstrap(jax.random.key(11), num=16)
r = _hosts.replicate_range(scheme.num, process_index={i}, process_count=2)
window = _hosts.scheme_window(scheme, r.start, r.stop)
res = jaxlogreg.fit(X, y, weights=window, chunk_size=8)
print(json.dumps(dict(
    start=r.start, weights=np.asarray(window.materialize(y)).tolist(),
    replicates=dict(index=list(range(len(r))), params=np.asarray(res.params).tolist(),
                    status=np.asarray(res.status).tolist(), n_iter=np.asarray(res.n_iter).tolist()),
)))
"""


@functools.cache
def host_data():
    """``X (60, 2)``, ``y (60,)`` of the multi-host test, and a JSON file holding them."""
    rng = np.random.default_rng(8)
    X = rng.normal(size=(60, 2))
    y = (rng.uniform(size=60) < 1 / (1 + np.exp(-(X @ np.array([0.9, -0.6]))))).astype(float)
    path = os.path.join(tempfile.mkdtemp(), "data.json")
    with open(path, "w") as f:
        json.dump(dict(X=X.tolist(), y=y.tolist()), f)
    return X, y, path


def devices(platform: str, wanted: int = DEVICES) -> int:
    """Devices a subprocess on ``platform`` uses: ``wanted`` simulated CPU devices, or up to
    ``wanted`` of the accelerator's."""
    return wanted if platform == "cpu" else min(wanted, len(jax.devices(platform)))


def environment(platform: str, count: int) -> dict:
    """A subprocess's environment: the CPU alone with ``count`` simulated devices, or this
    process's own (whose default backend is the accelerator; the GPU memory settings of
    tests/conftest.py included)."""
    if platform == "cpu":
        return dict(os.environ, JAX_PLATFORMS="cpu",
                    XLA_FLAGS=f"--xla_force_host_platform_device_count={count}")
    return dict(os.environ)


# platform -> {name: (process, stdout file, stderr file)} of the subprocesses started.
_STARTED: dict = {}


def _started(platform: str) -> dict:
    """Every subprocess of ``platform``, started on the first call: name -> (process, stdout
    file, stderr file)."""
    if platform in _STARTED:
        return _STARTED[platform]
    path = host_data()[2]
    jobs = {"models": (_MODELS, devices(platform), []), "rows": (_ROWS, devices(platform), [])}
    jobs.update({f"host{i}": (_HOST.format(i=i), 1, [path]) for i in range(2)})
    started = {}
    for name, (code, count, args) in jobs.items():
        program = _PRELUDE + f"DEVICES = {count}\n" + textwrap.dedent(code)
        out, err = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")
        proc = subprocess.Popen([sys.executable, "-c", program, *args],
                                env=environment(platform, count), stdout=out, stderr=err,
                                text=True)
        started[name] = (proc, out, err)
    _STARTED[platform] = started
    return started


@pytest.fixture(scope="module", autouse=True)
def _reap_subprocesses():
    """After the module: stop any subprocess still running (when only some tests ran)."""
    yield
    for started in _STARTED.values():
        for proc, out, err in started.values():
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            out.close()
            err.close()


@pytest.fixture(params=PLATFORMS)
def platform(request) -> str:
    """The platform of the subprocesses (and of the multi-host test's whole fit)."""
    return request.param


@functools.cache
def result(platform: str, name: str) -> dict:
    """The JSON the subprocess ``name`` of ``platform`` printed on its last line."""
    proc, out, err = _started(platform)[name]
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
    for f in ("status", "n_iter", "alpha", "penalty_factor"):
        np.testing.assert_array_equal(sharded[f], single[f], err_msg=f)
    for f in ("l1_ratio", "class_weight"):
        if f in single:  # a single fit's statics (not a list of models')
            assert sharded[f] == single[f], f
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


def assert_placement(sharded: dict, leading: int, platform: str, axis: str = "devices"):
    """A model-sharded result whose first batch axis has ``leading`` models is on the
    platform's devices, sharded along that axis (mesh axis ``axis``) when the device count
    divides it, else replicated (padding was needed). On one device the two placements are
    the same, and either may be reported."""
    count = devices(platform)
    assert sharded["n_devices"] == count
    if count == 1:
        assert sharded["spec"] in ([], [axis])
    else:
        assert sharded["spec"] == ([axis] if leading % count == 0 else [])


def test_shared_X_weights_batch_under_jit_equals_the_single_device_fit(platform):
    case = result(platform, "models")["weights"]
    sharded, single = case["sharded"], case["single"]
    assert np.shape(sharded["coef"]) == (32, 3)
    np.testing.assert_array_equal(sharded["status"], single["status"])
    assert sharded["status"][3] == Status.SEPARATED
    ok = np.asarray(single["status"]) == Status.CONVERGED
    assert ok.sum() == 31
    assert_same_fit(models(sharded, ok), models(single, ok))
    # 32 models over 4 devices: sharded along the model axis, 8 per device (on an
    # accelerator's 3, replicated).
    assert_placement(sharded, 32, platform)


def test_scheme_batch_of_shape_3_5_keeps_global_model_indices(platform):
    case = result(platform, "models")["scheme"]
    sharded, single = case["sharded"], case["single"]
    assert np.shape(sharded["coef"]) == (3, 5, 3)
    assert np.all(np.asarray(single["status"]) == Status.CONVERGED)
    assert_same_fit(sharded, single)
    # B = 15 over 4 devices needs padding: the result is replicated on the mesh's devices
    # (on 3 devices, sharded along the first axis, of 3).
    assert_placement(sharded, 3, platform, axis="hosts")


def test_per_model_X_batch_is_bitwise_the_single_device_fit(platform):
    """Nothing couples the models of a chunk when each has its own X (no shared matrix
    product whose blocking depends on the chunk), so the fits agree to the last bit on the
    CPU. On an accelerator XLA may pick other kernels for the smaller per-device batches,
    so there they agree to rounding."""
    case = result(platform, "models")["per_model_X"]
    assert np.shape(case["sharded"]["coef"]) == (8, 2)
    assert_same_fit(case["sharded"], case["single"], bitwise=platform == "cpu")
    assert_placement(case["sharded"], 8, platform)


def test_sharded_fit_carries_the_fits_specification(platform):
    """fit(devices=...) records the alpha, penalty factors, l1_ratio and class weights of
    the fit, as the one-device fit does; the results agree with it."""
    case = result(platform, "models")["spec"]
    sharded, single = case["sharded"], case["single"]
    np.testing.assert_array_equal(single["alpha"], np.linspace(0.01, 0.05, 8))
    np.testing.assert_array_equal(single["penalty_factor"], np.tile([1.0, 0.0, 2.0], (8, 1)))
    assert single["l1_ratio"] == 0.5 and single["class_weight"] == [[0, 1.0], [1, 2.0]]
    assert np.all(np.asarray(single["status"]) == Status.CONVERGED)
    assert_same_fit(sharded, single)
    assert_placement(sharded, 8, platform)


# --------------------------------------------------------------------------------------------
# The row axis
# --------------------------------------------------------------------------------------------


def test_rows_sharded_fit_of_one_model_equals_the_single_device_fit(platform):
    case = result(platform, "rows")["one"]
    assert case["single"]["status"] == Status.CONVERGED
    assert_same_fit(case["sharded"], case["single"])
    assert case["sharded"]["spec"] == []  # replicated on the devices
    assert case["sharded"]["n_devices"] == devices(platform)


def test_rows_sharded_batch_keeps_statuses(platform):
    case = result(platform, "rows")["batch"]
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
        ranges = [_hosts.replicate_range(num, i, count) for i in range(count)]
        assert [i for r in ranges for i in r] == list(range(num))
        assert max(map(len, ranges)) - min(map(len, ranges)) <= 1
    assert _hosts.replicate_range(5) == range(5)  # one process: everything
    with pytest.raises(ValueError, match="process_index"):
        _hosts.replicate_range(5, 2, 2)


def test_two_hosts_each_fitting_half_the_models_merge_to_the_whole(platform):
    """Each "host" process draws and fits its block of the models through a window of the
    scheme; the blocks merged equal this process's draw and fit of all the models (chunks
    of 8 models in both, so the chunks hold the same models), on the hosts' platform."""
    _started(platform)  # the hosts work while this process fits the whole
    X, y, _ = host_data()
    with jax.default_device(jax.devices(platform)[0]):
        scheme = jaxlogreg.Bootstrap(jax.random.key(11), num=16)
        whole = jaxlogreg.fit(X, y, weights=scheme, chunk_size=8)
        weights = scheme.materialize(y)
    halves = [result(platform, f"host{i}") for i in range(2)]
    assert [h["start"] for h in halves] == [0, 8]
    np.testing.assert_array_equal(np.concatenate([h["weights"] for h in halves]), weights)
    pieces = [(h["start"], h["replicates"]) for h in halves]
    merged = _hosts.merge_replicates(pieces[::-1])
    np.testing.assert_array_equal(merged["index"], np.arange(16))
    assert np.all(np.asarray(whole.status) == Status.CONVERGED)
    np.testing.assert_array_equal(merged["status"], whole.status)
    np.testing.assert_array_equal(merged["n_iter"], whole.n_iter)
    np.testing.assert_allclose(merged["params"], whole.params, rtol=RTOL, atol=0)
    with pytest.raises(ValueError, match="missing or doubled"):
        _hosts.merge_replicates(pieces[:1] + pieces[:1])
    with pytest.raises(ValueError, match="missing or doubled"):
        _hosts.merge_replicates(pieces[1:])


# --------------------------------------------------------------------------------------------
# The suite on a GPU machine: the GPU memory settings of tests/conftest.py
# --------------------------------------------------------------------------------------------

_WORKER_TEST = """
import json, os

def test_record_environment():
    names = ("PYTEST_XDIST_WORKER", "XLA_PYTHON_CLIENT_PREALLOCATE",
             "XLA_PYTHON_CLIENT_MEM_FRACTION")
    path = os.path.join(os.environ["RECORD_DIR"], os.environ["PYTEST_XDIST_WORKER"] + ".json")
    with open(path, "w") as f:
        json.dump({name: os.environ.get(name) for name in names}, f)
"""


def test_gpu_memory_settings_of_the_suites_processes():
    """No preallocation in any process of the suite, and under xdist a share of the GPU per
    worker; a caller's own settings stand."""
    import conftest

    settings = conftest.gpu_memory_settings
    PRE, FRACTION, MARK = ("XLA_PYTHON_CLIENT_PREALLOCATE", "XLA_PYTHON_CLIENT_MEM_FRACTION",
                           conftest.GPU_MEMORY_MARK)
    assert settings({}) == {PRE: "false", MARK: PRE}
    assert settings({"PYTEST_XDIST_WORKER_COUNT": "16"}) == {
        PRE: "false", FRACTION: "0.0563", MARK: f"{PRE},{FRACTION}"}
    # A worker inherits the main process's settings, and still takes its share.
    worker = settings({**settings({}), "PYTEST_XDIST_WORKER_COUNT": "4"})
    assert worker[PRE] == "false" and worker[FRACTION] == "0.2250"
    # A caller's choice of any of the variables stands, whatever the suite set before.
    for name in conftest.GPU_MEMORY_VARIABLES:
        assert settings({name: "0.5", "PYTEST_XDIST_WORKER_COUNT": "4"}) == {}
    assert settings({**settings({}), FRACTION: "0.5"}) == {}

    # This process: what conftest chose is in the environment its subprocesses inherit.
    for name, value in conftest.GPU_MEMORY.items():
        assert os.environ[name] == value

    # A run of two xdist workers whose caller set none of the variables, with conftest.py
    # loaded as a plugin (the test lies outside this folder) by the main process and by each
    # worker: every worker allocates as it needs, up to half of GPU_MEMORY_SHARE.
    with tempfile.TemporaryDirectory() as record:
        with open(os.path.join(record, "test_worker_environment.py"), "w") as f:
            f.write(_WORKER_TEST)
        env = {k: v for k, v in os.environ.items()
               if k not in (*conftest.GPU_MEMORY_VARIABLES, MARK) and not k.startswith("PYTEST_")}
        path = [os.path.dirname(conftest.__file__), env.get("PYTHONPATH", "")]
        env.update(RECORD_DIR=record, JAX_PLATFORMS="cpu",
                   PYTHONPATH=os.pathsep.join(filter(None, path)))
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-n", "2", "-p", "conftest",
             "-p", "no:cacheprovider", "test_worker_environment.py"],
            cwd=record, env=env, capture_output=True, text=True, timeout=300, check=False)
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
        seen = []
        for name in sorted(os.listdir(record)):
            if name.endswith(".json"):
                with open(os.path.join(record, name)) as f:
                    seen.append(json.load(f))
    assert seen, proc.stdout[-4000:]
    for worker in seen:
        assert worker["PYTEST_XDIST_WORKER"].startswith("gw"), worker
        assert worker["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false", worker
        assert worker["XLA_PYTHON_CLIENT_MEM_FRACTION"] == "0.4500", worker
