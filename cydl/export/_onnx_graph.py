"""GraphBuilder: a cydl graph (cydl.graph.Function) walked node by node into ONNX
nodes and initializers.

Each KerasTensor becomes an ONNX value name. A layer node goes to its layer's
emitter (_onnx_layers.py); a nested model is walked in place; a layer with no
emitter (a custom layer, Lambda) is traced: its `call` runs on fresh symbolic
inputs, which records the `cydl.ops` it is made of as op nodes (the way cydl traces
subclassed models), and those go to _onnx_ops.py. Internal names are
"<layer>/<op>", so they never collide with the graph's input and output names,
which are reserved up front.
"""
import functools

import numpy as np

from cydl import graph


def model_function(model):
    """The graph cydl runs for `model`, or an error saying why there is none."""
    from cydl.models.model import Model
    if not isinstance(model, Model):
        raise TypeError(f"Only cydl models can be exported. Received: {model!r}")
    what = f"Model {model.name!r} ({type(model).__name__})"
    if model._eager:
        raise NotImplementedError(
            f"{what} cannot be exported to ONNX: its call() needs concrete values "
            f"(data-dependent Python control flow), so it runs eagerly and has no graph. "
            f"Write such branches with cydl.ops.where so that the model traces")
    if model._function is None:
        raise ValueError(f"{what} is not built yet: call it on data or fit it first, or "
                         f"pass input_signature")
    return model._function


def describe(layer):
    return f"layer {layer.name!r} ({type(layer).__name__})"


