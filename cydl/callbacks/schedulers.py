"""Callbacks that change the learning rate or stop on NaN, and LambdaCallback."""
import math

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
        self.schedule, self.verbose = schedule, verbose

    def on_epoch_begin(self, epoch, logs=None):
        opt = self.model.optimizer
        try:
            lr = self.schedule(epoch, opt.current_learning_rate())
        except TypeError:
            lr = self.schedule(epoch)
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
            setattr(self, name, fn)
