"""The two ways a model runs a step, chosen by lowering its graph.

`PlanRunner`: when the graph is a chain that the whole-step kernel knows (Dense with
its activation, activation layers folded into the Dense before them, leading
Flatten/Reshape), forward, loss, backward and optimizer run in one compiled call.
`GraphRunner`: any graph, any layer. The graph (or an eager `call`) runs under a
tape; each op records its own gradient closure; the loss kernels seed the backward
pass. Both give the same numbers (tests/test_fused.py checks that).
"""
import math

import numpy as np

from cydl import _ops, graph
from cydl.autodiff import Tensor, backward, recording, value_of
from cydl.layers.base import collect_activity
from cydl.layers.core import Activation
from cydl.layers.dense import Dense
from cydl.models._lowering import NODE_BN, fused_extras, lower_graph
from cydl.models._step_threads import StepThreads
from cydl.constraints import fused_spec
from cydl.regularizers import penalty_factors


# ---------------------------------------------------------------- row blocks
# A batch of inference is one compiled call (the plan) or one call per op (the
# graph), without the GIL, and Python handles a signal only between such calls: a
# Ctrl-C during predict(x, batch_size=20000) on a wide network would wait seconds
# for the batch. Inference rows are independent (BatchNormalization uses its moving
# statistics, dropout and noise are off), so a big batch runs as row blocks of
# bounded work, with the interpreter (and its signal handlers) between them.
#
# Where the BLAS computes each row of a GEMM the same way whatever the number of
# rows in the call (OpenBLAS's SkylakeX-family kernels: _blas_threads.rows_exact),
# the outputs stay bit for bit those of the whole batch, as long as the call is not
# so small that BLAS takes another kernel (OpenBLAS' small-matrix path below
# M*N*K = 1e6; tests/test_blocks.py checks it), and is not a GEMV (one column): see
# block_rows. OpenBLAS's Haswell and Zen kernels round a row differently with its
# place in the call: there blocks agree with the whole batch to rounding.
# Hence blocks are never small: enough rows that every per-thread GEMM stays well
# above that size, and the last block of a batch takes the remainder (between one
# and two blocks) instead of a short tail.

# ~5e9 FLOPs per thread and block: 50 ms on a core that does 100 GFLOP/s in
# SGEMM, so Ctrl-C lands within about 0.1 s. The price: BLAS packs the weights once
# per call, not once per batch, which costs about 3% of a GEMM at 512 to 4096 rows
# per call, 6% at 256 and 14% at 128 (one core here); hence the floor of 256 rows
# and budgets that give ~500 to 1000-row blocks for wide layers
# (benchmarks/lab/bench_predict_blocks.py). A batch below two blocks (the default
# batch size, and any batch of a small network) runs whole as before.
# math.inf: no blocks.
BLOCK_FLOPS_PER_THREAD = 5e9
_MIN_ROWS = 256
_BLAS_SMALL_MNK = 2e6     # 2x OpenBLAS' small-matrix bound, per GEMM call
_ROW_ALIGN = 64           # block sizes: multiples of the GEMM kernels' row unrolls
# How the kernels cut a Dense layer's GEMM among threads (mirrored here to bound
# the smallest call): column parts on multiples of COL_ALIGN (cydl/_kernels/_dense
# .pxd; split_range in _parallel.pxd), except in the plan, which cuts rows for a
# layer narrower than NARROW, and, where OpenBLAS packs the GEMM, for a layer
# narrower than the block (_parts.pxd, fwd_rows): a thread's row part then has as
# many multiply-adds as an even column part, which the column bound already covers.
_COL_ALIGN = 8
_NARROW = 4 * _COL_ALIGN


