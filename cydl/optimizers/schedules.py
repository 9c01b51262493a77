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


def serialize(schedule):
    """A schedule as Keras 3 writes it inside an optimizer's config.

    Example:
    >>> serialize(ExponentialDecay(0.01, 1000, 0.9))["class_name"]
    'ExponentialDecay'
    """
    if not isinstance(schedule, LearningRateSchedule):
        raise TypeError(f"Expected a LearningRateSchedule. Received {schedule!r}")
    return {"module": "keras.optimizers.schedules", "class_name": type(schedule).__name__,
            "config": schedule.get_config(), "registered_name": None}


def deserialize(config):
    """The schedule a `serialize` (or Keras 3) config describes.

    Args:
        config: a dict with `class_name` (one of this module's schedules) and `config`.
    """
    if not isinstance(config, dict) or "class_name" not in config:
        raise TypeError(f"A schedule config must be a dict with 'class_name' and 'config'. "
                        f"Received {config!r}")
    cls = globals().get(config["class_name"])
    if not (isinstance(cls, type) and issubclass(cls, LearningRateSchedule)
            and cls is not LearningRateSchedule):
        raise ValueError(f"Unknown learning-rate schedule {config['class_name']!r}")
    return cls.from_config(dict(config.get("config", {})))


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


class CosineDecayRestarts(LearningRateSchedule):
    """Cosine decay with warm restarts (SGDR, Loshchilov & Hutter 2017), as Keras 3's.

    The first period lasts `first_decay_steps` steps, each next one `t_mul` times
    longer; period i starts at `initial_learning_rate * m_mul ** i` and decays along a
    cosine to `alpha` times the initial rate:
    `initial_learning_rate * ((1 - alpha) * 0.5 * m_mul**i * (1 + cos(pi * f)) + alpha)`,
    f the fraction of period i done.

    Keras finds the period with a logarithm in float32, which can land one period off
    exactly at a restart; cydl computes in float64 and corrects the index, so a
    restart step gets the period's start rate.

    Args:
        initial_learning_rate: the rate at step 0.
        first_decay_steps: steps of the first period (> 0).
        t_mul: how much longer each period is than the one before (> 0; default 2).
        m_mul: how much lower each period starts than the one before (default 1).
        alpha: the fraction of the initial rate each period decays to (in [0, 1]).

    Example:
    >>> s = cydl.optimizers.schedules.CosineDecayRestarts(0.1, first_decay_steps=1000)
    >>> opt = cydl.optimizers.SGD(learning_rate=s)
    """

    def __init__(self, initial_learning_rate, first_decay_steps, t_mul=2.0, m_mul=1.0,
                 alpha=0.0, name="SGDRDecay"):
        owner = "CosineDecayRestarts"
        self.initial_learning_rate = number(initial_learning_rate, "initial_learning_rate",
                                            low=0.0, owner=owner)
        number(first_decay_steps, "first_decay_steps", low=0.0, low_open=True, owner=owner)
        self.first_decay_steps = first_decay_steps
        self.t_mul = number(t_mul, "t_mul", low=0.0, low_open=True, owner=owner)
        self.m_mul = number(m_mul, "m_mul", low=0.0, owner=owner)
        self.alpha = number(alpha, "alpha", low=0.0, high=1.0, owner=owner)
        self.name = name

    def _period(self, fraction):
        """(index of the period, fraction of it done) at `fraction` first periods."""
        t = self.t_mul
        if t == 1.0:
            i = math.floor(fraction)
            return i, fraction - i
        arg = 1.0 - fraction * (1.0 - t)
        if arg <= 0:       # t_mul < 1: the periods shrink and their total runs out
            raise ValueError(f"CosineDecayRestarts(t_mul={t}): the periods sum to "
                             f"{self.first_decay_steps / (1 - t):g} steps, and step "
                             f"{fraction * self.first_decay_steps:g} is past them all")
        i = max(int(math.floor(math.log(arg) / math.log(t))), 0)

        def start(k):      # where period k starts, in first periods: (1 - t^k) / (1 - t)
            return (1.0 - t ** k) / (1.0 - t)
        while start(i + 1) <= fraction:      # the logarithm rounded down across a restart
            i += 1
        while i > 0 and start(i) > fraction:
            i -= 1
        return i, (fraction - start(i)) / t ** i

    def __call__(self, step):
        i, done = self._period(step / self.first_decay_steps)
        cosine = 0.5 * self.m_mul ** i * (1.0 + math.cos(math.pi * done))
        return self.initial_learning_rate * ((1.0 - self.alpha) * cosine + self.alpha)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "first_decay_steps": self.first_decay_steps, "t_mul": self.t_mul,
                "m_mul": self.m_mul, "alpha": self.alpha, "name": self.name}


