"""The two ways a model runs a step: one fused kernel call, or layer by layer.

`PlanRunner` drives a chain of Dense (and folded Activation) layers through
forward, loss, backward and optimizer in a single call without the GIL.
`LayerRunner` calls each layer's forward/backward and works for any layer with a
backward. `make_runner` picks the fused one whenever the model allows it; both
give the same numbers (tests/test_fused.py checks that).
"""
import numpy as np

from cydl import _ops as ops
from cydl.layers.base import work_buffer
from cydl.layers.core import Activation, Flatten, Reshape
from cydl.layers.dense import Dense
from cydl.layers.input_layer import InputLayer


def fused_specs(layers, store):
    """Layer dicts for ops.make_plan, or None if some layer needs the per-layer path."""
    specs = []
    for layer in layers:
        if isinstance(layer, (InputLayer, Flatten, Reshape)) and not specs:
            continue       # leading reshapes: the kernels read rows of the flattened input
        if type(layer) is Dense:
            if layer.kernel.regularizer or layer.kernel.constraint or (
                    layer.use_bias and (layer.bias.regularizer or layer.bias.constraint)):
                return None
            trainable = any(v is layer.kernel for v in layer.trainable_weights)
            specs.append({"n_in": layer.kernel.shape[0], "n_out": layer.units,
                          "activation": layer.act_name, "alpha": layer.act_alpha,
                          "trainable": trainable, "w": store.offset(layer.kernel),
                          "b": store.offset(layer.bias) if layer.use_bias else -1})
        elif isinstance(layer, Activation) and type(layer).forward is Activation.forward \
                and specs and specs[-1]["activation"] == "linear":
            specs[-1]["activation"] = layer.act_name       # Dense + Activation: one layer
            specs[-1]["alpha"] = layer.act_alpha
        else:
            return None
    if not specs or any(s["activation"] == "softmax" for s in specs[:-1]):
        return None
    return specs


def final_activation(layers):
    last = layers[-1] if layers else None
    return getattr(last, "act_name", None)


class _Runner:
    """Shared bookkeeping: data binding, threads and the row order."""

    def __init__(self, model, store, head, optimizer, n_threads):
        self.model, self.store, self.head, self.optimizer = model, store, head, optimizer
        self.n_threads = n_threads
        self.reg_loss = 0.0

    def bind(self, X, labels=None, Y=None, sw=None, batch=32):
        """The arrays the coming steps read (rows in order until set_order)."""
        self.X, self.labels, self.Y, self.sw = X, labels, Y, sw
        self.idx = None

    def set_order(self, idx):
        self.idx = idx

    def batch_targets(self, start, stop):
        """The batch's targets, for metrics the loss kernel does not count."""
        rows = self.idx[start:stop] if self.idx is not None else slice(start, stop)
        t = self.labels if self.labels is not None else self.Y
        return t[rows], (self.sw[rows] if self.sw is not None else None)


class PlanRunner(_Runner):
    """One compiled call per training step (see cydl/_kernels/_fused.pyx)."""

    fused = True

    def __init__(self, model, store, head, optimizer, n_threads, specs, n_features):
        super().__init__(model, store, head, optimizer, n_threads)
        self.n_out = specs[-1]["n_out"]
        if head is None:      # predict only: no loss
            kind, acc, logits, param, thresh = "mse", "none", False, 0.0, 0.5
        else:
            kind, acc, logits, param, thresh = (head.kind, head.acc_mode, head.on_logits,
                                                head.param, head.thresh)
        self.plan = ops.make_plan(specs, store.params, store.grads, store.n_trainable,
                                  n_features, kind, acc, logits, param, thresh)

    def bind(self, X, labels=None, Y=None, sw=None, batch=32):
        super().bind(X, labels, Y, sw, batch)
        self.plan.ensure_batch(batch)
        self.plan.bind_data(X, labels, Y, sw)
        if self.optimizer is not None and self.head is not None:
            self.plan.bind_optimizer(self.optimizer._rule, self.optimizer._slots)

    def set_order(self, idx):
        super().set_order(idx)
        self.plan.set_order(idx)

    def train(self, start, stop):
        self.optimizer.prepare_step()
        self.plan.train_step(start, stop, self.n_threads)
        self.optimizer.finish_step()
        return self.plan.stats

    def test(self, start, stop):
        self.plan.test_step(start, stop, self.n_threads)
        return self.plan.stats

    def outputs(self, start, stop):
        """The batch's model outputs (probabilities when the loss used logits)."""
        out = self.plan.output_view(stop - start)
        if self.head.on_logits:
            out = ops.activation_forward(out, final_activation(self.model._compute_layers()))
        return out

    def predict(self, X, batch):
        self.plan.ensure_batch(batch)
        self.plan.bind_data(X)
        self.idx = None
        out = np.empty((X.shape[0], self.n_out), self.store.dtype)
        self.plan.predict(out, batch, self.n_threads)
        return out


