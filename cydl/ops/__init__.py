"""cydl.ops: differentiable ops with Keras 3's `keras.ops` names.

Use them inside `call` of custom layers and models, in custom losses and as
activations: they run on NumPy arrays, on the Tensors of a training step and on
the symbolic inputs of the functional API, and training needs no hand-written
backward. The compiled kernels behind them are private (cydl._ops).

Example:
>>> class Scale(cydl.layers.Layer):
...     def build(self, input_shape):
...         self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones")
...     def call(self, x):
...         return cydl.ops.multiply(x, self.w)
"""
from cydl.ops.math import (abs, absolute, add, cast, clip, concatenate,  # noqa: A004
                           convert_to_numpy, convert_to_tensor, cos, divide, exp, getitem,
                           log, log1p, matmul, maximum, mean, minimum, multiply, negative,
                           power, reshape, sin, sqrt, square, stack, stop_gradient, subtract,
                           sum, transpose, true_divide, where)
from cydl.ops.comparison import (equal, greater, greater_equal, less, less_equal,
                                 not_equal)
from cydl.ops.nn import (activation, dense, elu, gelu, hard_sigmoid, leaky_relu, mish, relu,
                         relu6, selu, sigmoid, silu, softmax, softplus, softsign, swish, tanh)

__all__ = ["abs", "absolute", "add", "cast", "clip", "concatenate", "convert_to_numpy",
           "convert_to_tensor", "cos", "divide", "exp", "getitem", "log", "log1p", "matmul",
           "maximum", "mean", "minimum", "multiply", "negative", "power", "reshape", "sin",
           "sqrt", "square", "stack", "stop_gradient", "subtract", "sum", "transpose",
           "true_divide", "where", "activation", "dense", "elu", "gelu", "hard_sigmoid",
           "leaky_relu", "mish", "relu", "relu6", "selu", "sigmoid", "silu", "softmax",
           "softplus", "softsign", "swish", "tanh", "equal", "not_equal", "less", "less_equal",
           "greater", "greater_equal"]
