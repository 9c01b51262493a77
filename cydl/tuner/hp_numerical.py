"""Int and Float: ranges with keras_tuner's `step` and `sampling` ("linear", "log",
"reverse_log"), sampled through Optuna's int/float distributions.

The mapping to Optuna: linear -> a uniform int/float distribution (with `step`);
log -> Optuna's log distribution; a `step` with log sampling (keras_tuner multiplies
by it: 2, 4, 8, ...) -> a categorical over those values; reverse_log (dense near
`max_value`) -> Optuna's log distribution over the mirrored value `max + min - v`,
stored in the study as the parameter "<name>[reverse_log]"."""
import math
import numbers
from decimal import Decimal

from cydl.tuner.hp_types import _SAMPLINGS, HyperParameter


def _number(value, arg, where, integral):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) \
            or not math.isfinite(value):
        raise TypeError(f"{where}: `{arg}` must be a finite {'int' if integral else 'number'}. "
                        f"Received: {arg}={value!r}")
    if integral:
        if int(value) != value:
            raise ValueError(f"{where}: `{arg}` must be an int. Received: {arg}={value!r}")
        return int(value)
    return float(value)


class _Numerical(HyperParameter):
    _integral = False

    def __init__(self, name, min_value, max_value, step=None, sampling="linear",
                 default=None, **kwargs):
        super().__init__(name, default=None, **kwargs)
        where, integral = self._where(), self._integral
        self.min_value = _number(min_value, "min_value", where, integral)
        self.max_value = _number(max_value, "max_value", where, integral)
        if sampling is None:            # keras_tuner accepts None for "linear"
            sampling = "linear"
        if not isinstance(sampling, str) or sampling.lower() not in _SAMPLINGS:
            raise ValueError(f"{where}: `sampling` must be one of {list(_SAMPLINGS)}. "
                             f"Received: sampling={sampling!r}")
        self.sampling = sampling.lower()
        if step is None and integral and self.sampling == "linear":
            step = 1
        self.step = None if step is None else _number(step, "step", where, integral)
        if self.min_value > self.max_value:
            raise ValueError(f"{where}: min_value {self.min_value} is greater than the "
                             f"max_value {self.max_value}")
        if self.sampling != "linear" and self.min_value <= 0:
            raise ValueError(f"{where}: sampling={self.sampling!r} needs min_value > 0. "
                             f"Received: min_value={self.min_value}")
        if self.step is not None and self.step <= (0 if self.sampling == "linear" else 1):
            bound = "0" if self.sampling == "linear" else f"1 with sampling={self.sampling!r}"
            raise ValueError(f"{where}: expected step > {bound}. Received: step={self.step}")
        if default is not None:
            default = _number(default, "default", where, integral)
            if not self.min_value <= default <= self.max_value:
                raise ValueError(f"{where}: `default` must lie in [min_value, max_value] = "
                                 f"[{self.min_value}, {self.max_value}]. Received: "
                                 f"default={default}")
        self._default = default

    @property
    def default(self):
        return self.min_value if self._default is None else self._default

    def _n_values(self):
        if self.sampling == "linear":
            return int((self.max_value - self.min_value) // self.step + 1)
        return int(math.log(self.max_value / self.min_value, self.step) + 1e-8) + 1

    def _value(self, index):
        """The index-th value on keras_tuner's grid when `step` is set."""
        if self.sampling == "linear":
            v = self.min_value + index * self.step
        elif self.sampling == "log":
            v = self.min_value * self.step ** index
        else:
            v = self.max_value + self.min_value - self.min_value * self.step ** index
        return int(round(v)) if self._integral else float(v)

    @property
    def values(self):
        """Every value when `step` is set, else those at the centres of ten equal
        slices of the sampling's scale (keras_tuner's), without repeats."""
        if self.step is not None:
            return tuple(self._value(i) for i in range(self._n_values()))
        return tuple(sorted({self._from_prob(i * 0.1 + 0.05) for i in range(10)}))

    def _from_prob(self, prob):
        """keras_tuner's map from [0, 1) onto the range; an Int's top is max_value + 1
        (then floored), so that max_value gets a slice of its own."""
        lo, hi = self.min_value, self.max_value + 1 if self._integral else self.max_value
        if self.sampling == "linear":
            v = prob * (hi - lo) + lo
        elif self.sampling == "log":
            v = lo * math.pow(hi / lo, prob)
        else:
            v = hi + lo - lo * math.pow(hi / lo, 1 - prob)
        return self._cast(v)

    def _cast(self, v):
        return int(v) if self._integral else float(v)

    def get_config(self):
        return {**super().get_config(), "min_value": self.min_value,
                "max_value": self.max_value, "step": self.step, "sampling": self.sampling}

    def _suggest(self, trial):
        lo, hi = self.min_value, self.max_value
        suggest = trial.suggest_int if self._integral else trial.suggest_float
        if self.sampling == "linear":
            if self.step is None:
                return suggest(self.name, lo, hi)
            # the last grid point at or below max_value: Optuna warns when high is off-grid
            k = (Decimal(str(hi)) - Decimal(str(lo))) // Decimal(str(self.step))
            top = Decimal(str(lo)) + k * Decimal(str(self.step))
            return suggest(self.name, lo, self._cast(top), step=self.step)
        if self.step is not None:
            return trial.suggest_categorical(self.name, list(self.values))
        if self.sampling == "log":
            return suggest(self.name, lo, hi, log=True)
        mirrored = suggest(f"{self.name}[reverse_log]", lo, hi, log=True)
        return self._cast(hi + lo - mirrored)


class Int(_Numerical):
    """An integer in [min_value, max_value], both included; default `min_value`.

    Args:
        name: the name, unique in the search space.
        min_value, max_value: the bounds, inclusive.
        step: the distance between values ("linear", default 1) or the factor
            between them ("log"/"reverse_log", > 1; None: any integer).
        sampling: "linear", "log" or "reverse_log".
        default: the value used outside a search.
    """
    _integral = True

    def get_config(self):
        # keras_tuner writes the `default` given (None: min_value), for Int only
        return {**super().get_config(), "default": self._default}


class Float(_Numerical):
    """A float in [min_value, max_value]; default `min_value`.

    Args:
        name: the name, unique in the search space.
        min_value, max_value: the bounds.
        step: None for a continuous range, else the distance ("linear") or the
            factor (> 1, "log"/"reverse_log") between values.
        sampling: "linear", "log" or "reverse_log".
        default: the value used outside a search.
    """
