"""Callback and CallbackList."""
import weakref

import numpy as np


class Callback:
    """Base class of the callbacks: override the hooks you need.

    `fit`, `evaluate` and `predict` call the hooks as Keras 3 does. `self.model` and
    `self.params` (`verbose`, `epochs`, `steps`) are set before the first hook. As in
    Keras, `on_train_batch_begin`/`on_train_batch_end` call `on_batch_begin`/
    `on_batch_end`, so a callback written against either name runs in `fit`.

    Batch-level `logs` hold the running means of the loss and the metrics over the
    epoch so far; `on_predict_batch_end` gets `{"outputs": batch_outputs}`; the logs
    of `on_epoch_end` add the `val_` values when there is validation data. Setting
    `self.model.stop_training = True` ends `fit` after the current batch (the epoch
    still ends with validation and `on_epoch_end`), and a change of
    `self.model.optimizer.learning_rate` applies from the next step.

    Example:

    >>> class PrintLoss(cydl.callbacks.Callback):
    ...     def on_epoch_end(self, epoch, logs=None):
    ...         print(epoch, logs["loss"])
    >>> model.fit(x, y, epochs=3, callbacks=[PrintLoss()])
    """

    def __init__(self):
        self.model = None
        self.params = {}

    def __getstate__(self):
        # the link to the running fit's other callbacks is not part of a copy
        state = self.__dict__.copy()
        state.pop("_siblings", None)
        return state

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_batch_begin(self, batch, logs=None):
        """Alias of `on_train_batch_begin` (the base one calls it)."""

    def on_batch_end(self, batch, logs=None):
        """Alias of `on_train_batch_end` (the base one calls it)."""

    def on_epoch_begin(self, epoch, logs=None): pass
    def on_epoch_end(self, epoch, logs=None): pass

    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs=logs)

    def on_test_batch_begin(self, batch, logs=None): pass
    def on_test_batch_end(self, batch, logs=None): pass
    def on_predict_batch_begin(self, batch, logs=None): pass
    def on_predict_batch_end(self, batch, logs=None): pass
    def on_train_begin(self, logs=None): pass
    def on_train_end(self, logs=None): pass
    def on_test_begin(self, logs=None): pass
    def on_test_end(self, logs=None): pass
    def on_predict_begin(self, logs=None): pass
    def on_predict_end(self, logs=None): pass


# a batch hook "is wanted" when a callback overrides it or, for the training hooks,
# the alias the base implementation forwards to
_BATCH_HOOKS = {"on_train_batch_begin": ("on_train_batch_begin", "on_batch_begin"),
                "on_train_batch_end": ("on_train_batch_end", "on_batch_end"),
                "on_test_batch_begin": ("on_test_batch_begin",),
                "on_test_batch_end": ("on_test_batch_end",),
                "on_predict_batch_begin": ("on_predict_batch_begin",),
                "on_predict_batch_end": ("on_predict_batch_end",)}


def _overrides(cb, hook):
    fn = getattr(cb, hook, None)
    return fn is not None and getattr(fn, "__func__", fn) is not getattr(Callback, hook)


def _plain_logs(logs):
    """What Keras hands each hook: a fresh dict, nested dicts flattened, numbers as
    Python floats (arrays, e.g. predict's outputs, stay as they are). Fresh, so that
    a callback adding a key (LearningRateScheduler's learning_rate) reaches the
    callbacks after it in this call but not the caller's own logs.

    Keras 3 also sorts the keys; cydl keeps tf.keras' order (loss, the metrics, then
    the val_ keys), the column order of the book's `pd.DataFrame(history.history)`."""
    out = {}
    for key, value in (logs or {}).items():
        if isinstance(value, dict):
            out.update(_plain_logs(value))
            continue
        if not isinstance(value, (list, tuple)) and np.ndim(value) == 0:
            try:
                value = float(value)
            except (TypeError, ValueError):
                pass
        out[key] = value
    return out


class CallbackList:
    """Calls each hook on every callback, in order. Batch-level hooks that no
    callback overrides are not called at all, so they cost nothing per step.

    Args:
        callbacks: the Callback instances, in call order.
        model: the model they watch.
        params: dict given to each callback's `set_params`.
    """

    def __init__(self, callbacks, model, params):
        self.callbacks = list(callbacks)
        self.model, self.params = model, params
        for cb in self.callbacks:
            cb.set_model(model)
            cb.set_params(params)
            # a callback that cooperates with another of the same fit (GradientStats
            # writing into TensorBoard's files) finds it here; weak: no cycle to collect
            cb._siblings = weakref.ref(self)
        self.wants = {hook: [cb for cb in self.callbacks
                             if any(_overrides(cb, h) for h in names)]
                      for hook, names in _BATCH_HOOKS.items()}

    def wants_batch(self, hook):
        return bool(self.wants[hook])

    def batch(self, hook, batch, logs):
        """The loops' per-step call: `logs` must be a fresh dict of plain values (or
        None), so it is passed on without the copy the public hooks make."""
        if not self.wants[hook]:
            return
        logs = {} if logs is None else logs
        for cb in self.wants[hook]:
            getattr(cb, hook)(batch, logs=logs)

    def _call(self, hook, *args, logs=None):
        logs = _plain_logs(logs)
        for cb in self.callbacks:
            getattr(cb, hook)(*args, logs)

    def on_train_begin(self, logs=None): self._call("on_train_begin", logs=logs)
    def on_train_end(self, logs=None): self._call("on_train_end", logs=logs)
    def on_epoch_begin(self, epoch, logs=None): self._call("on_epoch_begin", epoch, logs=logs)
    def on_epoch_end(self, epoch, logs=None): self._call("on_epoch_end", epoch, logs=logs)
    def on_test_begin(self, logs=None): self._call("on_test_begin", logs=logs)
    def on_test_end(self, logs=None): self._call("on_test_end", logs=logs)
    def on_predict_begin(self, logs=None): self._call("on_predict_begin", logs=logs)
    def on_predict_end(self, logs=None): self._call("on_predict_end", logs=logs)

    def on_batch_begin(self, batch, logs=None):
        logs = _plain_logs(logs)
        for cb in self.callbacks:
            cb.on_batch_begin(batch, logs=logs)

    def on_batch_end(self, batch, logs=None):
        logs = _plain_logs(logs)
        for cb in self.callbacks:
            cb.on_batch_end(batch, logs=logs)

    def on_train_batch_begin(self, batch, logs=None):
        self.batch("on_train_batch_begin", batch, _plain_logs(logs))

    def on_train_batch_end(self, batch, logs=None):
        self.batch("on_train_batch_end", batch, _plain_logs(logs))

    def on_test_batch_begin(self, batch, logs=None):
        self.batch("on_test_batch_begin", batch, _plain_logs(logs))

    def on_test_batch_end(self, batch, logs=None):
        self.batch("on_test_batch_end", batch, _plain_logs(logs))

    def on_predict_batch_begin(self, batch, logs=None):
        self.batch("on_predict_batch_begin", batch, _plain_logs(logs))

    def on_predict_batch_end(self, batch, logs=None):
        self.batch("on_predict_batch_end", batch, _plain_logs(logs))
