"""Callback and CallbackList."""


class Callback:
    """Base class: override the hooks you need; `self.model` and `self.params` are set
    before training starts.

    Example:
    >>> class PrintLoss(cydl.callbacks.Callback):
    ...     def on_epoch_end(self, epoch, logs=None):
    ...         print(epoch, logs["loss"])
    """

    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None): pass
    def on_train_end(self, logs=None): pass
    def on_epoch_begin(self, epoch, logs=None): pass
    def on_epoch_end(self, epoch, logs=None): pass
    def on_train_batch_begin(self, batch, logs=None): pass
    def on_train_batch_end(self, batch, logs=None): pass
    def on_test_begin(self, logs=None): pass
    def on_test_end(self, logs=None): pass
    def on_test_batch_begin(self, batch, logs=None): pass
    def on_test_batch_end(self, batch, logs=None): pass
    def on_predict_begin(self, logs=None): pass
    def on_predict_end(self, logs=None): pass
    def on_predict_batch_begin(self, batch, logs=None): pass
    def on_predict_batch_end(self, batch, logs=None): pass


_BATCH_HOOKS = ("on_train_batch_begin", "on_train_batch_end", "on_test_batch_begin",
                "on_test_batch_end", "on_predict_batch_begin", "on_predict_batch_end")


def _overrides(cb, hook):
    fn = getattr(cb, hook)
    return getattr(fn, "__func__", fn) is not getattr(Callback, hook)


class CallbackList:
    """Calls each hook on every callback, in order. Batch-level hooks that no
    callback overrides are not called at all, so they cost nothing per step."""

    def __init__(self, callbacks, model, params):
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            cb.set_model(model)
            cb.set_params(params)
        self.wants = {hook: [cb for cb in self.callbacks if _overrides(cb, hook)]
                      for hook in _BATCH_HOOKS}

    def wants_batch(self, hook):
        return bool(self.wants[hook])

    def batch(self, hook, batch, logs):
        for cb in self.wants[hook]:
            getattr(cb, hook)(batch, logs)

    def __getattr__(self, hook):
        if not hook.startswith("on_"):
            raise AttributeError(hook)

        def call(*args, **kwargs):
            for cb in self.callbacks:
                getattr(cb, hook)(*args, **kwargs)
        return call
