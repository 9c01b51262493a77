"""Lowering a chain of layers into the fused whole-step kernel.

Each layer kind that the kernel knows registers here once: a function that gives
its node for the plan (kind, parameter offsets, constants), or None when this
instance needs the graph runner (an unusual axis, a regularizer, ...). The
kernel side of each kind is one forward part and one backward part (Dense in
_parts.pyx and _backward.pyx, the per-unit kinds in _nodes.pyx). Activation layers
are not nodes: the rewrite below folds each one into the node before it.
"""

from cydl import _config
from cydl._kernels import _dropout
from cydl._ops import _nodes as node_ops
from cydl.constraints import fused_spec
from cydl.regularizers import penalty_factors

_LOWER = {}
NODE_DENSE, NODE_BN, NODE_DROPOUT, NODE_PRELU, NODE_AFFINE = range(5)


def lowers(*classes):
    """Register fn(layer, store, width) -> node dict (or None) for these classes."""
    def register(fn):
        for cls in classes:
            _LOWER[cls] = fn
        return fn
    return register


def _node(kind, n_in, n_out, **fields):
    node = {"kind": kind, "n_in": n_in, "n_out": n_out, "activation": "linear",
            "alpha": None, "trainable": False, "w": -1, "b": -1, "m": -1, "v": -1,
            "eps": 0.0, "momentum": 0.0, "ka": 1.0, "kb": 0.0, "kc": 0.0, "seed": 0,
            "thr": 0, "counter": None, "ar_l1": 0.0, "ar_l2": 0.0, "ar": False}
    node.update(fields)
    return node


def attach_activity(ctx, s, layer):
    """Give node s the activity regularizer of `layer`, whose output is node s's
    output; False (graph runner) when the plan cannot apply it: a penalty other than
    L1/L2/L1L2, an output that is a model input, or a node that has one already.
    A node with one keeps its output as it is: no activation or bias folds into it
    later (see `frozen`)."""
    reg = getattr(layer, "activity_regularizer", None)
    if reg is None:
        return True
    factors = penalty_factors(reg)
    if factors is None or s < 0 or frozen(ctx.nodes[s]):
        return False
    ctx.nodes[s].update(ar_l1=factors[0], ar_l2=factors[1], ar=True)
    return True


def frozen(node):
    """Whether node's output must stay as it is: an activity regularizer reads it."""
    return bool(node.get("ar"))


def fused_extras(v):
    """Whether the optimizer's fused update applies v's penalty and constraint: L1/L2
    penalties and Keras' norm/non-negativity constraints over contiguous entries."""
    return (v.regularizer is None or penalty_factors(v.regularizer) is not None) and \
        (v.constraint is None or fused_spec(v.constraint, v.shape) is not None)


def _trainable(store, *variables):
    ids = {id(v) for v in store.trainable_variables}
    return any(v is not None and id(v) in ids for v in variables)


def _plain(*variables):
    """No penalty or constraint but those the optimizer's fused update applies."""
    return all(v is None or fused_extras(v) for v in variables)


def _dense(layer, store, width):
    if layer.act_name is None or not _plain(layer.kernel, layer.bias):
        return None
    return _node(NODE_DENSE, layer.kernel.shape[0], layer.units, activation=layer.act_name,
                 alpha=layer.act_alpha, trainable=_trainable(store, layer.kernel),
                 w=store.offset(layer.kernel),
                 b=store.offset(layer.bias) if layer.use_bias else -1)


def _batch_norm(layer, store, width):
    if layer.axis not in (-1, 1) or not layer.trainable or not _plain(layer.gamma, layer.beta):
        return None       # a frozen BN normalizes with its moving statistics: graph runner
    n = layer.moving_mean.shape[0]
    return _node(NODE_BN, n, n, trainable=_trainable(store, layer.gamma, layer.beta),
                 w=store.offset(layer.gamma) if layer.gamma is not None else -1,
                 b=store.offset(layer.beta) if layer.beta is not None else -1,
                 m=store.offset(layer.moving_mean), v=store.offset(layer.moving_variance),
                 eps=layer.epsilon, momentum=layer.momentum)


