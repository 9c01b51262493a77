"""A trial's recorded metrics (keras_tuner's MetricsTracker): for each metric, its
values by step, the best one in the metric's direction, and the last one."""
import numpy as np

from cydl.tuner.objective import infer_metric_direction


class MetricHistory:
    """The values of one metric, by step (e.g. the epoch); `direction` "min" or "max"."""

    def __init__(self, direction="min"):
        if direction not in ("min", "max"):
            raise ValueError(f'`direction` should be one of {{"min", "max"}}, but got: '
                             f"{direction!r}")
        self.direction = direction
        self._observations = {}          # step -> list of values (one per execution)

    def update(self, value, step):
        self._observations.setdefault(step, []).append(float(value))

    def get_history(self):
        return [(step, float(np.mean(v))) for step, v in sorted(self._observations.items())]

    def get_best_value(self):
        values = [v for _, v in self.get_history()]
        if not values:
            return None
        return float(np.nanmin(values) if self.direction == "min" else np.nanmax(values))

    def get_best_step(self):
        best = self.get_best_value()
        return next((step for step, v in self.get_history() if v == best), None)

    def get_last_value(self):
        history = self.get_history()
        return history[-1][1] if history else None

    def get_statistics(self):
        values = [v for _, v in self.get_history()]
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
        if not self.exists(name):
            self.register(name)
        self.metrics[name].update(value, step)

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
