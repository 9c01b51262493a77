"""The callback a tuner adds to each trial's `fit`: it forwards the epochs to the
tuner's hooks, keeps the epochs' logs, reports the objective to the Optuna trial
(step = epochs done) and raises optuna.TrialPruned when the pruner says so."""
import os

import optuna

from cydl.callbacks import Callback


class TunerCallback(Callback):
    def __init__(self, tuner, trial, report=True):
        super().__init__()
        self.tuner, self.trial, self.report = tuner, trial, report
        self.epoch_logs = []
        # cydl calls batch hooks only on callbacks that define them (they cost time on
        # every step): forward them only when the tuner overrides its batch hooks
        from cydl.tuner.tuner import Tuner      # (tuner.py imports this module)
        for hook in ("on_batch_begin", "on_batch_end"):
            if getattr(type(tuner), hook) is not getattr(Tuner, hook):
                setattr(self, hook, self._forward(hook))

    def _forward(self, hook):
        def forward(batch, logs=None):
            getattr(self.tuner, hook)(self.trial, self.model, batch, logs)
        return forward

    def on_epoch_begin(self, epoch, logs=None):
        self.tuner._match_threads()
        self.tuner.on_epoch_begin(self.trial, self.model, epoch, logs=logs)

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        self.epoch_logs.append(logs)
        self.tuner.on_epoch_end(self.trial, self.model, epoch, logs=logs)
        objective = self.tuner.oracle.objective
        if self.report and objective.has_value(logs):
            live = self.trial._live
            live.report(float(objective.get_value(logs)), step=epoch + 1)
            # after the last epoch the work is done: a rung there (Hyperband's at
            # max_epochs) would only mark the trial pruned
            last = epoch + 1 >= self.params.get("epochs", float("inf"))
            if not last and live.should_prune():
                raise optuna.TrialPruned(f"Trial {self.trial.trial_id} was pruned after "
                                         f"{epoch + 1} epochs.")


def configure_tensorboard_dir(callbacks, trial, execution=0):
    """Each trial's TensorBoard logs in log_dir/<trial_id>/execution<i>, as keras_tuner
    lays them out with TensorFlow."""
    for callback in callbacks:
        if type(callback).__name__ == "TensorBoard" and hasattr(callback, "log_dir"):
            callback.log_dir = os.path.join(str(callback.log_dir), str(trial.trial_id),
                                            f"execution{execution}")
