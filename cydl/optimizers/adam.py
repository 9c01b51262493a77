"""Adam and AdamW."""
import math

from cydl.optimizers.base import Optimizer, _positive, _unit_interval


class Adam(Optimizer):
    """Adam: per-parameter rates from running moments of the gradient.

    m += (g - m)(1 - beta_1); v += (g^2 - v)(1 - beta_2);
    w -= lr sqrt(1 - beta_2^t) / (1 - beta_1^t) * m / (sqrt(v) + epsilon).

    Args:
        learning_rate: default 0.001.
        beta_1, beta_2: moment decay rates (0.9, 0.999).
        epsilon: default 1e-7, as in Keras.
        amsgrad: use the running maximum of v.

    Example:
    >>> model.compile(optimizer=cydl.optimizers.Adam(learning_rate=1e-3), loss="mse")
    """

    kind = "adam"

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.beta_1 = _unit_interval(beta_1, "beta_1")
        self.beta_2 = _unit_interval(beta_2, "beta_2")
        self.epsilon = _positive(epsilon, "epsilon", False)
        self.amsgrad = bool(amsgrad)
        self.slot_names = ("momentum", "velocity") + (("velocity_hat",) if amsgrad else ())

    def _rule_config(self):
        return {"beta1": self.beta_1, "beta2": self.beta_2, "eps": self.epsilon,
                "amsgrad": self.amsgrad}

    def step_scalars(self, t, lr):
        return lr * math.sqrt(1 - self.beta_2 ** t) / (1 - self.beta_1 ** t), 0.0, 0.0

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon, "amsgrad": self.amsgrad}


class AdamW(Adam):
    """Adam with decoupled weight decay (w -= lr * weight_decay * w each step).

    Args:
        weight_decay: default 0.004, as in Keras.
    """

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-7, amsgrad=False, **kwargs):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad,
                         weight_decay=weight_decay, **kwargs)
