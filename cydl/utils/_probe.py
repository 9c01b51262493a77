"""One probe pass through a model: every layer's output, and each layer's share of
the loss gradient, on a small batch. GradientStats and sanity_check read it.

The pass runs layer by layer on a GradientTape (as a custom training loop does),
not through the compiled step: the compiled step keeps no intermediate outputs.
It touches no weight of the model: what a training-mode call changes in place
(BatchNormalization's moving statistics, the noise layers' counters) is put back.
"""
import numpy as np

from cydl import graph
from cydl.utils._clone import Snapshot, walk_layers


def _run_recording(fn, inputs, training, record):
    """graph.Function.run, keeping each layer node's output in `record` (nested
    graph models are entered, so their layers are recorded too)."""
    from cydl.models.model import Model
    values = {id(t): v for t, v in zip(fn.inputs, inputs)}
    for node in fn.nodes:
        args = graph.map_structure(lambda t: values[id(t)] if isinstance(t, graph.KerasTensor)
                                   else t, node.args)
        op = node.operation
        if isinstance(op, Model) and op._function is not None and not op._eager and \
                op._is_graph and not node.kwargs:
            out = _run_recording(op._function, graph.flatten(args), training, record)
        else:
            out = node.run(args, training)
            if node.is_layer:
                record.setdefault(op, out)      # a shared layer: its first call
        for t, v in zip(graph.flatten(node.outputs), graph.flatten(out)):
            values[id(t)] = v
    return graph.map_structure(lambda t: values[id(t)], fn.outputs)


def forward(model, x, training):
    """(flat list of outputs, {layer: output}) for inputs x (a structure of arrays)."""
    record = {}
    fn = model._function
    if fn is not None and not model._eager and model._is_graph:
        from cydl.models.model import _match_inputs
        flat = graph.flatten(_match_inputs(fn, x))
        flat = [np.asarray(v, model.dtype) if isinstance(v, np.ndarray) and
                v.dtype.kind in "biuf" else v for v in flat]
        outs = _run_recording(fn, flat, training, record)
    else:        # a subclassed or eager model: only its outputs are seen
        outs = model(x, training=training)
    return graph.flatten(outs), record


def _forward_order(model):
    """The model's layers in the order its graph runs them, nested graph models
    entered (a subclassed or eager model: the order its layers were assigned)."""
    from cydl.models.model import Model
    fn = getattr(model, "_function", None)
    if not isinstance(model, Model) or fn is None or model._eager or not model._is_graph:
        return walk_layers(model)[1:] if isinstance(model, Model) else [model]
    out = []
    for node in fn.nodes:
        if node.is_layer:
            op = node.operation
            out += _forward_order(op) if isinstance(op, Model) else [op]
    return out


def weighted_layers(model):
    """The layers that own trainable weights, in forward order, each once, with its
    trainable weights."""
    out, seen = [], set()
    for layer in _forward_order(model):
        weights = [v for v in layer.trainable_weights if id(v) not in seen]
        if weights and all(l is not layer for l, _ in out):
            seen.update(id(v) for v in weights)
            out.append((layer, weights))
    return out


def split_targets(model, y):
    names = model.output_names
    if isinstance(y, dict):
        return [y[n] for n in names]
    if len(names) > 1:
        return list(y)
    return [y]


def probe(model, x, y, training=True):
    """Run the model on (x, y) under a tape.

    Returns:
        (loss, {layer: output array}, [(layer, gradient norm)]): the compiled loss
        (weighted over outputs, plus the regularization penalties), every layer's
        output, and the L2 norm of each weighted layer's gradient.
    """
    from cydl.gradient_tape import GradientTape
    heads = model._compile_config.bind(model.output_names)
    saved = Snapshot(model, trainable=False)
    layers = weighted_layers(model)
    variables = [v for _, ws in layers for v in ws]
    try:
        with GradientTape() as tape:
            outs, record = forward(model, x, training)
            total = 0.0
            for head, out, target in zip(heads, outs, split_targets(model, y)):
                total = total + head.weight * head.loss(target, out)
            for penalty in model.losses:
                total = total + penalty
        grads = tape.gradient(total, variables) if variables else []
    finally:
        saved.restore(weights=training)    # moving statistics, counters
    norms, k = [], 0
    for layer, ws in layers:
        sq = 0.0
        for g in grads[k:k + len(ws)]:
            if g is not None:
                g = np.asarray(g, np.float64)
                sq += float(np.vdot(g, g))
        k += len(ws)
        norms.append((layer, float(np.sqrt(sq))))
    values = {layer: np.asarray(getattr(v, "value", v)) for layer, v in record.items()
              if not isinstance(v, (list, tuple, dict))}
    return float(np.asarray(getattr(total, "value", total))), values, norms


def activations(model, x):
    """{layer: output} of an inference pass (no tape, nothing changes)."""
    _, record = forward(model, x, False)
    return {layer: np.asarray(getattr(v, "value", v)) for layer, v in record.items()
            if not isinstance(v, (list, tuple, dict))}
