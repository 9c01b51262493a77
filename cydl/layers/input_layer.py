"""Input and InputLayer: where a functional model's graph starts."""
import numpy as np

from cydl.graph import KerasTensor
from cydl.layers.base import Layer

__all__ = ["Input", "InputLayer", "KerasTensor"]


class InputLayer(Layer):
    """The entry point of a model: it only declares the input shape.

    Args:
        shape: shape of one sample, without the batch axis (also `input_shape`).
        batch_size: optional fixed batch size (informational).

    Example:
    >>> cydl.Sequential([cydl.layers.InputLayer(shape=(28, 28)), cydl.layers.Flatten()])
    """

    def __init__(self, shape=None, batch_size=None, dtype=None, input_shape=None,
                 batch_shape=None, name=None, **kwargs):
        if shape is None:
            shape = input_shape
        if shape is None and batch_shape is not None:
            shape = tuple(batch_shape)[1:]
        if shape is None:
            raise ValueError("InputLayer needs `shape` (the shape of one sample)")
        if isinstance(shape, (int, np.integer)):
            shape = (int(shape),)
        shape = tuple(shape)
        for s in shape:
            if s is not None and (isinstance(s, (bool, np.bool_)) or
                                  not isinstance(s, (int, np.integer)) or s <= 0):
                raise ValueError(f"shape must hold positive ints. Received: shape={shape}")
        super().__init__(name=name, dtype=dtype, **kwargs)
        self.sample_shape = tuple(int(s) if s is not None else None for s in shape)
        self.batch_size = batch_size
        self.input_shape = self.output_shape = (batch_size,) + self.sample_shape
        self.built = True
        self.output = KerasTensor(self.input_shape, self.dtype, None, 0, self.name)
        self.output._input_layer = self

    def call(self, inputs, training=None):
        return inputs

    def get_config(self):
        return {"shape": self.sample_shape, "batch_size": self.batch_size,
                "dtype": self.dtype, "name": self.name}


def Input(shape=None, batch_size=None, dtype=None, name=None, batch_shape=None, **kwargs):
    """A symbolic input: starts a functional model or a Sequential.

    Args:
        shape: shape of one sample, without the batch axis.
        batch_size: optional fixed batch size.
        dtype: "float32" or "float64".
        name: optional name (it names the input in dict inputs).

    Example:
    >>> inputs = cydl.Input(shape=(8,))
    """
    layer = InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, name=name,
                       batch_shape=batch_shape, **kwargs)
    return layer.output
