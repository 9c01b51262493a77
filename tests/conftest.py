import os
from pathlib import Path

import numpy as np
import pytest

import cydl

DTYPES = [np.float32, np.float64]
THREADS = [1, 2]


def tol(dtype):
    """(rtol, atol) for comparing a kernel with the NumPy reference."""
    return (2e-5, 2e-5) if np.dtype(dtype) == np.float32 else (1e-12, 1e-12)


def assert_close(actual, expected, dtype, scale=1.0):
    rtol, atol = tol(dtype)
    np.testing.assert_allclose(np.asarray(actual, np.float64), np.asarray(expected, np.float64),
                               rtol=rtol, atol=atol * scale)


def data_dir():
    """Where the real data sets live: CYDL_DATA_DIR, else ../shared/data."""
    env = os.environ.get("CYDL_DATA_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _reset_cydl_state():
    yield
    cydl.config.set_floatx("float32")
    cydl.set_num_threads(None)
