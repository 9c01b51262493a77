"""GaussianNoise and GaussianDropout: Gaussian noise while training, identity otherwise.

The noise of a training call is drawn from a generator seeded by the layer's seed
and the number of training calls before it, as Dropout's masks are: successive
steps get fresh noise, a run repeats with the same seed, and a saved model (which
keeps the seed and the count) goes on with the noise it would have drawn.
"""
import math

import numpy as np

from cydl import _config, ops
from cydl._checks import number
from cydl.graph import TracingError
from cydl.layers.base import Layer
from cydl.layers.regularization import _check_seed


class SeededNoise(Layer):
    """Base of the layers that draw noise from (seed, training-call count)."""

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = _check_seed(seed)
        self._seed = self.seed
        self._counter = np.zeros(1, np.uint64)

    def build(self, input_shape):
        if self._seed is None:
            self._seed = int(_config.rng().integers(0, 2 ** 63))
        self.built = True

    def standard_normal(self, inputs):
        """N(0, 1) noise shaped like `inputs` for the next training call."""
        if getattr(inputs, "_is_symbolic", False):
            # a trace of call() (cydl.models._lower_ops) must not use up a draw
            raise TracingError(f"{type(self).__name__} draws noise: it needs concrete "
                               f"inputs")
        step = int(self._counter[0])
        noise = np.random.default_rng([self._seed, step]).standard_normal(
            inputs.shape, dtype=inputs.dtype)
        self._counter[0] += 1
        return noise

    @property
    def steps(self):
        """The number of training calls so far."""
        return int(self._counter[0])

    @steps.setter
    def steps(self, value):
        self._counter[0] = int(value)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


class GaussianNoise(SeededNoise):
    """Adds zero-centered Gaussian noise of standard deviation `stddev` while
    training (a regularizer, or data augmentation for real-valued inputs). At
    inference the layer is the identity.

    Args:
        stddev: float in [0, 1] (Keras' bounds), the noise's standard deviation.
        seed: int; None draws one from cydl's global generator
            (`cydl.utils.set_random_seed`) when the layer is built.

    Example:
    >>> layer = cydl.layers.GaussianNoise(0.1, seed=0)
    >>> y = layer(np.zeros((2, 3), "float32"), training=True)   # ~ N(0, 0.01) each
    """

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.stddev = number(stddev, "stddev", low=0.0, high=1.0, owner="GaussianNoise")

    def call(self, inputs, training=None):
        if not training or self.stddev == 0:
            return inputs
        noise = self.standard_normal(inputs)
        return ops.add(inputs, noise * np.asarray(self.stddev, inputs.dtype))

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev}


class GaussianDropout(SeededNoise):
    """Multiplies the inputs by 1-centered Gaussian noise of standard deviation
    sqrt(rate / (1 - rate)) while training: the variance dropout at `rate` would
    add, with the mean kept. At inference the layer is the identity.

    Args:
        rate: float in [0, 1), the drop probability of the equivalent dropout.
        seed: int; None draws one from cydl's global generator when built.

    Example:
    >>> layer = cydl.layers.GaussianDropout(0.2, seed=0)
    >>> y = layer(np.ones((2, 3), "float32"), training=True)   # ~ N(1, 0.25) each
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        # Keras accepts rate=1, then divides by zero in the first training call
        self.rate = number(rate, "rate", low=0.0, high=1.0, high_open=True,
                           owner="GaussianDropout")

    def call(self, inputs, training=None):
        if not training or self.rate == 0:
            return inputs
        stddev = math.sqrt(self.rate / (1.0 - self.rate))
        noise = self.standard_normal(inputs)
        factor = noise * np.asarray(stddev, inputs.dtype) + np.asarray(1, inputs.dtype)
        return ops.multiply(inputs, factor)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate}
