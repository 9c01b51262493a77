"""Adamax: Adam with the infinity norm."""
from cydl.optimizers.base import Optimizer, _positive, _unit_interval


class Adamax(Optimizer):
    """m += (g - m)(1 - beta_1); u = max(beta_2 u, |g|);
    w -= lr / (1 - beta_1^t) * m / (u + epsilon).

    Args:
        learning_rate: default 0.001.
        beta_1, beta_2: default 0.9 and 0.999.
        epsilon: default 1e-7.
    """

    kind = "adamax"
    slot_names = ("momentum", "norm")

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.beta_1 = _unit_interval(beta_1, "beta_1")
        self.beta_2 = _unit_interval(beta_2, "beta_2")
        self.epsilon = _positive(epsilon, "epsilon", False)

    def _rule_config(self):
        return {"beta1": self.beta_1, "beta2": self.beta_2, "eps": self.epsilon}

    def step_scalars(self, t, lr):
        return lr / (1 - self.beta_1 ** t), 0.0, 0.0

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}
