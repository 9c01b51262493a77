"""Custom layers in the fused step: a layer the plan has no entry for is traced, and
the `cydl.ops` calls in its `call` become plan nodes.

A custom layer is usually the built-in vocabulary rewritten by hand:
`relu(matmul(x, w) + b)` is a Dense node, `x * sigmoid(x @ w + b)` a Dense node and a
Multiply merge. Tracing the layer's `call` on the symbolic input records one graph
node per op (cydl.graph.op_node); the rules below map

* `matmul(x, W)` with W a 2-D weight, and `ops.dense(...)`: a Dense node;
* `+ b` with b a 1-D weight, on a Dense node nobody else reads: its bias;
* a named activation on a node nobody else reads: folded into that node;
* `add`, `subtract`, `multiply`, `maximum`, `minimum` of two same-shaped tensors and
  `concatenate` on the last axis: the merge nodes;
* layers called inside the custom layer: lowered like any other layer.

Anything else (a constant, broadcasting, a reduction, randomness, a weight used
twice) leaves the model on the graph runner, which runs every op on the tape. So a
custom layer costs only its own ops, and the results are the graph runner's:
tests/oracle checks both paths against PyTorch.
"""
import inspect

from cydl import graph

MERGE_OPS = {"concatenate": 5, "add": 6, "subtract": 7, "multiply": 8, "maximum": 10,
             "minimum": 11}


def _takes_training(layer):
    try:
        return "training" in inspect.signature(layer.call).parameters
    except (TypeError, ValueError):
        return False


def _structure(fn):
    return [(getattr(n.operation, "op_name", None) if not n.is_layer else id(n.operation),
             sorted((n.attrs or {}).items()), len(n.args)) for n in fn.nodes]


def trace(layer, x):
    """The graph of layer.call on the KerasTensor x, or None. A call that takes
    `training` must trace to the same ops either way: the plan trains and predicts."""
    try:
        if _takes_training(layer):
            out = layer.call(x, training=True)
            other = layer.call(x, training=False)
            if not isinstance(other, graph.KerasTensor) or \
                    _structure(graph.Function([x], other)) != \
                    _structure(graph.Function([x], out)):
                return None
        else:
            out = layer.call(x)
        if not isinstance(out, graph.KerasTensor):
            return None
        return graph.Function([x], out)
    except Exception:  # noqa: BLE001 - whatever stops the trace means "graph runner"
        return None


def expand(nodes, lowerable):
    """The nodes with each custom layer's node replaced by its traced ops, followed by
    (outer output, inner output, layer) so the layer's output maps to its last op; None
    if a custom layer cannot be traced. lowerable(layer) says which layers the plan
    knows."""
    from cydl.layers.base import Layer
    from cydl.models.model import Model
    out = []
    for node in nodes:
        layer = node.operation
        parents = node.parents()
        if not node.is_layer or lowerable(layer) or isinstance(layer, Model) or \
                not isinstance(layer, Layer) or node.kwargs or len(parents) != 1 or \
                len(graph.flatten(node.outputs)) != 1:
            out.append(node)
            continue
        sub = trace(layer, parents[0])
        if sub is None:
            return None
        if sub.outputs is parents[0]:          # an identity: the output is the input
            out.append((graph.flatten(node.outputs)[0], parents[0], layer))
            continue
        inner = expand(sub.nodes, lowerable)
        if inner is None:
            return None
        out += inner
        # the layer rides along: its activity regularizer, if any, goes to that node
        out.append((graph.flatten(node.outputs)[0], sub.outputs, layer))
    return out


def lower_op(node, ctx):
    """Add the plan node(s) of one op node to ctx (see _lowering.lower_graph); False
    if the op has no plan form."""
    from cydl.models import _lowering as low
    name = getattr(node.operation, "op_name", None)
    args = node.args
    out = node.outputs
    if not isinstance(out, graph.KerasTensor) or out.ndim != 2 or name is None:
        return False
    sym = [a for a in args if isinstance(a, graph.KerasTensor)]
    if any(id(t) not in ctx.where for t in sym):
        return False
    weights = [a for a in args if getattr(a, "_is_variable", False)]
    if any(id(v) in ctx.used or id(v) not in ctx.store.offsets or not low.fused_extras(v)
           for v in weights):
        return False          # a weight used twice sums gradients the plan does not form
    ctx.used.update(id(v) for v in weights)
    if name in ("matmul", "affine"):
        x, w = args[0], args[1]
        b = args[2] if len(args) > 2 else None
        if len(sym) != 1 or x is not sym[0] or not getattr(w, "_is_variable", False) or \
                w.ndim != 2 or ctx.width(ctx.where[id(x)]) != w.shape[0] or \
                out.shape[1] != w.shape[1] or \
                (b is not None and not _bias_fits(ctx, w, b)):
            return False
        ctx.kernel_of[len(ctx.nodes)] = w
        spec = low._node(low.NODE_DENSE, w.shape[0], w.shape[1],
                         trainable=low._trainable(ctx.store, w), w=ctx.store.offset(w),
                         b=-1 if b is None else ctx.store.offset(b))
        return ctx.add(spec, [ctx.where[id(x)]], out)
    if name == "add" and len(sym) == 1 and len(weights) == 1:
        # x @ w + b: the bias of the Dense node just made, if nothing else reads it
        t, b = sym[0], weights[0]
        s = ctx.where[id(t)]
        if s < 0 or ctx.readers.get(id(t), 0) != 1 or \
                ctx.nodes[s]["kind"] != low.NODE_DENSE or ctx.nodes[s]["b"] >= 0 or \
                ctx.nodes[s]["activation"] != "linear" or low.frozen(ctx.nodes[s]) or \
                s not in ctx.kernel_of or not _bias_fits(ctx, ctx.kernel_of[s], b):
            return False
        ctx.nodes[s]["b"] = ctx.store.offset(b)
        ctx.where[id(out)] = s
        return True
    if name == "activation" and len(sym) == 1 and not weights:
        t = sym[0]
        s = ctx.where[id(t)]
        if s < 0 or ctx.readers.get(id(t), 0) != 1 or \
                ctx.nodes[s]["activation"] != "linear" or low.frozen(ctx.nodes[s]):
            return False
        ctx.nodes[s]["activation"] = node.attrs["name"]
        ctx.nodes[s]["alpha"] = node.attrs.get("alpha")
        ctx.where[id(out)] = s
        return True
    if name in MERGE_OPS and not weights and len(sym) == len(args) >= 2:
        srcs = [ctx.where[id(t)] for t in sym]
        if len(set(srcs)) != len(srcs) or len(srcs) > 8:
            return False
        if name == "concatenate":
            if node.attrs.get("axis") not in (-1, 1) or any(t.ndim != 2 for t in sym):
                return False
            n = sum(ctx.width(s) for s in srcs)
        else:
            if any(t.shape != out.shape for t in sym):
                return False        # broadcasting: the graph runner
            n = out.shape[1]
        if n != out.shape[1]:
            return False
        return ctx.add(low._node(MERGE_OPS[name], n, n), srcs, out)
    return False


def _bias_fits(ctx, w, b):
    from cydl.models import _lowering as low
    return getattr(b, "_is_variable", False) and b.shape == (w.shape[1],) and \
        low._trainable(ctx.store, b) == low._trainable(ctx.store, w)
