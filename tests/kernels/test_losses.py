"""Loss kernels against the NumPy reference; the reference against finite
differences and against the user-facing Keras loss functions."""
import numpy as np
import pytest

from cydl import _ops as ops
from cydl import losses
from cydl._ops import _reference as ref
from conftest import DTYPES, THREADS, assert_close

KINDS = ["sparse_softmax_ce", "softmax_ce", "sigmoid_bce", "sparse_ce_prob", "ce_prob",
         "bce_prob", "mse", "mae", "huber"]


def _case(kind, B, C, dtype, seed=0):
    rng = np.random.default_rng(seed)
    if kind in ("sparse_ce_prob", "ce_prob"):
        P = rng.dirichlet(np.ones(C), size=B)
    elif kind == "bce_prob":
        P = rng.uniform(0.02, 0.98, (B, C))
    else:
        P = 2 * rng.standard_normal((B, C))
    if kind.startswith("sparse"):
        Y = rng.integers(0, C, B)
    elif kind in ("softmax_ce", "ce_prob"):
        Y = np.eye(C)[rng.integers(0, C, B)]
    elif kind in ("sigmoid_bce", "bce_prob"):
        Y = rng.integers(0, 2, (B, C)).astype(float)
    else:
        Y = rng.standard_normal((B, C))
    return np.asfortranarray(P.astype(dtype)), Y if kind.startswith("sparse") else Y.astype(dtype)


ACC = {"sparse_softmax_ce": "sparse", "sparse_ce_prob": "sparse", "softmax_ce": "categorical",
       "ce_prob": "categorical", "sigmoid_bce": "binary", "bce_prob": "binary"}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_threads", THREADS)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("shape", [(1, 3), (7, 1), (33, 10), (256, 5)])
def test_loss_kernel_matches_reference(dtype, n_threads, kind, shape):
    B, C = shape
    if kind in ("sparse_softmax_ce", "softmax_ce", "sparse_ce_prob", "ce_prob") and C == 1:
        C = 2
    P, Y = _case(kind, B, C, dtype)
    sw = np.random.default_rng(1).uniform(0.5, 2, B)
    acc = ACC.get(kind, "none")
    thresh = 0.0 if kind == "sigmoid_bce" else 0.5
    for weights in (None, sw):
        s1, g1 = ops.loss_forward_backward(kind, P, Y, weights, acc_mode=acc, param=0.7,
                                           thresh=thresh, n_threads=n_threads)
        s2, g2 = ref.loss_forward_backward(kind, P, Y, weights, acc_mode=acc, param=0.7,
                                           thresh=thresh)
        rtol = 1e-5 if dtype == np.float32 else 1e-11
        np.testing.assert_allclose(s1, s2, rtol=rtol, atol=rtol)
        assert_close(g1, g2, dtype)


@pytest.mark.parametrize("kind", KINDS)
def test_reference_loss_gradient_matches_finite_differences(kind):
    P, Y = _case(kind, 4, 3, np.float64, seed=2)
    _, G = ref.loss_forward_backward(kind, P, Y, param=0.7)
    h = 1e-6
    num = np.zeros_like(P)
    for i in np.ndindex(P.shape):
        Pp, Pm = P.copy(), P.copy()
        Pp[i] += h
        Pm[i] -= h
        lp = ref.loss_forward_backward(kind, Pp, Y, param=0.7)[0][0] / len(P)
        lm = ref.loss_forward_backward(kind, Pm, Y, param=0.7)[0][0] / len(P)
        num[i] = (lp - lm) / (2 * h)
    np.testing.assert_allclose(G, num, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("kind,fn,kwargs", [
    ("mse", losses.mean_squared_error, {}), ("mae", losses.mean_absolute_error, {}),
    ("huber", losses.huber, {"delta": 0.7}),
    ("softmax_ce", losses.categorical_crossentropy, {"from_logits": True}),
    ("ce_prob", losses.categorical_crossentropy, {}),
    ("sparse_softmax_ce", losses.sparse_categorical_crossentropy, {"from_logits": True}),
    ("sparse_ce_prob", losses.sparse_categorical_crossentropy, {}),
    ("sigmoid_bce", losses.binary_crossentropy, {"from_logits": True}),
    ("bce_prob", losses.binary_crossentropy, {}),
])
def test_kernel_loss_value_equals_keras_loss_function(kind, fn, kwargs):
    P, Y = _case(kind, 9, 4, np.float64, seed=3)
    stats, _ = ops.loss_forward_backward(kind, P, Y, param=kwargs.get("delta", 1.0))
    np.testing.assert_allclose(stats[0], fn(Y, P, **kwargs).sum(), rtol=1e-12)


def test_softmax_ce_is_stable_for_extreme_logits():
    P = np.asfortranarray(np.array([[1e4, 0, -1e4], [-3e4, 5e4, 0]], np.float32))
    s, g = ops.loss_forward_backward("sparse_softmax_ce", P, np.array([0, 0]))
    assert np.isfinite(s).all() and np.isfinite(g).all()
    np.testing.assert_allclose(s[0], 8e4, rtol=1e-6)   # second sample: 5e4 - (-3e4)


def test_accuracy_statistics():
    P = np.asfortranarray(np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]]))
    s, _ = ops.loss_forward_backward("sparse_ce_prob", P, np.array([1, 1, 1]), acc_mode="sparse")
    assert s[1] == 2
