"""The two ways a model runs a step, chosen by lowering its graph.

`PlanRunner`: when the graph is a chain that the whole-step kernel knows (Dense with
its activation, activation layers folded into the Dense before them, leading
Flatten/Reshape), forward, loss, backward and optimizer run in one compiled call.
`GraphRunner`: any graph, any layer. The graph (or an eager `call`) runs under a
tape; each op records its own gradient closure; the loss kernels seed the backward
pass. Both give the same numbers (tests/test_fused.py checks that).
"""
import numpy as np

from cydl import _ops, graph
from cydl.autodiff import Tensor, backward, recording
from cydl.layers.core import Activation
from cydl.layers.dense import Dense
from cydl.models._lowering import fused_extras, lower_graph
from cydl.models._step_threads import StepThreads
from cydl.constraints import fused_spec
from cydl.regularizers import penalty_factors


def final_activation(layer):
    """The activation a loss may fold (softmax + cross-entropy): the kernel name."""
    return getattr(layer, "act_name", None) if isinstance(layer, (Dense, Activation)) else None


class _Runner:
    """Shared bookkeeping: the bound data, threads and the row order."""

    def __init__(self, model, store, heads, optimizer, n_threads):
        self.model, self.store, self.heads, self.optimizer = model, store, heads, optimizer
        self.n_threads = n_threads
        self.reg_loss = 0.0
        self.regularized = [v for v in store.trainable_variables if v.regularizer is not None]
        # the penalties the optimizer's fused update does not apply itself
        self.custom_reg = [v for v in self.regularized if penalty_factors(v.regularizer) is None]
        self.fused_reg = optimizer is not None and len(self.custom_reg) < len(self.regularized)
        # the constraints the optimizer's fused update does not apply itself
        self.constrained = [v for v in store.trainable_variables if v.constraint is not None
                            and fused_spec(v.constraint, v.shape) is None]

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
                "weight": head.weight})
        self.plan = _ops.make_plan(lowered.nodes, store.params, store.grads,
                                   store.n_trainable, lowered.n_features, outputs,
                                   lowered.inputs)
        self._bound = None

    def bind(self, data, batch=32):
        super().bind(data, batch)
        self.plan.ensure_batch(batch)
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
        return self.plan.stats

    def test(self, start, stop):
        self.plan.test_step(start, stop, self.n_threads)
        return self.plan.stats

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
        self.plan.ensure_batch(batch)
        self.plan.bind_data(self._combined(data)[0])
        self.idx = None
        self._bound = None
        outs = [np.empty((data.n, n), self.store.dtype) for n in self.n_outs]
        self.plan.predict(outs, batch, self.n_threads)
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
        with recording(self.watch):
            outs = graph.flatten(self.model._forward(x, training=True))
            pairs = self._losses(outs, start, stop, True)
        self._outs = outs
        backward(pairs)
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
        with recording((), keep_logits=True):     # logits for losses that fold softmax
            outs = graph.flatten(self.model._forward(self._inputs(start, stop),
                                                     training=False))
            self._losses(outs, start, stop, False)
        self._outs = outs
        return self.stats

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
        for start in range(0, data.n, batch):
            stop = min(start + batch, data.n)
            ys = self._step("predict", lambda a, b: self._predict_batch(data, a, b), start, stop)
            if outs is None:
                outs = [np.empty((data.n,) + y.shape[1:], y.dtype) for y in ys]
            for o, y in zip(outs, ys):
                o[start:stop] = y
        return outs

    def thread_choice(self):
        return self.threads.choice()


def make_runner(model, store, heads, optimizer, n_threads, force_general=False):
    lowered = None
    fn = model._function
    if fn is not None and not model._eager and not force_general and \
            (heads is None or all(h.kind is not None for h in heads)) and \
            all(fused_extras(v) for v in store.trainable_variables):
        lowered = lower_graph(fn, store)
    if lowered is not None:
        return PlanRunner(model, store, heads, optimizer, n_threads, lowered)
    return GraphRunner(model, store, heads, optimizer, n_threads)
