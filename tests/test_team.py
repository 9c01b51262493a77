"""cydl's own team of threads for predictions (cydl/_kernels/_team.h).

A prediction on several threads runs on the team's workers, or in an OpenMP region
when the team is off or busy: the same parts either way, so the same bits. Oracles:
the OpenMP region's result (bit for bit), and a float64 NumPy forward pass written
from the layer definitions. Also: Python threads predicting at once (one of them
owns the team, the others fall back), and a child created by fork(), which has
none of its parent's workers.
"""
import os
import threading
import time

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import cydl
from cydl import _config, layers
from cydl._kernels import _adapt, _phases, _predict

pytestmark = pytest.mark.skipif(not _config._openmp_enabled(),
                                reason="built without OpenMP: one thread, no team")


def _net(widths, dtype, seed):
    cydl.utils.set_random_seed(seed)
    m = cydl.Sequential([layers.Input((widths[0],), dtype=dtype)] +
                        [layers.Dense(w, activation="relu", dtype=dtype) for w in widths[1:-1]] +
                        [layers.Dense(widths[-1], activation="softmax", dtype=dtype)])
    return m


def _forward64(model, x):
    h = np.asarray(x, np.float64)
    dense = [layer for layer in model.layers if layer.get_weights()]
    for i, layer in enumerate(dense):
        w, b = (np.asarray(a, np.float64) for a in layer.get_weights())
        h = h @ w + b
        h = np.maximum(h, 0) if i < len(dense) - 1 else h
    h = np.exp(h - h.max(axis=1, keepdims=True))
    return h / h.sum(axis=1, keepdims=True)


def _predict_on(model, x, nt, team):
    """predict_into on nt parts and nt threads (not the adaptive choice), on the
    team or in an OpenMP region."""
    plan = model._fast.plan
    out = np.empty((len(x), model.output_shape[-1]), x.dtype)
    old = _phases.set_team(team)
    _adapt.force_threads(nt)
    try:
        assert _predict.predict_into(plan, x, out, nt) == -1
    finally:
        _adapt.force_threads(0)
        _phases.set_team(old)
    return out


@settings(max_examples=25, deadline=None)
@given(widths=st.sampled_from([(784, 300, 100, 10), (64, 256, 10), (200, 96, 96, 5)]),
       rows=st.integers(1, 6), nt=st.integers(2, 4),
       dtype=st.sampled_from(["float32", "float64"]), seed=st.integers(0, 3))
def test_the_team_gives_the_bits_of_an_openmp_region(widths, rows, nt, dtype, seed):
    model = _net(widths, dtype, seed)
    x = np.random.default_rng(seed).standard_normal((rows, widths[0])).astype(dtype)
    model(x)
    region = _predict_on(model, x, nt, team=False)
    team = _predict_on(model, x, nt, team=True)
    np.testing.assert_array_equal(team, region)
    tol = 2e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(team, _forward64(model, x), rtol=tol, atol=tol)


def test_the_book_mlp_prediction_runs_on_the_team():
    model = _net((784, 300, 100, 10), "float32", 0)
    x = np.random.default_rng(0).random((1, 784), dtype=np.float32)
    model(x)
    _predict_on(model, x, 4, team=True)
    assert _phases.team_workers() >= 3      # its 300-unit layer is shared between 4


def test_python_threads_predicting_at_once_each_get_their_own_answers():
    # one caller owns the team at a time; the others must fall back to an OpenMP
    # region, never wait on (or join) someone else's job
    models = [_net((784, 300, 100, 10), "float32", s) for s in range(3)]
    xs = [np.random.default_rng(10 + i).random((1 + i, 784), dtype=np.float32)
          for i in range(6)]
    for m in models:
        m(xs[0])
    want = {(i, j): _predict_on(m, x, 2, team=False)
            for i, m in enumerate(models) for j, x in enumerate(xs)}
    errors = []

    def worker(k):
        try:
            for r in range(150):
                i, j = (k + r) % 3, (k * 7 + r) % 6
                out = np.empty((len(xs[j]), 10), np.float32)
                with models[i]._lock:      # a plan's workspace: one caller at a time
                    assert _predict.predict_into(models[i]._fast.plan, xs[j], out, 2) == -1
                np.testing.assert_array_equal(out, want[i, j])
        except Exception as e:     # noqa: BLE001 (reported by the main thread)
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a prediction hung"
    assert not errors, errors[0]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork() here")
def test_a_forked_child_starts_its_own_workers():
    model = _net((784, 300, 100, 10), "float32", 1)
    x = np.random.default_rng(1).random((1, 784), dtype=np.float32)
    model(x)
    want = _predict_on(model, x, 2, team=True)      # the parent's workers exist now
    assert _phases.team_workers() >= 1
    pid = os.fork()
    if pid == 0:      # the child: its workers are not the parent's
        code = 1
        try:
            got = _predict_on(model, x, 2, team=True)
            code = 0 if np.array_equal(got, want) and _phases.team_workers() >= 1 else 2
        finally:
            os._exit(code)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.05)
    else:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        pytest.fail("the child's prediction hung")
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
