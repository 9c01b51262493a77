"""find_learning_rate: the exponential learning-rate sweep of *Hands-On Machine
Learning* (ch. 11), on a copy of the model."""
import copy
import math

import numpy as np

from cydl._checks import integer, number
from cydl.callbacks.base import Callback
from cydl.utils._clone import KeepGlobalRNG, as_model, check_compiled

SMOOTHING = 0.98      # fastai's: an exponential moving average over ~50 batches


class ExponentialLearningRate(Callback):
    """The book's callback: records each batch's learning rate and loss, then
    multiplies the rate by `factor`. Stops `fit` once the smoothed loss exceeds
    `stop_factor` times its minimum (fastai's rule), or is not finite.

    The batch logs hold the epoch's running mean loss (as in Keras), so each
    batch's own loss is recovered from the change of the running sum (the book's
    3rd edition does the same).
    """

    def __init__(self, factor, n_samples, batch_size, stop_factor=4.0):
        super().__init__()
        self.factor, self.n, self.batch_size = factor, n_samples, batch_size
        self.stop_factor = stop_factor
        self.rates, self.losses, self.smoothed = [], [], []
        self.stopped_early = False
        self._avg = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._sum, self._seen = 0.0, 0

    def on_train_batch_end(self, batch, logs=None):
        seen = min((batch + 1) * self.batch_size, self.n)
        total = logs["loss"] * seen
        loss = (total - self._sum) / (seen - self._seen)
        self._sum, self._seen = total, seen
        opt = self.model.optimizer
        self.rates.append(opt.current_learning_rate())
        self.losses.append(loss)
        self._avg = SMOOTHING * self._avg + (1 - SMOOTHING) * loss
        self.smoothed.append(self._avg / (1 - SMOOTHING ** len(self.losses)))  # debiased
        if not math.isfinite(loss) or \
                self.smoothed[-1] > self.stop_factor * min(self.smoothed):
            self.stopped_early = True
            self.model.stop_training = True
            return
        opt.learning_rate = opt.current_learning_rate() * self.factor


class LRFinderResult:
    """The outcome of find_learning_rate.

    Attributes:
        rates, losses: each batch's learning rate and loss (NumPy arrays).
        smoothed_losses: the losses as an exponential moving average (factor 0.98,
            debiased), which the suggestion and the early stop read.
        min_loss_rate: the rate at the lowest smoothed loss.
        suggested_rate: min_loss_rate / 10 (the book: about 10 times lower than the
            rate where the loss turns up).
        stopped_early: whether the sweep stopped because the loss exploded.
    """

    def __init__(self, rates, losses, smoothed, stopped_early):
        self.rates, self.losses = np.asarray(rates), np.asarray(losses)
        self.smoothed_losses = np.asarray(smoothed)
        self.stopped_early = stopped_early
        finite = np.where(np.isfinite(self.smoothed_losses), self.smoothed_losses, np.inf)
        best = int(np.argmin(finite)) if finite.size else None
        self.min_loss_rate = float(self.rates[best]) if best is not None else None
        self.suggested_rate = self.min_loss_rate / 10 if best is not None else None

    def __iter__(self):
        """`rates, losses = find_learning_rate(...)`: what the book's own
        find_learning_rate returns, so its plotting cell runs as written."""
        return iter((self.rates, self.losses))

    def plot(self, ax=None):
        """The loss against the learning rate (log scale), as in the book; returns
        the matplotlib Axes."""
        from cydl.callbacks.history import _pyplot
        if ax is None:
            ax = _pyplot().subplots()[1]
        ax.plot(self.rates, self.losses, label="loss")
        ax.plot(self.rates, self.smoothed_losses, label="smoothed")
        ax.set_xscale("log")
        finite = self.losses[np.isfinite(self.losses)]
        if finite.size:
            ax.hlines(finite.min(), self.rates.min(), self.rates.max(), colors="gray")
            ax.set_ylim(0, max(finite[0], finite.min()) * 1.5 + 1e-12)
        if self.suggested_rate is not None:
            ax.axvline(self.suggested_rate, linestyle="--", color="red",
                       label=f"suggested {self.suggested_rate:.2g}")
        ax.set_xlabel("Learning rate")
        ax.set_ylabel("Loss")
        ax.grid(True)
        ax.legend()
        return ax

    def __repr__(self):
        if not self.rates.size:
            return "<LRFinderResult no batch recorded>"
        suggested = "None" if self.suggested_rate is None else f"{self.suggested_rate:.3g}"
        return (f"<LRFinderResult {len(self.rates)} batches, rates {self.rates.min():.2g}.."
                f"{self.rates.max():.2g}, suggested_rate={suggested}>")