def _narrowest_column_part(n_out, n_threads):
    """The fewest columns one thread's GEMM gets when n_out columns are cut into up
    to n_threads parts (split_range: boundaries on multiples of _COL_ALIGN)."""
    blocks = -(-n_out // _COL_ALIGN)
    narrowest = n_out
    for parts in range(2, min(n_threads, n_out) + 1):
        edges = [min(n_out, (blocks * i // parts) * _COL_ALIGN) for i in range(parts + 1)]
        narrowest = min([narrowest] + [b - a for a, b in zip(edges, edges[1:]) if b > a])
    return narrowest


def block_rows(weights, n_threads, row_split_below=0):
    """The row count of one inference block for a model with these weights: about
    BLOCK_FLOPS_PER_THREAD per thread (2 FLOPs per weight and row), at least
    _MIN_ROWS, a multiple of _ROW_ALIGN; 0 (batches run whole) when blocks are
    switched off or could change a number.

    Each 2-D weight counts as a Dense kernel whose GEMM the kernels cut among the
    threads: by rows when it has fewer than `row_split_below` units (the plan), else
    by columns. Every such call must stay above BLAS' small-matrix size; a call
    with one column is a GEMV, and OpenBLAS' GEMV computes the first (rows mod 16)
    rows of a call apart, in another order: cutting the batch would move that seam,
    so such a network runs its batches whole."""
    if not math.isfinite(BLOCK_FLOPS_PER_THREAD):
        return 0
    nt = max(int(n_threads), 1)
    sizes = [int(np.prod(v.shape)) for v in weights]
    rows = BLOCK_FLOPS_PER_THREAD * nt / (2.0 * sum(sizes) + 1.0)
    for v in weights:
        if len(v.shape) != 2 or 0 in v.shape:
            continue
        n_in, n_out = v.shape
        if n_out < row_split_below:          # each thread: some rows, all columns
            width, share = n_out, nt
        else:                                # each thread: all rows, some columns
            width, share = _narrowest_column_part(n_out, nt), 1
        if width == 1:
            return 0
        rows = max(rows, _BLAS_SMALL_MNK * share / (n_in * width))
    rows = min(max(rows, _MIN_ROWS), 1 << 40)
    return int(math.ceil(rows / _ROW_ALIGN)) * _ROW_ALIGN


def row_blocks(start, stop, rows):
    """[start, stop) as (start, stop) blocks of `rows` rows, the last one holding the
    remainder too (rows to 2 * rows - 1 rows); one block when rows is 0."""
    n = stop - start
    if rows <= 0 or n < 2 * rows:
        return [(start, stop)]
    edges = [start + i * rows for i in range(n // rows)] + [stop]
    return list(zip(edges[:-1], edges[1:]))


def final_activation(layer):
    """The activation a loss may fold (softmax + cross-entropy): the kernel name."""
    return getattr(layer, "act_name", None) if isinstance(layer, (Dense, Activation)) else None


class _Runner:
    """Shared bookkeeping: the bound data, threads and the row order."""

    def __init__(self, model, store, heads, optimizer, n_threads):
        self.model, self.store, self.heads, self.optimizer = model, store, heads, optimizer
        self.n_threads = n_threads
        self.reg_loss = 0.0
        self.activity_loss = 0.0
        self.regularized = [v for v in store.trainable_variables if v.regularizer is not None]
        # the penalties the optimizer's fused update does not apply itself
        self.custom_reg = [v for v in self.regularized if penalty_factors(v.regularizer) is None]
        self.fused_reg = optimizer is not None and len(self.custom_reg) < len(self.regularized)
        # the constraints the optimizer's fused update does not apply itself
        self.constrained = [v for v in store.trainable_variables if v.constraint is not None
                            and fused_spec(v.constraint, v.shape) is None]

    # What the loops add to each batch's loss: the weights' penalty (constant over an
    # evaluation pass, set by the loop) plus the activity regularizers' losses of the
    # latest step, which each step sets.
    reg_loss = property(lambda self: self._reg_loss + self.activity_loss,
                        lambda self, value: setattr(self, "_reg_loss", value))

    rowwise = True     # whether inference may cut a batch into row blocks

    def block_rows(self):
        """Rows of one inference block (see row_blocks); 0: batches run whole."""
        key = (self.n_threads, BLOCK_FLOPS_PER_THREAD)
        if getattr(self, "_block_key", None) != key:
            self._block_key = key
            self._block = block_rows(self.store.variables, self.n_threads,
                                     _NARROW if self.fused else 0) if self.rowwise else 0
        return self._block

    def work_rows(self, batch):
        """The most rows one inference call runs for batches of `batch` rows."""
        rows = self.block_rows()
        return batch if rows <= 0 or batch < 2 * rows else 2 * rows - 1

    def penalty(self):
        """The regularization penalty of the current weights (for evaluation, where it
        stays the same over the pass)."""
        return float(sum(v.regularizer(v.value) for v in self.regularized))

    def bind(self, data, batch=32):
        """The Data (cydl.models._batches) the coming steps read, in order until
        set_order."""
        self.data = data
        self.idx = None

    def set_order(self, idx):
        self.idx = idx

    def rows(self, start, stop):
        return self.idx[start:stop] if self.idx is not None else slice(start, stop)

    def batch_targets(self, k, start, stop):
        """Output k's targets and the sample weights of a batch."""
        rows = self.rows(start, stop)
        labels, Y = self.data.targets[k]
        t = labels if labels is not None else Y
        sw = self.data.sw
        return t[rows], (sw[rows] if sw is not None else None)


class PlanRunner(_Runner):
    """One compiled call per training step (see cydl/_kernels/_fused.pyx)."""

    fused = True

    def __init__(self, model, store, heads, optimizer, n_threads, lowered):
        super().__init__(model, store, heads, optimizer, n_threads)
        self.lowered = lowered
        self.n_outs = [lowered.nodes[i]["n_out"] for i in lowered.outputs]
        self.finals = [lowered.nodes[i]["activation"] for i in lowered.outputs]
        outputs = []
        for k, node in enumerate(lowered.outputs):
            head = heads[k] if heads else None
            outputs.append({"node": node, "loss": "mse"} if head is None else {
                "node": node, "loss": head.kind, "acc_mode": head.acc_mode,
                "on_logits": head.on_logits, "param": head.param, "thresh": head.thresh,
                "weight": head.weight, "smooth": head.smoothing})
        self.plan = _ops.make_plan(lowered.nodes, store.params, store.grads,
                                   store.n_trainable, lowered.n_features, outputs,
                                   lowered.inputs)
        self.has_activity = self.plan.activity.size > 0
        self._bound = None

    def bind(self, data, batch=32):
        super().bind(data, batch)
        # training steps take the whole batch; evaluation runs it in row blocks
        self.plan.ensure_batch(batch if self.optimizer is not None else
                               self.work_rows(batch))
        if self._bound is not data:        # several inputs / outputs: side by side, once
            self._arrays = self._combined(data)
            self._bound = data
        self.plan.bind_data(*self._arrays)
        if self.optimizer is not None and self.heads is not None:
            self.plan.bind_optimizer(self.optimizer._rule, self.optimizer._slots)

    def _combined(self, data):
        xs = [data.flat(k) for k in range(len(data.xs))]
        if len(xs) == 1:
            X = xs[0]
        else:
            dt = self.store.dtype
            X = np.hstack([x if x.dtype == dt else x.astype(dt) for x in xs])
        labels = [l for l, _ in data.targets if l is not None]
        Ys = [Y for _, Y in data.targets if Y is not None]
        L = None if not labels else labels[0] if len(labels) == 1 else \
            np.ascontiguousarray(np.stack(labels, axis=1))
        Y = None if not Ys else Ys[0] if len(Ys) == 1 else np.hstack(Ys)
        return X, L, Y, data.sw

    def set_order(self, idx):
        super().set_order(idx)
        self.plan.set_order(idx)

    def train(self, start, stop):
        self.optimizer.prepare_step()
        self.plan.train_step(start, stop, self.n_threads)
        self.optimizer.finish_step()
        if self.fused_reg:      # the penalty the update summed, for the loss Keras reports
            self.reg_loss = self.optimizer._rule.penalty()
        self._activity(stop - start)
        return self.plan.stats

    def test(self, start, stop):
        self.plan.test_step(start, stop, self.n_threads)
        self._activity(stop - start)
        return self.plan.stats

    def _activity(self, B):
        """The activity penalties the step summed, over the batch size (Keras 3)."""
        if self.has_activity:
            self.activity_loss = float(self.plan.activity.sum()) / B

    def outputs(self, start, stop):
        """The batch's model outputs (probabilities when the loss used logits)."""
        outs = []
        for k, head in enumerate(self.heads):
            out = self.plan.output_view(stop - start, k)
            if head.on_logits:
                out = _ops.activation_forward(out, self.finals[k])
            outs.append(out)
        return outs

    def thread_choice(self):
        return self.plan.thread_choice()

    def predict(self, data, batch):
        X = self._combined(data)[0]
        self.idx = None
        self._bound = None
        outs = [np.empty((data.n, n), self.store.dtype) for n in self.n_outs]
        rows = self.block_rows()
        if rows <= 0 or batch < 2 * rows:
            # the plan's own loop, which looks for signals between batches
            self.plan.ensure_batch(batch)
            self.plan.bind_data(X)
            self.plan.predict(outs, batch, self.n_threads)
            return outs
        self.plan.ensure_batch(self.work_rows(batch))
        for start in range(0, data.n, batch):
            for a, b in row_blocks(start, min(start + batch, data.n), rows):
                # a view per block: the plan predicts all the rows it is bound to;
                # between two blocks, Python runs its signal handlers (Ctrl-C)
                self.plan.bind_data(X[a:b])
                self.plan.predict([o[a:b] for o in outs], b - a, self.n_threads)
        return outs


class GraphRunner(_Runner):
    """Any graph: the forward pass on a tape, then its closures in reverse."""

    fused = False

    def __init__(self, model, store, heads, optimizer, n_threads):
        super().__init__(model, store, heads, optimizer, n_threads)
        self.watch = store.trainable_variables
        self.stats = np.zeros((len(heads or ()), 4))
        self._outs = None
        self.threads = StepThreads()     # the adaptive count, as the fused plan has it
        self.rowwise = rowwise_graph(model)

    def _step(self, mode, fn, start, stop):
        token = self.threads.begin(mode, stop - start, self.n_threads)
        try:
            return fn(start, stop)
        finally:
            self.threads.end(token, stop - start)

    def train(self, start, stop):
        return self._step("train", self._train, start, stop)

    def test(self, start, stop):
        return self._step("test", self._test, start, stop)

    def _inputs(self, start, stop):
        rows = self.rows(start, stop)
        dt = self.store.dtype
        xs = [x[rows] for x in self.data.xs]
        return self.data.structure([x if x.dtype == dt else x.astype(dt) for x in xs])

    def _losses(self, outs, start, stop, train):
        pairs = []
        for k, (head, out) in enumerate(zip(self.heads, outs)):
            t, sw = self.batch_targets(k, start, stop)
            pairs += head.loss_and_grad(out, t, sw, self.stats[k], train, self.n_threads)
        return pairs

    def _train(self, start, stop):
        x = self._inputs(start, stop)
        self.store.trainable_grads.fill(0)
        with recording(self.watch), collect_activity([]) as activity:
            outs = graph.flatten(self.model._forward(x, training=True))
            pairs = self._losses(outs, start, stop, True)
        self._outs = outs
        backward(pairs + self._activity(activity))
        reg_loss = 0.0
        for v in self.custom_reg:
            v.grad[...] += v.regularizer.gradient(v.value)
            reg_loss += v.regularizer(v.value)
        self.optimizer.apply(self.store)
        self.reg_loss = reg_loss + (self.optimizer._rule.penalty() if self.fused_reg else 0.0)
        for v in self.constrained:
            v.assign(v.constraint(v.value))
        return self.stats

    def _test(self, start, stop):
        with recording((), keep_logits=True), collect_activity([]) as activity:
            # (logits kept for losses that fold softmax)
            outs = graph.flatten(self.model._forward(self._inputs(start, stop),
                                                     training=False))
            self._losses(outs, start, stop, False)
        self._outs = outs
        self._activity(activity)
        return self.stats

    def _activity(self, losses):
        """The activity-regularization losses of the forward pass: their sum joins the
        reported loss, and each taped one seeds the backward pass with 1."""
        self.activity_loss = float(sum(float(np.asarray(value_of(v))) for v in losses))
        return [(v, np.ones((), v.dtype)) for v in losses if type(v) is Tensor]

    def outputs(self, start, stop):
        """The latest batch's model outputs (after the output activation)."""
        return [np.asarray(o.value if type(o) is Tensor else o).reshape(o.shape[0], -1)
                for o in self._outs]

    def _predict_batch(self, data, start, stop):
        xs = [x[start:stop] for x in data.xs]
        dt = self.store.dtype
        x = data.structure([v if v.dtype == dt else v.astype(dt) for v in xs])
        return [np.asarray(y) for y in graph.flatten(self.model._forward(x, training=False))]

    def predict(self, data, batch):
        outs = None
        rows = self.block_rows()
        for first in range(0, data.n, batch):
            for start, stop in row_blocks(first, min(first + batch, data.n), rows):
                ys = self._step("predict", lambda a, b: self._predict_batch(data, a, b),
                                start, stop)
                if outs is None:
                    outs = [np.empty((data.n,) + y.shape[1:], y.dtype) for y in ys]
                for o, y in zip(outs, ys):
                    o[start:stop] = y
        return outs

    def thread_choice(self):
        return self.threads.choice()


def _rowwise_types():
    from cydl.layers import core, merging, noise, normalization, preprocessing, \
        regularization, rescaling, unit_normalization
    from cydl.layers.activations import PReLU
    from cydl.layers.input_layer import InputLayer
    kinds = {Dense, Activation, core.LeakyReLU, core.ReLU, core.ELU, core.Softmax,
             core.Identity, core.Flatten, core.Reshape, PReLU, InputLayer,
             normalization.BatchNormalization, preprocessing.Normalization,
             regularization.Dropout, regularization.AlphaDropout,
             noise.GaussianNoise, noise.GaussianDropout, rescaling.Rescaling,
             unit_normalization.UnitNormalization}
    kinds.update(getattr(merging, name) for name in (
        "Add", "Subtract", "Multiply", "Maximum", "Minimum", "Average", "Concatenate"))
    return frozenset(kinds)


_ROWWISE = None


def rowwise_graph(model):
    """Whether the model's inference treats every row on its own, so that a batch may
    run in row blocks: a traced graph of cydl's own layers, with cydl's activations,
    none called with a fixed `training` (MC dropout draws a mask per call). A custom
    layer, an op such as ops.mean over the batch axis, or an eager call() may mix
    rows, so their batches run whole, as Keras runs them."""
    from cydl.models.model import Model
    global _ROWWISE
    if _ROWWISE is None:
        _ROWWISE = _rowwise_types()
    fn = getattr(model, "_function", None)
    if fn is None or getattr(model, "_eager", True):
        return False
    for node in fn.nodes:
        op = node.operation
        if not node.is_layer or node.kwargs:
            return False
        if isinstance(op, Model):
            if not rowwise_graph(op):
                return False
        elif type(op) not in _ROWWISE or (hasattr(op, "act_name") and op.act_name is None):
            return False          # (act_name None: a Python function as the activation)
    return True


def make_runner(model, store, heads, optimizer, n_threads, force_general=False,
                parallel=False):
    """The runner of a model's step. parallel: a data-parallel training step, where a
    BatchNormalization in training needs statistics summed over the processes in the
    middle of the step; the plan's step is one call, so such a model takes the graph
    runner, whose layer sums them (about 3x slower per step at batch 32)."""
    lowered = None
    fn = model._function
    if fn is not None and not model._eager and not force_general and \
            (heads is None or all(h.kind is not None for h in heads)) and \
            all(fused_extras(v) for v in store.trainable_variables):
        lowered = lower_graph(fn, store)
    if lowered is not None and heads is not None and any(
            h.on_logits and (lowered.nodes[n].get("ar_l1") or lowered.nodes[n].get("ar_l2"))
            for h, n in zip(heads, lowered.outputs)):
        # an output with an activity regularizer whose loss takes the logits: the
        # penalty (of the probabilities) would have to pass the folded activation
        lowered = None
    if lowered is not None and parallel and any(
            node["kind"] == NODE_BN for node in lowered.nodes):
        lowered = None
    if lowered is not None:
        return PlanRunner(model, store, heads, optimizer, n_threads, lowered)
    return GraphRunner(model, store, heads, optimizer, n_threads)
