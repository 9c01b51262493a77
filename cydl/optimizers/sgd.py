"""Stochastic gradient descent, with momentum and Nesterov momentum."""
from cydl._checks import number
from cydl.optimizers.base import Optimizer


class SGD(Optimizer):
    """Gradient descent, optionally with (Nesterov) momentum.

    velocity = momentum * velocity - lr * g; w += velocity, or with Nesterov
    w += momentum * velocity - lr * g. Without momentum: w -= lr * g.

    Args:
        learning_rate: default 0.01, as in Keras.
        momentum: in [0, 1], as in Keras; 0 is plain SGD.
        nesterov: use Nesterov momentum.

    Example:
    >>> opt = cydl.optimizers.SGD(learning_rate=0.01, momentum=0.9, nesterov=True)
    """

    kind = "sgd"

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.momentum = number(momentum, "momentum", low=0.0, high=1.0)
        self.nesterov = bool(nesterov)
        self.slot_names = ("momentum",) if self.momentum else ()

    def _rule_config(self):
        return {"momentum": self.momentum, "nesterov": self.nesterov}

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}
