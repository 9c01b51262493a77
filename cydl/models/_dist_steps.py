"""One data-parallel training step on each runner: this process's rows, then one
Allreduce of the flat gradient buffer, then the update.

Each process computes the gradient of its rows' loss over the GLOBAL batch size
(the loss kernels divide by `rows`, not by the local count), so the sum over the
processes is the gradient of the global batch's mean loss, uneven slices
included. The Allreduce sits between the backward pass and the update: the fused
plan runs them as two calls (Plan.grad_step, Plan.update_step); penalties,
clipping and constraints then apply to the summed gradient, as in one process.
"""
import numpy as np

from cydl import graph
from cydl.autodiff import backward, recording
from cydl.distribution._state import StepContext
from cydl.layers.base import collect_activity


def train_part(runner, lo, hi, row0, rows, world):
    """Rows [lo, hi) of the runner's bound order, which start at row `row0` of a
    global batch of `rows` rows; returns the batch statistics of these rows."""
    if runner.fused:
        return _plan_part(runner, lo, hi, row0, rows, world)
    return _graph_part(runner, lo, hi, row0, rows, world)


def _plan_part(runner, lo, hi, row0, rows, world):
    opt = runner.optimizer
    opt.prepare_step()
    if hi > lo:
        runner.plan.grad_step(lo, hi, runner.n_threads, row0, rows)
    else:
        runner.plan.empty_step()
    world.allreduce(runner.store.trainable_grads)
    runner.plan.update_step(runner.n_threads)
    opt.finish_step()
    if runner.fused_reg:
        runner.reg_loss = opt._rule.penalty()
    if hi > lo:
        runner._activity(hi - lo)
    else:
        runner.activity_loss = 0.0
    return runner.plan.stats


def _graph_part(runner, lo, hi, row0, rows, world):
    # A process without rows in this batch runs one stand-in row whose loss weighs
    # nothing, so that it takes part in every collective of the step (the
    # synchronized BatchNormalization's sums count it as no row).
    phantom = hi <= lo
    a = min(lo, runner.data.n - 1) if phantom else lo
    b = a + 1 if phantom else hi
    scale = 0.0 if phantom else (b - a) / rows
    runner._step("train", lambda s, e: _graph_grads(runner, s, e, row0, phantom, scale,
                                                    world), a, b)
    world.allreduce(runner.store.trainable_grads)
    reg_loss = 0.0
    for v in runner.custom_reg:      # after the sum: added once, not once per process
        v.grad[...] += v.regularizer.gradient(v.value)
        reg_loss += v.regularizer(v.value)
    runner.optimizer.apply(runner.store)
    runner.reg_loss = reg_loss + (runner.optimizer._rule.penalty() if runner.fused_reg
                                  else 0.0)
    for v in runner.constrained:
        v.assign(v.constraint(v.value))
    if phantom:
        runner.stats[...] = 0.0
        runner.activity_loss = 0.0
    return runner.stats


def _graph_grads(runner, a, b, row0, phantom, scale, world):
    """Forward and backward of rows [a, b) with each loss seed scaled from the local
    mean to this process's share of the global mean."""
    x = runner._inputs(a, b)
    runner.store.trainable_grads.fill(0)
    with StepContext(world, row0, phantom):
        with recording(runner.watch), collect_activity([]) as activity:
            outs = graph.flatten(runner.model._forward(x, training=True))
            pairs = runner._losses(outs, a, b, True)
        runner._outs = outs
        seeds = pairs + runner._activity(activity)
        backward([(t, np.asarray(g) * scale) for t, g in seeds])
