"""evaluate (and fit's validation) and predict under a DataParallel distribution.

evaluate: each process runs its slice of every global batch, and the loss and
metric sums are combined, so every process returns the logs of the whole data.
predict: each process predicts a contiguous block of the rows (its own shard with
auto_shard_dataset=False) and every process gets all the rows back, in order
(MPI Allgatherv).
"""
import numpy as np

from cydl.distribution._agree import agree
from cydl.distribution._state import is_chief
from cydl.models import _loops, _validate
from cydl.models._shards import DistTotals, Schedule, split


def global_flag(world, flag):
    """True on every process when it is true on any (so that all take the same
    branch around a collective)."""
    return bool(world.allreduce_max(float(bool(flag))))


def check_call(model, dist, call, data, **more):
    """The check that opens a data-parallel call (cydl.distribution._agree): the same
    call everywhere, with the same rows (auto_shard_dataset) and shapes."""
    sizes = {"rows": data.n} if dist.auto_shard_dataset else {}
    sizes["input values per row"] = sum(int(np.prod(x.shape[1:])) for x in data.xs)
    sizes["targets per row"] = sum(1 if y is None else int(np.prod(y.shape[1:]))
                                   for _, y in data.targets)
    sizes["sample weights"] = data.sw is not None
    sizes["model weights"] = model.count_params()
    sizes.update(more)
    agree(dist._world, call, sizes)


def chief_writes(model, dist, write):
    """save / save_weights: process 0 runs write(); outside fit every process makes
    the call and returns once the file is written, so that a load right after the
    save reads it. (Inside fit, ModelCheckpoint and the like call it on process 0
    alone.)"""
    world = dist._world
    if getattr(model, "_fit_state", None) is not None:
        if world.rank == 0:
            write()
        return
    error = None
    if world.rank == 0:
        try:
            write()
        except Exception as e:  # noqa: BLE001 - re-raised below, after the others know
            error = e
    done = agree(world, "save", {"model weights": model.count_params()},
                 own=error is None)
    if error is not None:
        raise error
    if not done[0]:
        raise RuntimeError("DataParallel: process 0 failed to write the file (its error "
                           "says why)")


def evaluate_bound(model, runner, data, batch, cb, dist, checked=False):
    """evaluate's pass (fit's validation passes checked=True: fit checked it)."""
    world = dist._world
    if not checked and dist.auto_shard_dataset:
        check_call(model, dist, "evaluate", data, batch_size=batch,
                   callbacks=cb is not None)
    elif not checked:
        check_call(model, dist, "evaluate", data, callbacks=cb is not None)
        # evaluate cut the batch to this process's rows: one batch size for all
        batch = int(world.allreduce_max(batch))
    sched = Schedule(dist, data.n, batch)
    totals = DistTotals(model._heads, world)
    runner.reg_loss = runner.penalty()
    block = runner.block_rows()
    rows = block if sched.max_rows >= 2 * block > 0 else 0
    if getattr(runner, "data", None) is not data:
        runner.bind(data, batch=sched.max_rows)
    begin = end = False
    if cb is not None:
        begin = global_flag(world, cb.wants_batch("on_test_batch_begin"))
        end = global_flag(world, cb.wants_batch("on_test_batch_end"))
        model.stop_evaluating = False
        cb.on_test_begin()
    for step in range(sched.steps):
        lo, hi, _, _ = sched.step(step)
        if begin:
            cb.batch("on_test_batch_begin", step, None)
        if getattr(runner, "data", None) is not data:     # a hook evaluated other data
            runner.bind(data, batch=sched.max_rows)
        if hi > lo and rows:
            _loops._test_blocks(runner, totals, lo, hi, rows)
        elif hi > lo:
            totals.add(runner, runner.test(lo, hi), lo, hi)
        if end:
            cb.batch("on_test_batch_end", step, totals.logs())
        if (begin or end) and global_flag(world, model.stop_evaluating):
            break
    logs = totals.logs()
    if cb is not None:
        cb.on_test_end(logs)
    return logs


def predict(model, x, batch_size, verbose, callbacks, dist):
    """Every row's outputs on every process; each process computes its block."""
    from cydl.models import _batches
    world = dist._world
    callbacks = _validate.check_callbacks(callbacks)
    batch = _validate.check_predict_args(model, batch_size)
    data = _batches.prepare_inputs(model, x)
    check_call(model, dist, "predict", data)
    if dist.auto_shard_dataset:
        off = split(data.n, world.size)
        counts = np.diff(off)
        local = data.take(slice(off[world.rank], off[world.rank + 1]))
    else:
        counts = world.allgather(data.n).astype(np.int64)
        local = data
    verbose = verbose if is_chief() else 0
    if local.n:
        outs = _loops.predict_data(model, local, batch, batch_size is None, verbose,
                                   callbacks)
    else:
        shapes = model.output_shape if isinstance(model.output_shape, list) else \
            [model.output_shape]
        dtype = model._store_dtype()
        outs = [np.empty((0,) + tuple(s[1:]), dtype) for s in shapes]
    full = [world.allgatherv(o, counts) for o in outs]
    return full[0] if len(full) == 1 else full