class GraphBuilder:
    """Collects the ONNX nodes and initializers of one graph."""

    def __init__(self, onnx, reserved=()):
        self.helper, self.numpy_helper = onnx.helper, onnx.numpy_helper
        self.nodes, self.initializers = [], []
        self._taken = set(reserved)
        self._weights = {}             # id(Variable) -> initializer name
        self.scope = []                # the layers being emitted, for names and errors

    # ------------------------------------------------------------ names and values
    @property
    def where(self):
        """The innermost layer being emitted, for error messages."""
        return describe(self.scope[-1]) if self.scope else "the model's graph"

    def _prefix(self):
        return self.scope[-1].name if self.scope else "graph"

    def fresh(self, base):
        name, k = base, 1
        while name in self._taken:
            name, k = f"{base}_{k}", k + 1
        self._taken.add(name)
        return name

    def op(self, op_type, inputs, **attrs):
        """One ONNX node with one output; returns the output's name."""
        out = self.fresh(f"{self._prefix()}/{op_type}")
        self.nodes.append(self.helper.make_node(op_type, list(inputs), [out], name=out,
                                                **attrs))
        return out

    def const(self, value, dtype, base="const"):
        """An initializer holding `value` as an array of `dtype`."""
        name = self.fresh(f"{self._prefix()}/{base}")
        array = np.ascontiguousarray(np.asarray(value, dtype=dtype))
        self.initializers.append(self.numpy_helper.from_array(array, name))
        return name

    def ints(self, values, base="shape"):
        return self.const(list(values), np.int64, base)

    def weight(self, var):
        """A layer weight as an initializer named by its path ("dense/kernel")."""
        name = self._weights.get(id(var))
        if name is None:
            name = self._weights[id(var)] = self.fresh(getattr(var, "path", None) or
                                                       var.name)
            array = np.ascontiguousarray(var.numpy())
            self.initializers.append(self.numpy_helper.from_array(array, name))
        return name

    def cast(self, name, from_dtype, to_dtype):
        if np.dtype(from_dtype) == np.dtype(to_dtype):
            return name
        return self.op("Cast", [name],
                       to=self.helper.np_dtype_to_tensor_dtype(np.dtype(to_dtype)))

    # ------------------------------------------------------------ walking
    def run(self, fn, input_names):
        """Emit fn's nodes with its inputs bound to `input_names`; returns the value
        names of its flattened outputs."""
        values = {id(t): n for t, n in zip(fn.inputs, input_names)}
        for node in fn.nodes:
            args = graph.map_structure(
                lambda a: values[id(a)] if isinstance(a, graph.KerasTensor) else a, node.args)
            if node.is_layer:
                outs = self.layer(node, args)
            else:
                from cydl.export._onnx_ops import emit_op
                outs = emit_op(self, node, args)
            flat = graph.flatten(node.outputs)
            outs = graph.flatten(outs) if isinstance(outs, (list, tuple)) else [outs]
            if len(outs) != len(flat):
                raise NotImplementedError(f"ONNX export of {self.where}: the node "
                                          f"gives {len(outs)} outputs, the graph {len(flat)}")
            for t, n in zip(flat, outs):
                values[id(t)] = n
        return [values[id(t)] for t in graph.flatten(fn.outputs)]

    def layer(self, node, args):
        from cydl.export._onnx_layers import emitter
        from cydl.models.model import Model
        layer = node.operation
        if node.kwargs.get("training"):
            raise NotImplementedError(
                f"{describe(layer)} is called with training=True (e.g. MC Dropout), so it "
                f"behaves as in training at inference; ONNX export writes the inference "
                f"form only")
        names = graph.flatten(args)
        tensors = graph.flatten(node.args)
        self.scope.append(layer)
        try:
            if isinstance(layer, Model):
                fn = model_function(layer)
                return self.run(fn, [self._as(n, t, inner.dtype)
                                     for n, t, inner in zip(names, tensors, fn.inputs)])
            emit = emitter(layer)
            if emit is not None:
                # a layer computes in its own dtype, its inputs cast to it (a float64
                # Input feeding a float32 model): the emitters' constants have it
                want = graph.flatten(node.outputs)[0].dtype
                names = [self._as(n, t, want) for n, t in zip(names, tensors)]
            structured = graph.map_structure(lambda _: names.pop(0), args)
            if emit is not None:
                return emit(self, layer, node, structured)
            kwargs = {k: v for k, v in node.kwargs.items() if k != "training"}
            if _takes_training(layer):
                kwargs["training"] = False
            return self.trace(functools.partial(layer.call, **kwargs), node.args, structured,
                              f"{describe(layer)}: it has no ONNX mapping and its call() "
                              f"does not trace into cydl.ops")
        finally:
            self.scope.pop()

    def trace(self, call, tensors, names, what):
        """call() on fresh symbolic inputs shaped like `tensors`, recorded as graph
        nodes (cydl.ops calls and layer calls), then emitted like any graph with
        its inputs bound to `names`; returns the output value names."""
        fresh = graph.map_structure(lambda t: graph.KerasTensor(t.shape, t.dtype), tensors)
        try:
            with np.errstate(all="ignore"):    # each op's shape is found on zeros: 0 / 0
                fn = graph.Function(fresh, call(fresh))
        except Exception as e:  # noqa: BLE001 - any failure means "cannot express"
            raise NotImplementedError(f"ONNX export cannot express {what} "
                                      f"({type(e).__name__}: {e})") from e
        return self.run(fn, graph.flatten(names))

    def _as(self, name, tensor, dtype):
        """The value `name` of graph tensor `tensor`, cast to float dtype `dtype`."""
        if not isinstance(tensor, graph.KerasTensor) or \
                not np.issubdtype(np.dtype(tensor.dtype), np.floating) or \
                not np.issubdtype(np.dtype(dtype), np.floating):
            return name
        return self.cast(name, tensor.dtype, dtype)

    def name_outputs(self, outs, out_names):
        """Give the graph's outputs their names: the node that made each output value
        is renamed; an input, or a value already an output, goes through Identity."""
        made = {o: node for node in self.nodes for o in node.output}
        renamed = {}
        for value, name in zip(outs, out_names):
            if value == name:
                continue
            if value in made and value not in renamed:
                renamed[value] = name
            else:
                self.nodes.append(self.helper.make_node(
                    "Identity", [renamed.get(value, value)], [name], name=name))
        for node in self.nodes:
            node.input[:] = [renamed.get(n, n) for n in node.input]
            node.output[:] = [renamed.get(n, n) for n in node.output]


def _takes_training(layer):
    import inspect
    try:
        params = inspect.signature(layer.call).parameters
    except (TypeError, ValueError):
        return False
    return "training" in params or any(p.kind == p.VAR_KEYWORD for p in params.values())
