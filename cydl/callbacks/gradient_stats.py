"""GradientStats: per-layer gradient norms and activation statistics during fit."""
import warnings

import numpy as np

from cydl._checks import integer, number
from cydl.callbacks.base import Callback


class GradientStats(Callback):
    """Watch the gradients and activations of every layer, epoch by epoch, and warn
    about vanishing or exploding gradients and dead units (*Hands-On Machine
    Learning*, ch. 11).

    At the start of training and at the end of every `freq`-th epoch, one
    forward and backward pass runs on a fixed probe batch, in training mode,
    layer by layer on a GradientTape (the compiled training step keeps no
    intermediate values). It costs about one training step on the probe batch and
    changes nothing: moving statistics and noise counters are put back. A fixed
    batch makes the epochs comparable; gradients accumulated over the epoch's
    steps would mix weights that changed along the way.

    Recorded per layer (tags as in TensorBoard):
    `gradient_norm/<layer>` (L2 norm of the layer's weight gradients),
    `activation_mean/<layer>`, `activation_std/<layer>` (of the layer's output),
    `dead_fraction/<layer>` (ReLU layers: the fraction of units that output 0 for
    every probe sample), and `gradient_ratio` (first layer's gradient norm over
    the last layer's).

    When the same `fit` has a cydl `TensorBoard` callback, the values are written
    as scalars to its `train` folder (step = epoch), and histograms of the
    activations when its `histogram_freq` says so.

    The loss is the compiled loss plus the regularization penalties, as in `fit`.

    Warnings (Python `warnings`, once per kind and `fit`): vanishing gradients
    (`gradient_ratio < vanishing_ratio`: by default the first layer moves 1000
    times less than the last), exploding gradients (`gradient_ratio >
    exploding_ratio`, or a norm that is not finite), dead units (a ReLU layer with
    more than `dead_fraction` of its units dead: more than a symmetric
    initialization leaves even on identical inputs, see cydl/utils/_sanity_rules.py).

    Args:
        x, y: the probe batch. None: the first `probe_size` samples of the data
            `fit` trains on.
        probe_size: the most samples of the probe batch.
        freq: record every `freq` epochs.
        vanishing_ratio, exploding_ratio: the bounds on `gradient_ratio`.
        dead_fraction: the fraction of dead units that triggers a warning.
        tensorboard: a TensorBoard callback to write to; None finds the one
            passed to the same `fit`.

    Attributes:
        history: {tag: [value per recorded epoch]}, of the latest fit.
        epochs: the recorded epochs.
        initial: {tag: value} before the first training step.
        warned: the warning messages issued during the last fit.

    Example:
    >>> stats = cydl.callbacks.GradientStats()
    >>> model.fit(X_train, y_train, epochs=5, callbacks=[stats])
    >>> stats.history["gradient_ratio"]
    """

    def __init__(self, x=None, y=None, probe_size=256, freq=1, vanishing_ratio=1e-3,
                 exploding_ratio=1e3, dead_fraction=0.5, tensorboard=None):
        super().__init__()
        if (x is None) != (y is None):
            raise ValueError("GradientStats: pass both `x` and `y` for the probe batch, or "
                             "neither (then the training data's first samples are used)")
        self.x, self.y = x, y
        self.probe_size = integer(probe_size, "probe_size", low=1, owner="GradientStats")
        self.freq = integer(freq, "freq", low=1, owner="GradientStats")
        self.vanishing_ratio = number(vanishing_ratio, "vanishing_ratio", low=0.0,
                                      low_open=True, owner="GradientStats")
        self.exploding_ratio = number(exploding_ratio, "exploding_ratio", low=0.0,
                                      low_open=True, owner="GradientStats")
        self.dead_fraction = number(dead_fraction, "dead_fraction", low=0.0, high=1.0,
                                    owner="GradientStats")
        self.tensorboard = tensorboard
        self.history, self.epochs, self.initial, self.warned = {}, [], {}, []

    # ------------------------------------------------------------ hooks
    def on_train_begin(self, logs=None):
        self._tb = self.tensorboard or _tensorboard_in_fit(self)
        self._probe = self._probe_batch()
        self.history, self.epochs, self.warned, self._kinds = {}, [], [], set()
        self.initial = self._measure("at the start of training")

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.freq:
            return
        stats = self._measure(f"at the end of epoch {epoch}")
        self.epochs.append(epoch)
        for tag, value in stats.items():
            self.history.setdefault(tag, []).append(value)
        if self._tb is not None:
            self._write(epoch, stats)

    # ------------------------------------------------------------ measuring
    def _probe_batch(self):
        if self.x is not None:
            return _head(self.x, self.probe_size), _head(self.y, self.probe_size)
        runner = getattr(self.model, "_runners", {}).get("train")
        data = getattr(runner, "data", None)
        if data is None:
            raise ValueError("GradientStats could not find the training data: pass a probe "
                             "batch, GradientStats(x_probe, y_probe)")
        k = min(self.probe_size, data.n)
        x = data.structure([a[:k] for a in data.xs])
        ys = [labels[:k] if labels is not None else Y[:k] for labels, Y in data.targets]
        return x, ys[0] if len(ys) == 1 else ys

    def _measure(self, when):
        from cydl.utils._probe import probe
        from cydl.utils._sanity_rules import relu_like
        x, y = self._probe
        _, outputs, norms = probe(self.model, x, y, training=True)
        stats, self._outputs = {}, outputs
        for layer, norm in norms:
            stats[f"gradient_norm/{layer.name}"] = norm
        for layer, out in outputs.items():
            out = np.asarray(out, np.float64)
            stats[f"activation_mean/{layer.name}"] = float(out.mean())
            stats[f"activation_std/{layer.name}"] = float(out.std())
            if relu_like(layer) and out.ndim >= 2:
                dead = float(np.all(out.reshape(len(out), -1) == 0, axis=0).mean())
                stats[f"dead_fraction/{layer.name}"] = dead
                if dead > self.dead_fraction:
                    self._warn("dead", f"GradientStats: {dead:.0%} of the units of layer "
                               f"{layer.name!r} output 0 for every probe sample (dead "
                               f"ReLUs) {when}. Try He initialization, a smaller learning "
                               f"rate, or LeakyReLU/ELU.")
        if len(norms) >= 2:
            (first, a), (last, b) = norms[0], norms[-1]
            ratio = a / b if b > 0 else (np.inf if a > 0 else np.nan)
            stats["gradient_ratio"] = float(ratio)
            if not np.isfinite(a) or not np.isfinite(b) or ratio > self.exploding_ratio:
                self._warn("exploding", f"GradientStats: exploding gradients {when}: the "
                           f"first layer's gradient norm ({first.name}: {a:.3g}) is "
                           f"{ratio:.3g} times the last layer's ({last.name}: {b:.3g}). Try "
                           f"gradient clipping (clipnorm), a smaller learning rate, or a "
                           f"better initialization.")
            elif ratio < self.vanishing_ratio:
                self._warn("vanishing", f"GradientStats: vanishing gradients {when}: the "
                           f"first layer's gradient norm ({first.name}: {a:.3g}) is "
                           f"{ratio:.3g} times the last layer's ({last.name}: {b:.3g}), so "
                           f"the first layers barely learn. Try He initialization with "
                           f"ReLU, SELU with lecun_normal, or BatchNormalization.")
        return stats

    def _warn(self, kind, message):
        if kind in self._kinds:
            return
        self._kinds.add(kind)
        self.warned.append(message)
        warnings.warn(message, UserWarning, stacklevel=3)

    # ------------------------------------------------------------ TensorBoard
    def _write(self, epoch, stats):
        tb = self._tb
        tb._scalars("train", {k: v for k, v in stats.items() if np.isfinite(v)}, epoch)
        if tb.histogram_freq and epoch % tb.histogram_freq == 0:
            summary = tb._tb[1]
            for layer, out in self._outputs.items():
                finite = np.asarray(out, np.float64)
                finite = finite[np.isfinite(finite)]
                if finite.size:
                    tb._writer("train").add_summary(
                        summary.histogram(f"activations/{layer.name}", finite, bins=30),
                        global_step=epoch)
        tb._writer("train").flush()


def _head(x, k):
    if isinstance(x, dict):
        return {name: np.asarray(v)[:k] for name, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(np.asarray(v)[:k] for v in x)
    return np.asarray(x)[:k]


def _tensorboard_in_fit(callback):
    """The TensorBoard callback of the fit that calls `callback`'s hooks, if any."""
    from cydl.callbacks.tensorboard import TensorBoard
    siblings = getattr(callback, "_siblings", None)
    siblings = siblings() if siblings is not None else None
    if siblings is None:
        return None
    return next((c for c in siblings.callbacks if isinstance(c, TensorBoard)), None)
