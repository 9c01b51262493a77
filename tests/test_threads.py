"""The thread count under contention: the adaptive choice (decision logic with
injected timings, never wall-clock asserts), results that do not depend on the
threads a step actually runs on, defaults in worker processes, and threadpoolctl."""
import multiprocessing as mp
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import cydl
from cydl import _config, layers
from cydl._kernels import _adapt

# children start here: from the checkout's root, `import cydl` would find the
# unbuilt source tree instead of the installed package
_HERE = os.path.dirname(os.path.abspath(__file__))

OPENMP = _config._openmp_enabled()


# ------------------------------------------------------------ decision logic
@pytest.fixture(autouse=True)
def _fresh_choosers():
    _adapt.forget()
    yield
    _adapt.forget()


def drive(ch, times, steps, nmax=2, rows=32):
    """Run `steps` steps through a chooser; times[n] is the step time on n threads
    (a number or a function of the step index). Returns the threads of each step."""
    used = []
    for i in range(steps):
        n = ch.next_threads(nmax)
        t = times[n](i) if callable(times[n]) else times[n]
        ch.observe(n, t, rows)
        used.append(n)
    return used


def test_chooser_keeps_all_threads_when_they_are_faster():
    ch = _adapt.ThreadChooser()
    used = drive(ch, {1: 1.6e-3, 2: 1.0e-3}, 5000)
    assert used[0] == 2 and ch.state()["threads"] == 2
    assert ch.state()["switches"] == 0 and ch.state()["probes"] >= 1
    # probes are spaced by their cost: the 1-thread steps are a small share of the run
    assert used.count(1) / len(used) < 0.03


def test_chooser_falls_back_to_one_thread_when_that_is_faster():
    ch = _adapt.ThreadChooser()
    used = drive(ch, {1: 1.0e-3, 2: 3.0e-3}, 2000)
    assert ch.state()["threads"] == 1
    assert used[-500:].count(2) / 500 < 0.05     # probes of 2 threads stay rare


def test_chooser_sees_the_slow_tail_of_a_busy_machine():
    # under contention most 2-thread steps run at quiet speed and every 8th waits a
    # scheduler slice at a barrier: median 0.8 ms, mean 2.0 ms, against 1.5 ms on one
    # thread. Throughput follows the mean; a median-based choice kept 2 threads.
    rng = np.random.default_rng(0)
    ch = _adapt.ThreadChooser()
    two = lambda i: 10.4e-3 if rng.random() < 1 / 8 else 0.8e-3           # noqa: E731
    used = drive(ch, {1: 1.5e-3, 2: two}, 3000)
    assert ch.state()["threads"] == 1
    assert used[-1000:].count(2) / 1000 < 0.05
    # and the same tail at 1.2 ms mean (a 20 % gain) keeps 2 threads
    _adapt.forget()
    ch = _adapt.ThreadChooser()
    two = lambda i: 3.2e-3 if rng.random() < 1 / 8 else 0.8714e-3          # noqa: E731
    drive(ch, {1: 1.5e-3, 2: two}, 3000)
    assert ch.state()["threads"] == 2 and ch.state()["switches"] == 0


def test_chooser_compares_the_counts_under_the_same_load():
    # the load changes every 10 ms (a neighbour's slices): one thread is always 1.4x
    # faster at the same moment, though some 2-thread stretches beat some 1-thread ones
    ch = _adapt.ThreadChooser()
    clock = [0.0]

    def at(base):
        def t(i):
            slow = int(clock[0] / 0.010) % 2
            dt = base * (3.0 if slow else 1.0)
            clock[0] += dt
            return dt
        return t
    drive(ch, {1: at(1.0e-3), 2: at(1.4e-3)}, 4000)
    assert ch.state()["threads"] == 1


def test_chooser_reacts_to_a_neighbour_that_arrives_and_leaves():
    ch = _adapt.ThreadChooser()
    # quiet for 3000 steps (1 ms each), a busy neighbour for 3000, quiet again
    busy = lambda i: 3000 <= i < 6000                        # noqa: E731
    times = {1: 1.5e-3, 2: lambda i: 5e-3 if busy(i) else 1e-3}
    used = drive(ch, times, 12000)
    assert used[2990] == 2
    # the slow 2-thread steps trigger a probe within a few dozen steps
    assert 1 in used[3000:3040] and used[3100] == 1
    assert used[-1] == 2 and ch.state()["switches"] >= 2
    # once gone, the neighbour's absence is found within a bounded time
    back = used.index(2, 6000) if 2 in used[6000:] else None
    assert back is not None
    first_stay = next(i for i in range(6000, 12000) if used[i:i + 200] == [2] * 200)
    assert first_stay - 6000 < 5000     # within 100 x the cost of the latest 2-thread probe


