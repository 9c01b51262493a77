"""Merge layers and their functional forms: Concatenate, Add, Subtract, Multiply,
Average, Maximum, Minimum. Each is written with cydl.ops, so its gradient splits
back to every input by construction."""
import functools

from cydl import ops
from cydl.layers.base import Layer


class _Merge(Layer):
    """Base: a layer over a list of inputs of one shape."""

    min_inputs = 2

    def _check(self, inputs):
        if not isinstance(inputs, (list, tuple)) or len(inputs) < self.min_inputs:
            raise ValueError(f"Layer {self.name!r} expects a list of at least "
                             f"{self.min_inputs} inputs. Received: {inputs!r}")
        return list(inputs)

    def call(self, inputs):
        xs = self._check(inputs)
        return functools.reduce(self._merge, xs)


class Add(_Merge):
    """Elementwise sum of a list of inputs.

    Example:
    >>> cydl.layers.Add()([np.ones((2, 3)), np.ones((2, 3))])
    """
    _merge = staticmethod(ops.add)


class Subtract(_Merge):
    """inputs[0] - inputs[1]."""

    def call(self, inputs):
        xs = self._check(inputs)
        if len(xs) != 2:
            raise ValueError(f"Subtract takes exactly 2 inputs, received {len(xs)}")
        return ops.subtract(xs[0], xs[1])


class Multiply(_Merge):
    """Elementwise product of a list of inputs."""
    _merge = staticmethod(ops.multiply)


class Maximum(_Merge):
    """Elementwise maximum of a list of inputs."""
    _merge = staticmethod(ops.maximum)


class Minimum(_Merge):
    """Elementwise minimum of a list of inputs."""
    _merge = staticmethod(ops.minimum)


class Average(_Merge):
    """Elementwise mean of a list of inputs."""

    def call(self, inputs):
        xs = self._check(inputs)
        return ops.multiply(functools.reduce(ops.add, xs), 1.0 / len(xs))


class Concatenate(_Merge):
    """Joins a list of inputs along `axis` (default: the last).

    Args:
        axis: the axis to join along.

    Example:
    >>> cydl.layers.Concatenate()([np.ones((2, 3)), np.zeros((2, 1))]).shape
    (2, 4)
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = int(axis)

    def call(self, inputs):
        return ops.concatenate(self._check(inputs), axis=self.axis)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


def _functional(cls, doc):
    def fn(inputs, **kwargs):
        return cls(**kwargs)(inputs)
    fn.__name__ = cls.__name__.lower()
    fn.__doc__ = doc
    return fn


concatenate = _functional(Concatenate, "Concatenate(**kwargs)(inputs).")
add = _functional(Add, "Add(**kwargs)(inputs).")
subtract = _functional(Subtract, "Subtract(**kwargs)(inputs).")
multiply = _functional(Multiply, "Multiply(**kwargs)(inputs).")
average = _functional(Average, "Average(**kwargs)(inputs).")
maximum = _functional(Maximum, "Maximum(**kwargs)(inputs).")
minimum = _functional(Minimum, "Minimum(**kwargs)(inputs).")
