"""Elementwise activation kernels against the NumPy reference, and the reference's
derivatives against finite differences (so the oracle itself is checked)."""
import numpy as np
import pytest

from cydl import _ops as ops
from cydl._ops import _reference as ref
from conftest import DTYPES, THREADS, assert_close
from kernels.test_dense import ACTS


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_threads", THREADS)
@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("shape", [(1, 1), (7, 3), (64, 129), (5, 4, 3)])
def test_activation_forward_backward(dtype, n_threads, act, shape):
    rng = np.random.default_rng(0)
    Z = (3 * rng.standard_normal(shape)).astype(dtype)
    A = ops.activation_forward(Z, act, n_threads=n_threads)
    assert A.shape == Z.shape and A.dtype == dtype
    assert_close(A, ref.activation_forward(Z, act), dtype)
    dA = rng.standard_normal(shape).astype(dtype)
    dZ = ops.activation_backward(dA, A, Z, act, n_threads=n_threads)
    assert_close(dZ, ref.activation_backward(dA, A, Z, act), dtype)


@pytest.mark.parametrize("act", [a for a in ACTS if a != "softmax"])
def test_reference_derivative_matches_finite_differences(act):
    z = np.linspace(-4.1, 4.3, 41)
    z = z[np.abs(z) > 1e-3]
    z = z[np.abs(np.abs(z) - 3) > 1e-3]
    z = z[np.abs(z - 6) > 1e-3]
    h = 1e-6
    num = (ref.act(act, z + h) - ref.act(act, z - h)) / (2 * h)
    np.testing.assert_allclose(ref.act_grad(act, z), num, rtol=1e-6, atol=1e-7)
    a = ref.act(act, z)
    if not ref.activation_needs_z(act):
        np.testing.assert_allclose(ref._grad_from_output(act, a), num, rtol=1e-6, atol=1e-7)


def test_softmax_is_stable_for_large_logits():
    Z = np.array([[1000.0, 0.0, -1000.0], [-1e4, -1e4, -1e4]], np.float32)
    A = ops.activation_forward(Z, "softmax")
    assert np.all(np.isfinite(A))
    np.testing.assert_allclose(A.sum(axis=1), 1, rtol=1e-6)
    np.testing.assert_allclose(A[0], [1, 0, 0], atol=1e-7)


def test_sigmoid_is_stable_at_extremes():
    Z = np.array([-1e4, -100, 0, 100, 1e4], np.float32)
    A = ops.activation_forward(Z, "sigmoid")
    np.testing.assert_allclose(A, [0, ref._sigmoid(np.float64(-100)), 0.5, 1, 1], atol=1e-30)
