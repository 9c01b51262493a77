"""The bug report, pinned: `ops.tanh` on a 2-D Variable trained with a scrambled
gradient because the activation kernels walked a Fortran-ordered operand (the
Variable's value) and a C-ordered one (the arriving gradient) as flat buffers.
Both checks compare with PyTorch autodiff; the last test proves they can fail."""
import numpy as np
import pytest

import cydl
from cydl import ops
from cydl.variables import Variable

from .conftest import assert_close, torch_or_skip

torch = torch_or_skip()
from ._twins import PATHS, MyDense, compiled, runner_kind  # noqa: E402


def tanh_gradients(order):
    """(cydl, torch) d sum(tanh(v) * R) / dv for a 3x4 Variable v.

    A cotangent of all ones (loss = sum(tanh(v))) would hide the bug: a permuted
    array of ones is still all ones. R makes every element's gradient distinct.
    """
    rng = np.random.default_rng(7)
    x = rng.uniform(-2, 2, (3, 4))
    R = np.array(rng.uniform(-2, 2, (3, 4)), order=order)
    v = Variable(x, "w")
    with cydl.GradientTape() as tape:
        loss = ops.sum(ops.multiply(ops.tanh(v), R))
    grad = tape.gradient(loss, v)
    t = torch.tensor(x, requires_grad=True)
    (torch.tanh(t) * torch.tensor(R)).sum().backward()
    return grad, t.grad.numpy()


@pytest.mark.parametrize("order", ["C", "F"])
def test_tanh_of_a_2d_variable_has_torchs_gradient(order):
    grad, want = tanh_gradients(order)
    assert_close(grad, want, np.float64, f"d tanh / dv, cotangent in {order} order")


def bug_report_step(path, X, Y):
    """One train_on_batch of the bug report's model on `path`, and its torch twin:
    (weights after the cydl step, weights after the torch step, cydl loss, torch loss,
    the runner that took the step)."""
    cydl.utils.set_random_seed(3)
    model = cydl.Sequential([cydl.layers.Input(shape=(4,)), MyDense(3),
                             cydl.layers.Dense(4)])
    trainee = compiled(model, path, "mse", 1e-3)
    w0 = model.get_weights()
    loss = trainee.train_on_batch(X, Y)

    w, b, k, c = (torch.tensor(a, requires_grad=True) for a in w0)
    out = torch.tanh(torch.tensor(X) @ w + b) @ k + c
    tloss = ((out - torch.tensor(Y)) ** 2).mean()      # Keras mse: mean over every axis
    tloss.backward()
    want = [(t - 1e-3 * t.grad).detach().numpy() for t in (w, b, k, c)]
    return model.get_weights(), want, loss, float(tloss.detach()), runner_kind(trainee)


@pytest.mark.parametrize("path", PATHS)
def test_bug_report_model_steps_like_torch(path, floatx64):
    rng = np.random.default_rng(11)
    X, Y = rng.normal(size=(8, 4)), rng.normal(size=(8, 4))
    got, want, loss, tloss, kind = bug_report_step(path, X, Y)
    assert kind == {"default": kind, "run_eagerly": "graph", "eager_subclass": "eager"}[path]
    assert_close(loss, tloss, np.float64, "loss")
    # SGD(1e-3) scales a gradient error by 1e-3; rtol 1e-9 on O(1) weights still
    # catches any gradient error above ~1e-6, and a scrambled one is O(1)
    for name, g, w in zip(["w", "b", "kernel", "bias"], got, want):
        assert_close(g, w, np.float64, f"{name} after one SGD step ({path}, {kind} runner)")


def _flat_walk_backward(real):
    """The reported bug, re-enacted: every operand read as a flat buffer in its own
    memory order, so a Fortran-ordered A meets a C-ordered dA element by element."""
    def backward(dA, A, Z=None, activation="relu", alpha=None, **kw):
        A, dA = np.asarray(A), np.asarray(dA)
        flat = lambda a: np.ravel(a, order="K").reshape(A.shape, order="F" if  # noqa: E731
                                                        A.flags.f_contiguous else "C")
        return real(flat(dA), flat(A), None if Z is None else flat(np.asarray(Z)),
                    activation, alpha, **kw)
    return backward


def test_the_oracle_catches_a_flat_walking_kernel(monkeypatch, floatx64):
    from cydl import _ops
    monkeypatch.setattr(_ops, "activation_backward",
                        _flat_walk_backward(_ops.activation_backward))
    grad, want = tanh_gradients("C")
    assert np.abs(grad - want).max() > 1e-3, "the re-enacted bug went unnoticed"
    rng = np.random.default_rng(11)
    X, Y = rng.normal(size=(8, 4)), rng.normal(size=(8, 4))
    got, want, *_ = bug_report_step("run_eagerly", X, Y)
    assert max(np.abs(g - w).max() for g, w in zip(got, want)) > 1e-9
