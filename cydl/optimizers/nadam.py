"""Nadam: Adam with Nesterov momentum (Keras 3's momentum schedule)."""
import numpy as np

from cydl.optimizers.base import Optimizer, _positive, _unit_interval


class Nadam(Optimizer):
    """Adam with Nesterov momentum.

    With u_t = beta_1 (1 - 0.5 * 0.96^t) and U_t = u_1 ... u_t:
    w -= lr (u_{t+1} m / (1 - U_{t+1}) + (1 - u_t) g / (1 - U_t))
         / (sqrt(v / (1 - beta_2^t)) + epsilon).

    Args:
        learning_rate: default 0.001.
        beta_1, beta_2: default 0.9 and 0.999.
        epsilon: default 1e-7.
    """

    kind = "nadam"
    slot_names = ("momentum", "velocity")

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.beta_1 = _unit_interval(beta_1, "beta_1")
        self.beta_2 = _unit_interval(beta_2, "beta_2")
        self.epsilon = _positive(epsilon, "epsilon", False)
        # the product of the u's so far, as Keras keeps it: an array, so that it is
        # part of the saved state (_state_arrays)
        self._u_product = np.ones((), np.float64)

    def _rule_config(self):
        return {"beta1": self.beta_1, "beta2": self.beta_2, "eps": self.epsilon}

    def _u(self, t):
        return self.beta_1 * (1.0 - 0.5 * 0.96 ** t)

    def step_scalars(self, t, lr):
        u_t, u_next = self._u(t), self._u(t + 1)
        u_prod = float(self._u_product) * u_t
        self._pending_u_product = u_prod
        return (u_next / (1 - u_prod * u_next), (1 - u_t) / (1 - u_prod),
                1 / (1 - self.beta_2 ** t))

    def finish_step(self):
        self._u_product[()] = self._pending_u_product
        super().finish_step()

    def _state_arrays(self):
        return super()._state_arrays() + [self._u_product]

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}
