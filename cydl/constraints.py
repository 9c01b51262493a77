"""Constraints applied to a weight after each optimizer step."""
import numpy as np

from cydl._registry import lookup


class Constraint:
    """Base class: `__call__(w)` returns the projected weight."""

    def __call__(self, w):
        return w

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class MaxNorm(Constraint):
    """Rescale so that the norm along `axis` is at most max_value.

    Args:
        max_value: the largest allowed norm (default 2).
        axis: the axis the norm runs over; 0 (default) means each unit's incoming
            weights in a Dense kernel.

    Example:
    >>> layers.Dense(100, kernel_constraint=cydl.constraints.MaxNorm(1.0))
    """

    def __init__(self, max_value=2, axis=0):
        if max_value <= 0:
            raise ValueError(f"max_value must be positive. Received: max_value={max_value}")
        self.max_value, self.axis = max_value, axis

    def __call__(self, w):
        norms = np.sqrt(np.sum(np.square(w), axis=self.axis, keepdims=True))
        desired = np.clip(norms, 0, self.max_value)
        return w * (desired / (1e-7 + norms))

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


class NonNeg(Constraint):
    """Clip negative weights to zero."""

    def __call__(self, w):
        return np.maximum(w, 0)


class UnitNorm(Constraint):
    """Rescale to unit norm along `axis`."""

    def __init__(self, axis=0):
        self.axis = axis

    def __call__(self, w):
        return w / (1e-7 + np.sqrt(np.sum(np.square(w), axis=self.axis, keepdims=True)))

    def get_config(self):
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    """Keep the norm along `axis` within [min_value, max_value] (rate blends)."""

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value, self.max_value, self.rate, self.axis = min_value, max_value, rate, axis

    def __call__(self, w):
        norms = np.sqrt(np.sum(np.square(w), axis=self.axis, keepdims=True))
        desired = (self.rate * np.clip(norms, self.min_value, self.max_value)
                   + (1 - self.rate) * norms)
        return w * (desired / (1e-7 + norms))

    def get_config(self):
        return {"min_value": self.min_value, "max_value": self.max_value,
                "rate": self.rate, "axis": self.axis}


max_norm = MaxNorm
non_neg = NonNeg
unit_norm = UnitNorm
min_max_norm = MinMaxNorm
_ALIASES = {"max_norm": MaxNorm, "non_neg": NonNeg, "unit_norm": UnitNorm,
            "min_max_norm": MinMaxNorm, "MaxNorm": MaxNorm, "NonNeg": NonNeg,
            "UnitNorm": UnitNorm, "MinMaxNorm": MinMaxNorm}


def get(identifier):
    if identifier is None or isinstance(identifier, Constraint):
        return identifier
    return lookup(identifier, _ALIASES, "constraint", instantiate=True)
