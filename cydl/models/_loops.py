"""The loops behind fit, evaluate and predict.

Per step there is one call into the runner (a single compiled kernel call on the
fused path) plus a few additions in Python. Batch-level callbacks run only if some
callback overrides them, and the progress bar redraws at most ten times a second.
"""
import math

import numpy as np

from cydl import _config
from cydl._registry import positive_int
from cydl.callbacks import CallbackList, History, ProgbarLogger
from cydl.callbacks.progbar import EvalProgbar
from cydl.models import _data, _validate


class _Totals:
    """Running loss and metric values over the batches of one pass."""

    def __init__(self, head):
        self.head = head
        head.reset()
        self.loss = 0.0
        self.seen = 0

    def add(self, runner, stats, start, stop):
        B = stop - start
        self.loss += stats[0] + runner.reg_loss * B
        self.seen += B
        for m, k in self.head.fast:
            m.add_stat(stats[k], B)
        if self.head.generic:
            y_true, _ = runner.batch_targets(start, stop)
            y_pred = runner.outputs(start, stop)
            for m in self.head.generic:
                m.update_state(y_true, y_pred)

    def logs(self, prefix=""):
        out = {prefix + "loss": float(self.loss / max(self.seen, 1))}
        for m in self.head.metrics:
            out[prefix + m.name] = float(m.result())
        return out


def prepare_xy(model, x, y, sample_weight=None, class_weight=None):
    """Checked arrays for the kernels: (X2 (n, features), labels, Y, sw)."""
    X = _data.as_features(x, "x", model._sample_shape(), model._store_dtype())
    model._ensure_built(X.shape)
    if y is None:
        raise ValueError("`y` is required: cydl models need targets to compute the loss")
    _data.check_lengths(X, y, sample_weight)
    head = model._head
    out_shape = model.output_shape
    y_shape = np.shape(y)
    head.resolve(model._final_activation(), y_shape, out_shape)
    dtype = model._store_dtype()
    labels = Y = None
    if head.sparse:
        labels = _data.as_labels(y, out_shape[-1])
    else:
        Y = _data.as_targets(y, out_shape, dtype)
    sw = _data.as_sample_weight(sample_weight, X.shape[0], dtype, class_weight, labels)
    return X.reshape(X.shape[0], -1), labels, Y, sw


def run_fit(model, x, y, batch_size, epochs, verbose, callbacks, validation_split,
            validation_data, shuffle, class_weight, sample_weight, initial_epoch,
            steps_per_epoch, validation_batch_size, validation_freq):
    (batch_size, epochs, callbacks, validation_split, class_weight, initial_epoch,
     steps_per_epoch, validation_batch_size, validation_freq) = _validate.check_fit_args(
        model, batch_size, epochs, callbacks, validation_split, validation_data, shuffle,
        class_weight, initial_epoch, steps_per_epoch, validation_batch_size, validation_freq)
    X, labels, Y, sw = prepare_xy(model, x, y, sample_weight, class_weight)
    val = None
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
            raise ValueError("`validation_data` must be a tuple (x_val, y_val) or "
                             "(x_val, y_val, sample_weight_val)")
        val = prepare_xy(model, *validation_data)
    elif validation_split:
        # Keras: the last fraction of the data, taken before any shuffling
        n = X.shape[0]
        split = int(math.floor(n * (1.0 - validation_split)))
        if split == 0 or split == n:
            raise ValueError(f"validation_split={validation_split} leaves an empty part of "
                             f"the {n} samples")
        cut = [a[split:] if a is not None else None for a in (X, labels, Y, sw)]
        X, labels, Y, sw = [a[:split] if a is not None else None for a in (X, labels, Y, sw)]
        val = tuple(cut)
        if labels is not None and np.setdiff1d(np.unique(val[1]), np.unique(labels)).size:
            import warnings
            warnings.warn("validation_split: the validation part has classes the training "
                          "part lacks (the split takes the last samples, unshuffled)")
    n = X.shape[0]
    batch_size = min(batch_size, n)    # workspaces are sized by the batch
    steps = math.ceil(n / batch_size)
    if steps_per_epoch is not None:
        steps = min(steps, positive_int(steps_per_epoch, "steps_per_epoch"))
    val_batch = positive_int(validation_batch_size, "validation_batch_size",
                                   allow_none=True) or max(batch_size, 256)
    val_batch = min(val_batch, val[0].shape[0]) if val else val_batch

    runner = model._runner(train=True)
    runner.bind(X, labels, Y, sw, batch=max(batch_size, val_batch if val else 0))
    history = History()
    cbs = list(callbacks or [])
    if verbose:
        cbs.append(ProgbarLogger(verbose=verbose))
    cbs.append(history)
    params = {"verbose": verbose, "epochs": epochs, "steps": steps}
    cb = CallbackList(cbs, model, params)
    begin, end = cb.wants_batch("on_train_batch_begin"), cb.wants_batch("on_train_batch_end")
    model.stop_training = False
    idx = np.arange(n, dtype=np.int64) if shuffle else None
    cb.on_train_begin()
    logs = {}
    for epoch in range(initial_epoch, epochs):
        cb.on_epoch_begin(epoch)
        if val is not None and epoch > initial_epoch:
            runner.bind(X, labels, Y, sw, batch=batch_size)
        if idx is not None:
            _config.rng().shuffle(idx)
        runner.set_order(idx)
        totals = _Totals(model._head)
        for step in range(steps):
            start = step * batch_size
            stop = min(start + batch_size, n)
            if begin:
                cb.batch("on_train_batch_begin", step, None)
            stats = runner.train(start, stop)
            totals.add(runner, stats, start, stop)
            if end:
                cb.batch("on_train_batch_end", step, totals.logs())
            if model.stop_training:
                break
        logs = totals.logs()
        if val is not None and (epoch + 1) % validation_freq == 0:
            logs.update(evaluate_arrays(model, runner, *val, batch=val_batch, prefix="val_"))
        cb.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    cb.on_train_end(logs)
    return history


def evaluate_arrays(model, runner, X, labels, Y, sw, batch, prefix=""):
    batch = min(batch, X.shape[0])
    runner.bind(X, labels, Y, sw, batch=batch)
    totals = _Totals(model._head)
    n = X.shape[0]
    for start in range(0, n, batch):
        stop = min(start + batch, n)
        stats = runner.test(start, stop)
        totals.add(runner, stats, start, stop)
    return totals.logs(prefix)


def run_evaluate(model, x, y, batch_size, verbose, sample_weight, return_dict):
    batch = _validate.check_evaluate_args(model, batch_size)
    X, labels, Y, sw = prepare_xy(model, x, y, sample_weight)
    bar = EvalProgbar(verbose)
    logs = evaluate_arrays(model, model._runner(train=False, with_head=True),
                           X, labels, Y, sw, batch)
    bar.done(math.ceil(X.shape[0] / batch), logs)
    if return_dict:
        return logs
    values = list(logs.values())
    return values[0] if len(values) == 1 else values


def run_predict(model, x, batch_size, verbose):
    batch = _validate.check_predict_args(model, batch_size)
    X = _data.as_features(x, "x", model._sample_shape(), model._store_dtype())
    model._ensure_built(X.shape)
    runner = model._runner(train=False)
    bar = EvalProgbar(verbose)
    out = runner.predict(X.reshape(X.shape[0], -1), min(batch, X.shape[0]))
    bar.done(math.ceil(X.shape[0] / batch))
    return out.reshape((X.shape[0],) + tuple(model.output_shape[1:]))
