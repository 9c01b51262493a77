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
from cydl.models import _batches, _shards, _validate
from cydl.models._runners import row_blocks
from cydl.models._totals import Totals as _Totals


class FitState:
    """Where `fit` is, for callbacks that back training up and resume it
    (BackupAndRestore); it is `model._fit_state` while fit runs.

    Attributes:
        n, steps, batch_size, shuffle: the shape of an epoch.
        epoch: the current epoch (0-based).
        order: the row order of the current epoch (int64, shuffled in place at each
            epoch's start; the next epoch's order depends on it), or None.
        totals: the running sums of the current epoch's logs.
        resume: None, or set by a callback in on_train_begin: {"epoch", "step",
            "order", "totals"} (order and totals may be None) to start from: the
            epoch, then the step within it (0: its start, where it shuffles).
    """

    def __init__(self, n, steps, batch_size, order):
        self.n, self.steps, self.batch_size = n, steps, batch_size
        self.shuffle = order is not None
        self.order = order
        self.epoch = 0
        self.totals = None
        self.resume = None


def log_names(model):
    heads = model._heads or []
    names = ["loss"]
    if len(heads) > 1:
        names += [h.prefix + "loss" for h in heads]
    return names + [h.prefix + m.name for h in heads for m in h.metrics]


first_array = _batches.first_array


def prepare_xy(model, x, y, sample_weight=None, class_weight=None):
    """Checked data for the runners (see cydl.models._batches)."""
    return _batches.prepare(model, x, y, sample_weight, class_weight)


def run_fit(model, x, y, batch_size, epochs, verbose, callbacks, validation_split,
            validation_data, shuffle, class_weight, sample_weight, initial_epoch,
            steps_per_epoch, validation_batch_size, validation_freq):
    (batch_size, epochs, callbacks, validation_split, class_weight, initial_epoch,
     steps_per_epoch, validation_batch_size, validation_freq) = _validate.check_fit_args(
        model, batch_size, epochs, callbacks, validation_split, validation_data, shuffle,
        class_weight, initial_epoch, steps_per_epoch, validation_batch_size, validation_freq)
    data, val = _fit_data(model, x, y, sample_weight, class_weight, validation_split,
                          validation_data)
    dist = _shards.current()
    if dist is not None:       # data parallel over MPI processes (cydl.distribution)
        from cydl.models import _dist_fit
        return _dist_fit.run_fit(model, dist, data, val, batch_size, epochs, verbose,
                                 callbacks, shuffle, initial_epoch, steps_per_epoch,
                                 validation_batch_size, validation_freq)
    n = data.n
    steps = math.ceil(n / min(batch_size, n))
    if steps_per_epoch is not None:
        steps = min(steps, positive_int(steps_per_epoch, "steps_per_epoch"))
    cb, history = _fit_callbacks(model, callbacks, verbose, epochs, steps)
    # Keras validates in batches of validation_batch_size or batch_size. Without a
    # callback that watches test batches the batching is invisible (the logs are
    # sums over samples), so larger batches run the validation faster.
    val_batch = validation_batch_size or (
        batch_size if cb.wants_batch("on_test_batch_begin") or cb.wants_batch("on_test_batch_end")
        else max(batch_size, 256))
    batch_size = min(batch_size, n)    # workspaces are sized by the batch

    runner = model._runner(train=True)
    runner.bind(data, batch=min(batch_size, n))
    # validation has a runner of its own, bound once: the training plan is never
    # rebound back and forth between the two data sets
    val_runner = None
    if val is not None:
        val_runner = model._runner(train=False, with_head=True)
        val_batch = min(val_batch, val.n)
        val_runner.bind(val, batch=val_batch)
    model.stop_training = False
    idx = np.arange(n, dtype=np.int64) if shuffle else None
    state = FitState(n, steps, batch_size, idx)
    outer, model._fit_state = getattr(model, "_fit_state", None), state
    try:
        cb.on_train_begin()
        first, skip, saved = initial_epoch, 0, None
        if state.resume is not None:     # a callback restored a backup (the weights too)
            first, skip, saved = _resume_point(state, idx)
            # runners built anew: the plans hold each dropout layer's seed
            model._invalidate()
            runner = model._runner(train=True)
            runner.bind(data, batch=batch_size)
            if val is not None:
                val_runner = model._runner(train=False, with_head=True)
                val_runner.bind(val, batch=val_batch)
        logs = _fit_epochs(model, cb, state, runner, val_runner, val, val_batch, idx,
                           first, skip, saved, epochs, steps, batch_size, n,
                           validation_freq)
    finally:
        model._fit_state = outer
    cb.on_train_end(logs)
    return history


