"""Shape and activation layers: Flatten, Reshape and Activation."""
import math

import numpy as np

from cydl import activations, ops
from cydl._checks import integer, number
from cydl.layers.base import Layer


class Flatten(Layer):
    """Flattens each sample: (batch, d1, d2, ...) -> (batch, d1 * d2 * ...).

    Example:
    >>> cydl.layers.Flatten()(np.zeros((2, 28, 28))).shape
    (2, 784)
    """

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        n = None if any(s is None for s in rest) else math.prod(rest)
        return (input_shape[0], n)

    def call(self, inputs, training=None):
        return ops.reshape(inputs, (inputs.shape[0], -1))


class Reshape(Layer):
    """Reshapes each sample to `target_shape` (one entry may be -1).

    Example:
    >>> cydl.layers.Reshape((28, 28))(np.zeros((2, 784))).shape
    (2, 28, 28)
    """

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        if isinstance(target_shape, (int, np.integer)) and not isinstance(target_shape, bool):
            target_shape = (target_shape,)
        if not isinstance(target_shape, (list, tuple)):
            raise TypeError(f"Reshape: `target_shape` must be a tuple of ints. Received: "
                            f"target_shape={target_shape!r}")
        shape = tuple(integer(s, f"target_shape[{i}]", owner="Reshape")
                      for i, s in enumerate(target_shape))
        if any(s == 0 or s < -1 for s in shape) or shape.count(-1) > 1:
            raise ValueError(f"Reshape: `target_shape` must hold positive ints and at most "
                             f"one -1. Received: target_shape={target_shape!r}")
        self.target_shape = shape

    def build(self, input_shape):
        self.compute_output_shape(tuple(input_shape))      # a size mismatch fails here

    def compute_output_shape(self, input_shape):
        shape = list(self.target_shape)
        if any(s is None for s in input_shape[1:]):
            return (input_shape[0],) + tuple(shape)
        size = math.prod(input_shape[1:])
        known = math.prod(s for s in shape if s != -1)
        # floor division would hide a mismatch until the first batch fails in numpy
        if (size % known if -1 in shape else size != known):
            raise ValueError(f"Reshape: total size of the new shape {self.target_shape} must "
                             f"match the {size} values of each sample (input shape "
                             f"{tuple(input_shape)})")
        if -1 in shape:
            shape[shape.index(-1)] = size // known
        return (input_shape[0],) + tuple(shape)

    def call(self, inputs, training=None):
        return ops.reshape(inputs, (inputs.shape[0],) + self.target_shape)

    def get_config(self):
        return {**super().get_config(), "target_shape": self.target_shape}


class Activation(Layer):
    """Applies an activation function.

    Args:
        activation: a name ("relu") or a function from cydl.activations.

    Example:
    >>> cydl.layers.Activation("relu")(np.array([[-1.0, 2.0]]))
    array([[0., 2.]])
    """

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)
        self.act_name, self.act_alpha = activations.spec(activation)

    def call(self, inputs, training=None):
        if self.act_name is None:
            return self.activation(inputs)
        return ops.activation(inputs, self.act_name, self.act_alpha)

    def get_config(self):
        return {**super().get_config(), "activation": activations.serialize(self.activation)}


class LeakyReLU(Activation):
    """x for x > 0, negative_slope * x otherwise (Keras' default slope 0.3).

    Example:
    >>> cydl.layers.LeakyReLU(negative_slope=0.2)
    """

    def __init__(self, negative_slope=0.3, alpha=None, **kwargs):
        # Keras: the slope must be >= 0; NaN or inf would turn outputs into NaN
        slope = number(alpha if alpha is not None else negative_slope,
                       "alpha" if alpha is not None else "negative_slope", low=0.0,
                       owner="LeakyReLU")
        super().__init__(["leaky_relu", slope], **kwargs)
        self.negative_slope = slope

    def get_config(self):
        config = Layer.get_config(self)
        return {**config, "negative_slope": self.negative_slope}


class ReLU(Activation):
    """Keras's ReLU layer: x for x > threshold (clipped at max_value), otherwise
    negative_slope * (x - threshold).

    Args:
        max_value: float >= 0 or None. The largest output.
        negative_slope: float >= 0. The slope below the threshold.
        threshold: float. Inputs at or below it are "off".

    Example:
    >>> cydl.layers.ReLU(max_value=6.0)(np.array([[-1.0, 2.0, 9.0]]))
    array([[0., 2., 6.]])
    """

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        if max_value is not None:
            max_value = number(max_value, "max_value", low=0.0, owner="ReLU")
        negative_slope = number(negative_slope, "negative_slope", low=0.0, owner="ReLU")
        threshold = number(threshold, "threshold", low=0.0, owner="ReLU")   # as Keras
        # the forms the kernels have run fused; the rest are composed from cydl.ops
        if threshold == 0 and max_value is None:
            spec = "relu" if negative_slope == 0 else ["leaky_relu", negative_slope]
        elif threshold == 0 and negative_slope == 0 and max_value == 6:
            spec = "relu6"
        else:
            spec = "linear"
        super().__init__(spec, **kwargs)
        self.max_value, self.negative_slope, self.threshold = \
            max_value, negative_slope, threshold
        self._composed = spec == "linear"
        if self._composed:       # not one fused activation: the plan must not fold it
            self.act_name = self.act_alpha = None

    def call(self, inputs, training=None):
        if not self._composed:
            return super().call(inputs)
        # Keras's formula, term for term (keras.activations.relu)
        x, slope, th = inputs, self.negative_slope, self.threshold
        below = None
        if slope != 0:
            below = ops.relu(ops.subtract(th, x)) if th != 0 else ops.relu(ops.negative(x))
        if th != 0:
            x = ops.multiply(x, ops.cast(ops.greater(x, th), x.dtype))
        else:
            x = ops.relu(x)
        if self.max_value is not None:
            x = ops.clip(x, 0.0, self.max_value)
        if below is not None:
            x = ops.subtract(x, ops.multiply(slope, below))
        return x

    def get_config(self):
        return {**Layer.get_config(self), "max_value": self.max_value,
                "negative_slope": self.negative_slope, "threshold": self.threshold}


class ELU(Activation):
    """x for x > 0, alpha * (exp(x) - 1) otherwise."""

    def __init__(self, alpha=1.0, **kwargs):
        alpha = number(alpha, "alpha", owner="ELU")
        super().__init__(["elu", alpha], **kwargs)
        self.alpha = alpha

    def get_config(self):
        return {**Layer.get_config(self), "alpha": self.alpha}


class Softmax(Activation):
    """softmax as a layer, along `axis` (the last by default).

    Args:
        axis: int. The axis the probabilities sum to 1 over.

    Example:
    >>> cydl.layers.Softmax(axis=0)(np.zeros((2, 3)))[:, 0]
    array([0.5, 0.5])
    """

    def __init__(self, axis=-1, **kwargs):
        axis = integer(axis, "axis", owner="Softmax")
        super().__init__("softmax" if axis == -1 else "linear", **kwargs)
        self.axis = axis
        if axis != -1:           # not the fused last-axis softmax: never folded
            self.act_name = self.act_alpha = None

    def call(self, inputs, training=None):
        if self.axis == -1:
            return super().call(inputs)
        return ops.softmax(inputs, axis=self.axis)

    def get_config(self):
        return {**Layer.get_config(self), "axis": self.axis}


class Identity(Layer):
    """Returns its inputs unchanged: a placeholder where no operation is wanted.

    Example:
    >>> cydl.layers.Identity()(np.ones((2, 3))).shape
    (2, 3)
    """

    def call(self, inputs, training=None):
        return inputs
