"""Dropout and AlphaDropout, with masks from a counter-based generator.

The mask of a training call is a function of the layer's seed, the number of
training calls before it and each element's index: it does not depend on the
thread count, successive steps get fresh masks, and any call can be replayed.
"""
import numpy as np

from cydl import _config, _ops
from cydl.autodiff import apply
from cydl.distribution import _state as _dist
from cydl.layers.base import Layer


def _dropout(values, need, rate, seed, step, noise_shape, alpha, mask):
    x, = values
    y, m = _ops.dropout_forward(x, rate, seed, step, noise_shape, alpha=alpha, mask=mask)
    if need is None:
        return y, None
    return y, lambda g: (_ops.dropout_backward(g, m, rate, alpha=alpha),)


def dropout(x, rate, seed=0, step=0, noise_shape=None, mask=None):
    """Inverted dropout: units kept with probability 1 - rate are scaled by
    1 / (1 - rate), the others zeroed; differentiable.

    Args:
        x: array or Tensor.
        rate: the fraction of units to drop, in [0, 1].
        seed, step: non-negative ints; the mask is a function of both.
        noise_shape: shape of the mask, broadcast to x's (None entries: x's).
        mask: a uint8 mask of x's shape (1: kept) to reuse instead of drawing one.

    Example:
    >>> y = cydl.layers.regularization.dropout(np.ones((2, 4)), 0.5, seed=1)
    """
    return apply(_dropout, (x,), rate=float(rate), seed=seed, step=step,
                 noise_shape=noise_shape, alpha=False, mask=mask)


def alpha_dropout(x, rate, seed=0, step=0, noise_shape=None, mask=None):
    """AlphaDropout (see the layer): dropout that keeps SELU's mean and variance;
    differentiable. Arguments as for `dropout`."""
    return apply(_dropout, (x,), rate=float(rate), seed=seed, step=step,
                 noise_shape=noise_shape, alpha=True, mask=mask)


def _check_rate(rate):
    if isinstance(rate, bool) or not isinstance(rate, (int, float, np.floating, np.integer)):
        raise TypeError(f"rate must be a float. Received: rate={rate!r}")
    if not 0 <= rate <= 1:
        raise ValueError(f"Invalid value received for argument `rate`. Expected a float "
                         f"value between 0 and 1. Received: rate={rate}")
    return float(rate)


def _check_seed(seed):
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))
                             or seed < 0):
        raise ValueError(f"seed must be None or a non-negative int. Received: seed={seed!r}")
    return None if seed is None else int(seed)


class Dropout(Layer):
    """Randomly sets a fraction `rate` of the input units to 0 while training, and
    scales the others by 1 / (1 - rate) so that the expected sum is unchanged.

    Only active with `training=True` (as in `fit`, or when called so); at inference
    the layer is the identity. Each training call draws a new mask from the layer's
    seed and call count, so runs repeat with the same seed on any thread count.

    Args:
        rate: float in [0, 1], the fraction of the units to drop.
        noise_shape: shape of the binary mask, broadcast over the input, e.g.
            `(batch, 1, features)` to drop the same features at every timestep;
            None entries take the input's size.
        seed: int; None draws one from cydl's global generator
            (`cydl.utils.set_random_seed`) when the layer is built.

    Example:
    >>> layer = cydl.layers.Dropout(0.2, seed=0)
    >>> y = layer(np.ones((5, 2), "float32"), training=True)   # 0 or 1.25 each
    """

    _ALPHA = False

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = _check_rate(rate)
        self.noise_shape = None if noise_shape is None else tuple(
            None if n is None else int(n) for n in noise_shape)
        self.seed = _check_seed(seed)
        # training calls so far, the mask's counter: an array, so that the fused step
        # advances the very counter this layer reads
        self._counter = np.zeros(1, np.uint64)
        self._seed = self.seed

    def build(self, input_shape):
        if self._seed is None:
            self._seed = int(_config.rng().integers(0, 2 ** 63))
        self.built = True

    def call(self, inputs, training=None):
        if not training or self.rate == 0:
            return inputs
        step = int(self._counter[0])
        self._counter[0] += 1
        mask = None
        parallel = _dist.step()
        if parallel is not None and parallel.row0:
            mask = self._global_mask(inputs.shape, step, parallel.row0)
        return apply(_dropout, (inputs,), rate=self.rate, seed=self._seed, step=step,
                     noise_shape=self.noise_shape, alpha=self._ALPHA, mask=mask)

    def _global_mask(self, shape, step, row0):
        """The mask of these rows as rows row0.. of the global batch of a data-parallel
        step (cydl.distribution): a mask element is keyed by its index in the call, so
        the index starts row0 rows further on. A mask shared by the batch's rows
        (noise_shape[0] == 1) is the same on every process."""
        from cydl._kernels import _dropout as kernel
        from cydl._ops._nodes import _noise_shape, dropout_call_key
        ns = _noise_shape(self.noise_shape, shape)
        per_row = int(np.prod(ns[1:], dtype=np.int64))
        shared = self.noise_shape is not None and self.noise_shape[0] == 1
        small = np.empty(int(np.prod(ns, dtype=np.int64)), np.uint8)
        kernel.dropout_mask(small, dropout_call_key(self._seed, step),
                            int(kernel.keep_threshold(1.0 - self.rate)),
                            _ops.resolve_threads(), 0 if shared else row0 * per_row)
        return np.broadcast_to(small.reshape(ns), shape)

    @property
    def steps(self):
        """The number of training calls so far."""
        return int(self._counter[0])

    @steps.setter
    def steps(self, value):
        self._counter[0] = int(value)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed,
                "noise_shape": self.noise_shape}


class AlphaDropout(Dropout):
    """Dropout for self-normalizing networks (SELU): keeps the inputs' mean and
    variance, so that the activations stay normalized.

    Dropped units are set to SELU's negative saturation value
    alpha_p = -1.7580993408473766, then every unit goes through the affine map
    `a x + b` with a = ((1 - rate)(1 + rate alpha_p^2))^-1/2 and b = -a alpha_p rate.
    Only active with `training=True`.

    Args:
        rate: float in [0, 1), the fraction of the units to drop.
        noise_shape: shape of the binary mask (see Dropout).
        seed: int, or None to draw one from cydl's global generator.

    Example:
    >>> y = cydl.layers.AlphaDropout(0.1, seed=0)(x, training=True)
    """

    _ALPHA = True

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(rate, noise_shape=noise_shape, seed=seed, **kwargs)
        if self.rate >= 1:
            # a = ((1 - rate) ...)^-1/2 has no finite value: every unit would be dropped
            raise ValueError(f"AlphaDropout needs rate < 1. Received: rate={rate}")
