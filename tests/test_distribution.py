"""cydl.distribution: data-parallel training over MPI processes.

The oracle is one process: the scripts tests/dist_train.py and tests/dist_failure.py
run under `mpiexec -n 2` and then alone, in float64, and must end with the same
weights, History, evaluation and predictions. The tolerance: the only difference
is the order of the additions (each process sums its rows, then MPI sums the
processes), about 1e-16 relative per sum; over the ~30 Adam or momentum steps of
a run that grows to ~1e-14 (measured), so rtol 1e-10 leaves four orders of margin,
while any real error (a wrong mask, scale, statistic or shard) shows at 1e-3 or
more. The processes must match each other bit for bit: they apply the same summed
gradient to the same weights.
"""
import csv
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import cydl
from cydl.distribution import _state

HERE = os.path.dirname(os.path.abspath(__file__))
RTOL, ATOL = 1e-10, 1e-12
TIMEOUT = 60        # seconds: a hung job fails the test instead of the suite


def _mpiexec():
    pytest.importorskip("mpi4py", reason='needs mpi4py (pip install "cydl[mpi]")')
    exe = shutil.which("mpiexec")
    if exe is None:
        pytest.skip("needs an MPI launcher (mpiexec) on PATH")
    return exe


def _env():
    """The child sees the cydl the tests import, and no MPI launcher of ours."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PMI_", "PMIX_", "OMPI_", "MV2_", "HYDRA_", "MPI_"))}
    root = os.path.dirname(os.path.dirname(os.path.abspath(cydl.__file__)))
    env["PYTHONPATH"] = os.pathsep.join([root] + ([env["PYTHONPATH"]]
                                                  if env.get("PYTHONPATH") else []))
    env.pop("OMP_NUM_THREADS", None)
    return env


def _run(script, *args, processes=None):
    cmd = [sys.executable, os.path.join(HERE, script), *map(str, args)]
    if processes:
        cmd = [_mpiexec(), "-n", str(processes)] + cmd
    try:
        return subprocess.run(cmd, env=_env(), capture_output=True, text=True,
                              timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{' '.join(cmd)} did not end within {TIMEOUT} s")


def _ok(proc):
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def _train(scenario, tmp_path):
    """Each process's results with 2 processes, and one process's."""
    _mpiexec()
    _ok(_run("dist_train.py", scenario, tmp_path / "two", processes=2))
    _ok(_run("dist_train.py", scenario, tmp_path / "one"))
    two = [dict(np.load(tmp_path / "two" / f"rank{r}.npz")) for r in (0, 1)]
    return two, dict(np.load(tmp_path / "one" / "rank0.npz"))


def _same_run(two, one, predicted_copies=1):
    a, b = two
    assert a["weights"].tobytes() == b["weights"].tobytes()     # the processes agree
    np.testing.assert_allclose(a["weights"], one["weights"], rtol=RTOL, atol=ATOL)
    assert list(a["history_keys"]) == list(one["history_keys"])
    np.testing.assert_array_equal(a["history"], b["history"])
    np.testing.assert_allclose(a["history"], one["history"], rtol=RTOL, atol=ATOL)
    for r in (0, 1):
        np.testing.assert_allclose(two[r]["evaluated"], one["evaluated"], rtol=RTOL, atol=ATOL)
        for key in (k for k in one if k.startswith("predicted")):
            np.testing.assert_allclose(two[r][key], np.concatenate([one[key]] *
                                                                   predicted_copies),
                                       rtol=RTOL, atol=ATOL)


def test_two_processes_train_an_mlp_with_batchnorm_and_dropout_as_one_does(tmp_path):
    two, one = _train("mlp", tmp_path)
    _same_run(two, one)
    # BatchNormalization needs the global statistics mid-step: the graph runner
    assert not two[0]["fused"] and one["fused"]
    # the files come from process 0 alone: 3 checkpoints, one CSV writer
    assert [int(t["saves"]) for t in two] == [3, 0]
    assert [int(t["csv_writers"]) for t in two] == [1, 0]
    assert sorted(p.name for p in (tmp_path / "two").glob("ckpt_*")) == \
        ["ckpt_1.keras", "ckpt_2.keras", "ckpt_3.keras"]
    with open(tmp_path / "two" / "log.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3
    keys = list(one["history_keys"])
    for epoch, row in enumerate(rows):
        logged = [float(row[k]) for k in keys]
        np.testing.assert_allclose(logged, two[0]["history"][:, epoch], rtol=1e-12)


def test_two_processes_train_the_books_wide_and_deep_model_as_one_does(tmp_path):
    two, one = _train("wide_deep", tmp_path)
    _same_run(two, one)     # its last batch has one row: process 1 has none
    # ReduceLROnPlateau saw the same logs everywhere, and lowered the rate alike
    rates = [float(t["learning_rate"]) for t in (*two, one)]
    assert rates[0] < 0.01 and rates == [rates[0]] * 3
    assert two[0]["fused"]        # no BatchNormalization: the fused step, split in two
    # each process's default thread count is its share of this machine's CPUs
    share = max(1, cydl._config._available_cpus() // 2)
    assert [int(t["threads"]) for t in two] == [share, share]
    assert [int(t["local_size"]) for t in two] == [2, 2]


def test_each_process_passing_its_own_shard_gives_the_joined_batches(tmp_path):
    # auto_shard_dataset=False: process r passes rows r::2; one process trains on
    # the rows ordered so that each batch is the two processes' batches joined
    two, one = _train("manual", tmp_path)
    _same_run(two, one, predicted_copies=2)    # predict: every process's rows, joined
    assert two[0]["fused"]       # Dropout on the fused step: masks of the global rows


def test_a_killed_process_ends_the_job_and_a_rerun_resumes_from_the_backup(tmp_path):
    _mpiexec()
    backup = tmp_path / "backup"
    killed = _run("dist_failure.py", "kill", backup, tmp_path / "killed", processes=2)
    assert killed.returncode != 0          # ended (within TIMEOUT), with an error
    assert not (tmp_path / "killed").exists()       # before any process got to the end
    assert (backup / "checkpoint.json").exists()
    _ok(_run("dist_failure.py", "resume", backup, tmp_path / "resumed", processes=2))
    assert not backup.exists()            # a completed fit deletes its backup
    _ok(_run("dist_failure.py", "resume", tmp_path / "fresh", tmp_path / "one"))
    a, b = (np.load(tmp_path / "resumed" / f"rank{r}.npz") for r in (0, 1))
    one = np.load(tmp_path / "one" / "rank0.npz")
    assert a["weights"].tobytes() == b["weights"].tobytes()
    np.testing.assert_allclose(a["weights"], one["weights"], rtol=RTOL, atol=ATOL)
    # the resumed run logs epochs 2 and 3, the interrupted one with its saved sums
    np.testing.assert_allclose(a["history"], one["history"][:, 1:], rtol=RTOL, atol=ATOL)


def test_an_exception_on_one_process_ends_the_job_with_its_message(tmp_path):
    _mpiexec()
    proc = _run("dist_failure.py", "raise", tmp_path / "backup", tmp_path / "out",
                processes=2)
    assert proc.returncode != 0
    assert "process 1 fails on purpose" in proc.stderr
    assert "aborting the MPI job" in proc.stderr


# ---------------------------------------------------------------- one process
@pytest.fixture
def no_distribution():
    yield
    cydl.distribution.set_distribution(None)


def _fit_small(seed=3):
    cydl.utils.set_random_seed(seed)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((70, 6)).astype("float32"), rng.integers(0, 3, 70)
    model = cydl.Sequential([cydl.layers.Input((6,)), cydl.layers.Dense(8, activation="relu"),
                             cydl.layers.Dropout(0.2), cydl.layers.Dense(3, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam",
                  metrics=["accuracy"])
    history = model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    return model.get_weights(), history.history


def test_without_mpiexec_a_data_parallel_script_runs_as_one_process(no_distribution):
    plain = _fit_small()
    dist = cydl.distribution.DataParallel()
    cydl.distribution.set_distribution(dist)
    assert (dist.num_processes, dist.process_id) == (1, 0)
    assert _state.current() is None and _state.is_chief()
    parallel = _fit_small()
    for a, b in zip(plain[0], parallel[0]):
        assert a.tobytes() == b.tobytes()
    assert plain[1] == parallel[1]


def test_without_mpiexec_mpi4py_is_not_imported():
    code = ("import sys, cydl; d = cydl.distribution.DataParallel(); "
            "cydl.distribution.set_distribution(d); cydl.show_config(); "
            "print('mpi4py' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], env=_env(), capture_output=True, cwd=HERE,
                          text=True, timeout=TIMEOUT)
    _ok(proc)
    assert proc.stdout.strip().splitlines()[-1] == "False"
    assert "processes: 1 (not launched by mpiexec)" in proc.stdout


def test_the_keras_api_checks_its_arguments(no_distribution):
    D = cydl.distribution
    assert D.list_devices() == ["cpu:0"] and D.list_devices("gpu") == []
    assert D.get_device_count() == 1
    with pytest.raises(ValueError, match="device_type"):
        D.list_devices("npu")
    mesh = D.DeviceMesh((1,), ["batch"])
    assert D.DataParallel(device_mesh=mesh).batch_dim_name == "batch"
    with pytest.raises(ValueError, match="same size"):
        D.DeviceMesh((1,), ["a", "b"])
    with pytest.raises(ValueError, match="number of devices"):
        D.DeviceMesh((2,), ["batch"])
    with pytest.raises(ValueError, match="every process"):
        D.DataParallel(devices=["cpu:7"])
    with pytest.raises(ValueError, match="DeviceMesh"):
        D.DataParallel(device_mesh="batch")
    with pytest.raises(TypeError, match="auto_shard_dataset"):
        D.DataParallel(auto_shard_dataset="yes")
    with pytest.raises(TypeError, match="DataParallel"):
        D.set_distribution("data_parallel")
    with pytest.raises(ValueError, match="mpiexec"):
        D.initialize(num_processes=2)
    with pytest.raises(ValueError, match="process_id"):
        D.initialize(process_id=-1)
    D.initialize(num_processes=1, process_id=0)
    dist = D.DataParallel()
    with dist.scope():
        assert D.distribution() is dist
    assert D.distribution() is None
