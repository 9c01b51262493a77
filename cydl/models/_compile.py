"""What compile() was given, resolved per output once the outputs are known."""
import copy

from cydl import losses
from cydl.models._head import Head


def _per_output(spec, names, what):
    """A single spec for every output, a list in output order, or a dict by name."""
    if isinstance(spec, dict):
        unknown = set(spec) - set(names)
        if unknown:
            raise ValueError(f"{what} has keys {sorted(unknown)} that are not output names; "
                             f"the outputs are {names}")
        return [spec.get(n) for n in names]
    if isinstance(spec, (list, tuple)) and what != "metrics":
        if len(spec) != len(names):
            raise ValueError(f"{what} has {len(spec)} entries for {len(names)} outputs "
                             f"({names})")
        return list(spec)
    return [spec] * len(names)


def _check_metrics_arg(spec, what):
    """Keras 3: a metric, a list/tuple, or a dict by output name (else a TypeError)."""
    if spec is None or isinstance(spec, (list, tuple, dict, str)) or callable(spec):
        return spec
    raise TypeError(f"`{what}` must be a list, tuple or dict of metrics (or one metric). "
                    f"Received: {what}={spec!r} of type {type(spec).__name__}")


class CompileConfig:
    """The loss, metrics, weighted metrics and loss weights of compile(), and their
    Heads."""

    def __init__(self, loss, metrics, loss_weights, weighted_metrics=None):
        if loss is None:
            raise ValueError("compile() needs a `loss`, e.g. "
                             "loss='sparse_categorical_crossentropy'")
        self.loss_spec, self.weights_spec = loss, loss_weights
        self.metrics_spec = _check_metrics_arg(metrics, "metrics")
        self.weighted_spec = _check_metrics_arg(weighted_metrics, "weighted_metrics")
        single = not isinstance(loss, (list, tuple, dict))
        self.loss = losses.get(loss) if single else loss
        for item in ([] if single else (loss.values() if isinstance(loss, dict) else loss)):
            losses.get(item)       # unknown names fail at compile time
        self.heads = None
        self.names = None

    def bind(self, names):
        """Heads for outputs with these names (cached while the names stay)."""
        if names == self.names:
            return self.heads
        loss_list = _per_output(self.loss_spec, names, "loss")
        if any(item is None for item in loss_list):
            raise ValueError(f"Every output needs a loss; the outputs are {names}")
        metric_lists = self._metric_lists(self.metrics_spec, names, "metrics")
        weighted_lists = self._metric_lists(self.weighted_spec, names, "weighted_metrics")
        weights = _per_output(self.weights_spec, names, "loss_weights") \
            if self.weights_spec is not None else [1.0] * len(names)
        heads = []
        for k, name in enumerate(names):
            loss = self.loss if loss_list[k] is self.loss_spec else losses.get(loss_list[k])
            if k and loss is heads[0].loss:
                loss = copy.deepcopy(loss)
            head = Head(loss, metric_lists[k], weighted_lists[k])
            w = weights[k]
            if w is None or isinstance(w, bool) or not isinstance(w, (int, float)) \
                    or not w == w or w < 0:
                raise ValueError(f"loss_weights must be non-negative numbers. Received "
                                 f"{w!r} for output {name!r}")
            head.weight = float(w)
            head.prefix = f"{name}_" if len(names) > 1 else ""
            heads.append(head)
        self.heads, self.names = heads, names
        return heads

    @staticmethod
    def _metric_lists(spec, names, what):
        """One list of metric identifiers per output, as Keras 3 reads `metrics` and
        `weighted_metrics`: for one output, every metric given (a dict's values in
        key order); for several, a dict by output name or a list with one entry (a
        metric or a list of them) per output. A list of another length applies to
        every output, as TF-Keras did (e.g. the book's metrics=["RootMeanSquaredError"]
        for two outputs)."""
        def as_list(m):
            return [] if m is None else (list(m) if isinstance(m, (list, tuple)) else [m])

        def flat(m):        # Keras' tree.flatten: dicts in key order
            if isinstance(m, dict):
                return [v for key in sorted(m) for v in flat(m[key])]
            if isinstance(m, (list, tuple)):
                return [v for item in m for v in flat(item)]
            return [] if m is None else [m]
        if spec is None:
            return [[] for _ in names]
        if len(names) == 1:     # every metric given is the output's; a dict's keys aside
            return [flat(spec)]
        if isinstance(spec, dict):
            return [as_list(m) for m in _per_output(spec, names, what)]
        if isinstance(spec, (list, tuple)) and len(names) > 1 and len(spec) == len(names):
            return [as_list(m) for m in spec]
        if isinstance(spec, (list, tuple)) and spec and all(
                isinstance(m, (list, tuple)) for m in spec):
            raise ValueError(f"{what} has {len(spec)} lists for {len(names)} outputs")
        items = list(spec) if isinstance(spec, (list, tuple)) else [spec]
        # one list for several outputs: each output gets its own metric objects
        return [items if k == 0 else copy.deepcopy(items) for k in range(len(names))]
