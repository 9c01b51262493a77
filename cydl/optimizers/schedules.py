"""Learning-rate schedules: called with the step number, they return the rate."""
import math

import numpy as np

from cydl._checks import integer, number


class LearningRateSchedule:
    """Base class: `__call__(step)` returns the learning rate at that step."""

    def __call__(self, step):
        raise NotImplementedError

    def get_config(self):
        return dict(self.__dict__)

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _decay_args(self, initial_learning_rate, decay_steps, decay_rate, staircase):
    owner = type(self).__name__
    self.initial_learning_rate = number(initial_learning_rate, "initial_learning_rate",
                                        low=0.0, owner=owner)
    self.decay_steps = _decay_steps(decay_steps, owner)
    # a negative rate makes every other step's learning rate negative (gradient ascent)
    self.decay_rate = number(decay_rate, "decay_rate", low=0.0, owner=owner)
    self.staircase = bool(staircase)


def _decay_steps(value, owner):
    number(value, "decay_steps", low=0.0, low_open=True, owner=owner)
    return value


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
        _decay_args(self, initial_learning_rate, decay_steps, decay_rate, staircase)

    def __call__(self, step):
        p = step / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return self.initial_learning_rate * self.decay_rate ** p


class InverseTimeDecay(LearningRateSchedule):
    """initial_learning_rate / (1 + decay_rate * step / decay_steps)."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name=None):
        _decay_args(self, initial_learning_rate, decay_steps, decay_rate, staircase)

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
            raise ValueError(f"PiecewiseConstantDecay: `values` must have one more entry than "
                             f"`boundaries`. Received {len(values)} values and "
                             f"{len(boundaries)} boundaries")
        self.boundaries = [number(b, f"boundaries[{i}]", owner="PiecewiseConstantDecay")
                           for i, b in enumerate(boundaries)]
        if any(b >= a for b, a in zip(self.boundaries, self.boundaries[1:])):
            raise ValueError(f"PiecewiseConstantDecay: `boundaries` must be strictly "
                             f"increasing. Received: boundaries={list(boundaries)!r}")
        self.boundaries = list(boundaries)
        self.values = [number(v, f"values[{i}]", low=0.0, owner="PiecewiseConstantDecay")
                       for i, v in enumerate(values)]

    def __call__(self, step):
        return self.values[int(np.searchsorted(self.boundaries, step, side="left"))]


class PolynomialDecay(LearningRateSchedule):
    """Polynomial decay from initial_learning_rate to end_learning_rate over
    decay_steps (cycling if `cycle`)."""

    def __init__(self, initial_learning_rate, decay_steps, end_learning_rate=0.0001,
                 power=1.0, cycle=False, name=None):
        owner = "PolynomialDecay"
        self.initial_learning_rate = number(initial_learning_rate, "initial_learning_rate",
                                            low=0.0, owner=owner)
        self.decay_steps = _decay_steps(decay_steps, owner)
        self.end_learning_rate = number(end_learning_rate, "end_learning_rate", low=0.0,
                                        owner=owner)
        # a negative power divides by zero once the decay is complete
        self.power = number(power, "power", low=0.0, owner=owner)
        self.cycle = bool(cycle)

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
        owner = "CosineDecay"
        self.initial_learning_rate = number(initial_learning_rate, "initial_learning_rate",
                                            low=0.0, owner=owner)
        self.decay_steps = _decay_steps(decay_steps, owner)
        self.alpha = number(alpha, "alpha", low=0.0, high=1.0, owner=owner)
        self.warmup_target = number(warmup_target, "warmup_target", low=0.0, allow_none=True,
                                    owner=owner)
        self.warmup_steps = integer(warmup_steps, "warmup_steps", low=0, owner=owner)

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
