"""The running loss and metric sums of one pass of fit or evaluate."""
from cydl.metrics import Metric


class Totals:
    """Running loss and metric values over the batches of one pass, per output."""

    def __init__(self, heads):
        self.heads = heads
        for head in heads:
            head.reset()
        self.loss = 0.0
        self.parts = [0.0] * len(heads)
        self.seen = 0
        # per step this is all Python does besides the kernel call: flat, prepared lists
        self._each = [(k, head.weight, head.fast) for k, head in enumerate(heads)]
        self._generic = any(head.generic for head in heads)

    def add(self, runner, stats, start, stop):
        """stats: (outputs, 4) sums of the batch (loss, hits, |err|, err^2)."""
        B = stop - start
        self.seen += B
        total = runner.reg_loss * B
        parts = self.parts
        for k, weight, fast in self._each:
            value = stats.item(k, 0)
            parts[k] += value
            total += weight * value
            for m, i in fast:
                m.add_stat(stats.item(k, i), B)
        self.loss += total
        if self._generic:
            outs = runner.outputs(start, stop)
            for k, head in enumerate(self.heads):
                if head.generic:
                    y_true, sw = runner.batch_targets(k, start, stop)
                    for m in head.generic:     # weighted_metrics take the sample weights
                        m.update_state(y_true, outs[k], sw if id(m) in head.weighted else None)

    def state(self):
        """The running sums as JSON values (BackupAndRestore saves them mid-epoch)."""
        return {"loss": self.loss, "parts": list(self.parts), "seen": self.seen,
                "metrics": [metric_state(m) for head in self.heads for m in head.metrics]}

    def load(self, state):
        """Continue from state(): the epoch's logs come out as if never interrupted."""
        self.loss, self.parts, self.seen = float(state["loss"]), \
            [float(p) for p in state["parts"]], int(state["seen"])
        for m, saved in zip([m for head in self.heads for m in head.metrics],
                            state["metrics"]):
            if saved is not None and metric_state(m) is not None:
                m.total, m.count = saved

    def logs(self, prefix=""):
        n = max(self.seen, 1)
        out = {prefix + "loss": float(self.loss / n)}
        if len(self.heads) > 1:
            for head, part in zip(self.heads, self.parts):
                out[prefix + head.prefix + "loss"] = float(part / n)
        for head in self.heads:
            for m in head.metrics:
                out[prefix + head.prefix + m.name] = float(m.result())
        return out


def metric_state(m):
    """A metric's running (total, count) when that is all its state (cydl's
    metrics); None for a metric with state of its own."""
    if type(m).reset_state is not Metric.reset_state or \
            not isinstance(getattr(m, "total", None), (int, float)) or \
            not isinstance(getattr(m, "count", None), (int, float)):
        return None
    return [m.total, m.count]
