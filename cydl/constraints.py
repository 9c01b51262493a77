"""Constraints applied to a weight after each optimizer step."""
import numpy as np

from cydl._checks import integer, number
from cydl._registry import lookup


def _axis(axis, owner):
    if isinstance(axis, (list, tuple)):
        return tuple(integer(a, "axis", owner=owner) for a in axis)
    return integer(axis, "axis", owner=owner)


class Constraint:
    """Base class: `__call__(w)` returns the projected weight.

    MaxNorm, UnitNorm and MinMaxNorm over axis 0 (each unit's incoming weights) and
    NonNeg run inside the optimizer's fused update, right after it, and the model
    stays on the fused path; any other constraint runs on the general path."""

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
        self.max_value = number(max_value, "max_value", low=0.0, low_open=True, owner="MaxNorm")
        self.axis = _axis(axis, "MaxNorm")

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
        self.axis = _axis(axis, "UnitNorm")

    def __call__(self, w):
        return w / (1e-7 + np.sqrt(np.sum(np.square(w), axis=self.axis, keepdims=True)))

    def get_config(self):
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    """Keep the norm along `axis` within [min_value, max_value] (rate blends)."""

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        owner = "MinMaxNorm"
        self.min_value = number(min_value, "min_value", low=0.0, owner=owner)
        self.max_value = number(max_value, "max_value", owner=owner)
        if self.max_value < self.min_value:
            raise ValueError(f"MinMaxNorm: `min_value` must be <= `max_value`. Received: "
                             f"min_value={min_value!r}, max_value={max_value!r}")
        self.rate = number(rate, "rate", low=0.0, high=1.0, owner=owner)
        self.axis = _axis(axis, owner)

    def __call__(self, w):
        norms = np.sqrt(np.sum(np.square(w), axis=self.axis, keepdims=True))
        desired = (self.rate * np.clip(norms, self.min_value, self.max_value)
                   + (1 - self.rate) * norms)
        return w * (desired / (1e-7 + norms))

    def get_config(self):
        return {"min_value": self.min_value, "max_value": self.max_value,
                "rate": self.rate, "axis": self.axis}


def fused_spec(constraint, shape):
    """How the optimizer's fused update applies `constraint` to a variable of `shape`
    (see UpdateRule.set_constraints), or None when it cannot (a custom constraint, or
    a norm across entries that are not contiguous in the weight buffer, where 2-D
    variables are stored column by column)."""
    kind = type(constraint)
    if kind is NonNeg:
        return "non_neg"
    if kind not in (MaxNorm, UnitNorm, MinMaxNorm):
        return None
    axis = constraint.axis
    if isinstance(axis, tuple):
        if len(axis) != 1:
            return None
        axis = axis[0]
    if len(shape) == 0 or axis not in (0, -len(shape)) or len(shape) > 2:
        return None
    block = int(shape[0])
    if kind is MaxNorm:
        return ("norm", block, 0.0, constraint.max_value, 1.0)
    if kind is UnitNorm:
        return ("norm", block, 1.0, 1.0, 1.0)
    return ("norm", block, constraint.min_value, constraint.max_value, constraint.rate)


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
