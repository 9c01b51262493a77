"""A functional model's graph seen as Keras 3 sees it.

Keras 3 numbers each layer's calls, lists op calls as one-call "layers", and
keeps the layers in the order `keras.src.ops.function.map_graph` gives them: by
depth from the outputs, then by first visit in a depth-first walk from the
outputs. The order matters beyond looks: a functional config lists the layers in
it, and a `.keras` file names the weights of the n-th Dense in it
`layers/dense_<n>`, so cydl must list them as Keras would.
"""
from cydl import graph
from cydl.models import _op_config


def call_offset(layer):
    """Keras counts the calls of a nested functional model from 1: building it
    made a node of its own."""
    from cydl.models.model import Model
    from cydl.models.sequential import Sequential
    return 1 if isinstance(layer, Model) and not isinstance(layer, Sequential) and \
        layer._is_graph else 0


class KerasGraph:
    """A cydl Function seen as Keras sees a graph: a node per call (and one per
    InputLayer), each layer's calls numbered, the layers in Keras' order."""

    def __init__(self, fn):
        self.fn = fn
        self.node_of = {}         # id(KerasTensor) -> (node key, tensor index)
        self.index = {}           # node key -> the call's number for its layer
        self.layer_of = {}        # node key -> layer
        self.parents = {}         # node key -> [node keys], one per input tensor
        self.calls = {}           # id(layer) -> [node keys]
        counts = {}
        for t in fn.inputs:
            layer = t._input_layer
            key = ("input", id(layer))
            self._add(key, layer, [], counts)
            self.node_of[id(t)] = (key, 0)
        for node in fn.nodes:
            key = ("node", id(node))
            parents = [self.node_of[id(t)][0] for t in node.parents()]
            # a raw cydl.ops call is listed as Keras lists op calls: a one-call
            # "layer" of the op's class (NotImplementedError for ops it cannot write)
            operation = node.operation if node.is_layer else _op_config.OpLayer(node, self)
            self._add(key, operation, parents, counts)
            for j, t in enumerate(graph.flatten(node.outputs)):
                self.node_of[id(t)] = (key, j)
        self.nodes = {("node", id(n)): n for n in fn.nodes}

    def _add(self, key, layer, parents, counts):
        k = counts.get(id(layer), 0)
        counts[id(layer)] = k + 1
        self.index[key] = k
        self.layer_of[key] = layer
        self.parents[key] = parents
        self.calls.setdefault(id(layer), []).append(key)

    def history(self, t, outer=False):
        """[layer name, call number, output number] of a tensor. Keras numbers a
        nested functional model's calls from 1 in `input_layers` and
        `output_layers` (outer), and from 0 in the layers' calls."""
        key, j = self.node_of[id(t)]
        layer = self.layer_of[key]
        return [layer.name, self.index[key] + (call_offset(layer) if outer else 0), j]

    def keras_order(self):
        """The layers as `keras.src.ops.function.map_graph` orders them."""
        finished, order, first = set(), [], {}

        def visit(key):                      # _build_map_helper
            if key in finished:
                return
            layer = self.layer_of[key]
            first.setdefault(id(layer), len(first))
            for parent in self.parents[key]:
                visit(parent)
            finished.add(key)
            order.append(key)
        stack = [self.node_of[id(t)][0] for t in graph.flatten(self.fn.outputs)]
        for key in stack:
            visit(key)
        node_depth, layer_depth = {}, {}
        for key in reversed(order):
            depth = node_depth.setdefault(key, 0)
            layer = id(self.layer_of[key])
            depth = max(depth, layer_depth.get(layer, 0))
            layer_depth[layer] = depth
            node_depth[key] = depth
            for parent in self.parents[key]:
                node_depth[parent] = max(depth + 1, node_depth.get(parent, 0))
        by_id = {id(self.layer_of[k]): self.layer_of[k] for k in self.layer_of}
        for t in self.fn.inputs:              # inputs the outputs do not use
            layer = id(t._input_layer)
            if layer not in layer_depth:
                layer_depth[layer] = 0
                first[layer] = -1
        by_depth = {}
        for layer, depth in layer_depth.items():
            by_depth.setdefault(depth, []).append(layer)
        out = []
        for depth in sorted(by_depth, reverse=True):
            out += sorted(by_depth[depth], key=lambda i: first[i])
        return [by_id[i] for i in out]
