"""What `HyperModel.fit` may return (a History, a dict of metrics, a float, or a list
of those, one per execution) turned into one metrics dict and a best step, as
keras_tuner's tuner_utils; and the callback that keeps the best epoch's weights."""
import collections
import statistics

import numpy as np

from cydl.callbacks import Callback
from cydl.tuner import errors, objective as obj_module


def _is_history(results):
    return isinstance(getattr(results, "history", None), dict)


def validate_trial_results(results, objective, func_name):
    """FatalTypeError/FatalValueError for a result the search cannot score (these stop
    the search: the code, not the hyper-parameters, is at fault)."""
    if isinstance(results, list):
        for elem in results:
            validate_trial_results(elem, objective, func_name)
        return
    if isinstance(results, (int, float, np.floating, np.integer)) and \
            not isinstance(results, bool):
        return
    if results is None:
        raise errors.FatalTypeError(f"The return value of {func_name} is None. Did you forget "
                                    f"to return the metrics?")
    if isinstance(results, dict) or _is_history(results):
        logs = results if isinstance(results, dict) else \
            {k: v[-1] for k, v in results.history.items() if len(v)}
        if not objective.has_value(logs):
            raise errors.FatalValueError(f"Objective value missing in the metrics returned by "
                                         f"{func_name}: expected {_wanted(objective)}, found: "
                                         f"{sorted(logs)}")
        return
    raise errors.FatalTypeError(f"Expected the return value of {func_name} to be one of float, "
                                f"dict, cydl.callbacks.History, or a list of one of these "
                                f"types. Received return value: {results!r} of type "
                                f"{type(results).__name__}.")


def _wanted(objective):
    if isinstance(objective, obj_module.MultiObjective):
        return sorted(objective.name_to_direction)
    if isinstance(objective, obj_module.DefaultObjective):
        return "a float, or 'val_loss' (no objective was given)"
    return repr(objective.name)


def best_epoch(epoch_logs, objective):
    """(metrics of the best epoch, its index) among per-epoch logs dicts."""
    best = 0
    for epoch, logs in enumerate(epoch_logs):
        if objective.better_than(objective.get_value(logs), objective.get_value(epoch_logs[best])):
            best = epoch
    metrics = dict(epoch_logs[best])
    metrics.setdefault(objective.name, objective.get_value(metrics))
    return metrics, best


def _epochs(history):
    per_epoch = collections.defaultdict(dict)
    for name, values in history.history.items():
        for epoch, value in enumerate(values):
            per_epoch[epoch][name] = float(value)
    return [per_epoch[e] for e in sorted(per_epoch)]


def convert_to_metrics_dict(results, objective):
    """One dict of metric values: the mean over executions of each one's best epoch."""
    if isinstance(results, list):
        dicts = [convert_to_metrics_dict(elem, objective) for elem in results]
        names = dict.fromkeys(k for d in dicts for k in d)
        return {k: float(np.mean([d[k] for d in dicts if k in d])) for k in names}
    if not isinstance(results, dict) and not _is_history(results):
        return {objective.name: float(results)}
    if isinstance(results, dict):
        metrics = {k: float(v) for k, v in results.items()}
        metrics.setdefault(objective.name, objective.get_value(metrics))
        return metrics
    return best_epoch(_epochs(results), objective)[0]


def get_best_step(results, objective):
    if isinstance(results, list):
        return int(statistics.mean(get_best_step(elem, objective) for elem in results))
    if _is_history(results):
        return best_epoch(_epochs(results), objective)[1]
    return 0


class SaveBestEpoch(Callback):
    """Saves the model's weights at the epoch with the best objective value so far
    (across a trial's executions), or at every epoch when the logs lack it."""

    def __init__(self, objective, filepath):
        super().__init__()
        self.objective, self.filepath = objective, filepath
        self.best_value = float("-inf") if objective.direction == "max" else float("inf")

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if not self.objective.has_value(logs):
            self.model.save_weights(self.filepath)
            return
        value = self.objective.get_value(logs)
        if self.objective.better_than(value, self.best_value):
            self.best_value = value
            self.model.save_weights(self.filepath)
