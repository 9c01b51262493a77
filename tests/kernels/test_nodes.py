"""Batch-norm, dropout and PReLU kernels against the NumPy reference, over dtypes,
thread counts, odd shapes and both memory layouts; the reference's batch-norm
gradient against finite differences (so the oracle itself is checked)."""
import numpy as np
import pytest

from cydl import _ops as ops
from cydl._ops import _reference as ref
from conftest import DTYPES, THREADS, assert_close

SHAPES_2D = [(1, 1), (1, 7), (5, 3), (64, 129)]
SHAPES_ND = [(4, 3, 5), (2, 1, 3, 7)]


def _data(shape, dtype, order="C", seed=0, scale=3.0, shift=1.0):
    rng = np.random.default_rng(seed)
    x = (scale * rng.standard_normal(shape) + shift).astype(dtype)
    return np.asfortranarray(x) if order == "F" else np.ascontiguousarray(x)


def _layouts(shape):
    return ["C", "F"] if len(shape) == 2 else ["C"]


CASES = [(s, o) for s in SHAPES_2D + SHAPES_ND for o in _layouts(s)]


# ------------------------------------------------------------------ batch norm
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_threads", THREADS)
@pytest.mark.parametrize("shape,order", CASES)
@pytest.mark.parametrize("affine", [True, False])
def test_batchnorm_train_forward_backward(dtype, n_threads, shape, order, affine):
    X = _data(shape, dtype, order)
    n = shape[-1]
    rng = np.random.default_rng(1)
    gamma = (rng.random(n) + 0.5).astype(dtype) if affine else None
    beta = rng.standard_normal(n).astype(dtype) if affine else None
    Y, m, v = ops.batchnorm_forward(X, gamma, beta, epsilon=1e-3, training=True,
                                    n_threads=n_threads)
    Yr, mr, vr = ref.batchnorm_forward(X, gamma, beta, epsilon=1e-3, training=True)
    assert Y.shape == X.shape and Y.dtype == dtype
    if order == "F":
        assert Y.flags.f_contiguous     # column-major stays column-major: no copies later
    assert_close(m, mr, dtype)
    assert_close(v, vr, dtype)
    assert_close(Y, Yr, dtype, scale=10)
    G = _data(shape, dtype, order, seed=2, shift=0.0)
    dg0 = rng.standard_normal(n).astype(dtype)
    db0 = rng.standard_normal(n).astype(dtype)
    dg, db = dg0.copy(), db0.copy()
    dX, dg_out, db_out = ops.batchnorm_backward(G, X, m, v, gamma, 1e-3, training=True,
                                                dgamma_out=dg, dbeta_out=db,
                                                n_threads=n_threads)
    dXr, dgr, dbr = ref.batchnorm_backward(G, X, m, v, gamma, 1e-3, training=True)
    assert dg_out is dg and db_out is db        # accumulated in place
    assert_close(dX, dXr, dtype, scale=10)
    assert_close(dg - dg0, dgr, dtype, scale=10 * shape[0])
    assert_close(db - db0, dbr, dtype, scale=10 * shape[0])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_threads", THREADS)
@pytest.mark.parametrize("shape,order", CASES)
def test_batchnorm_inference_forward_backward(dtype, n_threads, shape, order):
    X = _data(shape, dtype, order)
    n = shape[-1]
    rng = np.random.default_rng(3)
    mean = rng.standard_normal(n).astype(dtype)
    var = (rng.random(n) + 0.1).astype(dtype)
    gamma = rng.standard_normal(n).astype(dtype)
    beta = rng.standard_normal(n).astype(dtype)
    Y, m, v = ops.batchnorm_forward(X, gamma, beta, mean, var, 1e-3, training=False,
                                    n_threads=n_threads)
    assert m is not None and np.array_equal(m, mean) and np.array_equal(v, var)
    assert_close(Y, ref.batchnorm_forward(X, gamma, beta, mean, var, 1e-3,
                                          training=False)[0], dtype, scale=10)
    G = _data(shape, dtype, order, seed=4, shift=0.0)
    dX, dg, db = ops.batchnorm_backward(G, X, mean, var, gamma, 1e-3, training=False,
                                        n_threads=n_threads)
    dXr, dgr, dbr = ref.batchnorm_backward(G, X, mean, var, gamma, 1e-3, training=False)
    assert_close(dX, dXr, dtype, scale=10)
    assert_close(dg, dgr, dtype, scale=10 * shape[0])
    assert_close(db, dbr, dtype, scale=10 * shape[0])


@pytest.mark.parametrize("dtype", DTYPES)
def test_batchnorm_results_do_not_depend_on_threads_or_layout(dtype):
    X = _data((33, 17), dtype, "C")
    G = _data((33, 17), dtype, "C", seed=5)
    one = ops.batchnorm_forward(X, training=True, n_threads=1)
    for x in (X, np.asfortranarray(X)):
        two = ops.batchnorm_forward(x, training=True, n_threads=2)
        for a, b in zip(one, two):
            np.testing.assert_array_equal(a, b)
        b1 = ops.batchnorm_backward(G, X, one[1], one[2], n_threads=1)
        b2 = ops.batchnorm_backward(G, x, one[1], one[2], n_threads=2)
        for a, b in zip(b1, b2):
            np.testing.assert_array_equal(a, b)


