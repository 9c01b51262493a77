"""Dense kernels against the NumPy reference."""
import numpy as np
import pytest

from cydl import _ops as ops
from cydl._ops import _reference as ref
from conftest import DTYPES, THREADS, assert_close

SHAPES = [(1, 7, 5), (3, 1, 4), (5, 9, 1), (32, 784, 300), (33, 17, 129), (64, 100, 10), (2, 3, 3)]
ACTS = ["linear", "relu", "sigmoid", "tanh", "softmax", "elu", "selu", "leaky_relu", "gelu",
        "gelu_tanh", "swish", "mish", "softplus", "softsign", "hard_sigmoid", "relu6"]


def _data(B, n_in, n_out, dtype, seed=0, x_order="C"):
    rng = np.random.default_rng(seed)
    X = np.asarray(rng.standard_normal((B, n_in)), dtype=dtype, order=x_order)
    W = np.asfortranarray(rng.standard_normal((n_in, n_out)) / np.sqrt(n_in)).astype(dtype)
    b = rng.standard_normal(n_out).astype(dtype)
    return X, W, b


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_threads", THREADS)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("x_order", ["C", "F"])
def test_dense_forward_matches_reference(dtype, n_threads, shape, x_order):
    X, W, b = _data(*shape, dtype, x_order=x_order)
    for act in ("linear", "relu", "softmax"):
        A = ops.dense_forward(X, W, b, act, n_threads=n_threads)
        assert A.dtype == dtype and A.shape == (shape[0], shape[2])
        assert_close(A, ref.dense_forward(X, W, b, act), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", ACTS)
def test_dense_forward_every_activation(dtype, act):
    X, W, b = _data(17, 11, 13, dtype, seed=1)
    Z = np.empty((17, 13), dtype, order="F")
    A = ops.dense_forward(X, W, b, act, z_out=Z, n_threads=2)
    assert_close(A, ref.dense_forward(X, W, b, act), dtype)
    assert_close(Z, ref.dense_forward(X, W, b, "linear"), dtype)


def test_dense_forward_noncontiguous_and_int_input():
    X, W, b = _data(20, 12, 6, np.float32)
    Xs = np.asarray(np.random.default_rng(2).standard_normal((20, 24)), np.float64)[:, ::2]
    assert not Xs.flags.c_contiguous and not Xs.flags.f_contiguous
    assert_close(ops.dense_forward(Xs, W, b, "relu"),
                 ref.dense_forward(Xs.astype(np.float32), W, b, "relu"), np.float32)
    Xi = np.arange(20 * 12).reshape(20, 12) % 5
    assert_close(ops.dense_forward(Xi, W, None), ref.dense_forward(Xi, W, None), np.float32)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_threads", THREADS)
@pytest.mark.parametrize("shape", SHAPES)
def test_dense_backward_matches_reference(dtype, n_threads, shape):
    X, W, b = _data(*shape, dtype)
    rng = np.random.default_rng(3)
    for act in ("relu", "tanh", "softmax", "linear"):
        A = ops.dense_forward(X, W, b, act)
        dA = np.asfortranarray(rng.standard_normal(A.shape)).astype(dtype)
        dW, db, dX = ops.dense_backward(dA, X, W, A, None, act, n_threads=n_threads)
        rW, rb, rX = ref.dense_backward(dA, X, W, A, None, act)
        scale = max(1.0, shape[0] / 8)
        assert_close(dW, rW, dtype, scale)
        assert_close(db, rb, dtype, scale)
        assert_close(dX, rX, dtype, scale)


@pytest.mark.parametrize("act", ACTS)
def test_dense_backward_every_activation_float64(act):
    X, W, b = _data(9, 6, 7, np.float64, seed=4)
    Z = np.empty((9, 7), order="F")
    A = ops.dense_forward(X, W, b, act, z_out=Z)
    dA = np.asfortranarray(np.random.default_rng(5).standard_normal(A.shape))
    got = ops.dense_backward(dA, X, W, A, Z, act, n_threads=2)
    want = ref.dense_backward(dA, X, W, A, Z, act)
    for g, w in zip(got, want):
        assert_close(g, w, np.float64)


@pytest.mark.parametrize("n_threads", THREADS)
def test_dense_backward_accumulates_and_skips_dx(n_threads):
    X, W, b = _data(10, 5, 4, np.float64)
    A = ops.dense_forward(X, W, b, "relu")
    dA = np.asfortranarray(np.ones_like(A))
    dW0 = np.asfortranarray(np.full((5, 4), 0.5))
    db0 = np.full(4, -1.0)
    dW, db, dX = ops.dense_backward(dA, X, W, A, None, "relu", dW_out=dW0.copy(order="F"),
                                    db_out=db0.copy(), accumulate=True, need_dX=False,
                                    n_threads=n_threads)
    rW, rb, _ = ref.dense_backward(dA, X, W, A, None, "relu")
    assert dX is None
    assert_close(dW, rW + dW0, np.float64)
    assert_close(db, rb + db0, np.float64)


def test_dense_bad_shapes_raise():
    X, W, b = _data(4, 3, 2, np.float32)
    with pytest.raises(ValueError, match="features"):
        ops.dense_forward(X[:, :2], W, b)
    with pytest.raises(ValueError, match="Unknown activation"):
        ops.dense_forward(X, W, b, "relux")
    with pytest.raises(TypeError):
        ops.dense_forward(np.array([["a", "b", "c"]]), W, b)
