"""The kernels' GEMM (cydl/_kernels/_blas.pyx) with float GEMMs cut into pieces for
OpenBLAS's small-matrix kernels: against a float64 NumPy product on strided
operands, the pieces against the bounds OpenBLAS states for those kernels, and a
row's result against its batch (the property inference blocks rely on)."""
import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

from cydl._kernels import _blas
from cydl._ops import _blas_threads

OPS = [("N", "N"), ("N", "T"), ("T", "N"), ("T", "T")]


def _operand(rng, rows, cols, pad, dtype):
    """A rows x cols column-major matrix inside a buffer with `pad` extra rows (a
    strided view), flat, with its leading dimension."""
    ld = rows + pad
    full = rng.standard_normal((cols, ld)).astype(dtype)      # column j = full[j]
    return full.reshape(-1), ld, full[:, :rows].T


def _gemm(ta, tb, m, n, k, alpha, beta, dtype, seed, pad=(0, 0, 0)):
    rng = np.random.default_rng(seed)
    a, lda, A = _operand(rng, m if ta == "N" else k, k if ta == "N" else m, pad[0], dtype)
    b, ldb, B = _operand(rng, k if tb == "N" else n, n if tb == "N" else k, pad[1], dtype)
    c, ldc, C0 = _operand(rng, m, n, pad[2], dtype)
    C0 = C0.copy()
    _blas.gemm_into(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
    got = c.reshape(n, ldc)[:, :m].T
    opA = A.T if ta == "T" else A
    opB = B.T if tb == "T" else B
    want = alpha * (opA.astype(np.float64) @ opB.astype(np.float64)) + beta * C0
    return got, want


@pytest.mark.parametrize("tiles", [True, False], ids=["pieces", "one_call"])
@settings(max_examples=60, deadline=None)
@given(op=st.sampled_from(OPS), m=st.integers(1, 300), n=st.integers(1, 200),
       k=st.sampled_from([1, 5, 31, 32, 100, 127, 128, 300, 784]),
       alpha=st.sampled_from([1.0, -0.01, 2.5]), beta=st.sampled_from([0.0, 1.0, -0.5]),
       pad=st.tuples(*[st.sampled_from([0, 3, 16])] * 3),
       dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 2 ** 16))
def test_gemm_matches_float64_product(tiles, op, m, n, k, alpha, beta, pad, dtype, seed):
    old = _blas.set_small_tiles(tiles)
    try:
        got, want = _gemm(*op, m, n, k, alpha, beta, dtype, seed, pad)
    finally:
        _blas.set_small_tiles(old)
    tol = (1e-5 if dtype == np.float32 else 1e-12) * np.sqrt(k) * max(1.0, abs(alpha))
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * 4)


@settings(max_examples=200, deadline=None)
@given(op=st.sampled_from(OPS), n=st.integers(2, 4000), k=st.integers(1, 5000),
       beta0=st.booleans())
def test_pieces_stay_within_the_small_kernels_bounds(op, n, k, beta0):
    """OpenBLAS runs a call on its small kernels only within the bounds of
    kernel/x86_64/sgemm_small_kernel_permit_skylakex.c: M*N*K <= 100^3, never
    A^T B^T, and A^T B with M*N <= 1200 and K >= 32. A piece outside them would be
    packed after all, and rows would be summed two ways."""
    shape = _blas.tile_shape(*op, n, k, beta0)
    ta, tb = op
    if shape is None:
        return
    cm, cn = shape
    assert (ta, tb) != ("T", "T")
    assert cm >= 16 and cm % 16 == 0
    assert cn == n or (cn % 8 == 0 and cn < n)
    # the widest piece: (cn + 1) // 2 <= cn columns when halving a last column
    assert cm * cn * k <= 100 ** 3
    if (ta, tb) == ("T", "N"):
        assert cm * cn <= 1200 and k >= 32 and beta0


# The pieces keep a row's bits only on OpenBLAS's small-matrix kernels: where they
# are absent (its Haswell and Zen cores) the pieces go to the packed kernels, which
# round a row differently with its place in the call, and cydl never cuts GEMMs.
needs_small_kernels = pytest.mark.skipif(
    not _blas_threads.rows_exact(),
    reason=f"OpenBLAS core {_blas_threads.bind()['core']} has no small-matrix kernels; "
           "cydl runs every GEMM whole there")


@needs_small_kernels
@settings(max_examples=80, deadline=None)
@given(op=st.sampled_from([("N", "N"), ("N", "T"), ("T", "N")]), m=st.integers(66, 700),
       n=st.integers(2, 200), k=st.sampled_from([8, 31, 32, 40, 128, 300, 800]),
       beta=st.sampled_from([0.0, 1.0]), data=st.data())