def test_chooser_ignores_the_warm_up_step_of_a_probe():
    ch = _adapt.ThreadChooser()
    seen = []

    def two(i):           # the first step after a switch to 2 threads is very slow
        slow = not seen or seen[-1] != 2
        return 20e-3 if slow else 1e-3

    for i in range(3000):
        n = ch.next_threads(2)
        t = 1.5e-3 if n == 1 else two(i)
        seen.append(n)
        ch.observe(n, t, 32)
    assert ch.state()["threads"] == 2


def test_a_new_chooser_starts_where_the_last_one_decided():
    first = _adapt.ThreadChooser()
    drive(first, {1: 1.0e-3, 2: 3.0e-3}, 500)
    assert first.state()["threads"] == 1
    assert _adapt.ThreadChooser().next_threads(2) == 1     # e.g. model(x) after fit
    _adapt.forget()
    assert _adapt.ThreadChooser().next_threads(2) == 2


def test_chooser_returns_to_all_threads_on_a_small_gain_and_leaves_only_on_a_large_one():
    # a chooser that starts on one thread (another chooser decided so) goes back to
    # the full count when that is 6 % faster, as a quiet machine's general path is
    first = _adapt.ThreadChooser()
    drive(first, {1: 1.0e-3, 2: 3.0e-3}, 500)
    ch = _adapt.ThreadChooser()
    used = drive(ch, {1: 1.06e-3, 2: 1.0e-3}, 3000)
    assert used[0] == 1 and ch.state()["threads"] == 2
    assert used[-1000:].count(1) / 1000 < 0.05
    # but a full-count chooser does not leave it for one thread 6 % faster (noise on
    # a quiet machine); 15 % faster, it does
    _adapt.forget()
    ch = _adapt.ThreadChooser()
    drive(ch, {1: 1.0e-3, 2: 1.06e-3}, 3000)
    assert ch.state()["threads"] == 2 and ch.state()["switches"] == 0
    ch = _adapt.ThreadChooser()
    drive(ch, {1: 1.0e-3, 2: 1.15e-3}, 3000)
    assert ch.state()["threads"] == 1


def test_chooser_with_one_thread_or_a_new_count():
    ch = _adapt.ThreadChooser()
    assert drive(ch, {1: 1e-3}, 100, nmax=1) == [1] * 100
    drive(ch, {1: 1e-3, 4: 3e-3}, 500, nmax=4)
    assert ch.state()["threads"] == 1 and ch.state()["max_threads"] == 4
    _adapt.forget()
    assert ch.next_threads(2) == 2         # a new configured count starts afresh