def _fit_data(model, x, y, sample_weight, class_weight, validation_split, validation_data):
    """The training data and the validation data (None, given, or split off)."""
    data = prepare_xy(model, x, y, sample_weight, class_weight)
    _validate.check_model(model, "fit")       # again, now that the data built it
    val = None
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
            raise ValueError("`validation_data` must be a tuple (x_val, y_val) or "
                             "(x_val, y_val, sample_weight_val)")
        val = prepare_xy(model, *validation_data)
    elif validation_split:
        # Keras: the last fraction of the data, taken before any shuffling
        n = data.n
        split = int(math.floor(n * (1.0 - validation_split)))
        if split == 0 or split == n:
            raise ValueError(f"validation_split={validation_split} leaves an empty part of "
                             f"the {n} samples")
        data, val = data.take(slice(0, split)), data.take(slice(split, n))
        labels = data.targets[0][0]
        if labels is not None and np.setdiff1d(np.unique(val.targets[0][0]),
                                               np.unique(labels)).size:
            import warnings
            warnings.warn("validation_split: the validation part has classes the training "
                          "part lacks (the split takes the last samples, unshuffled)")
    return data, val


def _resume_point(state, idx):
    """(epoch, step, totals state) to start from after a callback's restore."""
    resume = state.resume
    epoch, step = int(resume["epoch"]), int(resume.get("step") or 0)
    order = resume.get("order")
    if idx is not None and order is not None:
        idx[...] = order      # the epoch's order (step > 0), or the last one's
    if step <= 0:
        return epoch, 0, None
    return epoch, step, resume.get("totals")


def _fit_epochs(model, cb, state, runner, val_runner, val, val_batch, idx, first, skip,
                saved, epochs, steps, batch_size, n, validation_freq):
    begin, end = cb.wants_batch("on_train_batch_begin"), cb.wants_batch("on_train_batch_end")
    logs = {}
    for epoch in range(first, epochs):
        state.epoch = epoch
        cb.on_epoch_begin(epoch)
        totals = _Totals(model._heads)
        if skip and epoch == first:
            # resumed mid-epoch: this epoch's order was restored, its first `skip`
            # steps are done and their sums saved
            if saved is not None:
                totals.load(saved)
        else:
            skip = 0
            if idx is not None:
                _config.rng().shuffle(idx)
        state.totals = totals
        runner.set_order(idx)
        for step in range(skip, steps):
            start = step * batch_size
            stop = min(start + batch_size, n)
            if begin:
                cb.batch("on_train_batch_begin", step, None)
            stats = runner.train(start, stop)
            totals.add(runner, stats, start, stop)
            if end:
                cb.batch("on_train_batch_end", step, totals.logs())
            if model.stop_training:     # set by a batch hook: Keras ends the epoch here
                break
        logs = totals.logs()
        if val is not None and (epoch + 1) % validation_freq == 0:
            val_logs = evaluate_bound(model, val_runner, val, val_batch, cb)
            logs.update({"val_" + k: v for k, v in val_logs.items()})
        cb.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    return logs


def _fit_callbacks(model, callbacks, verbose, epochs, steps):
    """fit's CallbackList as Keras builds it: the user's callbacks, then a History and
    (when verbose) a progress bar, unless the list already has one."""
    cbs = list(callbacks or [])
    history = next((c for c in cbs if isinstance(c, History)), None)
    if history is None:
        history = History()
        cbs.append(history)
    if verbose and not any(isinstance(c, ProgbarLogger) for c in cbs):
        cbs.append(ProgbarLogger(verbose=verbose))
    params = {"verbose": verbose, "epochs": epochs, "steps": steps}
    return CallbackList(cbs, model, params), history


def _callback_list(model, callbacks, verbose, steps):
    """evaluate's and predict's CallbackList (None without callbacks: no hook runs)."""
    if not callbacks:
        return None
    return CallbackList(callbacks, model, {"verbose": verbose, "epochs": 1, "steps": steps})


def evaluate_bound(model, runner, data, batch, cb=None):
    """The loss and metrics over `data`, bound to `runner` in batches of `batch`; with
    a CallbackList, the test hooks fire as in Keras' evaluate."""
    dist = _shards.current()
    if dist is not None:      # each process evaluates its share; the sums are combined
        from cydl.models import _dist_eval
        return _dist_eval.evaluate_bound(model, runner, data, batch, cb, dist)
    n = data.n
    totals = _Totals(model._heads)
    runner.reg_loss = runner.penalty()     # the weights do not change during the pass
    # a big batch runs in row blocks, so that Ctrl-C is seen between them (see
    # _runners.row_blocks); the sums over the batch are then sums of block sums
    rows = runner.block_rows() if batch >= 2 * runner.block_rows() else 0
    if cb is None:
        if getattr(runner, "data", None) is not data:
            runner.bind(data, batch=batch)
        for start in range(0, n, batch):
            stop = min(start + batch, n)
            if rows:
                _test_blocks(runner, totals, start, stop, rows)
            else:
                totals.add(runner, runner.test(start, stop), start, stop)
        return totals.logs()
    begin, end = cb.wants_batch("on_test_batch_begin"), cb.wants_batch("on_test_batch_end")
    model.stop_evaluating = False
    cb.on_test_begin()
    for step, start in enumerate(range(0, n, batch)):
        stop = min(start + batch, n)
        if begin:
            cb.batch("on_test_batch_begin", step, None)
        if getattr(runner, "data", None) is not data:    # a hook evaluated other data
            runner.bind(data, batch=batch)
        if rows:
            _test_blocks(runner, totals, start, stop, rows)
        else:
            totals.add(runner, runner.test(start, stop), start, stop)
        if end:
            cb.batch("on_test_batch_end", step, totals.logs())
        if model.stop_evaluating:
            break
    logs = totals.logs()
    cb.on_test_end(logs)
    return logs


