"""Differentiable neural-network ops on the compiled kernels: activations and the
dense layer's affine map."""
import numpy as np

from cydl import _ops
from cydl.autodiff import Tensor, active_tape, apply, grad_buffer


def _activation(values, need, name, alpha):
    z, = values
    a = _ops.activation_forward(z, name, alpha)
    if need is None:
        return a, None
    keep_z = _ops.activation_needs_z(name, alpha)

    def vjp(g):
        g = np.asarray(g, a.dtype)
        return (_ops.activation_backward(g, a, z if keep_z else None, name, alpha),)
    return a, vjp


_activation.op_name = "activation"


def activation(x, name, alpha=None):
    """A named compiled activation ("relu", "elu", ...) with its kernel gradient.

    Under a tape the result remembers its input, so a loss that wants logits
    (softmax + cross-entropy) can take them instead of the probabilities.
    """
    if name == "linear":
        return x
    out = apply(_activation, (x,), name=name, alpha=alpha)
    if type(out) is not Tensor:
        tape = active_tape()
        if tape is None or not tape.keep_logits:
            return out
        out = Tensor(out, (x,), (False,), None)      # only to carry the logits
    out.pre_activation = (x, name)
    return out


def dense(x, kernel, bias=None, activation_name="linear", alpha=None):
    """activation(x @ kernel + bias) for 2-D x; the fused kernel when not taping."""
    if active_tape() is None and not getattr(x, "_is_symbolic", False):
        from cydl.autodiff import value_of
        return _ops.dense_forward(value_of(x), kernel.value,
                                  None if bias is None else bias.value,
                                  activation_name, alpha)
    z = apply(_Affine(kernel, bias), (x, kernel) + (() if bias is None else (bias,)))
    return activation(z, activation_name, alpha)


class _Affine:
    """x W + b with W, b Variables: the backward adds dW and db straight into their
    gradient buffers (one GEMM with beta=1), and returns dX."""

    op_name = "affine"

    def __init__(self, kernel, bias):
        self.kernel, self.bias = kernel, bias

    def __call__(self, values, need):
        x, w = values[0], values[1]
        b = values[2] if len(values) > 2 else None
        z = _ops.dense_forward(x, w, b)
        if need is None:
            return z, None
        kernel, bias = self.kernel, self.bias

        def vjp(g):
            need_w = need[1] or (b is not None and need[2])
            dw = grad_buffer(kernel) if need[1] else (
                np.zeros(w.shape, w.dtype, order="F") if need_w else None)
            db = None
            if b is not None and need_w:
                db = grad_buffer(bias) if need[2] else np.zeros(b.shape, b.dtype)
            _, _, dx = _ops.dense_backward(
                g, x, w, g, None, "linear", dW_out=dw, db_out=db, need_dX=need[0],
                need_dW=need_w, use_bias=b is not None, accumulate=need_w)
            return (dx,) + (None,) * (len(values) - 1)
        return z, vjp

    def __repr__(self):
        return "affine"


def _named(name, alpha=None):
    def op(x):
        return activation(x, name, alpha)
    op.__name__ = name
    op.__doc__ = f"The {name} activation; differentiable."
    return op


relu = _named("relu")
sigmoid = _named("sigmoid")
tanh = _named("tanh")
softplus = _named("softplus")
softsign = _named("softsign")
selu = _named("selu")
silu = swish = _named("swish")
mish = _named("mish")
relu6 = _named("relu6")
hard_sigmoid = _named("hard_sigmoid")


def softmax(x, axis=-1):
    """Softmax along `axis` (the compiled kernel works on the last one; another
    axis is moved there and back, which the tape differentiates)."""
    ndim = len(getattr(x, "shape", np.shape(x)))
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool) or \
            not -max(ndim, 1) <= axis < max(ndim, 1):
        raise ValueError(f"softmax: axis must be an int in [-{max(ndim, 1)}, {max(ndim, 1)}) "
                         f"for an input of {ndim} dimensions. Received axis={axis!r}")
    axis = int(axis) % max(ndim, 1)
    if ndim < 2 or axis == ndim - 1:
        return activation(x, "softmax")
    from cydl.ops.math import transpose
    perm = [a for a in range(ndim) if a != axis] + [axis]
    inverse = list(np.argsort(perm))
    return transpose(activation(transpose(x, perm), "softmax"), inverse)


def elu(x, alpha=1.0):
    return activation(x, "elu", alpha)


def leaky_relu(x, negative_slope=0.2):
    return activation(x, "leaky_relu", negative_slope)


def gelu(x, approximate=True):
    return activation(x, "gelu_tanh" if approximate else "gelu")
