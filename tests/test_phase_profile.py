"""The fused step's phase profiler (Plan.set_profiling, profile, profile_waits): the
phases in the order a step runs them, and each thread's waits at the barriers, which
are part of thread 0's phase times and so can never exceed them."""
import numpy as np
import pytest

import cydl
from cydl import layers
from cydl._kernels import _adapt


def _profiled(threads, batch=64):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((512, 20)).astype(np.float32)
    y = rng.integers(0, 4, 512)
    old = cydl.get_num_threads()
    cydl.set_num_threads(threads)
    _adapt.force_threads(threads)
    try:
        cydl.utils.set_random_seed(0)
        model = cydl.Sequential([layers.Input((20,)), layers.Dense(64, activation="relu"),
                                 layers.Dense(48, activation="relu"),
                                 layers.Dense(4, activation="softmax")])
        model.compile("adam", "sparse_categorical_crossentropy")
        model.fit(X, y, batch_size=batch, epochs=1, verbose=0)
        plan = model._runners["train"].plan
        assert plan.profile() == {} and plan.profile_waits() == {}
        plan.set_profiling(True)
        model.fit(X, y, batch_size=batch, epochs=2, verbose=0)
        phases, waits = plan.profile(), plan.profile_waits()
        plan.set_profiling(False)
    finally:
        _adapt.force_threads(0)
        cydl.set_num_threads(old)
    return phases, waits


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_the_profile_lists_each_phase_and_each_threads_waits_within_it(threads):
    phases, waits = _profiled(threads)
    order = list(phases)
    assert order[0] == "gather"
    assert order[1:4] == ["forward 0", "forward 1", "forward 2"]
    assert order.index("loss") > order.index("forward 2")
    assert [k for k in order if k.startswith("backward")] == \
        ["backward 2", "backward 1", "backward 0"]
    assert all(v > 0 for v in phases.values())
    assert list(waits) == order
    for name, w in waits.items():
        assert len(w) == threads
        assert all(v >= 0 for v in w)
        # thread 0's waits lie inside its own barrier-to-barrier time
        assert w[0] <= phases[name] * (1 + 1e-9), name
    if threads == 1:     # no barrier to wait at
        assert all(v == 0 for w in waits.values() for v in w)
    else:                # someone waits at some barrier of every step
        assert sum(v for w in waits.values() for v in w) > 0
