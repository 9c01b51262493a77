"""Batch gathering and input checks against NumPy."""
import numpy as np
import pytest

from cydl import _ops as ops
from cydl._ops import _reference as ref
from conftest import THREADS


@pytest.mark.parametrize("src", [np.uint8, np.float32, np.float64])
@pytest.mark.parametrize("dst", [np.float32, np.float64])
@pytest.mark.parametrize("n_threads", THREADS)
def test_gather_rows(src, dst, n_threads):
    rng = np.random.default_rng(0)
    X = (rng.uniform(0, 255, (1001, 37))).astype(src)
    idx = rng.permutation(1001).astype(np.int64)
    for order in (idx, None):
        out = np.empty((64, 37), dst)
        out2 = np.empty((64, 37), dst)
        ops.gather_rows(X, order, 900, 964, out, n_threads=n_threads)
        ref.gather_rows(X, order, 900, 964, out2)
        np.testing.assert_array_equal(out, out2)


@pytest.mark.parametrize("n_threads", THREADS)
def test_first_nonfinite(n_threads):
    x = np.zeros(3_000_001, np.float32)
    assert ops.first_nonfinite(x, n_threads) == -1
    x[2_000_000] = np.inf
    x[2_500_000] = np.nan
    assert ops.first_nonfinite(x, n_threads) == ref.first_nonfinite(x) == 2_000_000
    assert ops.first_nonfinite(np.array([[1.0, np.nan]])) == 1
    assert ops.first_nonfinite(np.arange(5)) == -1


def test_labels_to_int32():
    out, bad = ops.labels_to_int32(np.array([0, 3, 2], np.int64), 4)
    assert bad == -1 and out.dtype == np.int32 and out.tolist() == [0, 3, 2]
    assert ops.labels_to_int32(np.array([0, 4, 2]), 4)[1] == 1
    assert ops.labels_to_int32(np.array([0, -1]), 4)[1] == 1
    assert ops.labels_to_int32(np.array([1.0, 2.0]), 4)[1] == -1
    with pytest.raises(ValueError):
        ops.labels_to_int32(np.array([1.5]), 4)