class OneCycle(LearningRateSchedule):
    """The 1cycle policy (Smith 2018) with torch.optim.lr_scheduler.OneCycleLR's
    formulas and defaults, as a schedule of the step.

    Over the first `pct_start` of `total_steps` the rate rises from
    `max_learning_rate / div_factor` to `max_learning_rate`; over the rest it falls to
    `max_learning_rate / (div_factor * final_div_factor)` (torch's min_lr:
    initial_lr / final_div_factor). Both phases follow `anneal_strategy`: "cos"
    (torch's default: half a cosine from one rate to the other) or "linear". Phase
    boundaries are torch's: the rise ends at step `pct_start * total_steps - 1`, the
    fall at step `total_steps - 1`; with `three_phase`, the rate comes back down to
    the initial rate by step `2 * pct_start * total_steps - 2` before the fall to the
    minimum. Past the last step the rate stays at the minimum (torch raises there).
    torch also cycles the momentum; a schedule sets the learning rate only.

    Args:
        max_learning_rate: the peak rate (> 0).
        total_steps: the number of training steps (optimizer updates) of the cycle.
        pct_start: the fraction of the steps spent rising (default 0.3).
        anneal_strategy: "cos" (default) or "linear".
        div_factor: the initial rate is max_learning_rate / div_factor (default 25).
        final_div_factor: the final rate is the initial rate / final_div_factor
            (default 1e4).
        three_phase: come back down to the initial rate before the final fall.

    Example:
    >>> steps = epochs * math.ceil(len(X_train) / batch_size)
    >>> s = cydl.optimizers.schedules.OneCycle(0.1, total_steps=steps)
    >>> model.compile(optimizer=cydl.optimizers.SGD(learning_rate=s), ...)
    """

    def __init__(self, max_learning_rate, total_steps, pct_start=0.3, anneal_strategy="cos",
                 div_factor=25.0, final_div_factor=1e4, three_phase=False, name="OneCycle"):
        owner = "OneCycle"
        self.max_learning_rate = number(max_learning_rate, "max_learning_rate", low=0.0,
                                        low_open=True, owner=owner)
        self.total_steps = integer(total_steps, "total_steps", low=1, owner=owner)
        self.pct_start = number(pct_start, "pct_start", low=0.0, high=1.0, owner=owner)
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"OneCycle: `anneal_strategy` must be 'cos' or 'linear'. "
                             f"Received: anneal_strategy={anneal_strategy!r}")
        self.anneal_strategy = anneal_strategy
        self.div_factor = number(div_factor, "div_factor", low=0.0, low_open=True,
                                 owner=owner)
        self.final_div_factor = number(final_div_factor, "final_div_factor", low=0.0,
                                       low_open=True, owner=owner)
        self.three_phase = bool(three_phase)
        self.name = name
        initial = self.max_learning_rate / self.div_factor
        low = initial / self.final_div_factor
        n, p = float(self.total_steps), self.pct_start
        if self.three_phase:
            self._phases = [(p * n - 1, initial, self.max_learning_rate),
                            (2 * p * n - 2, self.max_learning_rate, initial),
                            (n - 1, initial, low)]
        else:
            self._phases = [(p * n - 1, initial, self.max_learning_rate),
                            (n - 1, self.max_learning_rate, low)]

    def _anneal(self, start, end, pct):
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def __call__(self, step):
        step = min(float(step), self.total_steps - 1.0)
        begin = 0.0
        for k, (end, lo, hi) in enumerate(self._phases):
            if step <= end or k == len(self._phases) - 1:
                # torch divides by the phase's length; a phase of no length (e.g.
                # pct_start * total_steps = 1) is at its end rate from its first step
                pct = (step - begin) / (end - begin) if end > begin else 1.0
                return self._anneal(lo, hi, pct)
            begin = end
        raise AssertionError("unreachable")

    def get_config(self):
        return {"max_learning_rate": self.max_learning_rate, "total_steps": self.total_steps,
                "pct_start": self.pct_start, "anneal_strategy": self.anneal_strategy,
                "div_factor": self.div_factor, "final_div_factor": self.final_div_factor,
                "three_phase": self.three_phase, "name": self.name}


