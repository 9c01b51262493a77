"""A trial's recorded metrics (keras_tuner's MetricsTracker): for each metric, its
values by step, the best one in the metric's direction, and the last one."""
import numpy as np

from cydl.tuner.objective import infer_metric_direction


class MetricObservation:
    """A metric's values at one step (e.g. an epoch), one per execution of the trial.

    Args:
        value: a float, or a list of them.
        step: the step (an int).
    """

    def __init__(self, value, step):
        self.value = list(value) if isinstance(value, list) else [value]
        self.step = step

    def append(self, value):
        self.value += list(value) if isinstance(value, list) else [value]

    def mean(self):
        return np.mean(self.value)

    def get_config(self):
        return {"value": self.value, "step": self.step}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __eq__(self, other):
        return isinstance(other, MetricObservation) and \
            (other.value, other.step) == (self.value, self.step)

    def __repr__(self):
        return f"MetricObservation(value={self.value}, step={self.step})"


class MetricHistory:
    """The observations of one metric, by step; `direction` "min" or "max"."""

    def __init__(self, direction="min"):
        if direction not in ("min", "max"):
            raise ValueError(f'`direction` should be one of {{"min", "max"}}, but got: '
                             f"{direction!r}")
        self.direction = direction
        self._observations = {}          # step -> MetricObservation

    def update(self, value, step):
        if step in self._observations:
            self._observations[step].append(value)
        else:
            self._observations[step] = MetricObservation(value, step=step)

    def get_history(self):
        """The MetricObservations, by step."""
        return sorted(self._observations.values(), key=lambda obs: obs.step)

    def _means(self):
        return [obs.mean() for obs in self.get_history()]

    def get_best_value(self):
        values = self._means()
        if not values:
            return None
        return np.nanmin(values) if self.direction == "min" else np.nanmax(values)

    def get_best_step(self):
        best = self.get_best_value()
        return next((obs.step for obs in self.get_history() if obs.mean() == best), None)

    def get_last_value(self):
        history = self.get_history()
        return history[-1].mean() if history else None

    def get_statistics(self):
        values = self._means()
        if not values:
            return {}
        return {"min": float(np.nanmin(values)), "max": float(np.nanmax(values)),
                "mean": float(np.nanmean(values)), "median": float(np.nanmedian(values)),
                "var": float(np.nanvar(values)), "std": float(np.nanstd(values))}


class MetricsTracker:
    """The MetricHistory of each metric of a trial, by name."""

    def __init__(self):
        self.metrics = {}

    def exists(self, name):
        return name in self.metrics

    def register(self, name, direction=None):
        if self.exists(name):
            raise ValueError(f"Metric already exists: {name}")
        self.metrics[name] = MetricHistory(direction or infer_metric_direction(name) or "min")

    def update(self, name, value, step=0):
        """Record `value` at `step`; returns whether the best value changed."""
        value = float(value)
        if not self.exists(name):
            self.register(name)
        previous = self.metrics[name].get_best_value()
        self.metrics[name].update(value, step)
        return bool(self.metrics[name].get_best_value() != previous)

    def _get(self, name):
        if name not in self.metrics:
            raise ValueError(f"Unknown metric: {name}. Recorded: {sorted(self.metrics)}")
        return self.metrics[name]

    def get_history(self, name):
        return self._get(name).get_history()

    def get_best_value(self, name):
        return self._get(name).get_best_value()

    def get_best_step(self, name):
        return self._get(name).get_best_step()

    def get_last_value(self, name):
        return self._get(name).get_last_value()

    def get_statistics(self, name):
        return self._get(name).get_statistics()

    def get_direction(self, name):
        return self._get(name).direction