def test_batchnorm_need_flags_skip_outputs():
    X = _data((6, 4), np.float64)
    _, m, v = ops.batchnorm_forward(X)
    dX, dg, db = ops.batchnorm_backward(X, X, m, v, need_dX=False, need_dgamma=False,
                                        need_dbeta=True)
    assert dX is None and dg is None and db is not None


def test_batchnorm_reference_gradient_matches_finite_differences():
    rng = np.random.default_rng(6)
    X = rng.standard_normal((5, 3))
    gamma, beta = rng.random(3) + 0.5, rng.standard_normal(3)
    R = rng.standard_normal((5, 3))

    def loss(X, gamma, beta):
        return float(np.sum(R * ref.batchnorm_forward(X, gamma, beta)[0] ** 2))
    Y, m, v = ref.batchnorm_forward(X, gamma, beta)
    dX, dg, db = ref.batchnorm_backward(2 * R * Y, X, m, v, gamma)
    h = 1e-6
    for arr, analytic in ((X, dX), (gamma, dg), (beta, db)):
        num = np.zeros_like(arr)
        for i in np.ndindex(arr.shape):
            old = arr[i]
            arr[i] = old + h
            up = loss(X, gamma, beta)
            arr[i] = old - h
            down = loss(X, gamma, beta)
            arr[i] = old
            num[i] = (up - down) / (2 * h)
        np.testing.assert_allclose(analytic, num, rtol=1e-6, atol=1e-7)


def test_batchnorm_rejects_bad_input():
    X = np.ones((4, 3))
    with pytest.raises(ValueError, match="gamma"):
        ops.batchnorm_forward(X, gamma=np.ones(2))
    with pytest.raises(ValueError, match="at least one sample"):
        ops.batchnorm_forward(np.ones((0, 3)))
    with pytest.raises(ValueError, match="moving mean"):
        ops.batchnorm_forward(X, training=False)
    with pytest.raises(ValueError, match="epsilon"):
        ops.batchnorm_forward(X, epsilon=0.0)
    with pytest.raises(TypeError, match="X"):
        ops.batchnorm_forward(np.array([["a"]]))
    with pytest.raises(ValueError, match="dY"):
        ops.batchnorm_backward(np.ones((4, 2)), X, np.zeros(3), np.ones(3))


# ------------------------------------------------------------------ dropout
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_threads", THREADS)
@pytest.mark.parametrize("shape,order", CASES + [((9,), "C")])
@pytest.mark.parametrize("alpha", [False, True])
def test_dropout_forward_backward(dtype, n_threads, shape, order, alpha):
    X = _data(shape, dtype, order)
    Y, M = ops.dropout_forward(X, 0.3, seed=11, step=4, alpha=alpha, n_threads=n_threads)
    Yr, Mr = ref.dropout_forward(X, 0.3, seed=11, step=4, alpha=alpha)
    np.testing.assert_array_equal(M, Mr)
    assert Y.dtype == dtype and M.shape == X.shape
    assert_close(Y, Yr, dtype)
    G = _data(shape, dtype, order, seed=7)
    assert_close(ops.dropout_backward(G, M, 0.3, alpha=alpha, n_threads=n_threads),
                 ref.dropout_backward(G, M, 0.3, alpha=alpha), dtype)


@pytest.mark.parametrize("n_threads", THREADS)
@pytest.mark.parametrize("noise_shape", [(1, 13), (37, 1), (None, 1), (1, 1)])
def test_dropout_noise_shape(n_threads, noise_shape):
    X = _data((37, 13), np.float64, "F")
    Y, M = ops.dropout_forward(X, 0.5, 3, 1, noise_shape, n_threads=n_threads)
    Yr, Mr = ref.dropout_forward(X, 0.5, 3, 1, noise_shape)
    np.testing.assert_array_equal(M, Mr)
    assert_close(Y, Yr, np.float64)
    ns = [X.shape[i] if n is None else n for i, n in enumerate(noise_shape)]
    for axis, n in enumerate(ns):          # the mask repeats along broadcast axes
        if n == 1:
            assert np.all(M == np.take(M, [0], axis=axis))