class LayerRunner(_Runner):
    """Layer-by-layer forward and backward: any layer with backward() works."""

    fused = False

    def __init__(self, model, store, head, optimizer, n_threads):
        super().__init__(model, store, head, optimizer, n_threads)
        self.layers = model._compute_layers()
        trainable = [i for i, layer in enumerate(self.layers) if layer.trainable_weights]
        self.first_bwd = trainable[0] if trainable else len(self.layers)
        self.stats = np.zeros(4)
        self._bufs = {}
        self.regularized = [v for v in store.trainable_variables if v.regularizer is not None]
        self.constrained = [v for v in store.trainable_variables if v.constraint is not None]

    def _buf(self, key, shape, dtype, order="C"):
        return work_buffer(self._bufs, key, shape, dtype, order)

    def _inputs(self, start, stop):
        B, dt = stop - start, self.store.dtype
        X = self.X
        if self.idx is None and X.dtype == dt:
            xb = X[start:stop]
        else:
            xb = ops.gather_rows(X, self.idx, start, stop, self._buf("x", (B, X.shape[1]), dt),
                                 self.n_threads)
        return xb.reshape((B,) + tuple(self.model.input_shape[1:]))

    def _forward(self, x, training):
        h = x
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            if i == last and self.head is not None and self.head.on_logits:
                h = layer.forward(h, training=training, keep_logits=True) \
                    if isinstance(layer, Dense) else layer.forward(h, training=training)
            else:
                h = layer.forward(h, training=training)
        return h

    def _loss(self, h, t, sw, want_grad):
        head = self.head
        P = self.layers[-1].logits if head.on_logits else h
        P = P.reshape(P.shape[0], -1)
        if head.kind is None:      # a user Loss with call() and gradient()
            per = np.asarray(head.loss.call(t, P), np.float64).reshape(-1)
            self.stats[:] = 0.0
            self.stats[0] = float((per * (sw if sw is not None else 1)).sum())
            G = np.asfortranarray(head.loss.gradient(t, P), dtype=P.dtype) if want_grad else None
            return G
        G = self._buf("g", P.shape, P.dtype, "F") if want_grad else None
        ops.loss_forward_backward(head.kind, P, t, sw, acc_mode=head.acc_mode,
                                  param=head.param, thresh=head.thresh, grad_out=G,
                                  want_grad=want_grad, stats_out=self.stats,
                                  n_threads=self.n_threads)
        return G

    def train(self, start, stop):
        x = self._inputs(start, stop)
        t, sw = self.batch_targets(start, stop)
        h = self._forward(x, True)
        self._last_out = h
        dy = self._loss(h, t, sw, True).reshape(h.shape)
        last = len(self.layers) - 1
        for i in range(last, self.first_bwd - 1, -1):
            layer = self.layers[i]
            kwargs = {}
            if i == last and self.head.on_logits:
                kwargs["wrt_logits"] = True
            if i == self.first_bwd and isinstance(layer, Dense):
                kwargs["need_dx"] = False
            dy = layer.backward(dy, **kwargs)
        self.reg_loss = 0.0
        for v in self.regularized:
            v.grad[...] += v.regularizer.gradient(v.value)
            self.reg_loss += v.regularizer(v.value)
        self.optimizer.apply(self.store)
        for v in self.constrained:
            v.assign(v.constraint(v.value))
        return self.stats

    def test(self, start, stop):
        h = self._forward(self._inputs(start, stop), False)
        t, sw = self.batch_targets(start, stop)
        self._loss(h, t, sw, False)
        self.reg_loss = sum(v.regularizer(v.value) for v in self.regularized)
        self._last_out = h
        return self.stats

    def outputs(self, start, stop):
        """The latest batch's model outputs (after the output activation)."""
        return self._last_out.reshape(self._last_out.shape[0], -1)

    def predict(self, X, batch):
        n = X.shape[0]
        out = None
        for start in range(0, n, batch):
            stop = min(start + batch, n)
            self.idx = None
            self.X = X
            h = self._inputs(start, stop)
            for layer in self.layers:
                h = layer.call(h, training=False)
            if out is None:
                out = np.empty((n,) + h.shape[1:], h.dtype)
            out[start:stop] = h
        return out


def make_runner(model, store, head, optimizer, n_threads, force_layers=False):
    layers = model._compute_layers()
    specs = None if force_layers or (head is not None and head.kind is None) \
        else fused_specs(layers, store)
    # the plan reads each sample as one row of the flattened input: that is what its
    # first Dense must take (a Dense on the last axis of N-D input is not a chain)
    if specs is not None and int(np.prod(model.input_shape[1:])) != specs[0]["n_in"]:
        specs = None
    if specs is not None:
        n_features = specs[0]["n_in"]
        return PlanRunner(model, store, head, optimizer, n_threads, specs, n_features)
    return LayerRunner(model, store, head, optimizer, n_threads)
