"""The model graph: symbolic KerasTensors, the Nodes that produce them, and Function,
which evaluates a graph from its inputs to its outputs.

Calling a layer (or a cydl.ops op) on a KerasTensor records a Node: the operation,
its arguments and its outputs. Functional models, Sequential and traced subclassed
models are all a Function over such nodes; a layer used several times simply has
several nodes. Evaluation visits the nodes in a fixed topological order, so under a
tape each call gets its own gradient closure (see cydl.autodiff).
"""
import numpy as np

from cydl.autodiff import add_arithmetic


class TracingError(TypeError):
    """A model's call() needs concrete values (data-dependent Python control flow)."""


@add_arithmetic
class KerasTensor:
    """A symbolic tensor: a shape (batch axis None), a dtype, and the node that made it."""

    _is_symbolic = True

    def __init__(self, shape, dtype, node=None, index=0, name=None):
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype).name
        self.node = node
        self.index = index
        self.name = name

    @property
    def ndim(self):
        return len(self.shape)

    def __bool__(self):
        raise TracingError("A symbolic tensor has no truth value: this call() branches on "
                           "data, so the model runs eagerly on a tape instead")

    def __array__(self, dtype=None, copy=None):
        raise TracingError("A symbolic tensor has no values (NumPy was called on it)")

    def _no_value(self, *args):
        # float(ops.mean(h)) in a call(): the model then runs eagerly, where it has one
        raise TracingError("A symbolic tensor has no value to convert to a Python number: "
                           "this call() needs concrete values, so the model runs eagerly "
                           "on a tape instead")
    __float__ = __int__ = __index__ = __complex__ = item = numpy = tolist = _no_value

    def __len__(self):
        raise TracingError("A symbolic tensor has no length")

    def _compare(self, other):
        raise TracingError("A symbolic tensor cannot be compared: this call() branches on "
                           "data, so the model runs eagerly on a tape instead")
    __lt__ = __le__ = __gt__ = __ge__ = _compare

    def __iter__(self):
        raise TracingError("A symbolic tensor cannot be iterated over")

    def __repr__(self):
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}, name={self.name}>"


class Node:
    """One call of an operation (a Layer, or an op function) on symbolic arguments."""

    def __init__(self, operation, args, kwargs, outputs, attrs=None):
        self.operation = operation
        self.args = args                # nested structure holding KerasTensors
        self.kwargs = kwargs
        self.attrs = attrs              # op functions: keyword attributes
        self.outputs = outputs          # nested structure of KerasTensors

    def parents(self):
        return [t for t in flatten(self.args) if isinstance(t, KerasTensor)]

    @property
    def is_layer(self):
        from cydl.layers.base import Layer
        return isinstance(self.operation, Layer)

    def run(self, args, training):
        if self.is_layer:
            kwargs = dict(self.kwargs)
            training = kwargs.pop("training", training)    # fixed at the call, e.g. MC dropout
            return self.operation(args, training=training, **kwargs)
        from cydl.autodiff import apply
        return apply(self.operation, tuple(args), **self.attrs)


def flatten(x):
    if isinstance(x, (list, tuple)):
        return [v for item in x for v in flatten(item)]
    if isinstance(x, dict):
        return [v for k in x for v in flatten(x[k])]
    return [x]


def map_structure(fn, x):
    if isinstance(x, (list, tuple)):
        return type(x)(map_structure(fn, v) for v in x)
    if isinstance(x, dict):
        return {k: map_structure(fn, v) for k, v in x.items()}
    return fn(x)


def any_symbolic(x):
    return any(isinstance(t, KerasTensor) for t in flatten(x))


_DUMMY_BATCH = 3


def _dummy(t):
    shape = tuple(_DUMMY_BATCH if s is None else s for s in t.shape)
    return np.zeros(shape, t.dtype)


def _symbolic_outputs(values, node, batch_unknown):
    counter = iter(range(10 ** 6))

    def make(v):
        v = np.asarray(getattr(v, "value", v))
        shape = list(v.shape)
        if batch_unknown and shape and shape[0] == _DUMMY_BATCH:
            shape[0] = None
        return KerasTensor(shape, v.dtype, node, next(counter))
    return map_structure(make, values)


def _batch_unknown(args):
    return any(t.shape and t.shape[0] is None for t in flatten(args)
               if isinstance(t, KerasTensor))


def layer_node(layer, inputs, args, training, kwargs):
    """layer(inputs) on KerasTensors: build the layer, find its output shapes by
    running it once on zeros, and record the node."""
    if args:
        raise TypeError(f"Layer {layer.name!r}: pass extra arguments by keyword in a graph")
    dummy = map_structure(lambda t: _dummy(t) if isinstance(t, KerasTensor) else t, inputs)
    # zeros make 0/0 and log(0): those values are discarded, only the shapes are kept
    with np.errstate(all="ignore"):
        values = layer(dummy, training=False, **kwargs)
    if training is not None:
        kwargs = dict(kwargs, training=bool(training))
    node = Node(layer, inputs, dict(kwargs), None)
    node.outputs = _symbolic_outputs(values, node, _batch_unknown(inputs))
    for t in flatten(node.outputs):
        t.name = layer.name
    return node.outputs


def op_node(fn, args, attrs):
    """An op function on KerasTensors (e.g. cydl.ops.concatenate in a traced call)."""
    from cydl.autodiff import apply
    dummy = tuple(_dummy(t) if isinstance(t, KerasTensor) else t for t in args)
    with np.errstate(all="ignore"):     # see layer_node
        values = apply(fn, dummy, **attrs)
    node = Node(fn, tuple(args), {}, None, attrs)
    node.outputs = _symbolic_outputs(values, node, _batch_unknown(args))
    return node.outputs


class Function:
    """A graph from `inputs` (KerasTensors) to `outputs` (a nested structure of them)."""

    def __init__(self, inputs, outputs):
        self.inputs = list(flatten(inputs))
        self.input_structure = inputs
        self.outputs = outputs
        self.nodes = self._order()

    def _order(self):
        known = {id(t) for t in self.inputs}
        order, done, visiting = [], set(), set()

        def visit(t):
            if id(t) in known:
                return
            node = t.node
            if node is None:
                raise ValueError(f"Graph disconnected: {t!r} does not come from the "
                                 f"model's inputs")
            if id(node) in done:
                return
            if id(node) in visiting:
                raise ValueError("The graph has a cycle")
            visiting.add(id(node))
            for p in node.parents():
                visit(p)
            visiting.discard(id(node))
            done.add(id(node))
            order.append(node)
        for t in flatten(self.outputs):
            visit(t)
        return order

    def layers(self):
        from cydl.layers.base import Layer
        out = []
        for node in self.nodes:
            op = node.operation
            if isinstance(op, Layer) and all(op is not o for o in out):
                out.append(op)
        return out

    def run(self, inputs, training=False):
        """Evaluate the graph on concrete inputs (arrays, or Tensors under a tape)."""
        values = {id(t): v for t, v in zip(self.inputs, inputs)}
        for node in self.nodes:
            args = map_structure(lambda t: values[id(t)] if isinstance(t, KerasTensor)
                                 else t, node.args)
            out = node.run(args, training)
            for t, v in zip(flatten(node.outputs), flatten(out)):
                values[id(t)] = v
        return map_structure(lambda t: values[id(t)], self.outputs)
