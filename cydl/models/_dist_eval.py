"""evaluate (and fit's validation) and predict under a DataParallel distribution.

evaluate: each process runs its slice of every global batch, and the loss and
metric sums are combined, so every process returns the logs of the whole data.
predict: each process predicts a contiguous block of the rows (its own shard with
auto_shard_dataset=False) and every process gets all the rows back, in order
(MPI Allgatherv).
"""
import numpy as np

from cydl.distribution._state import is_chief
from cydl.models import _loops, _validate
from cydl.models._shards import DistTotals, Schedule, split


def global_flag(world, flag):
    """True on every process when it is true on any (so that all take the same
    branch around a collective)."""
    return bool(world.allreduce_max(float(bool(flag))))


def evaluate_bound(model, runner, data, batch, cb, dist):
    world = dist._world
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