# ------------------------------------------------------------ results
def _fit(threads_forced, opt, batch, dtype, nt=2, general=False):
    cydl.config.set_floatx(dtype)
    cydl.utils.set_random_seed(3)
    rng = np.random.default_rng(0)
    n = 600 if batch > 1 else 60
    x = rng.random((n, 40)).astype(dtype)
    y = rng.integers(0, 10, n)
    # general: the graph runner, whose kernels take the step's thread count as a cap
    # (cydl.models._step_threads)
    reg = cydl.regularizers.l2(1e-3) if general else None
    model = cydl.Sequential([layers.Input(shape=(40,)),
                             layers.Dense(300, activation="relu", kernel_regularizer=reg),
                             layers.BatchNormalization(), layers.Dropout(0.2),
                             layers.Dense(100, activation="relu"),
                             layers.Dense(10, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer=opt, metrics=["accuracy"],
                  run_eagerly=general)
    assert model._runner(train=True).fused == (not general)
    _adapt.force_threads(threads_forced)
    try:
        with cydl.num_threads(nt):
            hist = model.fit(x, y, batch_size=batch, epochs=2, verbose=0, validation_split=0.2)
            pred = model.predict(x, verbose=0)
            one = model(x[:1])
    finally:
        _adapt.force_threads(0)
    return model.get_weights(), hist.history, pred, one


@pytest.mark.skipif(not OPENMP, reason="built without OpenMP")
@pytest.mark.parametrize("opt", ["sgd", "adam"])
@pytest.mark.parametrize("batch", [1, 32, 256])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_results_do_not_depend_on_the_threads_a_step_runs_on(opt, batch, dtype):
    """The work is cut into the configured count of parts whatever runs them, so the
    adaptive fallback to one thread changes no bit of the training or the outputs."""
    ref = _fit(0, opt, batch, dtype)
    _same_on_1_and_2_threads(ref, opt, batch, dtype)


def _same_on_1_and_2_threads(ref, *args, **kwargs):
    """_fit with every step forced onto 1, then 2 threads equals ref bit for bit."""
    for forced in (1, 2):
        got = _fit(forced, *args, **kwargs)
        for a, b in zip(ref[0], got[0]):
            np.testing.assert_array_equal(a, b)
        assert ref[1] == got[1]
        np.testing.assert_array_equal(ref[2], got[2])
        np.testing.assert_array_equal(ref[3], got[3])


@pytest.mark.skipif(not OPENMP, reason="built without OpenMP")
@pytest.mark.parametrize("batch", [1, 32, 256])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_general_path_results_do_not_depend_on_the_threads_a_step_runs_on(batch, dtype):
    ref = _fit(0, "adam", batch, dtype, general=True)
    _same_on_1_and_2_threads(ref, "adam", batch, dtype, general=True)


@pytest.mark.skipif(not OPENMP, reason="built without OpenMP")
def test_general_path_steps_choose_their_threads():
    cydl.utils.set_random_seed(0)
    x = np.random.default_rng(0).random((256, 8)).astype("float32")
    model = cydl.Sequential([layers.Input(shape=(8,)), layers.Dense(4)])
    model.compile(loss="mse", optimizer="sgd", run_eagerly=True)    # the graph runner
    assert not model._runner(train=True).fused
    with cydl.num_threads(None):
        adaptive = _adapt.get_adaptive()
        model.fit(x, x[:, :4], epochs=2, verbose=0)
    choice = model._runner(train=True).thread_choice()
    if not adaptive:
        assert choice == []
        return
    assert [d["mode"] for d in choice] == ["train"] and choice[0]["rows"] == "32..63"
    assert choice[0]["steps"] == 16 and choice[0]["seconds_on_1"] > 0   # a probe ran
    from cydl._kernels import _parallel
    assert _parallel.step_threads() == 0       # the cap ends with the step


@pytest.mark.skipif(not OPENMP, reason="built without OpenMP")
def test_three_parts_on_one_and_two_threads():
    ref = _fit(0, "adam", 64, "float32", nt=3)
    for forced in (1, 2):
        got = _fit(forced, "adam", 64, "float32", nt=3)
        for a, b in zip(ref[0], got[0]):
            np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------ defaults
def test_adaptive_only_at_the_default_count(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(_config, "_in_worker", lambda: False)
    monkeypatch.setattr(_config, "_DEFAULT", (b"", 0, False))    # derive it afresh
    n = cydl.get_num_threads()
    assert _adapt.get_adaptive() == (OPENMP and n > 1 and _config._ADAPTIVE_ENV)
    cydl.set_num_threads(2)
    cydl.get_num_threads()
    assert not _adapt.get_adaptive()
    cydl.set_num_threads(None)
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    cydl.get_num_threads()
    assert not _adapt.get_adaptive()


def test_a_worker_process_defaults_to_one_thread(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(mp, "parent_process", lambda: object())   # as in a pool worker
    monkeypatch.setattr(_config, "_DEFAULT", (b"", 0, False))    # derive it afresh
    assert cydl.get_num_threads() == 1
    cydl.set_num_threads(2)                       # an explicit count still wins
    assert cydl.get_num_threads() == (2 if OPENMP else 1)
    cydl.set_num_threads(None)
    monkeypatch.setenv("OMP_NUM_THREADS", "2")    # and so does OMP_NUM_THREADS
    assert cydl.get_num_threads() == (2 if OPENMP else 1)


def test_the_default_count_follows_omp_num_threads_set_at_run_time(monkeypatch):
    monkeypatch.setattr(_config, "_in_worker", lambda: False)
    monkeypatch.setattr(_config, "_DEFAULT", (b"", 0, False))
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    full = cydl.get_num_threads()
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert cydl.get_num_threads() == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "3,2")     # the outer level counts
    assert cydl.get_num_threads() == (min(3, _config._omp_cap() or 3) if OPENMP else 1)
    monkeypatch.setenv("OMP_NUM_THREADS", "x")       # unreadable: the default
    assert cydl.get_num_threads() == full
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert cydl.get_num_threads() == full


def _worker_threads(_):
    import os
    os.environ.pop("OMP_NUM_THREADS", None)
    import cydl
    return cydl.get_num_threads()


def test_spawned_pool_workers_default_to_one_thread():
    ctx = mp.get_context("spawn")
    with ctx.Pool(1) as pool:
        assert pool.map(_worker_threads, [0]) == [1]


# ------------------------------------------------------------ threadpoolctl
@pytest.mark.skipif(not OPENMP, reason="built without OpenMP")
def test_threadpoolctl_sees_and_limits_cydl():
    pytest.importorskip("threadpoolctl", reason="threadpoolctl is not installed")
    code = textwrap.dedent("""
        import os
        os.environ.pop("OMP_NUM_THREADS", None)
        import cydl, threadpoolctl
        from cydl._kernels import _fused   # noqa: F401  (loads cydl's OpenMP runtime)
        cydl.set_num_threads(None)
        info = threadpoolctl.threadpool_info()
        assert any(d["user_api"] == "openmp" for d in info), info
        full = cydl.get_num_threads()
        with threadpoolctl.threadpool_limits(1):
            assert cydl.get_num_threads() == 1
            cydl.set_num_threads(2)
            assert cydl.get_num_threads() == 1      # the limit caps a set count too
            cydl.set_num_threads(None)
        assert cydl.get_num_threads() == full
        print("ok")
    """)
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.abspath(cydl.__file__)))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, timeout=120, cwd=_HERE)
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr


