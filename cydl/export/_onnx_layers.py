"""cydl's built-in layers as ONNX ops, in inference form, each computing what the
layer computes at inference.

Dropout, AlphaDropout, GaussianNoise, GaussianDropout and Identity are the
identity there, so they emit nothing. BatchNormalization is folded the way cydl's
kernel folds it (cydl/_kernels/_norm.pyx: k = gamma / sqrt(var + eps), computed in
float64 then rounded; y = x k + (beta - mean k)), Normalization uses the adapted
statistics as the layer does ((x - mean) / max(sqrt(var), epsilon)). A layer is
mapped only if it runs its class's own `call`: a subclass that overrides `call` is
traced like any custom layer.
"""
import functools

import numpy as np

from cydl import _config, graph
from cydl import layers as L
from cydl.export._onnx_activations import emit_activation
from cydl.export._onnx_graph import describe
from cydl.export._onnx_ops import affine


def _identity(b, layer, node, x):
    return x


def _dtype(node):
    """The dtype the layer computed in when the graph was made (its output's)."""
    return np.dtype(graph.flatten(node.outputs)[0].dtype)


def _activation_of(b, layer, node, y, tensor):
    """The layer's activation on y: a named kernel, or a user function traced."""
    if layer.act_name is not None:
        return emit_activation(b, y, layer.act_name, layer.act_alpha, _dtype(node))
    return b.trace(lambda t: layer.activation(t), tensor, [y],
                   f"the activation {layer.activation!r} of {describe(layer)}: it does "
                   f"not trace into cydl.ops")[0]


def _dense(b, layer, node, x):
    bias = b.weight(layer.bias) if layer.bias is not None else None
    y = affine(b, x, node.args.ndim, b.weight(layer.kernel), bias)
    return _activation_of(b, layer, node, y, node.outputs)


def _activation(b, layer, node, x):
    return _activation_of(b, layer, node, x, node.args)


def _prelu(b, layer, node, x):
    return b.op("PRelu", [x, b.weight(layer.alpha)])


def _batch_norm(b, layer, node, x):
    dtype = _dtype(node)
    k = (1.0 / np.sqrt(layer.moving_variance.numpy().astype(np.float64) +
                       layer.epsilon)).astype(dtype)
    if layer.gamma is not None:
        k = k * layer.gamma.numpy()
    beta = layer.beta.numpy() if layer.beta is not None else np.zeros_like(k)
    shift = beta - layer.moving_mean.numpy() * k
    ndim = node.args.ndim
    shape = (-1,) + (1,) * (ndim - 1 - layer.axis % ndim)      # k along the feature axis
    y = b.op("Mul", [x, b.const(k.reshape(shape), dtype, "scale")])
    return b.op("Add", [y, b.const(shift.reshape(shape), dtype, "shift")])


def _normalization(b, layer, node, x):
    dtype = _dtype(node)
    mean, variance = layer._stats()
    scale = np.maximum(np.sqrt(variance.astype(dtype)), np.asarray(_config.epsilon(), dtype))
    mean = b.const(mean, dtype, "mean")
    scale = b.const(scale, dtype, "scale")
    if layer.invert:
        return b.op("Add", [b.op("Mul", [x, scale]), mean])
    return b.op("Div", [b.op("Sub", [x, mean]), scale])


def _rescaling(b, layer, node, x):
    dtype = _dtype(node)
    y = b.op("Mul", [x, b.const(layer.scale, dtype, "scale")])
    return b.op("Add", [y, b.const(layer.offset, dtype, "offset")])


def _unit_normalization(b, layer, node, x):
    axes = layer.axis if isinstance(layer.axis, list) else [layer.axis]
    square_sum = b.op("ReduceSum", [b.op("Mul", [x, x]), b.ints(axes, "axes")], keepdims=1)
    floor = b.const(1e-24, _dtype(node), "floor")      # the layer's (1e-12)^2
    return b.op("Div", [x, b.op("Sqrt", [b.op("Max", [square_sum, floor])])])


def _flatten(b, layer, node, x):
    return b.op("Flatten", [x], axis=1)


def _reshape(b, layer, node, x):
    # 0 copies the batch size from the input: the batch axis stays dynamic
    return b.op("Reshape", [x, b.ints((0,) + tuple(layer.target_shape))])


def _chain(op_type):
    def emit(b, layer, node, xs):
        return functools.reduce(lambda y, x: b.op(op_type, [y, x]), xs)
    return emit


def _subtract(b, layer, node, xs):
    return b.op("Sub", list(xs))


def _average(b, layer, node, xs):
    total = _chain("Add")(b, layer, node, xs)
    return b.op("Mul", [total, b.const(1.0 / len(xs), _dtype(node), "inverse_count")])


def _concatenate(b, layer, node, xs):
    return b.op("Concat", list(xs), axis=layer.axis)


_EMITTERS = {
    L.InputLayer: _identity, L.Identity: _identity, L.Dropout: _identity,
    L.AlphaDropout: _identity, L.GaussianNoise: _identity, L.GaussianDropout: _identity,
    L.Dense: _dense, L.Activation: _activation, L.PReLU: _prelu,
    L.BatchNormalization: _batch_norm, L.Normalization: _normalization,
    L.Rescaling: _rescaling, L.UnitNormalization: _unit_normalization,
    L.Flatten: _flatten, L.Reshape: _reshape,
    L.Add: _chain("Add"), L.Multiply: _chain("Mul"), L.Maximum: _chain("Max"),
    L.Minimum: _chain("Min"), L.Subtract: _subtract, L.Average: _average,
    L.Concatenate: _concatenate,
}


def emitter(layer):
    """The emitter of a built-in layer kind, or None (the layer is traced)."""
    for cls in type(layer).__mro__:
        emit = _EMITTERS.get(cls)
        if emit is not None:
            return emit if type(layer).call is cls.call else None
    return None