def find_learning_rate(model, X, y, min_lr=1e-5, max_lr=10.0, epochs=1, batch_size=32,
                       stop_factor=4.0, plot=False):
    """Sweep the learning rate exponentially from `min_lr` to `max_lr` over `epochs`
    epochs of training, recording the loss of every batch.

    The rate is multiplied by a constant after each batch (an
    ExponentialLearningRate callback, as in the book). The sweep trains a copy of
    the model (`copy.deepcopy`) with a copy of its optimizer: the model's weights,
    optimizer state and learning rate stay exactly as they were, and so does
    cydl's global random generator. The sweep stops early when the smoothed loss
    passes `stop_factor` times its minimum.

    Args:
        model: a compiled cydl model.
        X, y: training data.
        min_lr, max_lr: the first and the last learning rate.
        epochs: how many epochs the sweep lasts.
        batch_size: samples per step.
        stop_factor: stop once the smoothed loss exceeds this many times its minimum.
        plot: draw the curve with matplotlib (`result.plot()` does it later).

    Returns:
        An LRFinderResult: `rates`, `losses`, `suggested_rate` (the rate of the
        lowest smoothed loss over 10), `plot()`. It unpacks as the book's
        function's result: `rates, losses = find_learning_rate(model, X, y)`.

    Example:
    >>> result = cydl.utils.find_learning_rate(model, X_train, y_train)
    >>> result.suggested_rate
    >>> result.plot()
    """
    model = as_model(model, "find_learning_rate")
    check_compiled(model, "find_learning_rate")
    min_lr = number(min_lr, "min_lr", low=0.0, low_open=True, owner="find_learning_rate")
    max_lr = number(max_lr, "max_lr", low=0.0, low_open=True, owner="find_learning_rate")
    if max_lr <= min_lr:
        raise ValueError(f"find_learning_rate: `max_lr` must be greater than `min_lr`. "
                         f"Received: min_lr={min_lr}, max_lr={max_lr}")
    epochs = integer(epochs, "epochs", low=1, owner="find_learning_rate")
    batch_size = integer(batch_size, "batch_size", low=1, owner="find_learning_rate")
    stop_factor = number(stop_factor, "stop_factor", low=1.0, low_open=True,
                         owner="find_learning_rate")
    from cydl.models._batches import first_array
    n = len(first_array(X))
    if n == 0:
        raise ValueError("find_learning_rate: `X` is empty")
    batch_size = min(batch_size, n)
    steps = math.ceil(n / batch_size) * epochs
    if steps < 2:       # one step tries min_lr alone: there would be nothing to read
        raise ValueError(f"find_learning_rate: the sweep needs at least 2 training steps; "
                         f"{n} samples in batches of {batch_size} for {epochs} epoch(s) "
                         f"make {steps}. Pass more samples, a smaller `batch_size` or more "
                         f"`epochs`")
    factor = math.exp(math.log(max_lr / min_lr) / steps)
    sweep = copy.deepcopy(model)
    sweep.optimizer.learning_rate = min_lr
    callback = ExponentialLearningRate(factor, n, batch_size, stop_factor)
    with KeepGlobalRNG():
        sweep.fit(X, y, epochs=epochs, batch_size=batch_size, callbacks=[callback], verbose=0)
    result = LRFinderResult(callback.rates, callback.losses, callback.smoothed,
                            callback.stopped_early)
    if plot:
        result.plot()
    return result
