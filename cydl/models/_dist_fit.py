"""fit and train_on_batch under a DataParallel distribution (see cydl.distribution).

The loop of cydl.models._loops, with three differences: each step runs this
process's slice of the global batch (cydl.models._shards.Schedule) and sums the
gradients across the processes (cydl.models._dist_steps); the logs are sums over
the processes, read at the same points by all of them; and the run starts from
process 0's weights, seeds and generator state. Every process must call fit with
the same arguments (the same arrays, unless auto_shard_dataset=False).
"""
import numpy as np

from cydl import _config
from cydl._registry import positive_int
from cydl.models import _loops
from cydl.models._dist_eval import check_call, evaluate_bound, global_flag
from cydl.models._dist_steps import train_part
from cydl.models._shards import DistTotals, Schedule, _all_layers, split, sync_start


def run_fit(model, dist, data, val, batch_size, epochs, verbose, callbacks, shuffle,
            initial_epoch, steps_per_epoch, validation_batch_size, validation_freq):
    world = dist._world
    _check_supported(model, dist, callbacks)
    check_call(model, dist, "fit", data, batch_size=batch_size, epochs=epochs,
               initial_epoch=initial_epoch, steps_per_epoch=steps_per_epoch or 0,
               shuffle=bool(shuffle), validation_freq=validation_freq,
               validation_batch_size=validation_batch_size or 0,
               validation=-1 if val is None else val.n if dist.auto_shard_dataset else 0)
    sched = Schedule(dist, data.n, batch_size)
    steps = sched.steps
    if steps_per_epoch is not None:
        steps = min(steps, positive_int(steps_per_epoch, "steps_per_epoch"))
    cb, history = _loops._fit_callbacks(model, callbacks, verbose, epochs, steps)
    watched = global_flag(world, cb.wants_batch("on_test_batch_begin") or
                          cb.wants_batch("on_test_batch_end"))
    val_batch = validation_batch_size or (batch_size if watched else max(batch_size, 256))
    runner = model._runner(train=True)
    runner.bind(data, batch=sched.max_rows)
    val_runner = None
    if val is not None:
        val_runner = model._runner(train=False, with_head=True)
        val_runner.bind(val, batch=Schedule(dist, val.n, val_batch).max_rows)
    model.stop_training = False
    idx = np.arange(data.n, dtype=np.int64) if shuffle else None
    state = _loops.FitState(data.n, steps, batch_size, idx)
    outer, model._fit_state = getattr(model, "_fit_state", None), state
    try:
        cb.on_train_begin()
        first, skip, saved = initial_epoch, 0, None
        if state.resume is not None:
            first, skip, saved = _loops._resume_point(state, idx)
        resumed = world.allgather(first * (steps + 1) + skip)
        if np.any(resumed != resumed[0]):
            raise RuntimeError(f"BackupAndRestore: the processes resume at different points "
                               f"(epoch * (steps + 1) + step = {resumed.tolist()}); the "
                               f"backup_dir must be on a file system every process shares")
        if state.resume is not None:     # the plans hold each dropout layer's seed
            model._invalidate()
            runner = model._runner(train=True)
            runner.bind(data, batch=sched.max_rows)
            if val is not None:
                val_runner = model._runner(train=False, with_head=True)
                val_runner.bind(val, batch=Schedule(dist, val.n, val_batch).max_rows)
        sync_start(model, world)
        logs = _epochs(model, cb, state, runner, val_runner, val, val_batch, idx, first,
                       skip, saved, epochs, steps, sched, dist, validation_freq)
    finally:
        model._fit_state = outer
    cb.on_train_end(logs)
    return history


def _check_supported(model, dist, callbacks):
    from cydl.callbacks import BackupAndRestore
    from cydl.layers.noise import SeededNoise
    if not dist.auto_shard_dataset and any(isinstance(c, BackupAndRestore)
                                           for c in callbacks or ()):
        raise ValueError("BackupAndRestore needs DataParallel(auto_shard_dataset=True): "
                         "with a shard per process, a backup would hold process 0's row "
                         "order only")
    noisy = [layer.name for layer in _all_layers(model) if isinstance(layer, SeededNoise)]
    if noisy:
        import warnings
        warnings.warn(f"DataParallel: {noisy} draw their noise for each process's rows "
                      f"apart, so the run differs from one process's (Dropout masks do "
                      f"follow the global rows)", stacklevel=4)


def _shuffle(idx, sched, world):
    if not sched.manual:        # one order shared by all: the same generator state
        _config.rng().shuffle(idx)
        return
    # each process orders its own shard; one draw from the shared generator keeps
    # the generators of all processes in step
    seed = int(_config.rng().integers(0, 2 ** 63))
    np.random.default_rng([seed, world.rank]).shuffle(idx)


def _epochs(model, cb, state, runner, val_runner, val, val_batch, idx, first, skip, saved,
            epochs, steps, sched, dist, validation_freq):
    world = dist._world
    begin = global_flag(world, cb.wants_batch("on_train_batch_begin"))
    end = global_flag(world, cb.wants_batch("on_train_batch_end"))
    logs = {}
    for epoch in range(first, epochs):
        state.epoch = epoch
        cb.on_epoch_begin(epoch)
        totals = DistTotals(model._heads, world)
        if skip and epoch == first:
            if saved is not None:
                totals.load(saved)
        else:
            skip = 0
            if idx is not None:
                _shuffle(idx, sched, world)
        state.totals = totals
        runner.set_order(idx)
        for step in range(skip, steps):
            lo, hi, row0, rows = sched.step(step)
            if begin:
                cb.batch("on_train_batch_begin", step, None)
            stats = train_part(runner, lo, hi, row0, rows, world)
            if hi > lo:
                totals.add(runner, stats, lo, hi)
            if end:
                cb.batch("on_train_batch_end", step, totals.logs())
            if model.stop_training:
                break
        logs = totals.logs()
        if val is not None and (epoch + 1) % validation_freq == 0:
            val_logs = evaluate_bound(model, val_runner, val, val_batch, cb, dist,
                                      checked=True)
            logs.update({"val_" + k: v for k, v in val_logs.items()})
        cb.on_epoch_end(epoch, logs)
        # a callback that stopped on one process only (its own logic, not the
        # logs, which are the same everywhere) stops them all
        if global_flag(world, model.stop_training):
            model.stop_training = True
            break
    return logs


def train_batch(model, data, dist):
    """train_on_batch: the processes' rows form one global batch (auto_shard_dataset:
    the same rows on every process, cut into slices)."""
    world = dist._world
    check_call(model, dist, "train_on_batch", data)
    if dist.auto_shard_dataset:
        off = split(data.n, world.size)
        lo, hi, row0, rows = off[world.rank], off[world.rank + 1], off[world.rank], data.n
    else:
        counts = world.allgather(data.n).astype(np.int64)
        lo, hi, row0, rows = 0, data.n, int(counts[:world.rank].sum()), int(counts.sum())
    runner = model._runner(train=True)
    runner.bind(data, batch=max(hi - lo, 1))
    runner.set_order(None)
    totals = DistTotals(model._heads, world)
    stats = train_part(runner, lo, hi, row0, rows, world)
    if hi > lo:
        totals.add(runner, stats, lo, hi)
    return totals.logs()
