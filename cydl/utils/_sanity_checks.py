"""sanity_check's measurements on the model as it is: the initial loss, the
regularization penalty, dead and saturated units (thresholds: _sanity_rules)."""
import math

import numpy as np

from cydl.utils import _sanity_rules as rules
from cydl.utils._clone import walk_layers
from cydl.utils._probe import activations, split_targets


def _outputs(model, x):
    out = model.predict(x, verbose=0)
    return out if isinstance(out, list) else [out]


def initial_loss(model, x, y, heads, report):
    preds = _outputs(model, x)
    chains = rules.output_chains(model) or [(None, None, None)] * len(heads)
    total = 0.0
    for head, target, pred, chain, name in zip(heads, split_targets(model, y), preds,
                                               chains, model.output_names):
        loss = float(head.loss(target, pred))
        total += head.weight * loss
        kind, logits = rules.loss_kind(head.loss)
        act = chain[1] if chain[0] is not None else _looks_like(pred)
        if chain[0] is None and logits and act == "softmax":     # no graph to read
            report.problems.append(
                f"The loss{where_of(name, heads)} has from_logits=True, but the model's "
                f"outputs are already probabilities (non-negative rows that sum to 1): "
                f"the loss applies softmax again. Use from_logits=False, or output logits.")
        if kind is None or (not logits and act not in ("softmax", "sigmoid")):
            continue
        width = int(np.shape(pred)[-1])
        classes = 2 if kind == "binary" else width
        if classes < 2:
            continue
        expected = math.log(classes)
        where = where_of(name, heads)
        report.values[f"initial_loss{'_' + name if len(heads) > 1 else ''}"] = loss
        report.notes.append(f"Initial loss{where}: {loss:.4f}; a uniform guess over "
                            f"{classes} classes gives ln({classes}) = {expected:.4f}.")
        if loss > expected + rules.LOSS_EXCESS:
            report.problems.append(
                f"The initial loss{where} ({loss:.3f}) is far above ln({classes}) = "
                f"{expected:.3f}, the loss of a uniform guess: the untrained model is "
                f"confidently wrong. Likely causes: large initial weights (the "
                f"initializer's scale), unscaled inputs (e.g. pixels 0-255), or a large "
                f"output bias.")
        elif loss < expected - rules.LOSS_EXCESS:
            report.notes.append(f"The initial loss{where} is well below ln({classes}): "
                                f"the model is already trained, so the check of the "
                                f"initialization does not apply.")
    return total


def where_of(name, heads):
    return f" of output {name!r}" if len(heads) > 1 else ""


def _looks_like(pred):
    """The output activation read from the outputs, for a model without a graph."""
    p = np.asarray(pred, np.float64)
    if p.size and p.min() >= 0 and p.max() <= 1:
        sums = p.sum(axis=-1)
        return "softmax" if p.shape[-1] > 1 and np.allclose(sums, 1, atol=1e-3) else "sigmoid"
    return None


def regularization(model, total, data_loss, report):
    regularized = [v for v in model.trainable_weights if v.regularizer is not None]
    activity = [l for l in walk_layers(model) if getattr(l, "activity_regularizer", None)]
    report.values.update(loss_with_regularization=total, loss_without_regularization=data_loss)
    if not regularized and not activity:
        return
    penalty = total - data_loss
    report.notes.append(f"Loss with regularization {total:.4f}, without {data_loss:.4f} "
                        f"(penalty {penalty:.4g}).")
    # the two losses are computed apart in the model's precision: a smaller
    # difference than ~100 roundings is no penalty at all
    if not penalty > 100 * np.finfo(model._store_dtype()).eps * max(1.0, abs(data_loss)):
        report.problems.append(
            f"Regularizers are set on {len(regularized) + len(activity)} weights/layers, "
            f"but they do not raise the loss (with: {total:.6g}, without: "
            f"{data_loss:.6g}): a factor of 0, or regularized weights that are frozen.")
    elif penalty > rules.PENALTY_DOMINATES * data_loss:
        report.problems.append(
            f"The regularization penalty ({penalty:.4g}) is more than "
            f"{rules.PENALTY_DOMINATES:g} times the data loss ({data_loss:.4g}): "
            f"training will mostly shrink the weights. Lower the regularization factor.")


def units(model, x, report):
    chains = rules.output_chains(model) or []
    outputs = {id(c[0]) for c in chains}
    for layer, out in activations(model, x).items():
        if id(layer) in outputs or out.ndim < 2:
            continue
        out = np.asarray(out, np.float64)
        if rules.relu_like(layer):
            dead = float(np.all(out.reshape(len(out), -1) == 0, axis=0).mean())
            report.values[f"dead_fraction/{layer.name}"] = dead
            if dead > rules.DEAD_FRACTION:
                report.problems.append(
                    f"{dead:.0%} of the ReLU units of layer {layer.name!r} output 0 for "
                    f"all {len(out)} samples (dead at initialization): check the "
                    f"initializer (He for ReLU), the biases and the input scale.")
        saturated = rules.saturated_fraction(layer, out)
        if saturated is not None:
            report.values[f"saturated_fraction/{layer.name}"] = saturated
            if saturated > rules.SATURATED_FRACTION:
                report.problems.append(
                    f"{saturated:.0%} of the outputs of layer {layer.name!r} "
                    f"({rules.act_name(layer)}) are saturated at initialization: their "
                    f"gradient is under 4% of its peak. Use Glorot initialization and "
                    f"scaled inputs, or ReLU-like activations.")
