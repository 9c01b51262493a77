"""cydl's named activations (cydl/_kernels/_activations.pyx) as ONNX ops, each the
formula the kernel computes.

A float32 graph uses ONNX's own activation ops: their float attributes are the
same float32 numbers the kernel uses. A float64 graph writes Elu, Selu, LeakyRelu,
HardSigmoid and Softplus out with double constants instead: ONNX keeps an op's
attributes as float32 (alpha=0.3 would lose precision), and ONNX Runtime's double
Softplus overflows for large inputs where cydl's does not. ONNX Runtime has no
double Erf kernel, so exact GELU takes erf in float32 in a float64 graph.
"""
import numpy as np

SELU_ALPHA = 1.6732632423543772848170429916717     # the kernel's constants
SELU_SCALE = 1.0507009873554804934193349852946
_NATIVE = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "softsign": "Softsign",
           "exponential": "Exp", "mish": "Mish"}


def emit_activation(b, x, name, alpha, dtype):
    """The value name of activation `name` (parameter `alpha`, None: the kernel's
    default) applied to the value `x` of `dtype`."""
    from cydl import _ops
    dtype = np.dtype(dtype)
    double = dtype == np.float64
    if name not in _ops.ACTIVATIONS:
        raise NotImplementedError(f"ONNX export of {b.where}: unknown activation "
                                  f"{name!r}")
    alpha = _ops._alpha(name, alpha)

    def c(value):
        return b.const(value, dtype, "c")
    if name == "linear":
        return x
    if name in _NATIVE:
        return b.op(_NATIVE[name], [x])
    if name == "softmax":
        return b.op("Softmax", [x], axis=-1)
    if name == "swish":                         # z * sigmoid(z)
        return b.op("Mul", [x, b.op("Sigmoid", [x])])
    if name == "relu6":
        return b.op("Clip", [x, c(0), c(6)])
    if name == "gelu":                          # 0.5 z (1 + erf(z / sqrt 2))
        e = b.op("Mul", [x, c(0.7071067811865476)])
        if double:
            e = b.cast(b.op("Erf", [b.cast(e, dtype, np.float32)]), np.float32, dtype)
        else:
            e = b.op("Erf", [e])
        return _half_x_one_plus(b, x, e, c)
    if name == "gelu_tanh":                     # 0.5 z (1 + tanh(k (z + 0.044715 z^3)))
        cube = b.op("Mul", [b.op("Mul", [c(0.044715), x]), x])
        cube = b.op("Mul", [cube, x])
        t = b.op("Tanh", [b.op("Mul", [c(0.7978845608028654), b.op("Add", [x, cube])])])
        return _half_x_one_plus(b, x, t, c)
    if not double:
        if name == "elu":
            return b.op("Elu", [x], alpha=alpha)
        if name == "selu":
            return b.op("Selu", [x], alpha=SELU_ALPHA, gamma=SELU_SCALE)
        if name == "leaky_relu":
            return b.op("LeakyRelu", [x], alpha=alpha)
        if name == "hard_sigmoid":
            return b.op("HardSigmoid", [x], alpha=1.0 / 6.0, beta=0.5)
        return b.op("Softplus", [x])
    positive = b.op("Greater", [x, c(0)])
    if name in ("elu", "selu"):                 # z > 0 ? z : alpha (e^z - 1)
        a = SELU_ALPHA if name == "selu" else alpha
        y = b.op("Where", [positive, x, b.op("Mul", [c(a), b.op("Sub", [
            b.op("Exp", [x]), c(1)])])])
        return b.op("Mul", [c(SELU_SCALE), y]) if name == "selu" else y
    if name == "leaky_relu":
        return b.op("Where", [positive, x, b.op("Mul", [c(alpha), x])])
    if name == "hard_sigmoid":                  # clip(z / 6 + 0.5, 0, 1)
        return b.op("Clip", [b.op("Add", [b.op("Div", [x, c(6)]), c(0.5)]), c(0), c(1)])
    # softplus: max(z, 0) + log(1 + e^-|z|), the kernel's overflow-free form
    tail = b.op("Log", [b.op("Add", [c(1), b.op("Exp", [b.op("Neg", [b.op("Abs", [x])])])])])
    return b.op("Add", [b.op("Max", [x, c(0)]), tail])


def _half_x_one_plus(b, x, t, c):
    return b.op("Mul", [b.op("Mul", [c(0.5), x]), b.op("Add", [c(1), t])])
