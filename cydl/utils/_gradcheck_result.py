"""What check_gradients returns: per layer, the worst error and whether it passed."""
from dataclasses import dataclass


@dataclass(frozen=True)
class LayerCheck:
    """One layer's verdict.

    Attributes:
        name: the layer's name (the weights' path without the weight name).
        max_rel_error: max of |a - n| / max(|a|, |n|, atol / rtol) over the checked
            elements (a: analytic, n: numeric).
        max_abs_error: max of |a - n|.
        passed: max_rel_error <= rtol.
        checked: how many elements were checked.
        worst: (weight path, index) of the worst element.
        weights: the paths of the layer's trainable weights.
    """

    name: str
    max_rel_error: float
    max_abs_error: float
    passed: bool
    checked: int
    worst: tuple
    weights: tuple


class GradientCheckResult:
    """The outcome of cydl.utils.check_gradients.

    Attributes:
        layers: a LayerCheck per layer with trainable weights, in weight order.
        passed: whether every layer passed.
        failed_layers: the names of the layers that did not.
        analytic: {weight path: the gradient fit computes} (float64).
        numeric: {weight path: the central differences} (NaN where not checked).
        loss: the loss at the checked point (regularization included).
        rtol, atol, epsilon: the settings of the check.
    """

    def __init__(self, layers, analytic, numeric, rtol, atol, epsilon, loss):
        self.layers = layers
        self.analytic, self.numeric = analytic, numeric
        self.rtol, self.atol, self.epsilon, self.loss = rtol, atol, epsilon, loss

    @property
    def passed(self):
        return all(layer.passed for layer in self.layers)

    @property
    def failed_layers(self):
        return [layer.name for layer in self.layers if not layer.passed]

    def __getitem__(self, name):
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(f"No layer {name!r} was checked; the layers are "
                       f"{[layer.name for layer in self.layers]}")

    def summary(self):
        """A table: one row per layer, then the verdict."""
        width = max([len("Layer")] + [len(layer.name) for layer in self.layers])
        lines = [f"Gradient check (float64 central differences, epsilon={self.epsilon:g}, "
                 f"rtol={self.rtol:g}, atol={self.atol:g}; loss {self.loss:.6g})",
                 f"{'Layer':<{width}}  {'max rel err':>11}  {'max abs err':>11}  "
                 f"{'checked':>7}  result"]
        for layer in self.layers:
            lines.append(f"{layer.name:<{width}}  {layer.max_rel_error:11.3e}  "
                         f"{layer.max_abs_error:11.3e}  {layer.checked:7d}  "
                         f"{'ok' if layer.passed else 'FAILED'}")
        if self.passed:
            lines.append("All gradients match.")
        else:
            for layer in self.layers:
                if not layer.passed:
                    path, index = layer.worst
                    lines.append(f"Layer {layer.name!r}: wrong gradient, worst at "
                                 f"{path}{list(index)}: analytic "
                                 f"{self.analytic[path][index]:.6g}, numeric "
                                 f"{self.numeric[path][index]:.6g}")
        return "\n".join(lines)

    def __repr__(self):
        verdict = "passed" if self.passed else f"FAILED in {self.failed_layers}"
        worst = max((layer.max_rel_error for layer in self.layers), default=0.0)
        return (f"<GradientCheckResult {verdict}: {len(self.layers)} layers, "
                f"max rel error {worst:.2e} (rtol={self.rtol:g})>")

    def __str__(self):
        return self.summary()
