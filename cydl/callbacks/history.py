"""History: the per-epoch logs that fit() returns."""
from cydl.callbacks.base import Callback

_PLOT_EXTRA = 'pip install "cydl[plot]"'


def _pyplot():
    """matplotlib.pyplot, imported on first use: plotting is an optional extra."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise ImportError(f"Plotting needs matplotlib, which is not installed ({e}). "
                          f"Install the extra: {_PLOT_EXTRA} (or pip install matplotlib)"
                          ) from None
    return plt


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

    def plot(self, keys=None, ax=None, figsize=(8, 5), xlim=None, ylim=None, grid=True,
             xlabel="Epoch", title=None):
        """Plot the learning curves, as the book's
        `pd.DataFrame(history.history).plot(...)`: every key against the epoch, each
        `val_` key dashed in the color of its training key.

        Needs matplotlib (`pip install "cydl[plot]"`).

        Args:
            keys: the keys to draw (default: all, in the order of `history`).
            ax: a matplotlib Axes to draw in (default: a new figure).
            figsize, xlim, ylim, grid, xlabel, title: as in pandas' `plot`.

        Returns:
            The matplotlib Axes.

        Example:
        >>> history = model.fit(X_train, y_train, epochs=30,
        ...                     validation_data=(X_valid, y_valid))
        >>> history.plot(ylim=[0, 1])
        """
        keys = list(self.history) if keys is None else list(keys)
        unknown = [k for k in keys if k not in self.history]
        if unknown:
            raise ValueError(f"History.plot: unknown keys {unknown}; the recorded keys are "
                             f"{list(self.history)}")
        if not keys:
            raise ValueError("History.plot: nothing to plot, the history is empty (plot it "
                             "after fit)")
        plt = _pyplot()
        if ax is None:
            ax = plt.subplots(figsize=figsize)[1]
        colors = {}
        cycle = plt.rcParams["axes.prop_cycle"].by_key().get("color", ["C0"])
        for key in keys:
            base = key[4:] if key.startswith("val_") else key
            color = colors.setdefault(base, cycle[len(colors) % len(cycle)])
            values = self.history[key]
            # the epochs recorded (they start at initial_epoch), when they line up
            x = self.epoch if len(self.epoch) == len(values) else range(len(values))
            ax.plot(list(x), values, linestyle="--" if key.startswith("val_") else "-",
                    marker="." if len(values) < 2 else None, color=color, label=key)
        ax.set_xlabel(xlabel)
        if xlim is not None:
            ax.set_xlim(xlim)
        if ylim is not None:
            ax.set_ylim(ylim)
        if title is not None:
            ax.set_title(title)
        ax.grid(bool(grid))
        ax.legend()
        return ax
