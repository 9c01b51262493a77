"""Weight penalties added to the loss: L1, L2 and both."""
import numpy as np

from cydl._checks import number
from cydl._registry import lookup


class Regularizer:
    """Base class: `__call__(w)` is the penalty, `gradient(w)` its derivative."""

    def __call__(self, w):
        raise NotImplementedError

    def gradient(self, w):
        raise NotImplementedError

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class L1L2(Regularizer):
    """l1 * sum|w| + l2 * sum w^2.

    L1, L2 and L1L2 run inside the optimizer's fused update: the penalty's gradient
    joins the weights' gradient there (before clipping, as in Keras) and the model
    stays on the fused path. A subclass, or any other Regularizer, runs on the
    general path.

    Args:
        l1: L1 factor (default 0).
        l2: L2 factor (default 0).

    Example:
    >>> layers.Dense(10, kernel_regularizer=cydl.regularizers.L1L2(l1=1e-5, l2=1e-4))
    """

    def __init__(self, l1=0.0, l2=0.0):
        owner = type(self).__name__
        self.l1 = number(l1, "l1", low=0.0, owner=owner)
        self.l2 = number(l2, "l2", low=0.0, owner=owner)

    def __call__(self, w):
        w = np.asarray(w, np.float64)
        out = 0.0
        if self.l1:
            out += self.l1 * np.abs(w).sum()
        if self.l2:
            out += self.l2 * np.square(w).sum()
        return out

    def gradient(self, w):
        w = np.asarray(w)
        return self.l1 * np.sign(w) + 2 * self.l2 * w

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    """l1 * sum|w|; Keras' default factor 0.01."""

    def __init__(self, l1=0.01):
        super().__init__(l1=l1)

    def get_config(self):
        return {"l1": self.l1}


class L2(L1L2):
    """l2 * sum w^2; Keras' default factor 0.01."""

    def __init__(self, l2=0.01):
        super().__init__(l2=l2)

    def get_config(self):
        return {"l2": self.l2}


def penalty_factors(regularizer):
    """(l1, l2) when the optimizer's fused update can apply `regularizer` itself (an
    L1, L2 or L1L2 exactly: a subclass may change the formula), else None."""
    if type(regularizer) in (L1L2, L1, L2):
        return regularizer.l1, regularizer.l2
    return None


def _penalty(values, need, regularizer):
    w, = values
    out = np.asarray(regularizer(w), w.dtype)
    if need is None:
        return out, None
    return out, lambda g: (np.asarray(g * regularizer.gradient(w), w.dtype),)


def penalty(regularizer, variable):
    """regularizer(variable) as a loss term (what `layer.losses` holds): under a
    GradientTape it differentiates, through the regularizer's own `gradient` when
    it has one, else through the cydl.ops its `__call__` is written with.

    Example:
    >>> loss = main_loss + cydl.regularizers.penalty(cydl.regularizers.L2(0.01), w)
    """
    from cydl.autodiff import apply
    if isinstance(regularizer, Regularizer) and \
            type(regularizer).gradient is not Regularizer.gradient:
        return apply(_penalty, (variable,), regularizer=regularizer)
    return regularizer(variable)


def l1_l2(l1=0.01, l2=0.01):
    return L1L2(l1=l1, l2=l2)


l1 = L1
l2 = L2
_ALIASES = {"l1": L1, "l2": L2, "l1_l2": L1L2, "L1": L1, "L2": L2, "L1L2": L1L2}


def get(identifier):
    if identifier is None or isinstance(identifier, Regularizer):
        return identifier
    return lookup(identifier, _ALIASES, "regularizer", instantiate=True)