def test_a_rows_result_does_not_depend_on_its_batch(op, m, n, k, beta, data):
    """Where cydl cuts the GEMM into pieces, the rows of any block of 33 or more
    rows come out bit for bit as in the whole batch: inference blocks
    (tests/test_blocks.py) and the threads' row parts cut batches anywhere. (A GEMM
    left whole is OpenBLAS's business: its packed kernels have this property.)"""
    ta, tb = op
    assume(_blas.tile_shape(ta, tb, n, k, beta == 0) is not None)
    old = _blas.set_small_tiles(True)
    try:
        lo = data.draw(st.integers(0, m - 33))
        hi = data.draw(st.integers(lo + 33, m))
        rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 16)))
        X = rng.standard_normal((m, k)).astype(np.float32)
        W = rng.standard_normal((k, n)).astype(np.float32)
        C0 = rng.standard_normal((m, n)).astype(np.float32)
        whole = _product(ta, tb, X, W, beta, C0)
        part = _product(ta, tb, X[lo:hi], W, beta, C0[lo:hi])
        assert np.array_equal(part, whole[lo:hi])
        # and identical rows give identical results wherever they sit
        same = _product(ta, tb, np.repeat(X[:1], m, axis=0), W, beta,
                        np.repeat(C0[:1], m, axis=0))
        assert np.array_equal(same, np.broadcast_to(same[:1], same.shape))
    finally:
        _blas.set_small_tiles(old)


def _product(ta, tb, X, W, beta, C0):
    """beta C0 + X W through gemm_into, X passed as op(A) is stored for `ta`."""
    m, k = X.shape
    n = W.shape[1]
    a = (X if ta == "N" else X.T).flatten(order="F")
    b = (W if tb == "N" else W.T).flatten(order="F")
    c = np.asarray(C0, np.float32).flatten(order="F")
    _blas.gemm_into(ta, tb, m, n, k, 1.0, a, m if ta == "N" else k, b,
                    k if tb == "N" else n, beta, c, m)
    return c.reshape(n, m).T


def test_gemm_into_rejects_bad_arguments():
    buf = np.zeros(16, np.float32)
    with pytest.raises(ValueError, match="'N' or 'T'"):
        _blas.gemm_into("X", "N", 2, 2, 2, 1.0, buf, 2, buf, 2, 0.0, buf, 2)
    with pytest.raises(ValueError, match="leading dimension"):
        _blas.gemm_into("N", "N", 4, 4, 4, 1.0, buf, 3, buf, 4, 0.0, buf, 4)
    with pytest.raises(ValueError, match="elements"):
        _blas.gemm_into("N", "N", 5, 5, 5, 1.0, buf, 5, buf, 5, 0.0, buf, 5)
    empty = np.zeros(0, np.float32)
    _blas.gemm_into("N", "N", 0, 3, 0, 1.0, empty, 1, empty, 1, 0.0, empty, 1)  # no-op
    for on in (True, False):            # K = 0: C := beta C (no division by K)
        old = _blas.set_small_tiles(on)
        c = np.ones(4, np.float32)
        _blas.gemm_into("N", "N", 2, 2, 0, 1.0, empty, 2, empty, 1, 0.5, c, 2)
        _blas.set_small_tiles(old)
        assert np.array_equal(c, np.full(4, 0.5, np.float32))
    assert _blas.tile_shape("N", "N", 10, 0) is None
    assert _blas.tile_shape("N", "N", 0, 10) is None    # (divided by N before)


# The shapes where _pieces takes its special turns, named (the hypothesis tests
# above meet them only by chance): (op, m, n, k, beta)
EDGES = ([(("N", "N"), m, 50, 300, 0.0) for m in range(33, 66)] +        # whole batches
         [(("T", "N"), m, 150, 784, 0.0) for m in range(33, 40)] +
         [(("N", "T"), m, 150, 100, 1.0) for m in range(33, 40)] +
         [(("N", "N"), 97, 105, 300, 1.0),       # n = cn + 1: two half pieces
          (("T", "N"), 70, 33, 784, 0.0),
          (("N", "N"), 200, 20, 2048, 0.0),      # k at TILE_MAX_K: 8-column pieces
          (("N", "N"), 2497, 50, 8, 1.0),        # k < 32, m = cm + 1: two half pieces
          (("N", "T"), 513, 150, 100, 0.0)] +    # m = 8 cm + 1
         [(("T", "N"), m, 37, 256, 0.0) for m in range(4, 8)])   # TN's last 4 rows again


@pytest.mark.parametrize("op, m, n, k, beta", EDGES)
def test_edge_shapes(op, m, n, k, beta):
    ta, tb = op
    assert _blas.tile_shape(ta, tb, n, k, beta == 0) is not None
    old = _blas.set_small_tiles(True)
    try:
        got, want = _gemm(ta, tb, m, n, k, 1.0, beta, np.float32, m * 7 + n)
        np.testing.assert_allclose(got, want, rtol=1e-5 * np.sqrt(k), atol=4e-5 * np.sqrt(k))
        if m >= 33 and _blas_threads.rows_exact():
            # the same rows inside a bigger batch, at an odd offset
            rng = np.random.default_rng(m)
            X = rng.standard_normal((m + 37, k)).astype(np.float32)
            W = rng.standard_normal((k, n)).astype(np.float32)
            C0 = rng.standard_normal((m + 37, n)).astype(np.float32)
            big = _product(ta, tb, X, W, beta, C0)
            alone = _product(ta, tb, X[5:5 + m], W, beta, C0[5:5 + m])
            assert np.array_equal(alone, big[5:5 + m])
    finally:
        _blas.set_small_tiles(old)
