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


@pytest.mark.parametrize("n_threads", THREADS)
def test_per_op_kernels_flush_denormals_as_the_fused_step_does(n_threads):
    # sigmoid(-740) is 4e-322 in float64, a denormal. The fused step flushes it to 0
    # (_cpu.h); the per-op kernels of the general path must too, or a ReLU after it
    # sees +4e-322 instead of 0 and the two paths train differently (found by the
    # hypothesis suite: a 2-unit sigmoid layer on inputs of scale 1e3).
    z = np.array([[-740.0, -700.0, 0.0]] * 4)
    assert ref._sigmoid(np.float64(-740.0)) > 0          # NumPy keeps the denormal
    a = ops.activation_forward(z, "sigmoid", n_threads=n_threads)
    assert a[0, 0] == 0.0 and a[0, 1] > 0 and a[0, 2] == 0.5
    W = np.full((3, 2), 1e-320)                          # denormal weights read as 0
    A = ops.dense_forward(np.ones((4, 3)), W, np.zeros(2), n_threads=n_threads)
    assert np.all(A == 0.0)


@pytest.mark.parametrize("act", ["relu", "softmax"])
@pytest.mark.parametrize("shape,z_order,out_order", [
    ((6, 5), "C", "C"), ((6, 5), "F", "F"), ((6, 5), "C", "F"), ((6, 5), "F", "C"),
    ((2, 3, 4), "C", "C"), ((7,), "C", "C")])
def test_out_gets_the_result_in_any_layout(act, shape, z_order, out_order):
    """out= of Z's shape and dtype is filled in place, whatever its memory order
    (written directly when the layout allows, else copied in)."""
    rng = np.random.default_rng(1)
    Z = np.asarray(rng.standard_normal(shape), order=z_order)
    dA = np.asarray(rng.standard_normal(shape), order=z_order)
    A = ops.activation_forward(Z, act)
    dZ = ops.activation_backward(dA, A, Z, act)
    out = np.full(shape, np.nan, order=out_order)
    assert ops.activation_forward(Z, act, out=out) is out
    np.testing.assert_array_equal(out, A)
    out_b = np.full(shape, np.nan, order=out_order)
    assert ops.activation_backward(dA, A, Z, act, out=out_b) is out_b
    np.testing.assert_array_equal(out_b, dZ)
