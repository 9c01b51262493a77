"""The low-latency path of model(x): one compiled call for a small batch.

Oracles: a float64 NumPy forward pass over the model's own weights (written here
from the layer definitions, not through cydl), and np.isfinite for the NaN/inf scan.
Inputs are drawn by hypothesis, memory layouts included: the fast path takes only
C-contiguous arrays of the model dtype and must hand everything else to the general
path, which must give the same numbers.
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import cydl
from cydl import _config, _ops as ops
from cydl._kernels import _data, _predict


def _forward64(model, x):
    """softmax(relu(relu(x W0 + b0) W1 + b1) W2 + b2) in float64."""
    h = np.asarray(x, np.float64).reshape(len(x), -1)
    dense = [layer for layer in model.layers if layer.get_weights()]
    for i, layer in enumerate(dense):
        w, b = (np.asarray(a, np.float64) for a in layer.get_weights())
        h = h @ w + b
        if i < len(dense) - 1:
            h = np.maximum(h, 0)
    h = np.exp(h - h.max(axis=1, keepdims=True))
    return h / h.sum(axis=1, keepdims=True)


_MODELS = {}


def _model(dtype, shape):
    key = (dtype, shape)
    if key not in _MODELS:
        cydl.utils.set_random_seed(3)
        m = cydl.Sequential([cydl.layers.Input(shape), cydl.layers.Flatten(),
                             cydl.layers.Dense(40, activation="relu"),
                             cydl.layers.Dense(24, activation="relu"),
                             cydl.layers.Dense(10, activation="softmax")])
        if dtype == "float64":
            m = cydl.Sequential([cydl.layers.Input(shape, dtype="float64"),
                                 cydl.layers.Flatten(dtype="float64"),
                                 cydl.layers.Dense(40, activation="relu", dtype="float64"),
                                 cydl.layers.Dense(24, activation="relu", dtype="float64"),
                                 cydl.layers.Dense(10, activation="softmax",
                                                   dtype="float64")])
        _MODELS[key] = m
    return _MODELS[key]


def _layout(x, kind):
    if kind == "C":
        return np.ascontiguousarray(x)
    if kind == "F":
        return np.asfortranarray(x)
    if kind == "strided":               # every other row of a bigger array
        big = np.repeat(x, 2, axis=0)
        return big[::2]
    if kind == "column-strided":        # every other feature of a wider array
        wide = np.repeat(x, 2, axis=-1)
        return wide[..., ::2]
    raise AssertionError(kind)


@settings(max_examples=40, deadline=None)
@given(n=st.sampled_from([1, 2, 3, 7, 16, 33]),
       shape=st.sampled_from([(12,), (3, 4)]),
       dtype=st.sampled_from(["float32", "float64"]),
       in_dtype=st.sampled_from(["same", "float32", "float64", "int64"]),
       layout=st.sampled_from(["C", "F", "strided", "column-strided"]),
       threads=st.sampled_from([1, 2]),
       seed=st.integers(0, 2**16))
def test_model_call_matches_a_float64_forward(n, shape, dtype, in_dtype, layout, threads, seed):
    model = _model(dtype, shape)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n,) + shape) * 3
    x = x.astype(dtype if in_dtype == "same" else in_dtype)
    x = _layout(x, layout)
    cydl.set_num_threads(threads)
    try:
        got = model(x)
        again = model.predict(x, verbose=0)
    finally:
        cydl.set_num_threads(None)
    want = _forward64(model, x)
    tol = 2e-5 if dtype == "float32" else 1e-12
    assert got.dtype == np.dtype(dtype) and got.shape == (n, 10)
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
    np.testing.assert_allclose(again, got, rtol=tol, atol=tol)


@settings(max_examples=25, deadline=None)
@given(n=st.sampled_from([1, 4, 9]), pos=st.integers(0, 10**6),
       bad=st.sampled_from([np.nan, np.inf, -np.inf]),
       dtype=st.sampled_from(["float32", "float64"]))
def test_nonfinite_input_is_reported_not_computed(n, pos, bad, dtype):
    model = _model(dtype, (12,))
    x = np.ones((n, 12), dtype)
    x.reshape(-1)[pos % x.size] = bad
    with pytest.raises(ValueError, match=r"(?i)nan|inf|finite"):
        model(x)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 9000), dtype=st.sampled_from([np.float32, np.float64]),
       positions=st.lists(st.integers(0, 10**9), max_size=3),
       values=st.lists(st.sampled_from([np.nan, -np.nan, np.inf, -np.inf]), min_size=3,
                       max_size=3),
       tiny=st.booleans(), threads=st.sampled_from([1, 2]), offset=st.integers(0, 3))
def test_first_nonfinite_matches_isfinite(n, dtype, positions, values, tiny, threads, offset):
    rng = np.random.default_rng(n)
    base = rng.standard_normal(n + offset).astype(dtype)
    if tiny:   # denormals and the largest finite values are finite
        base[::3] = np.finfo(dtype).tiny / 4
        base[1::3] = np.finfo(dtype).max
    x = base[offset:]                 # also misaligned starts
    for p, v in zip(positions, values):
        if n:
            x[p % n] = v
    bad = np.flatnonzero(~np.isfinite(x))
    want = int(bad[0]) if bad.size else -1
    assert _data.first_nonfinite(x, threads) == want
    assert ops.first_nonfinite(x) == want


def test_predict_into_rejects_a_wrong_output_buffer():
    model = _model("float32", (12,))
    x = np.ones((2, 12), np.float32)
    model(x)
    plan = model._fast.plan
    for out in (np.empty((2, 9), np.float32), np.empty((2, 10), np.float64),
                np.empty((3, 10), np.float32)):
        with pytest.raises(ValueError, match="predict"):
            _predict.predict_into(plan, x, out, 1)
    assert _predict.predict_into(plan, np.asfortranarray(np.ones((2, 12), np.float32)),
                             np.empty((2, 10), np.float32), 1) == -2
    x[1, 5] = np.nan
    assert _predict.predict_into(plan, x, np.empty((2, 10), np.float32), 1) == 12 + 5


def test_fast_call_takes_only_what_it_can_run_and_returns_a_new_array():
    # the oracle for a declined input is the general path (None here): model(x)
    # must still answer it, with the same numbers as the float64 forward pass
    model = _model("float32", (3, 4))
    x = np.random.default_rng(1).standard_normal((5, 3, 4)).astype(np.float32)
    model(x)
    fast = model._fast
    got = fast(x)
    np.testing.assert_allclose(got, _forward64(model, x), rtol=2e-5, atol=2e-5)
    assert got.shape == (5, 10) and got.flags.c_contiguous and got.flags.owndata
    assert fast(x) is not got          # every call gets its own output
    declined = {
        "list": x.tolist(),
        "float64": x.astype(np.float64),
        "F-ordered": np.asfortranarray(x),
        "flat rows": x.reshape(5, 12),
        "other sample shape": np.zeros((5, 4, 3), np.float32),
        "no rows": x[:0],
        "too many rows": np.zeros((fast.max_rows + 1, 3, 4), np.float32),
        "a NaN": np.where(np.arange(60).reshape(5, 3, 4) == 37, np.nan, x).astype(np.float32),
        "byte-swapped": x.astype(">f4"),
        "a subclass": np.ma.masked_array(x),
    }
    for what, bad in declined.items():
        assert fast(bad) is None, what
    for what in ("float64", "F-ordered", "byte-swapped", "a subclass"):
        np.testing.assert_allclose(np.asarray(model(declined[what])), _forward64(model, x),
                                   rtol=2e-5, atol=2e-5, err_msg=what)
    with pytest.raises(ValueError, match="(?i)nan|finite"):
        model(declined["a NaN"])


def test_model_call_sees_weights_assigned_after_the_first_call():
    cydl.utils.set_random_seed(0)
    model = cydl.Sequential([cydl.layers.Input((6,)), cydl.layers.Dense(3)])
    x = np.random.default_rng(2).standard_normal((2, 6)).astype(np.float32)
    model(x)
    w = np.random.default_rng(3).standard_normal((6, 3)).astype(np.float32)
    model.layers[0].kernel.assign(w)
    np.testing.assert_allclose(model(x), x.astype(np.float64) @ w +
                               model.layers[0].bias.numpy(), rtol=1e-5, atol=1e-6)


def test_thread_memo_follows_everything_get_num_threads_reads(monkeypatch):
    # oracle: get_num_threads itself, asked after each change the memo must notice
    from threadpoolctl import threadpool_limits
    calls = []

    def resolve():
        calls.append(1)
        return _config.get_num_threads()

    memo = _predict.ThreadMemo(resolve, vars(_config), _config._ENV_DICT, _config._ENV_KEY)
    assert memo() == _config.get_num_threads() and memo() == _config.get_num_threads()
    assert len(calls) == 1 or _config._ENV_DICT is None     # the second was a hit
    for n in (1, 3, None, 1000):
        cydl.set_num_threads(n)
        assert memo() == _config.get_num_threads(), n
    cydl.set_num_threads(None)
    with cydl.num_threads(5):
        assert memo() == _config.get_num_threads() == (5 if _config._openmp_enabled() else 1)
    assert memo() == _config.get_num_threads()
    for env in ("1", "3", "2,1", "junk"):
        monkeypatch.setenv("OMP_NUM_THREADS", env)
        assert memo() == _config.get_num_threads(), env
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert memo() == _config.get_num_threads()
    for limit in (1, 2, 1):       # (the OpenMP runtime's own limit, as threadpoolctl sets it)
        with threadpool_limits(limit, user_api="openmp"):
            assert memo() == _config.get_num_threads(), limit
        assert memo() == _config.get_num_threads()
    monkeypatch.setattr(_config, "_FORKED", True)
    assert memo() == _config.get_num_threads() == 1


def test_model_call_on_the_fast_path_is_one_python_frame():
    # counts, not time: no Python function runs under model(x) but its __call__
    import sys
    model = _model("float32", (12,))
    x = np.random.default_rng(4).standard_normal((3, 12)).astype(np.float32)
    model(x)
    model(x)
    frames = []

    def prof(frame, event, arg):
        if event == "call":
            frames.append(frame.f_code.co_name)
    sys.setprofile(prof)
    try:
        out = model(x)
    finally:
        sys.setprofile(None)
    assert frames == ["__call__"], frames
    np.testing.assert_allclose(out, _forward64(model, x), rtol=2e-5, atol=2e-5)


def test_model_call_under_a_tape_is_recorded_after_the_fast_path_exists():
    # d sum(x W + b) / dW = column sums of x in every column: derived, not recorded
    cydl.utils.set_random_seed(5)
    model = cydl.Sequential([cydl.layers.Input((4,)), cydl.layers.Dense(3)])
    x = np.random.default_rng(5).standard_normal((6, 4)).astype(np.float32)
    model(x)
    model(x)
    assert model._fast is not None
    with cydl.GradientTape() as tape:
        loss = cydl.ops.sum(model(x))
    grad = tape.gradient(loss, model.layers[0].kernel)
    np.testing.assert_allclose(np.asarray(grad), np.repeat(x.sum(0)[:, None], 3, 1),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("outputs", ["one", "list of one", "reshaped"])
def test_model_call_answers_the_same_on_every_call(outputs):
    # the first call takes the general path and builds the fast one, which answers
    # the next calls: both must agree with the float64 forward pass, in shape too
    cydl.utils.set_random_seed(6)
    inp = cydl.layers.Input((5,))
    y = cydl.layers.Dense(6)(inp)
    if outputs == "reshaped":
        y = cydl.layers.Reshape((2, 3))(y)
    model = cydl.Model(inp, [y] if outputs == "list of one" else y)
    x = np.random.default_rng(6).standard_normal((4, 5)).astype(np.float32)
    w, b = (np.asarray(a, np.float64) for a in model.layers[1].get_weights())
    want = (x.astype(np.float64) @ w + b).reshape((4,) + ((2, 3) if outputs == "reshaped"
                                                        else (6,)))
    for _ in range(3):
        got = model(x)
        assert isinstance(got, np.ndarray) and got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(model.predict(x, verbose=0), want, rtol=1e-5, atol=1e-5)
    # (a trailing Reshape is not compiled: that model keeps the general path)
    assert (model._fast is not None) == (outputs != "reshaped")
