"""Normalization: feature standardization with statistics learned by `adapt`."""
import math

import numpy as np

from cydl import _config, ops
from cydl._checks import as_array
from cydl.autodiff import value_of
from cydl.layers.base import Layer


class Normalization(Layer):
    """Shifts and scales inputs to mean 0 and standard deviation 1 per feature:
    `(x - mean) / max(sqrt(variance), 1e-7)` (`invert=True`: the inverse map).

    The statistics are either given (`mean`, `variance`) or learned by `adapt(data)`,
    which computes them over every axis but `axis` and stores them as the
    non-trainable weights "mean" and "variance". Gradients flow to the input only.

    Args:
        axis: the axis or axes that keep their own statistics (default -1, the
            features); None for one mean and variance over everything.
        mean, variance: the statistics, broadcast to the kept axes; None to adapt.
        invert: map normalized values back to the original scale.

    Example:
    >>> norm = cydl.layers.Normalization()
    >>> norm.adapt(np.array([[0., 7.], [2., 9.]], "float32"))
    >>> norm(np.array([[0., 7.]], "float32"))
    array([[-1., -1.]], dtype=float32)
    """

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        if axis is None:
            axis = ()
        elif isinstance(axis, (int, np.integer)):
            axis = (int(axis),)
        else:
            axis = tuple(int(a) for a in axis)
        self.axis = axis
        if (mean is None) != (variance is None):
            raise ValueError("When setting values directly, both `mean` and `variance` "
                             f"must be set. Received: mean={mean} and variance={variance}")
        if mean is not None:
            if np.shape(mean) != np.shape(variance):
                raise ValueError("`mean` and `variance` must have the same shape. Received "
                                 f"shapes {np.shape(mean)} and {np.shape(variance)}")
            if np.ndim(mean) > len(self.axis):
                raise ValueError(f"The rank of `mean` must be at most the number of axes "
                                 f"({len(self.axis)}). Received shape {np.shape(mean)}")
        self.input_mean = mean
        self.input_variance = variance
        self.invert = bool(invert)
        self.mean = self.variance = None

    def build(self, input_shape):
        ndim = len(input_shape)
        if any(a < -ndim or a >= ndim for a in self.axis):
            raise ValueError(f"All `axis` values must be in [-{ndim}, {ndim}). "
                             f"Received axis={self.axis}")
        keep = tuple(sorted(a % ndim for a in self.axis))
        for d in keep:
            if input_shape[d] is None:
                raise ValueError(f"The kept axes must have a known size. Received "
                                 f"axis={self.axis}, input_shape={tuple(input_shape)}")
        self._keep_axis = keep
        self._reduce_axis = tuple(d for d in range(ndim) if d not in keep)
        self._broadcast_shape = tuple(input_shape[d] if d in keep else 1 for d in range(ndim))
        self._build_shape = tuple(input_shape)
        stats_shape = tuple(input_shape[d] for d in keep)
        if self.input_mean is None:
            self.adapt_mean = self.add_weight("mean", stats_shape, "zeros", trainable=False)
            self.adapt_variance = self.add_weight("variance", stats_shape, "ones",
                                                  trainable=False)
        else:
            self.mean, self.variance = (self._place(np.asarray(v, self.dtype))
                                        for v in (self.input_mean, self.input_variance))
        self.built = True

    def _place(self, stat):
        """stat aligned on the kept axes from the right, broadcast to the input's rank."""
        shape = [1] * len(self._broadcast_shape)
        for i in range(1, stat.ndim + 1):
            shape[self._keep_axis[-i]] = stat.shape[-i]
        return np.broadcast_to(stat.reshape(shape), self._broadcast_shape)

    def adapt(self, data):
        """Compute the mean and variance of `data` (an array, or an iterable of batches)
        over every axis but `axis`, and store them in the layer's weights.

        Batches are combined exactly (pooled mean and variance), in float64.
        """
        if self.input_mean is not None:
            raise ValueError("This layer was given its mean and variance; adapt() would "
                             "ignore them")
        if hasattr(data, "shape") or isinstance(data, (list, tuple)) and data and \
                np.ndim(data[0]) == 0:
            batches = iter([as_array(value_of(data), "data")])
        elif hasattr(data, "__iter__"):
            batches = iter(data)
        else:
            raise TypeError(f"adapt() expects an array or an iterable of batches. "
                            f"Received: {type(data).__name__}")
        first = next(batches, None)
        if first is None:
            raise ValueError("adapt() received no data")
        total_mean = total_var = None
        total = 0
        for batch in _chain(first, batches):
            batch = as_array(value_of(batch), "data")
            if batch.dtype.kind not in "biuf":
                raise TypeError(f"adapt() expects numeric data. Received dtype={batch.dtype}")
            if not self.built:
                self._maybe_build(tuple(batch.shape))
            self._check_shape(batch.shape)
            batch = batch.astype(np.float64)
            m = batch.mean(axis=self._reduce_axis)
            v = batch.var(axis=self._reduce_axis)
            n = math.prod(batch.shape[d] for d in self._reduce_axis)
            if n == 0:
                continue
            if total_mean is None:
                total_mean, total_var, total = m, v, n
                continue
            # pooled variance: within-batch plus between-batch spread
            w = n / (total + n)
            new_mean = total_mean * (1 - w) + m * w
            total_var = (total_var + (total_mean - new_mean) ** 2) * (1 - w) + \
                (v + (m - new_mean) ** 2) * w
            total_mean, total = new_mean, total + n
        if total_mean is None:
            raise ValueError("adapt() received no samples")
        self.adapt_mean.assign(total_mean)
        self.adapt_variance.assign(total_var)

    def _check_shape(self, shape):
        if len(shape) != len(self._build_shape) or any(
                shape[d] != self._build_shape[d] for d in self._keep_axis):
            raise ValueError(f"The layer was built with input_shape={self._build_shape}, "
                             f"but received data of an incompatible shape {tuple(shape)}")

    def _stats(self):
        if self.input_mean is not None:
            return self.mean, self.variance
        return (self.adapt_mean.value.reshape(self._broadcast_shape),
                self.adapt_variance.value.reshape(self._broadcast_shape))

    def call(self, inputs, training=None):
        mean, variance = self._stats()
        dtype = inputs.dtype
        mean = mean.astype(dtype, copy=False)
        scale = np.maximum(np.sqrt(variance.astype(dtype, copy=False)),
                           np.asarray(_config.epsilon(), dtype))
        if self.invert:
            return ops.add(ops.multiply(inputs, scale), mean)
        return ops.divide(ops.subtract(inputs, mean), scale)

    def get_config(self):
        def plain(v):
            return None if v is None else np.asarray(v).tolist()
        return {**super().get_config(), "axis": self.axis, "invert": self.invert,
                "mean": plain(self.input_mean), "variance": plain(self.input_variance)}


def _chain(first, rest):
    yield first
    yield from rest
