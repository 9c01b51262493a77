"""Learning-rate schedules: called with the step number, they return the rate."""
import math

import numpy as np


class LearningRateSchedule:
    """Base class: `__call__(step)` returns the learning rate at that step."""

    def __call__(self, step):
        raise NotImplementedError

    def get_config(self):
        return dict(self.__dict__)

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class ExponentialDecay(LearningRateSchedule):
    """initial_learning_rate * decay_rate ** (step / decay_steps).

    Args:
        initial_learning_rate: the rate at step 0.
        decay_steps: steps per factor of decay_rate.
        decay_rate: the decay factor.
        staircase: decay in whole steps of decay_steps.

    Example:
    >>> s = cydl.optimizers.schedules.ExponentialDecay(0.01, 20_000, 0.1)
    >>> opt = cydl.optimizers.SGD(learning_rate=s)
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name=None):
        if decay_steps <= 0:
            raise ValueError(f"decay_steps must be positive. Received: {decay_steps}")
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_steps = decay_steps
        self.decay_rate = float(decay_rate)
        self.staircase = staircase

    def __call__(self, step):
        p = step / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return self.initial_learning_rate * self.decay_rate ** p


class InverseTimeDecay(LearningRateSchedule):
    """initial_learning_rate / (1 + decay_rate * step / decay_steps)."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name=None):
        if decay_steps <= 0:
            raise ValueError(f"decay_steps must be positive. Received: {decay_steps}")
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_steps = decay_steps
        self.decay_rate = float(decay_rate)
        self.staircase = staircase

    def __call__(self, step):
        p = step / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return self.initial_learning_rate / (1 + self.decay_rate * p)


class PiecewiseConstantDecay(LearningRateSchedule):
    """values[i] while step <= boundaries[i] (and values[-1] after the last).

    Example:
    >>> s = cydl.optimizers.schedules.PiecewiseConstantDecay([5000, 8000], [0.01, 0.005, 0.001])
    """

    def __init__(self, boundaries, values, name=None):
        if len(values) != len(boundaries) + 1:
            raise ValueError("values must have one more entry than boundaries")
        self.boundaries = list(boundaries)
        self.values = [float(v) for v in values]

    def __call__(self, step):
        return self.values[int(np.searchsorted(self.boundaries, step, side="left"))]


class PolynomialDecay(LearningRateSchedule):
    """Polynomial decay from initial_learning_rate to end_learning_rate over
    decay_steps (cycling if `cycle`)."""

    def __init__(self, initial_learning_rate, decay_steps, end_learning_rate=0.0001,
                 power=1.0, cycle=False, name=None):
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_steps = decay_steps
        self.end_learning_rate = float(end_learning_rate)
        self.power = power
        self.cycle = cycle

    def __call__(self, step):
        steps = self.decay_steps
        if self.cycle:
            steps = steps * max(1, math.ceil(step / steps))
        else:
            step = min(step, steps)
        frac = (1 - step / steps) ** self.power
        return (self.initial_learning_rate - self.end_learning_rate) * frac + self.end_learning_rate


class CosineDecay(LearningRateSchedule):
    """Cosine decay from initial_learning_rate to alpha * initial over decay_steps,
    after an optional linear warmup to warmup_target."""

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name=None,
                 warmup_target=None, warmup_steps=0):
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_steps = decay_steps
        self.alpha = alpha
        self.warmup_target = warmup_target
        self.warmup_steps = warmup_steps

    def __call__(self, step):
        start = self.initial_learning_rate
        if self.warmup_target is not None and self.warmup_steps > 0:
            if step < self.warmup_steps:
                return start + (self.warmup_target - start) * step / self.warmup_steps
            start = self.warmup_target
            step = step - self.warmup_steps
        step = min(step, self.decay_steps)
        cos = 0.5 * (1 + math.cos(math.pi * step / self.decay_steps))
        return start * ((1 - self.alpha) * cos + self.alpha)
