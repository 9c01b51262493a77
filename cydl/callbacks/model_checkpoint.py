"""ModelCheckpoint."""
import os

import numpy as np

from cydl.callbacks.base import Callback
from cydl.distribution._state import is_chief


class ModelCheckpoint(Callback):
    """Save the model (or its weights) at the end of every epoch, or only when the
    monitored value improves. Every write goes to a temporary file first, so a
    crash mid-save leaves the previous checkpoint whole. In a data-parallel run
    (cydl.distribution) process 0 writes; the others, which hold the same weights
    and logs, write nothing.

    Args:
        filepath: where to save; may hold `{epoch}` (1-based) and log keys, e.g.
            "ckpt_{epoch:02d}_{val_loss:.3f}.keras". It ends in `.keras`, or in
            `.weights.npz` / `.weights.h5` with save_weights_only=True.
        monitor: the log key to watch with save_best_only (default "val_loss").
        verbose: 1 prints a line per save.
        save_best_only: save only when `monitor` improves on the best so far.
        save_weights_only: save the weights only (save_weights), not the model.
        mode: "min", "max" or "auto" (max for accuracy-like keys).
        save_freq: "epoch" (the only value supported).
        initial_value_threshold: a best value to beat from the start.

    Example:
    >>> cb = cydl.callbacks.ModelCheckpoint("best.keras", save_best_only=True)
    >>> model.fit(x, y, epochs=10, validation_split=0.1, callbacks=[cb])
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", save_freq="epoch",
                 initial_value_threshold=None):
        super().__init__()
        filepath = os.fspath(filepath)
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"mode must be 'auto', 'min' or 'max'. Received: mode={mode!r}")
        if save_freq != "epoch":
            raise ValueError(f"ModelCheckpoint supports save_freq='epoch' only. Received: "
                             f"save_freq={save_freq!r}")
        want = (".weights.npz", ".weights.h5") if save_weights_only else (".keras",)
        if not filepath.endswith(want):
            raise ValueError(f"With save_weights_only={save_weights_only}, the file name "
                             f"must end in {' or '.join(want)}. Received: "
                             f"filepath={filepath!r}")
        if not isinstance(monitor, str):
            raise TypeError(f"ModelCheckpoint: `monitor` must be a log key such as "
                            f"'val_loss'. Received: monitor={monitor!r}")
        if mode == "auto":
            mode = "max" if any(k in monitor for k in ("acc", "auc", "precision", "recall")) \
                else "min"
        self.filepath, self.monitor, self.verbose, self.mode = filepath, monitor, verbose, mode
        self.save_best_only, self.save_weights_only = save_best_only, save_weights_only
        self.best = None if initial_value_threshold is None else float(initial_value_threshold)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.save_best_only:
            if self.monitor not in logs:
                raise ValueError(f"ModelCheckpoint: monitor={self.monitor!r} is not in the "
                                 f"logs. Available keys: {sorted(logs)}")
            value = float(logs[self.monitor])
            if not np.isfinite(value) or (self.best is not None and not (
                    value > self.best if self.mode == "max" else value < self.best)):
                return
            self.best = value
        try:
            path = self.filepath.format(epoch=epoch + 1, **logs)
        except (KeyError, IndexError) as e:
            raise ValueError(f"ModelCheckpoint: filepath {self.filepath!r} names {e}, which "
                             f"is not in the logs. Available keys: {sorted(logs)}") from None
        if not is_chief():
            return
        if self.verbose:
            print(f"Epoch {epoch + 1}: saving model to {path}")
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)
