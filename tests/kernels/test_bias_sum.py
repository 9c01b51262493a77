"""The bias gradient's column sums (cydl/_kernels/_dense.pyx, bias_grad_cols), summed
in 16 interleaved partial sums: against a float64 sum with the rounding bound of
that order, and the same bits on every thread count."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from cydl import _ops as ops

LANES = 16


def _bound(B, dtype, dZ):
    """Worst-case error of summing B terms in LANES chains and a log2(LANES)-level
    tree: gamma_n * sum|x| with n = ceil(B / LANES) + 4 (Higham, Accuracy and
    Stability of Numerical Algorithms, 2nd ed., eq. 4.4, for any summation order
    whose additions are at most n deep)."""
    n = -(-B // LANES) + int(np.log2(LANES))
    u = np.finfo(dtype).eps / 2
    return n * u / (1 - n * u) * np.abs(dZ.astype(np.float64)).sum(axis=0)


def _backward_db(dZ, n_threads, db_out=None):
    B, n_out = dZ.shape
    X = np.ones((B, 3), dZ.dtype)
    W = np.asfortranarray(np.ones((3, n_out), dZ.dtype))
    kw = {} if db_out is None else dict(db_out=db_out, accumulate=True,
                                        dW_out=np.zeros((3, n_out), dZ.dtype, order="F"))
    _, db, _ = ops.dense_backward(dZ, X, W, dZ, None, "linear", need_dX=False,
                                  n_threads=n_threads, **kw)
    return db


@settings(max_examples=80, deadline=None)
@given(B=st.one_of(st.integers(1, 70), st.integers(1, 40).map(lambda q: 16 * q + 15),
                   st.integers(71, 600)),
       n_out=st.integers(1, 40), dtype=st.sampled_from([np.float32, np.float64]),
       scale=st.sampled_from([1e-3, 1.0, 1e4]), seed=st.integers(0, 2**31 - 1))
def test_column_sums_within_the_rounding_bound(B, n_out, dtype, scale, seed):
    rng = np.random.default_rng(seed)
    # a mean far from zero makes a missed or doubled row stand out from rounding
    dZ = np.asfortranarray((rng.standard_normal((B, n_out)) + 3.0) * scale).astype(dtype)
    exact = dZ.astype(np.float64).sum(axis=0)
    db = _backward_db(dZ, 2)
    assert db.dtype == dtype
    assert np.all(np.abs(db - exact) <= _bound(B, dtype, dZ)), (B, n_out)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("B", [1, 15, 16, 17, 33, 128, 511, 512])
def test_column_sums_same_bits_on_every_thread_count(dtype, B):
    rng = np.random.default_rng(B)
    dZ = np.asfortranarray(rng.standard_normal((B, 37))).astype(dtype)
    first = _backward_db(dZ, 1)
    for n_threads in (2, 3, 4):
        np.testing.assert_array_equal(_backward_db(dZ, n_threads), first)


@pytest.mark.parametrize("B", [5, 16, 100])
def test_column_sums_accumulate(B):
    rng = np.random.default_rng(7)
    dZ = np.asfortranarray(rng.standard_normal((B, 9)))
    db0 = rng.standard_normal(9)
    db = _backward_db(dZ, 2, db_out=db0.copy())
    exact = db0 + dZ.sum(axis=0)
    assert np.all(np.abs(db - exact) <= _bound(B + 1, np.float64, dZ) + 1e-15 * np.abs(db0))