class CyclicalLearningRate(LearningRateSchedule):
    """A cyclical learning rate (Smith 2017) with torch.optim.lr_scheduler.CyclicLR's
    formulas: the rate goes linearly from `initial_learning_rate` up to
    `maximal_learning_rate` over `step_size` steps and back down over
    `step_size_down` (default: `step_size`), and so on.

    mode "triangular" keeps the amplitude; "triangular2" halves it every cycle;
    "exp_range" scales it by gamma ** step. With the defaults:
    `lr = initial + (maximal - initial) * max(0, 1 - |step / step_size - 2 c + 1|)`,
    c = floor(1 + step / (2 step_size)) the cycle.

    Args:
        initial_learning_rate: the lowest rate (torch's base_lr).
        maximal_learning_rate: the highest rate of the first cycle (torch's max_lr).
        step_size: steps of the rise (torch's step_size_up; default 2000).
        mode: "triangular" (default), "triangular2" or "exp_range".
        gamma: exp_range's factor per step (default 1).
        step_size_down: steps of the fall (default: step_size).

    Example:
    >>> s = cydl.optimizers.schedules.CyclicalLearningRate(1e-4, 1e-2, step_size=2000)
    >>> opt = cydl.optimizers.SGD(learning_rate=s, momentum=0.9)
    """

    def __init__(self, initial_learning_rate, maximal_learning_rate, step_size=2000,
                 mode="triangular", gamma=1.0, step_size_down=None,
                 name="CyclicalLearningRate"):
        owner = "CyclicalLearningRate"
        self.initial_learning_rate = number(initial_learning_rate, "initial_learning_rate",
                                            low=0.0, owner=owner)
        self.maximal_learning_rate = number(maximal_learning_rate, "maximal_learning_rate",
                                            low=0.0, owner=owner)
        self.step_size = number(step_size, "step_size", low=0.0, low_open=True, owner=owner)
        self.step_size_down = number(step_size_down, "step_size_down", low=0.0,
                                     low_open=True, allow_none=True, owner=owner)
        if mode not in ("triangular", "triangular2", "exp_range"):
            raise ValueError(f"CyclicalLearningRate: `mode` must be 'triangular', "
                             f"'triangular2' or 'exp_range'. Received: mode={mode!r}")
        self.mode = mode
        self.gamma = number(gamma, "gamma", low=0.0, low_open=True, owner=owner)
        self.name = name

    def __call__(self, step):
        up = self.step_size
        down = self.step_size if self.step_size_down is None else self.step_size_down
        total = up + down
        ratio = up / total
        cycle = math.floor(1 + step / total)
        x = 1.0 + step / total - cycle
        scale = x / ratio if x <= ratio else (x - 1) / (ratio - 1)
        height = (self.maximal_learning_rate - self.initial_learning_rate) * scale
        if self.mode == "triangular2":
            height = height * (1 / 2.0 ** (cycle - 1))
        elif self.mode == "exp_range":
            height = height * self.gamma ** step
        return self.initial_learning_rate + height

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "maximal_learning_rate": self.maximal_learning_rate,
                "step_size": self.step_size, "mode": self.mode, "gamma": self.gamma,
                "step_size_down": self.step_size_down, "name": self.name}
