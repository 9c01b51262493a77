"""The structural rules and thresholds behind sanity_check, each with its reason.

Thresholds (derived, not tuned):

* DEAD_FRACTION = 0.5. With zero biases and a kernel drawn symmetric about 0 (every
  Keras initializer), a unit's pre-activation w.x is as likely negative as positive
  for any input, so even if every sample were the same point, half the units would
  be dead on average; real data leaves far fewer. More than half means something
  beyond a symmetric start: a negative bias, a shifted initializer, huge inputs.
* SATURATED_FRACTION = 0.5 of the activations beyond SIGMOID_EDGE / TANH_EDGE, where
  the derivative is under 4% of its peak (sigmoid' < 0.0099 of 0.25, tanh' < 0.0199
  of 1): most of the gradient through that layer is lost.
* LOSS_EXCESS = 1 nat. A softmax over C classes starting near uniform has loss
  ln(C); logits spread with standard deviation s add about s^2 / 2. One nat above
  ln(C) means logits spread by about sqrt(2) or more: a confident, random start.
* PENALTY_DOMINATES = 10: a regularization penalty ten times the data loss makes
  the first steps mostly shrink the weights instead of fitting the data.
* OVERFIT_ACCURACY = 0.98: at most one of 64 samples wrong. BARELY_MOVED = 0.9: the
  loss on those samples fell by less than 10% over the whole budget, which is
  about one epoch's steps of a real run (sanity_check's `overfit_steps`).
"""
DEAD_FRACTION = 0.5
SATURATED_FRACTION = 0.5
SIGMOID_EDGE = 0.01
TANH_EDGE = 0.99
LOSS_EXCESS = 1.0
PENALTY_DOMINATES = 10.0
OVERFIT_ACCURACY = 0.98
BARELY_MOVED = 0.9

_PROBABILITY = ("softmax", "sigmoid")


def act_name(layer):
    return getattr(layer, "act_name", None)


def relu_like(layer):
    """Whether the layer's output is a ReLU's, which is exactly 0 for a dead unit."""
    return act_name(layer) in ("relu", "relu6")


def saturated_fraction(layer, out):
    """The fraction of a sigmoid or tanh layer's outputs in the flat tails; None for
    other layers."""
    import numpy as np
    name = act_name(layer)
    if name == "sigmoid":
        return float(np.mean((out < SIGMOID_EDGE) | (out > 1 - SIGMOID_EDGE)))
    if name == "tanh":
        return float(np.mean(np.abs(out) > TANH_EDGE))
    return None


def _transparent(layer):
    """A layer that leaves the values' meaning alone (shape, dropout, noise)."""
    from cydl.layers import core, noise, regularization
    return isinstance(layer, (core.Flatten, core.Reshape, core.Identity,
                              regularization.Dropout, noise.SeededNoise))


def output_chains(model):
    """Per output: (output layer, the activation of the output layer, the activation
    of the layer before it, transparent layers skipped), or None when the model has
    no graph to read (a subclassed model that runs eagerly)."""
    from cydl import graph
    fn = getattr(model, "_function", None)
    if fn is None or model._eager or not model._is_graph:
        return None
    chains = []
    for t in graph.flatten(fn.outputs):
        node, last = t.node, None
        while node is not None and node.is_layer and _transparent(node.operation):
            parents = node.parents()
            node = parents[0].node if len(parents) == 1 else None
        if node is None or not node.is_layer:
            chains.append((None, None, None))
            continue
        last = node.operation
        parents = node.parents()
        prev = parents[0].node if len(parents) == 1 else None
        while prev is not None and prev.is_layer and _transparent(prev.operation):
            up = prev.parents()
            prev = up[0].node if len(up) == 1 else None
        before = act_name(prev.operation) if prev is not None and prev.is_layer else None
        chains.append((last, act_name(last), before))
    return chains


def loss_kind(loss):
    """'sparse', 'categorical', 'binary' for the cross-entropies, else None; and
    whether the loss takes logits."""
    from cydl import losses
    fn = getattr(loss, "fn", None)
    kinds = {losses.SparseCategoricalCrossentropy: "sparse",
             losses.CategoricalCrossentropy: "categorical",
             losses.BinaryCrossentropy: "binary",
             losses.sparse_categorical_crossentropy: "sparse",
             losses.categorical_crossentropy: "categorical",
             losses.binary_crossentropy: "binary"}
    kind = kinds.get(type(loss)) or kinds.get(fn)
    logits = bool(getattr(loss, "from_logits", False) or
                  getattr(loss, "kwargs", {}).get("from_logits", False))
    return kind, logits


def structure_problems(model, heads):
    """Doubled softmax/sigmoid, probabilities given to a loss that takes logits, and
    logits given to a loss that takes probabilities."""
    chains = output_chains(model)
    if chains is None:
        return []
    problems = []
    for (layer, last, before), head, name in zip(chains, heads, model.output_names):
        if layer is None:
            continue
        where = f"output {name!r}" if len(heads) > 1 else "the output"
        kind, logits = loss_kind(head.loss)
        if last in _PROBABILITY and before == last:
            problems.append(
                f"{last} is applied twice at {where}: layer {layer.name!r} applies {last} "
                f"to values that already went through {last}. The second one squashes the "
                f"probabilities towards uniform (the model can never be confident): "
                f"remove one of them.")
        if kind is not None and logits and last in _PROBABILITY:
            problems.append(
                f"The loss of {where} has from_logits=True, but layer {layer.name!r} "
                f"already applies {last}: the loss applies it again. Use "
                f"from_logits=False, or remove the output activation (keep logits).")
        elif kind is not None and not logits and last not in _PROBABILITY and \
                last is not None:
            want = "sigmoid" if kind == "binary" else "softmax"
            problems.append(
                f"The loss of {where} expects probabilities (from_logits=False), but "
                f"layer {layer.name!r} outputs {last!r} values, not {want} "
                f"probabilities. Add activation={want!r}, or use from_logits=True.")
    return problems
