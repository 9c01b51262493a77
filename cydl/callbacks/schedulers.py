"""Callbacks that change the learning rate or stop on NaN, and LambdaCallback."""
import math

from cydl._checks import is_number
from cydl.callbacks.base import Callback


class LearningRateScheduler(Callback):
    """Set the learning rate at the start of each epoch from schedule(epoch, lr).

    Example:
    >>> def exponential_decay(epoch, lr):
    ...     return 0.01 * 0.1 ** (epoch / 20)
    >>> cb = cydl.callbacks.LearningRateScheduler(exponential_decay)
    """

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise TypeError(f"LearningRateScheduler: `schedule` must be a function of "
                            f"(epoch, lr) or (epoch). Received: schedule={schedule!r}")
        self.schedule, self.verbose = schedule, verbose

    def on_epoch_begin(self, epoch, logs=None):
        opt = self.model.optimizer
        try:
            lr = self.schedule(epoch, opt.current_learning_rate())
        except TypeError:
            lr = self.schedule(epoch)
        # a negative rate would silently ascend the loss for the whole epoch
        if not is_number(lr) or not 0 <= float(lr) < math.inf:
            raise ValueError(f"LearningRateScheduler: the schedule returned learning_rate="
                             f"{lr!r} for epoch {epoch}; it must be a finite number >= 0")
        opt.learning_rate = float(lr)
        if self.verbose:
            print(f"Epoch {epoch + 1}: LearningRateScheduler setting learning rate to {lr}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = self.model.optimizer.current_learning_rate()


class TerminateOnNaN(Callback):
    """Stop training as soon as the loss is NaN or infinite."""

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True


class LambdaCallback(Callback):
    """A callback from plain functions, e.g. LambdaCallback(on_epoch_end=fn)."""

    def __init__(self, **hooks):
        super().__init__()
        for name, fn in hooks.items():
            if not name.startswith("on_") or not hasattr(Callback, name):
                raise ValueError(f"Unknown callback hook: {name!r}")
            if fn is not None and not callable(fn):
                raise TypeError(f"LambdaCallback: `{name}` must be a function. "
                                f"Received: {name}={fn!r}")
            if fn is None:
                continue
            setattr(self, name, fn)