def _child(code, env):
    full = {k: v for k, v in os.environ.items()
            if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
    full.update(env)
    root = os.path.dirname(os.path.dirname(os.path.abspath(cydl.__file__)))
    full["PYTHONPATH"] = root + os.pathsep + full.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=_HERE, env=full,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(not OPENMP, reason="a build without OpenMP has no spin count")
def test_openmp_idle_threads_spin_briefly():
    # GNU OpenMP prints the settings it read at load with OMP_DISPLAY_ENV=VERBOSE:
    # cydl's bounded spin must reach the runtime, and not leak into child processes
    code = """
        import os, cydl
        from cydl import _kernels
        print("SPIN", _kernels.SPIN, os.environ.get("GOMP_SPINCOUNT"))
    """
    out = _child(code, {"OMP_DISPLAY_ENV": "VERBOSE"})
    assert out.returncode == 0, out.stderr
    if "GOMP_SPINCOUNT" not in out.stderr:
        pytest.skip("this OpenMP runtime does not display GOMP_SPINCOUNT")
    assert "GOMP_SPINCOUNT = '1000'" in out.stderr
    assert "SPIN ('1000', 'cydl') None" in out.stdout
    # the user's own setting wins
    out = _child(code, {"OMP_DISPLAY_ENV": "VERBOSE", "GOMP_SPINCOUNT": "12345"})
    assert "GOMP_SPINCOUNT = '12345'" in out.stderr
    assert "SPIN ('12345', 'GOMP_SPINCOUNT') 12345" in out.stdout


@pytest.mark.skipif(not OPENMP, reason="a build without OpenMP has no spin count")
@pytest.mark.parametrize("env", [{}, {"GOMP_SPINCOUNT": "777"}, {"GOMP_SPINCOUNT": "10k"},
                                 {"GOMP_SPINCOUNT": "2M"}, {"GOMP_SPINCOUNT": "infinite"},
                                 {"OMP_WAIT_POLICY": "active"}, {"OMP_WAIT_POLICY": "passive"}])
def test_phase_barriers_spin_as_long_as_libgomp_threads(env):
    # the oracle is libgomp's own reading of the same environment (OMP_DISPLAY_ENV):
    # a thread waiting between two phases must give its core back no later than an
    # idle OpenMP thread does
    code = """
        import cydl
        from cydl._kernels import _phases
        print("BARRIER", _phases.barrier_spin())
    """
    out = _child(code, dict(env, OMP_DISPLAY_ENV="VERBOSE"))
    assert out.returncode == 0, out.stderr
    shown = re.search(r"GOMP_SPINCOUNT = '(\d+)'", out.stderr)
    if shown is None:
        pytest.skip("this OpenMP runtime does not display GOMP_SPINCOUNT")
    libgomp = min(int(shown.group(1)), 2 ** 63 - 1)
    assert f"BARRIER {libgomp}" in out.stdout
