"""History: the per-epoch logs that fit() returns."""
from cydl.callbacks.base import Callback


class History(Callback):
    """Records each epoch's logs: `history` maps "loss", "accuracy", "val_loss",
    ... to lists, one value per epoch; `epoch` lists the epoch indices.

    Example:
    >>> history = model.fit(x, y, epochs=3)
    >>> history.history["loss"]
    """

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)

    def set_model(self, model):
        super().set_model(model)
        model.history = self