def _test_blocks(runner, totals, start, stop, rows):
    for a, b in row_blocks(start, stop, rows):
        totals.add(runner, runner.test(a, b), a, b)


def run_evaluate(model, x, y, batch_size, verbose, sample_weight, return_dict,
                 callbacks=None):
    callbacks = _validate.check_callbacks(callbacks)
    batch = _validate.check_evaluate_args(model, batch_size)
    data = prepare_xy(model, x, y, sample_weight)
    if batch_size is None and _watches(callbacks, "on_test_batch_begin", "on_test_batch_end"):
        batch = 32      # Keras' default: a callback sees the batches Keras would make
    batch = min(batch, data.n)
    cb = _callback_list(model, callbacks, verbose, math.ceil(data.n / batch))
    bar = EvalProgbar(verbose)
    runner = model._runner(train=False, with_head=True)
    runner.bind(data, batch=batch)
    logs = evaluate_bound(model, runner, data, batch, cb)
    bar.done(math.ceil(data.n / batch), logs)
    if return_dict:
        return logs
    values = list(logs.values())
    return values[0] if len(values) == 1 else values


def _watches(callbacks, *hooks):
    from cydl.callbacks.base import _overrides
    return any(_overrides(c, h) for c in callbacks or () for h in hooks)


def run_predict(model, x, batch_size, verbose, callbacks=None):
    callbacks = _validate.check_callbacks(callbacks)
    batch = _validate.check_predict_args(model, batch_size)
    outs = predict_data(model, _batches.prepare_inputs(model, x), batch, batch_size is None,
                        verbose, callbacks)
    return outs[0] if len(outs) == 1 else outs


def predict_data(model, data, batch, default_batch, verbose, callbacks):
    """The outputs (a list, one array per output) for checked inputs `data`."""
    watched = _watches(callbacks, "on_predict_batch_begin", "on_predict_batch_end")
    if default_batch and watched:
        batch = 32      # Keras' default: a callback sees the batches Keras would make
    batch = min(batch, data.n)
    cb = _callback_list(model, callbacks, verbose, math.ceil(data.n / batch))
    runner = model._runner(train=False)
    bar = EvalProgbar(verbose)
    shapes = model.output_shape if isinstance(model.output_shape, list) else [model.output_shape]

    def shaped(outs, rows):
        return [o.reshape((rows,) + tuple(s[1:])) for o, s in zip(outs, shapes)]

    if cb is not None:
        model.stop_predicting = False
        cb.on_predict_begin()
    if watched:
        outs = _predict_batches(model, runner, data, batch, cb, shaped)
    elif runner.fused:       # one plan workspace per model: callers take turns
        with model._lock:
            outs = shaped(runner.predict(data, batch), data.n)
    else:                  # the graph runner keeps nothing between calls
        outs = shaped(runner.predict(data, batch), data.n)
    bar.done(math.ceil(data.n / batch))
    if cb is not None:
        cb.on_predict_end()
    return outs


def _predict_batches(model, runner, data, batch, cb, shaped):
    """predict batch by batch, with the batch hooks between the batches."""
    parts = []
    for step, start in enumerate(range(0, data.n, batch)):
        stop = min(start + batch, data.n)
        cb.batch("on_predict_batch_begin", step, None)
        with model._lock:
            outs = shaped(runner.predict(data.take(slice(start, stop)), stop - start),
                          stop - start)
        parts.append(outs)
        cb.batch("on_predict_batch_end", step,
                 {"outputs": outs[0] if len(outs) == 1 else list(outs)})
        if model.stop_predicting:     # Keras returns the batches predicted so far
            break
    return [np.concatenate(p) for p in zip(*parts)]


def run_train_batch(model, x, y, sample_weight):
    data = prepare_xy(model, x, y, sample_weight)
    dist = _shards.current()
    if dist is not None:
        from cydl.models import _dist_fit
        return _dist_fit.train_batch(model, data, dist)
    runner = model._runner(train=True)
    runner.bind(data, batch=data.n)
    runner.set_order(None)
    totals = _Totals(model._heads)
    totals.add(runner, runner.train(0, data.n), 0, data.n)
    return totals.logs()
