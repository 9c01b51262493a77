"""Adagrad."""
from cydl._checks import number
from cydl.optimizers.base import Optimizer, _positive


class Adagrad(Optimizer):
    """acc += g^2; w -= lr g / sqrt(acc + epsilon).

    Args:
        learning_rate: default 0.001.
        initial_accumulator_value: starting value of acc (0.1).
        epsilon: default 1e-7.
    """

    kind = "adagrad"
    slot_names = ("accumulator",)

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7,
                 **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.initial_accumulator_value = number(initial_accumulator_value,
                                                "initial_accumulator_value", low=0.0)
        self.epsilon = _positive(epsilon, "epsilon", False)

    def slot_initial_value(self, i):
        return self.initial_accumulator_value

    def _rule_config(self):
        return {"eps": self.epsilon}

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon,
                "initial_accumulator_value": self.initial_accumulator_value}
