"""RMSprop."""
from cydl.optimizers.base import Optimizer, _positive, _unit_interval


class RMSprop(Optimizer):
    """Divide the gradient by a running RMS of recent gradients.

    v = rho v + (1 - rho) g^2; step = lr g / sqrt(v + epsilon) (centered: v - mean(g)^2);
    with momentum: s = momentum s + step, w -= s.

    Args:
        learning_rate: default 0.001.
        rho: decay of the running average (0.9).
        momentum: default 0.
        epsilon: default 1e-7.
        centered: normalize by the gradient's estimated variance.
    """

    kind = "rmsprop"

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7,
                 centered=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.rho = _unit_interval(rho, "rho")
        self.momentum = _unit_interval(momentum, "momentum")
        self.epsilon = _positive(epsilon, "epsilon", False)
        self.centered = bool(centered)
        # slot positions are fixed by the kernel: velocity, average gradient, momentum
        self.slot_names = ("velocity", "average_gradient" if self.centered else None,
                           "momentum" if self.momentum else None)

    def _rule_config(self):
        return {"rho": self.rho, "momentum": self.momentum, "eps": self.epsilon,
                "centered": self.centered}

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum,
                "epsilon": self.epsilon, "centered": self.centered}
