"""What compile() fixes about the loss and the metrics, resolved against the data.

The loss becomes a kernel kind: e.g. sparse cross-entropy after a softmax output
layer is computed from the logits, in one pass with its gradient. Metrics the loss
kernel can count on the way (accuracy, MAE, MSE, RMSE) are fed from its statistics;
the others get the batch's predictions. Weighted metrics (compile's
`weighted_metrics`) get the predictions and the sample weights: the kernel's
statistics are unweighted.
"""
import copy

import numpy as np

from cydl import _ops, losses, metrics as metrics_mod, ops
from cydl.autodiff import Tensor, value_of

_REGRESSION = ("mse", "mae", "huber")


class Head:
    """The compiled loss and metrics of a model."""

    def __init__(self, loss, metrics=None, weighted_metrics=None):
        if loss is None:
            raise ValueError("compile() needs a `loss`, e.g. loss='sparse_categorical_crossentropy'")
        self.loss = losses.get(loss)
        self.metric_ids = _ids(metrics, "metrics")
        self.weighted_ids = _ids(weighted_metrics, "weighted_metrics")
        self._key = None
        self.metrics = []
        self.weighted = set()      # ids of the metric objects that take sample weights
        self.weight = 1.0
        self.prefix = ""

    def resolve(self, final_activation, y_shape, out_shape):
        """Fix the kernel and the metric objects for targets of y_shape and model
        outputs of out_shape (both with the batch axis)."""
        key = (final_activation, tuple(y_shape[1:]), len(y_shape), tuple(out_shape[1:]))
        self.final = final_activation
        if key == self._key:
            return
        spec = self.loss.kernel_spec(final_activation)
        if spec is None:
            self.kind, self.on_logits, self.param = None, False, 0.0
        else:
            self.kind, self.on_logits, self.param = spec[:3]
        # a cross-entropy's label smoothing, which its kernel applies to the targets
        self.smoothing = float(spec[3]) if spec is not None and len(spec) > 3 else 0.0
        self.sparse = bool(self.kind) and self.kind.startswith("sparse")
        if self.sparse and len(y_shape) > 1 and y_shape[-1] != 1:
            raise ValueError(f"{self.loss.name} expects integer labels of shape (n,) or "
                             f"(n, 1), received y of shape {tuple(y_shape)}. For one-hot "
                             "targets use categorical_crossentropy.")
        plain = [metrics_mod.get(m, y_shape, out_shape) for m in self.metric_ids]
        weighted = [metrics_mod.get(m, y_shape, out_shape) for m in self.weighted_ids]
        self.metrics = plain + _weighted_names(plain, weighted, self.weighted_ids)
        self.weighted = {id(m) for m in self.metrics[len(plain):]}
        self.acc_mode = "none"
        self.thresh = 0.5
        for m in plain:
            if m.stat == "hits":
                self.acc_mode = m.acc_mode
                threshold = getattr(m, "threshold", 0.5)
                # a sigmoid folded into the loss leaves logits: p > t <=> z > logit(t)
                self.thresh = _logit(threshold) if self.on_logits else threshold
                break
        self.fast = []      # (metric, stat index)
        self.generic = []
        for m in self.metrics:
            if id(m) in self.weighted:
                self.generic.append(m)      # its update needs the sample weights
            elif self.kind is not None and m.stat == "hits" and m.acc_mode == self.acc_mode:
                self.fast.append((m, 1))
            elif self.kind in _REGRESSION and m.stat in ("abs", "sq"):
                self.fast.append((m, 2 if m.stat == "abs" else 3))
            else:
                self.generic.append(m)
        self._key = key

    def reset(self):
        for m in self.metrics:
            m.reset_state()

    def loss_and_grad(self, out, t, sw, stats, train, n_threads):
        """This output's loss statistics into `stats`; with train, the pairs
        (Tensor, dLoss/dTensor) that seed the backward pass (weighted)."""
        if self.kind is None:
            return self._generic(out, t, sw, stats, train)
        P = out
        if self.on_logits:
            pre = getattr(out, "pre_activation", None)
            if pre is None or pre[1] != self.final:
                raise RuntimeError(f"The loss needs the logits of the output activation "
                                   f"{self.final!r}, which this output does not carry")
            P = pre[0]
        values = value_of(P)
        B = values.shape[0]
        P2 = values.reshape(B, -1)
        want = train and type(P) is Tensor
        _, G = _ops.loss_forward_backward(
            self.kind, P2, t, sw, acc_mode=self.acc_mode, param=self.param,
            thresh=self.thresh, want_grad=want, stats_out=stats, n_threads=n_threads,
            label_smoothing=self.smoothing)
        if not want:
            return []
        if self.weight != 1.0:
            G *= self.weight
        return [(P, G.reshape(values.shape))]

    def _generic(self, out, t, sw, stats, train):
        """A loss without a kernel: its call() (cydl.ops) is taped and differentiated,
        or its own gradient() is used when it has one."""
        loss = self.loss
        stats[:] = 0.0
        B = out.shape[0]
        if loss.gradient is not None:
            P = np.asarray(value_of(out)).reshape(B, -1)
            per = np.asarray(loss.call(t, P), np.float64).reshape(-1)
            stats[0] = float((per * (sw if sw is not None else 1)).sum())
            if not (train and type(out) is Tensor):
                return []
            G = np.asarray(loss.gradient(t, P), value_of(out).dtype) * self.weight
            return [(out, G.reshape(out.shape))]
        per = loss.call(np.asarray(t), out if train else value_of(out))
        while np.ndim(per) > 1:
            per = ops.mean(per, axis=-1)
        if sw is not None:
            per = ops.multiply(per, sw)
        total = ops.sum(per)
        stats[0] = float(np.asarray(value_of(total)))
        if not (train and type(total) is Tensor):
            return []
        return [(total, np.asarray(self.weight / B, total.dtype))]


def _ids(metrics, what):
    if metrics is None:
        return []
    if isinstance(metrics, (str, metrics_mod.Metric)) or callable(metrics):
        return [metrics]
    if isinstance(metrics, dict):      # CompileConfig hands each output its own list
        raise TypeError(f"{what} for one output must be a metric or a list of them. "
                        f"Received a dict: {metrics!r}")
    return list(metrics)


def _weighted_names(plain, weighted, ids):
    """The weighted metrics, named as Keras 3 logs them: a name the plain metrics
    already use gets "weighted_" in front (then _1, _2, ... if still taken). A metric
    object of the caller's is copied before it is renamed."""
    taken = {m.name for m in plain}
    out = []
    for m, ident in zip(weighted, ids):
        name = m.name
        if name in taken or any(m is p for p in plain):
            name = base = f"weighted_{m.name}"
            k = 1
            while name in taken:
                name, k = f"{base}_{k}", k + 1
            if m is ident or any(m is p for p in plain):
                m = copy.deepcopy(m)
            m.name = name
        taken.add(name)
        out.append(m)
    return out


def _logit(p):
    """The logit threshold equivalent to probability threshold p (p outside (0, 1)
    accepts or rejects every output, as the probability comparison would)."""
    if p <= 0:
        return -np.inf
    if p >= 1:
        return np.inf
    return float(np.log(p / (1 - p)))