def _dropout_node(layer, store, width):
    if layer.noise_shape is not None or not layer.built:
        return None
    a, b, c = node_ops.dropout_coefficients(layer.rate, layer._ALPHA)
    return _node(NODE_DROPOUT, width, width, ka=a, kb=b, kc=c, seed=int(layer._seed),
                 thr=int(_dropout.keep_threshold(1.0 - layer.rate)),
                 counter=layer._counter)


def _prelu(layer, store, width):
    if layer.alpha.shape != (width,) or not _plain(layer.alpha):
        return None
    return _node(NODE_PRELU, width, width, trainable=_trainable(store, layer.alpha),
                 w=store.offset(layer.alpha))


def _normalization(layer, store, width):
    mean = getattr(layer, "adapt_mean", None)
    if layer.invert or mean is None or mean.shape != (width,) or \
            len(layer._build_shape) != 2:
        return None
    return _node(NODE_AFFINE, width, width, m=store.offset(mean),
                 v=store.offset(layer.adapt_variance), eps=_config.epsilon())


def _register_builtins():
    from cydl.layers.activations import PReLU
    from cydl.layers.dense import Dense
    from cydl.layers.normalization import BatchNormalization
    from cydl.layers.preprocessing import Normalization
    from cydl.layers.regularization import AlphaDropout, Dropout
    lowers(Dense)(_dense)
    lowers(BatchNormalization)(_batch_norm)
    lowers(Dropout, AlphaDropout)(_dropout_node)
    lowers(PReLU)(_prelu)
    lowers(Normalization)(_normalization)


_MERGES = {"Concatenate": 5, "Add": 6, "Subtract": 7, "Multiply": 8, "Average": 9,
           "Maximum": 10, "Minimum": 11}


class Lowered:
    """A graph as the plan takes it: nodes, output node indices, input columns."""

    def __init__(self, nodes, outputs, inputs, n_features):
        self.nodes, self.outputs, self.inputs, self.n_features = nodes, outputs, inputs, \
            n_features


class _Context:
    """What lowering has built so far: the plan nodes, where each tensor comes from
    (a node index, or -1 - k for input k), how many nodes read each tensor."""

    def __init__(self, store, inputs):
        self.store, self.inputs = store, inputs
        self.where, self.readers, self.nodes = {}, {}, []
        self.used, self.kernel_of = set(), {}

    def width(self, src):
        return self.inputs[-1 - src][1] if src < 0 else self.nodes[src]["n_out"]

    def add(self, spec, srcs, out):
        spec["src"] = srcs
        self.where[id(out)] = len(self.nodes)
        self.nodes.append(spec)
        return True


