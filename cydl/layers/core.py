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
    """max(x, 0) as a layer."""

    def __init__(self, **kwargs):
        super().__init__("relu", **kwargs)

    def get_config(self):
        return Layer.get_config(self)


class ELU(Activation):
    """x for x > 0, alpha * (exp(x) - 1) otherwise."""

    def __init__(self, alpha=1.0, **kwargs):
        alpha = number(alpha, "alpha", owner="ELU")
        super().__init__(["elu", alpha], **kwargs)
        self.alpha = alpha

    def get_config(self):
        return {**Layer.get_config(self), "alpha": self.alpha}


class Softmax(Activation):
    """softmax along the last axis as a layer."""

    def __init__(self, **kwargs):
        super().__init__("softmax", **kwargs)

    def get_config(self):
        return Layer.get_config(self)


class Identity(Layer):
    """Returns its inputs unchanged: a placeholder where no operation is wanted.

    Example:
    >>> cydl.layers.Identity()(np.ones((2, 3))).shape
    (2, 3)
    """

    def call(self, inputs, training=None):
        return inputs
