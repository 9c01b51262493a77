"""Batch normalization's column sums (cydl/_kernels/_norm.pyx) against float64 sums
taken row by row in NumPy (np.cumsum is sequential, unlike np.sum's pairwise order).

The statistics are summed 16 columns side by side, and so are the backward's sums
of strided rows (row-major inputs: the book's BatchNormalization on the input
pixels); the backward sums a contiguous column on its own. Either way each column's
sums run over the rows in order, so the statistics and gradients must match the
sequential float64 sums to the last float32 bit in the cases drawn here, and must
not depend on the thread count or on where a column sits in its block.
"""
import numpy as np
from hypothesis import given, settings, strategies as st

from cydl import _ops as ops


def _layout(a, kind):
    """a (rows, cols) in one of the memory layouts the kernels read in place."""
    if kind == "C":
        return np.ascontiguousarray(a)
    if kind == "F":
        return np.asfortranarray(a)
    # strided both ways: every other row and every third column of a bigger array
    big = np.zeros((2 * a.shape[0], 3 * a.shape[1] + 1), a.dtype)
    big[::2, 1::3] = a
    return big[::2, 1::3]


def _seq_sum(a):
    """Column sums of a float64 (rows, cols) array, row after row."""
    return np.cumsum(a, axis=0)[-1]


def _oracle(X, G, gamma, eps):
    x = X.astype(np.float64)
    g = G.astype(np.float64)
    rows = x.shape[0]
    m = _seq_sum(x) / rows
    v = _seq_sum((x - m) ** 2) / rows
    # the statistics as the kernel stores them (model dtype), then the backward's sums
    mf, vf = m.astype(X.dtype).astype(np.float64), v.astype(X.dtype).astype(np.float64)
    inv = 1.0 / np.sqrt(vf + eps)
    sg = _seq_sum(g)
    sgx = _seq_sum(g * (x - mf)) * inv
    return m, v, sg, sgx


@settings(max_examples=60, deadline=None)
@given(rows=st.integers(1, 70), cols=st.integers(1, 70),
       layout=st.sampled_from(["C", "F", "strided"]),
       dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 2 ** 31))
def test_bn_sums_match_sequential_float64(rows, cols, layout, dtype, seed):
    rng = np.random.default_rng(seed)
    X = _layout((3 * rng.standard_normal((rows, cols)) + 1).astype(dtype), layout)
    G = _layout(rng.standard_normal((rows, cols)).astype(dtype), layout)
    gamma = (rng.random(cols) + 0.5).astype(dtype)
    beta = rng.standard_normal(cols).astype(dtype)
    eps = 1e-3
    m_ref, v_ref, sg_ref, sgx_ref = _oracle(X, G, gamma, eps)
    out = {}
    for threads in (1, 2, 3):
        Y, m, v = ops.batchnorm_forward(X, gamma, beta, epsilon=eps, training=True,
                                        n_threads=threads)
        dX, dg, db = ops.batchnorm_backward(G, X, m, v, gamma, eps, training=True,
                                            n_threads=threads)
        out[threads] = (Y, m, v, dX, dg, db)
    Y, m, v, dX, dg, db = out[1]
    # the statistics: the sequential double sums, rounded once to the model dtype
    np.testing.assert_array_equal(m, m_ref.astype(dtype))
    np.testing.assert_array_equal(v, v_ref.astype(dtype))
    np.testing.assert_array_equal(db, sg_ref.astype(dtype))
    np.testing.assert_array_equal(dg, sgx_ref.astype(dtype))
    # what the sums feed: Y and dX against float64 formulas from the same statistics
    x, g = X.astype(np.float64), G.astype(np.float64)
    mf, vf = m.astype(np.float64), v.astype(np.float64)
    inv = 1.0 / np.sqrt(vf + eps)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(Y, (x - mf) * inv * gamma + beta, rtol=rtol, atol=rtol * 10)
    k = inv * gamma
    dx_ref = k * g - k * sg_ref / rows - k * (x - mf) * inv * sgx_ref / rows
    np.testing.assert_allclose(dX, dx_ref, rtol=rtol, atol=rtol * 10)
    for threads in (2, 3):      # the same bits on any split of the columns
        for a, b in zip(out[1], out[threads]):
            np.testing.assert_array_equal(a, b)


def test_bn_block_edges_row_major():
    """Row-major rows of 1-40 columns, so that blocks of 16 end everywhere: each
    column's statistics still equal the sequential float64 sums."""
    rng = np.random.default_rng(7)
    for cols in range(1, 41):
        X = (5 * rng.standard_normal((33, cols)) - 2).astype(np.float32)
        G = rng.standard_normal((33, cols)).astype(np.float32)
        gamma = np.ones(cols, np.float32)
        m_ref, v_ref, sg_ref, sgx_ref = _oracle(X, G, gamma, 1e-3)
        _, m, v = ops.batchnorm_forward(X, gamma, None, epsilon=1e-3, training=True)
        _, dg, db = ops.batchnorm_backward(G, X, m, v, gamma, 1e-3, training=True)
        np.testing.assert_array_equal(m, m_ref.astype(np.float32))
        np.testing.assert_array_equal(v, v_ref.astype(np.float32))
        np.testing.assert_array_equal(db, sg_ref.astype(np.float32))
        np.testing.assert_array_equal(dg, sgx_ref.astype(np.float32))