def lower_graph(fn, store):
    """The plan form of a Function's graph, or None if some part needs the graph
    runner. Model inputs become column ranges of one combined row; Flatten on an
    input and activation layers are rewrites, not nodes; custom layers are traced
    into their ops (see _lower_ops)."""
    from cydl import graph
    from cydl.layers import core
    from cydl.layers.merging import Concatenate
    from cydl.models import _lower_ops
    if not _LOWER:
        _register_builtins()
    inputs, off = [], 0
    ctx = _Context(store, inputs)
    where, readers, nodes = ctx.where, ctx.readers, ctx.nodes
    for k, t in enumerate(fn.inputs):
        if any(s is None for s in t.shape[1:]):
            return None
        width = 1
        for s in t.shape[1:]:
            width *= s
        where[id(t)] = -1 - k
        inputs.append((off, width))
        off += width
    items = _lower_ops.expand(fn.nodes, _knows)
    if items is None:
        return None
    for item in items:
        for t in (item.parents() if not isinstance(item, tuple) else ()):
            readers[id(t)] = readers.get(id(t), 0) + 1
    for t in graph.flatten(fn.outputs):
        readers[id(t)] = readers.get(id(t), 0) + 1
    for item in items:
        if isinstance(item, tuple):            # a custom layer's output is its last op's
            outer, inner, _ = item
            readers[id(inner)] = readers[id(outer)] = \
                readers.get(id(inner), 0) + readers.get(id(outer), 0)
    seen = set()
    width_of = ctx.width

    for node in items:
        if isinstance(node, tuple):
            outer, inner, custom = node
            if id(inner) not in where or not attach_activity(ctx, where[id(inner)], custom):
                return None
            where[id(outer)] = where[id(inner)]
            continue
        if not node.is_layer:
            if not _lower_ops.lower_op(node, ctx):
                return None
            continue
        layer = node.operation
        parents = node.parents()
        outs = graph.flatten(node.outputs)
        if node.kwargs or len(outs) != 1 or not parents or \
                any(id(t) not in where for t in parents):
            return None
        srcs = [where[id(t)] for t in parents]
        out = outs[0]
        if id(layer) in seen:
            return None        # a shared layer: its gradient is a sum the plan does not form
        seen.add(id(layer))
        if isinstance(layer, (core.Flatten, core.Reshape)) and len(srcs) == 1 and \
                out.ndim == 2:
            if not attach_activity(ctx, srcs[0], layer):
                return None
            where[id(out)] = srcs[0]           # rows are already flat
            continue
        if type(layer) in _ACTIVATION_LAYERS:
            s = srcs[0]
            if s < 0 or layer.act_name is None or nodes[s]["activation"] != "linear" or \
                    readers.get(id(parents[0]), 0) != 1 or frozen(nodes[s]):
                return None
            nodes[s]["activation"], nodes[s]["alpha"] = layer.act_name, layer.act_alpha
            if not attach_activity(ctx, s, layer):
                return None
            where[id(out)] = s                 # rewrite: folded into its source
            continue
        name = type(layer).__name__
        if name in _MERGES and type(layer).__module__ == "cydl.layers.merging":
            if isinstance(layer, Concatenate) and layer.axis not in (-1, 1) or \
                    out.ndim != 2 or len(srcs) > 8:
                return None
            widths = [width_of(s) for s in srcs]
            n = sum(widths) if _MERGES[name] == 5 else widths[0]
            node_spec = _node(_MERGES[name], n, n)
        else:
            fn_lower = _LOWER.get(type(layer))
            if fn_lower is None or len(srcs) != 1:
                return None
            node_spec = fn_lower(layer, store, width_of(srcs[0]))
            if node_spec is None or node_spec["n_in"] != width_of(srcs[0]):
                return None
        ctx.add(node_spec, srcs, out)
        if not attach_activity(ctx, len(nodes) - 1, layer):
            return None
    outputs = [where.get(id(t), -1) for t in graph.flatten(fn.outputs)]
    if not nodes or any(o < 0 for o in outputs) or len(set(outputs)) != len(outputs):
        return None
    for i, spec in enumerate(nodes):
        reads = sum(i in n["src"] for n in nodes)
        if spec["activation"] == "softmax" and i not in outputs or i in outputs and reads:
            return None
    return Lowered(nodes, outputs, inputs, off)


def _knows(layer):
    """Whether lowering has a rule for this layer itself (else it is traced)."""
    from cydl.layers import core
    return type(layer) in _LOWER or type(layer) in _ACTIVATION_LAYERS or \
        isinstance(layer, (core.Flatten, core.Reshape)) or \
        (type(layer).__name__ in _MERGES and type(layer).__module__ == "cydl.layers.merging")


def _activation_layers():
    from cydl.layers import core
    return (core.Activation, core.LeakyReLU, core.ReLU, core.ELU, core.Softmax)


_ACTIVATION_LAYERS = _activation_layers()
