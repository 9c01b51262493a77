"""OptunaPruningCallback: reports a metric to an Optuna trial after each epoch and
stops the training when Optuna's pruner says so (as optuna_integration's
KerasPruningCallback does for Keras)."""
import warnings

import optuna

from cydl.callbacks import Callback


class OptunaPruningCallback(Callback):
    """Reports `logs[monitor]` to `trial` at the end of each epoch (step = the epoch
    index, from 0) and raises `optuna.TrialPruned` when the study's pruner prunes
    the trial. Works in any Optuna objective function, with any pruner.

    Args:
        trial: the `optuna.trial.Trial` being evaluated.
        monitor: the metric to report, e.g. "val_loss" or "val_accuracy" (the
            study's direction says whether higher is better).

    Example:
    >>> def objective(trial):
    ...     model = make_model(trial.suggest_float("lr", 1e-4, 1e-1, log=True))
    ...     history = model.fit(X, y, validation_data=(X_val, y_val), epochs=20, verbose=0,
    ...                         callbacks=[cydl.tuner.OptunaPruningCallback(trial)])
    ...     return history.history["val_loss"][-1]
    >>> optuna.create_study(pruner=optuna.pruners.MedianPruner()).optimize(objective, 20)
    """

    def __init__(self, trial, monitor="val_loss"):
        super().__init__()
        if not isinstance(monitor, str) or not monitor:
            raise TypeError(f"`monitor` must be a metric name (str). Received: {monitor!r}")
        self.trial, self.monitor = trial, monitor

    def _step(self, epoch):
        return epoch

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        value = logs.get(self.monitor)
        if value is None:
            warnings.warn(f"OptunaPruningCallback: the metric {self.monitor!r} is not in the "
                          f"logs (available: {sorted(logs)}); nothing reported for epoch "
                          f"{epoch}", RuntimeWarning, stacklevel=2)
            return
        self.trial.report(float(value), step=self._step(epoch))
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"Trial was pruned at epoch {epoch}.")
