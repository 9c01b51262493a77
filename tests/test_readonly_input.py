"""Read-only and memory-mapped arrays are valid input: every op, the fused plan and
the model API read them in place and give the numbers a writable copy gives.

Memory maps opened with mode "r" are mapped without write permission, so a kernel
that stored into its input would crash here rather than pass silently.
"""
import numpy as np
import pytest

import cydl
from cydl import _ops as ops
from cydl import layers
from cydl._kernels import _predict

rng = np.random.default_rng(7)


def ro(a):
    a = np.array(a)
    a.setflags(write=False)
    return a


@pytest.fixture
def mapped(tmp_path):
    """mapped(a): a as a read-only np.load(mmap_mode="r") array."""
    count = [0]

    def load(a):
        count[0] += 1
        path = tmp_path / f"a{count[0]}.npy"
        np.save(path, np.asarray(a))
        return np.load(path, mmap_mode="r")
    return load


@pytest.fixture(params=["setflags", "mmap"])
def readonly(request, mapped):
    return ro if request.param == "setflags" else mapped


def test_readonly_fixtures_really_are_readonly(readonly):
    a = readonly(np.ones((3, 2)))
    assert not a.flags.writeable
    with pytest.raises(ValueError):
        a[0, 0] = 2.0


@pytest.mark.parametrize("activation", ["relu", "elu", "softmax"])
def test_dense_ops(readonly, activation):
    X = rng.standard_normal((9, 4))
    W = np.asfortranarray(rng.standard_normal((4, 3)))
    b = rng.standard_normal(3)
    Z = ops.dense_forward(X, W, b)      # pre-activation, for the backward pass
    A = ops.activation_forward(Z, activation)
    dA = np.asfortranarray(rng.standard_normal((9, 3)))
    expected_fwd = ops.dense_forward(X, W, b, activation)
    expected_bwd = ops.dense_backward(dA, X, W, A, Z, activation)
    Xr, Wr, br = readonly(X), readonly(W), readonly(b)
    np.testing.assert_array_equal(ops.dense_forward(Xr, Wr, br, activation), expected_fwd)
    got = ops.dense_backward(readonly(dA), Xr, Wr, readonly(A), readonly(Z), activation)
    for g, e in zip(got, expected_bwd):
        np.testing.assert_array_equal(g, e)


@pytest.mark.parametrize("activation", ["relu", "linear", "tanh", "softmax"])
def test_activation_ops(readonly, activation):
    Z = np.asfortranarray(rng.standard_normal((6, 5)))
    A = ops.activation_forward(Z, activation)
    dA = np.asfortranarray(rng.standard_normal((6, 5)))
    np.testing.assert_array_equal(ops.activation_forward(readonly(Z), activation), A)
    np.testing.assert_array_equal(
        ops.activation_backward(readonly(dA), readonly(A), readonly(Z), activation),
        ops.activation_backward(dA, A, Z, activation))


def test_loss_ops(readonly):
    P = rng.random((10, 4))
    labels = np.arange(10) % 4
    Y = np.eye(4)[labels]
    sw = rng.random(10)
    for kind, target in (("sparse_softmax_ce", labels), ("mse", Y)):
        stats, G = ops.loss_forward_backward(kind, P, target, sw)
        stats_r, G_r = ops.loss_forward_backward(kind, readonly(P), readonly(target),
                                                 readonly(sw))
        np.testing.assert_array_equal(stats_r, stats)
        np.testing.assert_array_equal(G_r, G)


@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
def test_data_ops(readonly, dtype):
    X = (rng.random((12, 3)) * 100).astype(dtype)
    idx = rng.permutation(12).astype(np.int64)
    out = np.zeros((5, 3), np.float32)
    ops.gather_rows(readonly(X), readonly(idx), 2, 7, out)
    np.testing.assert_array_equal(out, X[idx[2:7]].astype(np.float32))
    ops.gather_rows(readonly(X), None, 4, 9, out)
    np.testing.assert_array_equal(out, X[4:9].astype(np.float32))
    bad = X.astype(np.float64)
    bad[3, 1] = np.nan
    assert ops.first_nonfinite(readonly(bad)) == 10
    y = np.arange(12) % 5
    labels, first_bad = ops.labels_to_int32(readonly(y), 5)
    np.testing.assert_array_equal(labels, y)
    assert first_bad == -1


