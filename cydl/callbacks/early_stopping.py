"""EarlyStopping."""
import warnings

import numpy as np

from cydl._checks import integer, number
from cydl.callbacks.base import Callback


class EarlyStopping(Callback):
    """Stop training when a monitored value has stopped improving.

    Args:
        monitor: the log key to watch (default "val_loss").
        min_delta: smallest change that counts as an improvement.
        patience: epochs without improvement before stopping.
        mode: "min", "max" or "auto" (max for accuracy-like keys).
        baseline: stop if the value does not beat this.
        restore_best_weights: at the end of training, whatever ended it, put back
            the weights of the best epoch.
        start_from_epoch: epochs to wait before monitoring.

    Example:
    >>> cb = cydl.callbacks.EarlyStopping(patience=10, restore_best_weights=True)
    >>> model.fit(x, y, epochs=100, validation_split=0.1, callbacks=[cb])
    """

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto",
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        super().__init__()
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"mode must be 'auto', 'min' or 'max'. Received: mode={mode!r}")
        if not isinstance(monitor, str):
            raise TypeError(f"EarlyStopping: `monitor` must be a log key such as 'val_loss'. "
                            f"Received: monitor={monitor!r}")
        patience = integer(patience, "patience", low=0, owner="EarlyStopping")
        start_from_epoch = integer(start_from_epoch, "start_from_epoch", low=0,
                                   owner="EarlyStopping")
        # NaN would make every comparison False: training would never stop improving
        min_delta = number(min_delta, "min_delta", owner="EarlyStopping")
        baseline = number(baseline, "baseline", allow_none=True, owner="EarlyStopping")
        self.monitor, self.patience, self.verbose = monitor, patience, verbose
        self.baseline, self.restore_best_weights = baseline, restore_best_weights
        self.start_from_epoch = start_from_epoch
        if mode == "auto":
            mode = "max" if any(k in monitor for k in ("acc", "auc", "precision", "recall")) \
                else "min"
        self.mode = mode
        self.min_delta = abs(min_delta) * (1 if mode == "max" else -1)
        self.stopped_epoch = 0

    def _better(self, value, reference):
        if reference is None:
            return True
        return value - self.min_delta > reference if self.mode == "max" \
            else value - self.min_delta < reference

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.monitor not in logs:
            raise ValueError(f"EarlyStopping: monitor={self.monitor!r} is not in the logs. "
                             f"Available keys: {sorted(logs)}")
        value = float(logs[self.monitor])
        if epoch < self.start_from_epoch:
            return
        if not np.isfinite(value):      # NaN or inf never counts as an improvement
            self.wait += 1
            if self.wait >= self.patience and epoch > 0:
                self.stopped_epoch = epoch
                self.model.stop_training = True
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()
        self.wait += 1
        if self._better(value, self.best):
            self.best, self.best_epoch = value, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._better(value, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose:
                print(f"Restoring model weights from the end of the best epoch: "
                      f"{self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)
        elif self.restore_best_weights:
            warnings.warn("EarlyStopping: no epoch completed, nothing to restore")
