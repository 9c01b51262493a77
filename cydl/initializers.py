"""Weight initializers with Keras' names and defaults.

Glorot/He/LeCun are VarianceScaling with (scale, mode): Glorot (1, fan_avg),
He (2, fan_in), LeCun (1, fan_in); "normal" draws from a normal truncated at two
standard deviations, rescaled so the variance is scale / fan.
"""
import math

import numpy as np

from cydl import _config
from cydl._checks import integer, number
from cydl._registry import lookup

# std of a standard normal truncated to [-2, 2]: Keras divides by it
_TRUNC_STD = 0.87962566103423978


def _fans(shape):
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


def _truncated_normal(rng, shape, mean, stddev):
    out = rng.standard_normal(shape)
    bad = np.abs(out) > 2
    while bad.any():
        out[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(out) > 2
    return mean + stddev * out


class Initializer:
    """Base class: `init(shape, dtype)` returns a new array."""

    def __init__(self, seed=None):
        self.seed = integer(seed, "seed", low=0, allow_none=True, owner=type(self).__name__)

    def _generator(self):
        # Keras: a seeded initializer gives the same values on every call.
        if self.seed is not None:
            return np.random.default_rng(self.seed)
        return _config.rng()

    def __call__(self, shape, dtype=None):
        dtype = np.dtype(dtype or _config.floatx())
        return np.asarray(self.sample(tuple(int(s) for s in shape), self._generator()), dtype)

    def sample(self, shape, rng):
        raise NotImplementedError

    def get_config(self):
        return {"seed": self.seed} if self.seed is not None else {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class Zeros(Initializer):
    """All zeros."""

    def sample(self, shape, rng):
        return np.zeros(shape)


class Ones(Initializer):
    """All ones."""

    def sample(self, shape, rng):
        return np.ones(shape)


class Constant(Initializer):
    """A constant value.

    Args:
        value: the value.
    """

    def __init__(self, value=0.0):
        super().__init__()
        self.value = number(value, "value", owner="Constant")

    def sample(self, shape, rng):
        return np.full(shape, self.value, dtype=np.float64)

    def get_config(self):
        return {"value": self.value}


class RandomNormal(Initializer):
    """Normal(mean, stddev); Keras' defaults 0 and 0.05."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        owner = type(self).__name__
        self.mean = number(mean, "mean", owner=owner)
        self.stddev = number(stddev, "stddev", low=0.0, owner=owner)

    def sample(self, shape, rng):
        return rng.normal(self.mean, self.stddev, shape)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, **super().get_config()}


class RandomUniform(Initializer):
    """Uniform(minval, maxval); Keras' defaults -0.05 and 0.05."""

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        super().__init__(seed)
        self.minval = number(minval, "minval", owner="RandomUniform")
        self.maxval = number(maxval, "maxval", owner="RandomUniform")
        if self.maxval < self.minval:
            raise ValueError(f"RandomUniform: `minval` must be <= `maxval`. Received: "
                             f"minval={minval!r}, maxval={maxval!r}")

    def sample(self, shape, rng):
        return rng.uniform(self.minval, self.maxval, shape)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, **super().get_config()}


class TruncatedNormal(Initializer):
    """Normal(mean, stddev) redrawn outside two standard deviations."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        owner = type(self).__name__
        self.mean = number(mean, "mean", owner=owner)
        self.stddev = number(stddev, "stddev", low=0.0, owner=owner)

    def sample(self, shape, rng):
        return _truncated_normal(rng, shape, self.mean, self.stddev)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, **super().get_config()}


class VarianceScaling(Initializer):
    """Variance scale / fan, with fan = fan_in, fan_out or their average.

    Args:
        scale: positive factor.
        mode: "fan_in", "fan_out" or "fan_avg".
        distribution: "truncated_normal", "untruncated_normal" or "uniform".

    Example:
    >>> init = cydl.initializers.VarianceScaling(2.0, "fan_avg", "uniform")
    """

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None):
        super().__init__(seed)
        scale = number(scale, "scale", low=0.0, low_open=True, owner=type(self).__name__)
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"Invalid mode: {mode!r}. Use fan_in, fan_out or fan_avg")
        if distribution == "normal":
            distribution = "truncated_normal"
        if distribution not in ("truncated_normal", "untruncated_normal", "uniform"):
            raise ValueError(f"Invalid distribution: {distribution!r}")
        self.scale, self.mode, self.distribution = scale, mode, distribution

    def sample(self, shape, rng):
        fan_in, fan_out = _fans(shape)
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        var = self.scale / max(1.0, fan)
        if self.distribution == "uniform":
            limit = math.sqrt(3 * var)
            return rng.uniform(-limit, limit, shape)
        if self.distribution == "untruncated_normal":
            return rng.normal(0, math.sqrt(var), shape)
        return _truncated_normal(rng, shape, 0.0, math.sqrt(var) / _TRUNC_STD)

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution,
                **super().get_config()}


def _preset(name, scale, mode, distribution, doc):
    def __init__(self, seed=None):
        VarianceScaling.__init__(self, scale, mode, distribution, seed)

    def get_config(self):
        return Initializer.get_config(self)

    return type(name, (VarianceScaling,), {"__init__": __init__, "get_config": get_config,
                                           "__doc__": doc})


GlorotUniform = _preset("GlorotUniform", 1.0, "fan_avg", "uniform",
                        "Uniform(-l, l), l = sqrt(6 / (fan_in + fan_out)). Keras' default.")
GlorotNormal = _preset("GlorotNormal", 1.0, "fan_avg", "truncated_normal",
                       "Truncated normal, variance 2 / (fan_in + fan_out).")
HeNormal = _preset("HeNormal", 2.0, "fan_in", "truncated_normal",
                   "Truncated normal, variance 2 / fan_in: for ReLU-family layers.")
HeUniform = _preset("HeUniform", 2.0, "fan_in", "uniform",
                    "Uniform(-l, l), l = sqrt(6 / fan_in).")
LecunNormal = _preset("LecunNormal", 1.0, "fan_in", "truncated_normal",
                      "Truncated normal, variance 1 / fan_in: for SELU networks.")
LecunUniform = _preset("LecunUniform", 1.0, "fan_in", "uniform",
                       "Uniform(-l, l), l = sqrt(3 / fan_in).")

_ALIASES = {
    "zeros": Zeros, "zero": Zeros, "ones": Ones, "one": Ones, "constant": Constant,
    "random_normal": RandomNormal, "random_uniform": RandomUniform,
    "truncated_normal": TruncatedNormal, "variance_scaling": VarianceScaling,
    "glorot_uniform": GlorotUniform, "glorot_normal": GlorotNormal,
    "he_normal": HeNormal, "he_uniform": HeUniform,
    "lecun_normal": LecunNormal, "lecun_uniform": LecunUniform,
}
for _cls in (Zeros, Ones, Constant, RandomNormal, RandomUniform, TruncatedNormal,
             VarianceScaling, GlorotUniform, GlorotNormal, HeNormal, HeUniform,
             LecunNormal, LecunUniform):
    _ALIASES[_cls.__name__] = _cls


def get(identifier):
    """An Initializer from a name ("he_normal", "HeNormal"), a config dict, an
    Initializer, or a callable(shape, dtype)."""
    if identifier is None or isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Initializer):
        return identifier()
    return lookup(identifier, _ALIASES, "initializer", instantiate=True)
