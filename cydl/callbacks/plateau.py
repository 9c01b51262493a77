"""ReduceLROnPlateau."""
import numpy as np

from cydl._checks import integer, number
from cydl.callbacks.base import Callback
from cydl.variables import Variable


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by `factor` when `monitor` has stopped improving
    for `patience` epochs (performance scheduling, Hands-On ML ch. 11).

    Args:
        monitor: the log key to watch (default "val_loss").
        factor: the rate is multiplied by this, in (0, 1).
        patience: epochs without improvement before a reduction.
        verbose: 1 prints each reduction.
        mode: "min", "max" or "auto" (max for accuracy-like keys).
        min_delta: smallest change that counts as an improvement.
        cooldown: epochs to wait after a reduction before counting again.
        min_lr: the rate never goes below this.

    Example:
    >>> cb = cydl.callbacks.ReduceLROnPlateau(factor=0.5, patience=5)
    >>> model.fit(x, y, epochs=50, validation_split=0.1, callbacks=[cb])
    """

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto",
                 min_delta=1e-4, cooldown=0, min_lr=0.0, **kwargs):
        super().__init__()
        if kwargs:
            raise TypeError(f"Unrecognized arguments for ReduceLROnPlateau: {kwargs}")
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"mode must be 'auto', 'min' or 'max'. Received: mode={mode!r}")
        if not isinstance(monitor, str):
            raise TypeError(f"ReduceLROnPlateau: `monitor` must be a log key such as "
                            f"'val_loss'. Received: monitor={monitor!r}")
        owner = "ReduceLROnPlateau"
        self.factor = number(factor, "factor", low=0.0, high=1.0, low_open=True,
                             high_open=True, owner=owner)
        self.patience = integer(patience, "patience", low=0, owner=owner)
        self.cooldown = integer(cooldown, "cooldown", low=0, owner=owner)
        self.min_delta = abs(number(min_delta, "min_delta", owner=owner))
        self.min_lr = number(min_lr, "min_lr", low=0.0, owner=owner)
        if mode == "auto":
            mode = "max" if any(k in monitor for k in ("acc", "auc", "precision", "recall")) \
                else "min"
        self.monitor, self.mode, self.verbose = monitor, mode, verbose

    def on_train_begin(self, logs=None):
        self.best, self.wait, self.cooldown_left = None, 0, 0

    def _better(self, value):
        if self.best is None:
            return True
        if self.mode == "max":
            return value > self.best + self.min_delta
        return value < self.best - self.min_delta

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        opt = self.model.optimizer
        logs["learning_rate"] = opt.current_learning_rate()
        if self.monitor not in logs:
            raise ValueError(f"ReduceLROnPlateau: monitor={self.monitor!r} is not in the "
                             f"logs. Available keys: {sorted(logs)}")
        value = float(logs[self.monitor])
        if self.cooldown_left > 0:
            self.cooldown_left -= 1
            self.wait = 0
        if np.isfinite(value) and self._better(value):
            self.best, self.wait = value, 0
            return
        if self.cooldown_left > 0:
            return
        self.wait += 1
        if self.wait < self.patience:
            return
        if not isinstance(opt._learning_rate, Variable):
            raise ValueError("ReduceLROnPlateau needs a constant learning rate; this "
                             "optimizer follows a schedule")
        old = opt.current_learning_rate()
        new = max(old * self.factor, self.min_lr)
        if new < old:
            opt.learning_rate = new
            if self.verbose:
                print(f"Epoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new}.")
            self.cooldown_left, self.wait = self.cooldown, 0
