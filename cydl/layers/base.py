"""The Layer contract.

`__init__` validates and stores the config, `build(input_shape)` creates the weights
with `add_weight`, `call(x, training)` computes the output. For training, a layer
also has `forward(x, training)`, which keeps what `backward(dy)` needs, and
`backward(dy)`, which writes the weights' gradients and returns the input gradient.
Models put every weight into one flat buffer (see cydl.models._store); layers only
see views.
"""
import collections

import numpy as np

from cydl import _config, constraints, initializers, regularizers
from cydl._registry import snake_case
from cydl.variables import Variable

_NAME_COUNTS = collections.defaultdict(int)


def clear_session():
    """Reset the automatic layer names (dense, dense_1, ...)."""
    _NAME_COUNTS.clear()


def unique_name(base):
    n = _NAME_COUNTS[base]
    _NAME_COUNTS[base] += 1
    return base if n == 0 else f"{base}_{n}"


def work_buffer(cache, key, shape, dtype, order="F"):
    """A view of a cached array, grown when needed, so that a steady-state training
    step allocates nothing."""
    size = int(np.prod(shape))
    buf = cache.get(key)
    if buf is None or buf.size < size or buf.dtype != dtype:
        buf = cache[key] = np.empty(size, dtype)
    return buf[:size].reshape(shape, order=order)


class Layer:
    """Base class of all layers.

    Args:
        name: the layer's name; unique automatic names by default.
        dtype: "float32" or "float64"; default cydl.config.floatx().
        trainable: whether the optimizer updates this layer's weights.
        input_shape: shape of one sample, for the first layer of a Sequential.

    Example:
    >>> layer = cydl.layers.Dense(3)
    >>> layer(np.ones((2, 4))).shape
    (2, 3)
    """

    def __init__(self, name=None, dtype=None, trainable=True, input_shape=None,
                 input_dim=None, batch_input_shape=None, **kwargs):
        if kwargs:
            raise TypeError(f"Unrecognized keyword arguments passed to {type(self).__name__}: "
                            f"{kwargs}")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a string. Received: name={name!r}")
        self.name = name or unique_name(snake_case(type(self).__name__))
        if dtype is not None:
            dtype = np.dtype(dtype).name
            if dtype not in ("float32", "float64"):
                raise ValueError(f"dtype must be float32 or float64. Received: dtype={dtype!r}")
        self._dtype = dtype
        self._trainable = bool(trainable)
        self.built = False
        self._variables = []
        self._ws = {}
        self._input_spec = None
        if batch_input_shape is not None:
            input_shape = tuple(batch_input_shape)[1:]
        if input_dim is not None:
            input_shape = (input_dim,)
        if input_shape is not None:
            self._input_spec = tuple(input_shape)
        self.input_shape = None
        self.output_shape = None

    # ------------------------------------------------------------ properties
    @property
    def dtype(self):
        return self._dtype or _config.floatx()

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        self._trainable = bool(value)

    @property
    def weights(self):
        return self.trainable_weights + self.non_trainable_weights

    @property
    def variables(self):
        return self.weights

    @property
    def trainable_weights(self):
        return [v for v in self._variables if v.trainable] if self.trainable else []

    @property
    def non_trainable_weights(self):
        if not self.trainable:
            return list(self._variables)
        return [v for v in self._variables if not v.trainable]

    # ------------------------------------------------------------ building
    def add_weight(self, name=None, shape=None, initializer="glorot_uniform", dtype=None,
                   trainable=True, regularizer=None, constraint=None):
        """Create a weight of this layer; returns its Variable."""
        shape = tuple(int(s) for s in (shape or ()))
        init = initializers.get(initializer)
        value = init(shape, dtype or self.dtype)
        var = Variable(value, name or f"variable_{len(self._variables)}", trainable,
                       regularizers.get(regularizer), constraints.get(constraint))
        self._variables.append(var)
        return var

    def build(self, input_shape):
        """Create the weights for inputs of `input_shape` (batch axis included)."""
        self.built = True

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def _maybe_build(self, input_shape):
        input_shape = tuple(input_shape)
        if not self.built:
            self.build(input_shape)
            self.built = True
            self.input_shape = (None,) + tuple(input_shape[1:])
            self.output_shape = self.compute_output_shape(self.input_shape)

    # ------------------------------------------------------------ computing
    def call(self, inputs, training=None):
        raise NotImplementedError(f"{type(self).__name__} must implement call()")

    def forward(self, inputs, training=True):
        """The training-time forward: like call, and keeps what backward needs."""
        return self.call(inputs, training=training)

    def backward(self, dy):
        """Given dLoss/dOutput, write the weight gradients; return dLoss/dInput."""
        raise NotImplementedError(
            f"{type(self).__name__} has no backward(); layers trained by cydl implement "
            "forward() and backward() (see cydl.layers.Dense for an example)")

    def __call__(self, inputs, training=None, **kwargs):
        from cydl.layers.input_layer import KerasTensor
        if isinstance(inputs, KerasTensor):
            return inputs._apply(self)
        x = np.asarray(inputs)
        if x.dtype.kind not in "biuf":
            raise TypeError(f"Layer {self.name!r} expects numeric input. Received dtype={x.dtype}")
        self._maybe_build(x.shape)
        if x.dtype != self.dtype:
            x = x.astype(self.dtype)
        return self.call(x, training=bool(training), **kwargs)

    def _buffer(self, key, shape, dtype, order="F"):
        """A reused work array: a training step allocates nothing once warm."""
        return work_buffer(self._ws, key, shape, dtype, order)

    # ------------------------------------------------------------ weights
    def get_weights(self):
        """Copies of the weights, in the order of `weights`."""
        return [v.numpy() for v in self.weights]

    def set_weights(self, weights):
        own = self.weights
        if len(weights) != len(own):
            raise ValueError(f"Layer {self.name!r} expects {len(own)} weights, "
                             f"received {len(weights)}")
        for var, w in zip(own, weights):
            var.assign(w)

    def count_params(self):
        if not self.built:
            raise ValueError(f"Layer {self.name!r} is not built yet: call it on data first")
        return int(sum(v.size for v in self._variables))

    # ------------------------------------------------------------ config
    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype}
        if self._input_spec is not None:
            config["input_shape"] = self._input_spec
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"