def test_optimizer_step_reads_readonly_grads(readonly):
    rule = ops.UpdateRule()
    rule.configure(ops.OPTIMIZER_KINDS["adam"])
    rule.set_segments([0, 20])
    rule.set_step(0.1, 0.1)
    g = rng.standard_normal(20)
    p1, p2 = np.ones(20), np.ones(20)
    slots1 = [np.zeros(20), np.zeros(20)]
    slots2 = [np.zeros(20), np.zeros(20)]
    ops.optimizer_step(rule, p1, g, slots1)
    ops.optimizer_step(rule, p2, readonly(g), slots2)
    np.testing.assert_array_equal(p2, p1)
    assert not np.array_equal(p1, np.ones(20))       # the step did something


def _model(dtype="float32", **dense_kwargs):
    cydl.utils.set_random_seed(3)
    model = cydl.Sequential([layers.Input(shape=(4,)),
                             layers.Dense(3, activation="softmax", dtype=dtype,
                                          **dense_kwargs)])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam",
                  metrics=["accuracy"])
    return model


@pytest.mark.parametrize("path", ["fused", "per_layer"])
def test_model_api(readonly, path):
    """fit / evaluate / predict / __call__ on read-only data match a writable run."""
    X = rng.standard_normal((300, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64) + (X[:, 1] > 0)
    extra = {"kernel_regularizer": cydl.regularizers.L2(1e-4)} if path == "per_layer" else {}
    results = []
    for xx, yy in ((X, y), (readonly(X), readonly(y))):
        model = _model(**extra)
        hist = model.fit(xx, yy, epochs=2, batch_size=32, verbose=0,
                         validation_data=(xx, yy))
        results.append((hist.history["loss"], hist.history["val_loss"],
                        model.evaluate(xx, yy, verbose=0), model.predict(xx, verbose=0),
                        model.predict(xx[:4], verbose=0), np.asarray(model(xx[:3])),
                        np.asarray(model(xx))))
    for got, expected in zip(results[1], results[0]):
        np.testing.assert_array_equal(got, expected)


def test_model_reads_np_memmap(tmp_path):
    X = rng.standard_normal((50, 4)).astype(np.float32)
    y = np.arange(50) % 3
    raw = np.memmap(tmp_path / "x.bin", dtype=np.float32, mode="w+", shape=X.shape)
    raw[:] = X
    raw.flush()
    del raw
    Xm = np.memmap(tmp_path / "x.bin", dtype=np.float32, mode="r", shape=X.shape)
    model = _model()
    model.fit(Xm, y, epochs=1, verbose=0)
    np.testing.assert_array_equal(model.predict(Xm, verbose=0), model.predict(X, verbose=0))
    np.testing.assert_array_equal(model.evaluate(Xm, y, verbose=0),
                                  model.evaluate(X, y, verbose=0))
    np.testing.assert_array_equal(np.asarray(model(Xm[:2])), np.asarray(model(X[:2])))


def test_fused_plan_binds_readonly_data(readonly):
    layer_specs = [{"n_in": 4, "n_out": 3, "activation": "softmax", "alpha": None,
                    "trainable": True, "w": 0, "b": 12}]
    X = rng.standard_normal((16, 4))
    labels = (np.arange(16) % 3).astype(np.int32)
    outs = []
    for xx, ll in ((X, labels), (readonly(X), readonly(labels))):
        params = np.linspace(-1, 1, 15)
        plan = ops.make_plan(layer_specs, params, np.zeros(15), 15, 4,
                             [{"node": 0, "loss": "sparse_ce_prob", "acc_mode": "sparse"}])
        rule = ops.UpdateRule()
        rule.configure(ops.OPTIMIZER_KINDS["sgd"])
        rule.set_segments([0, 15])
        rule.set_step(0.1)
        plan.ensure_batch(8)
        plan.bind_data(xx, ll)
        plan.bind_optimizer(rule, [])
        plan.train_step(0, 8, 1)
        out = np.zeros((16, 3))
        plan.predict([out], 8, 1)
        small = np.zeros((5, 3))
        _predict.predict_into(plan, xx[:5], small, 1)
        outs.append((params, plan.stats.copy(), out, small))
    for got, expected in zip(outs[1], outs[0]):
        np.testing.assert_array_equal(got, expected)
