"""Shape and activation layers: Flatten, Reshape and Activation."""
import math

from cydl import activations, ops
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
        self.target_shape = tuple(int(s) for s in target_shape)

    def compute_output_shape(self, input_shape):
        shape = list(self.target_shape)
        if -1 in shape and all(s is not None for s in input_shape[1:]):
            known = math.prod(s for s in shape if s != -1)
            shape[shape.index(-1)] = math.prod(input_shape[1:]) // known
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
        slope = float(alpha if alpha is not None else negative_slope)
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
        super().__init__(["elu", float(alpha)], **kwargs)
        self.alpha = float(alpha)

    def get_config(self):
        return {**Layer.get_config(self), "alpha": self.alpha}


class Softmax(Activation):
    """softmax along the last axis as a layer."""

    def __init__(self, **kwargs):
        super().__init__("softmax", **kwargs)

    def get_config(self):
        return Layer.get_config(self)
