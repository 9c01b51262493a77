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


class CompileConfig:
    """The loss, metrics and loss weights of compile(), and their Heads."""

    def __init__(self, loss, metrics, loss_weights):
        if loss is None:
            raise ValueError("compile() needs a `loss`, e.g. "
                             "loss='sparse_categorical_crossentropy'")
        self.loss_spec, self.metrics_spec, self.weights_spec = loss, metrics, loss_weights
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
        metric_lists = self._metric_lists(names)
        weights = _per_output(self.weights_spec, names, "loss_weights") \
            if self.weights_spec is not None else [1.0] * len(names)
        heads = []
        for k, name in enumerate(names):
            loss = self.loss if loss_list[k] is self.loss_spec else losses.get(loss_list[k])
            if k and loss is heads[0].loss:
                loss = copy.deepcopy(loss)
            head = Head(loss, metric_lists[k])
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

    def _metric_lists(self, names):
        spec = self.metrics_spec
        if spec is None:
            return [[] for _ in names]
        if isinstance(spec, dict):
            lists = _per_output(spec, names, "metrics")
            return [[] if m is None else (list(m) if isinstance(m, (list, tuple)) else [m])
                    for m in lists]
        if isinstance(spec, (list, tuple)) and spec and all(
                isinstance(m, (list, tuple)) for m in spec):
            if len(spec) != len(names):
                raise ValueError(f"metrics has {len(spec)} lists for {len(names)} outputs")
            return [list(m) for m in spec]
        items = list(spec) if isinstance(spec, (list, tuple)) else [spec]
        # one list for several outputs: each output gets its own metric objects
        return [items if k == 0 else copy.deepcopy(items) for k in range(len(names))]