def test_dropout_masks_are_the_same_on_any_thread_count_and_layout():
    X = _data((257, 301), np.float32, "C")
    _, m1 = ops.dropout_forward(X, 0.4, seed=5, step=9, n_threads=1)
    _, m2 = ops.dropout_forward(X, 0.4, seed=5, step=9, n_threads=2)
    _, mf = ops.dropout_forward(np.asfortranarray(X), 0.4, seed=5, step=9, n_threads=2)
    np.testing.assert_array_equal(m1, m2)
    np.testing.assert_array_equal(m1, mf)
    _, m3 = ops.dropout_forward(X, 0.4, seed=5, step=10)
    _, m4 = ops.dropout_forward(X, 0.4, seed=6, step=9)
    assert not np.array_equal(m1, m3) and not np.array_equal(m1, m4)


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.8])
def test_dropout_keeps_the_expected_fraction_and_mean(rate):
    n = 400_000
    X = np.full((400, n // 400), 2.0)
    Y, M = ops.dropout_forward(X, rate, seed=1, step=0)
    keep = 1 - rate
    sigma = np.sqrt(keep * rate / n)
    assert abs(M.mean() - keep) < 5 * sigma
    np.testing.assert_allclose(Y[M == 1], 2.0 / keep)
    assert np.all(Y[M == 0] == 0)
    # inverted dropout keeps the expectation: E[y] = x
    assert abs(Y.mean() - 2.0) < 5 * 2.0 / keep * sigma


def test_alpha_dropout_keeps_unit_mean_and_variance():
    rng = np.random.default_rng(8)
    X = rng.standard_normal((1000, 500))
    Y, _ = ops.dropout_forward(X, 0.2, seed=2, alpha=True)
    # the formulas fix mean 0 and variance 1 for standardized inputs
    assert abs(Y.mean()) < 5 / np.sqrt(X.size)
    assert abs(Y.var() - 1) < 10 / np.sqrt(X.size)


def test_dropout_mask_replay_and_edge_rates():
    X = _data((6, 5), np.float64)
    Y, M = ops.dropout_forward(X, 0.5, seed=1, step=2)
    Y2, M2 = ops.dropout_forward(X, 0.5, mask=M)
    np.testing.assert_array_equal(Y, Y2)
    Y0, M0 = ops.dropout_forward(X, 0.0, seed=1)
    np.testing.assert_array_equal(Y0, X)
    assert M0.all()
    Y1, M1 = ops.dropout_forward(X, 1.0, seed=1)
    assert not M1.any() and not Y1.any()


def test_dropout_call_key_matches_reference():
    for seed, step in ((0, 0), (1, 0), (0, 1), (2 ** 63 - 1, 123456789)):
        assert ops.dropout_call_key(seed, step) == ref.dropout_call_key(seed, step)


def test_dropout_rejects_bad_input():
    X = np.ones((3, 4))
    with pytest.raises(ValueError, match="rate"):
        ops.dropout_forward(X, 1.5)
    with pytest.raises(ValueError, match="noise_shape"):
        ops.dropout_forward(X, 0.5, noise_shape=(3, 2))
    with pytest.raises(ValueError, match="seed"):
        ops.dropout_forward(X, 0.5, seed=-1)
    with pytest.raises(ValueError, match="mask"):
        ops.dropout_forward(X, 0.5, mask=np.ones((4, 3), np.uint8))
    with pytest.raises(ValueError, match="AlphaDropout"):
        ops.dropout_forward(X, 1.0, alpha=True)


# ------------------------------------------------------------------ PReLU
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_threads", THREADS)
@pytest.mark.parametrize("shape,order,alpha_ndim", [
    ((1, 1), "C", 1), ((1, 7), "F", 1), ((5, 3), "C", 1), ((5, 3), "F", 1),
    ((64, 129), "F", 1), ((4, 3, 5), "C", 2), ((4, 3, 5), "C", 1), ((2, 1, 3, 7), "C", 3)])
def test_prelu_forward_backward(dtype, n_threads, shape, order, alpha_ndim):
    X = _data(shape, dtype, order, shift=0.0)
    rng = np.random.default_rng(9)
    alpha = rng.standard_normal(shape[len(shape) - alpha_ndim:]).astype(dtype)
    Y = ops.prelu_forward(X, alpha, n_threads=n_threads)
    assert Y.shape == X.shape and Y.dtype == dtype
    assert_close(Y, ref.prelu_forward(X, alpha), dtype)
    G = _data(shape, dtype, order, seed=10, shift=0.0)
    d0 = rng.standard_normal(alpha.shape).astype(dtype)
    # a 2-D weight's gradient buffer is column-major: accumulate through any layout
    buf = np.asfortranarray(d0.copy()) if alpha.ndim == 2 else d0.copy()
    dX, da = ops.prelu_backward(G, X, alpha, dalpha_out=buf, n_threads=n_threads)
    dXr, dar = ref.prelu_backward(G, X, alpha)
    assert da is buf
    assert_close(dX, dXr, dtype)
    assert_close(buf - d0, dar, dtype, scale=10 * X.size / alpha.size)


def test_prelu_threads_agree_and_rejects_bad_alpha():
    X = _data((40, 23), np.float32, "F", shift=0.0)
    alpha = np.linspace(-1, 1, 23).astype(np.float32)
    G = _data((40, 23), np.float32, "F", seed=1)
    a1 = ops.prelu_backward(G, X, alpha, n_threads=1)
    a2 = ops.prelu_backward(G, X, alpha, n_threads=2)
    for a, b in zip(a1, a2):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="alpha"):
        ops.prelu_forward(X, np.ones(22, np.float32))
