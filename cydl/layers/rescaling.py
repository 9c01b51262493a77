"""Rescaling: inputs * scale + offset, in training and at inference alike."""
import numpy as np

from cydl import ops
from cydl.layers.base import Layer


def _factor(value, name):
    """A number, or an array-like of numbers (per-feature factors), for the config."""
    a = np.asarray(value)
    if a.dtype.kind not in "biuf" or a.dtype.kind == "b":
        raise TypeError(f"Rescaling: `{name}` must be a number or an array of numbers. "
                        f"Received: {name}={value!r}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"Rescaling: `{name}` must be finite. Received: {name}={value!r}")
    return float(a) if a.ndim == 0 else a.astype(np.float64).tolist()


class Rescaling(Layer):
    """Rescales the inputs: `inputs * scale + offset`, e.g. scale=1/255 to bring
    pixels from [0, 255] to [0, 1], or scale=1/127.5, offset=-1 for [-1, 1].
    Integer inputs become the layer's float dtype first.

    Args:
        scale: float, or an array of floats broadcast against the last axes.
        offset: float, or an array of floats (default 0).

    Example:
    >>> cydl.layers.Rescaling(1 / 255)(np.array([[0, 255]]))
    array([[0., 1.]], dtype=float32)
    """

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = _factor(scale, "scale")
        self.offset = _factor(offset, "offset")

    def call(self, inputs, training=None):
        dtype = inputs.dtype
        return ops.add(ops.multiply(inputs, np.asarray(self.scale, dtype)),
                       np.asarray(self.offset, dtype))

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}
