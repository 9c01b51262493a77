"""Config entries for the raw `cydl.ops` calls of a functional graph, both ways.

`y = cydl.ops.relu(layers.Dense(3)(x)) + x` records two op nodes besides the layer's.
Keras 3 lists each such call in the model config as if it were a layer of its own:
the op's class (`keras.src.ops.nn.Relu`, `keras.src.ops.numpy.Add`), a config with a
unique name and the op's attributes (`{"name": "leaky_relu", "negative_slope": 0.1}`)
and one inbound node whose args are the call's positional arguments, tensors as
`__keras_tensor__` references and constants as values (`[x, 2.0]`), slices and
arrays in Keras' `__slice__` / `__numpy__` forms. cydl writes the same, so a graph
with op calls round-trips through get_config / from_config and clone_model, and the
entries are the ones Keras itself writes and reads.

cydl.models.config uses this module at four places (see the hook in its
functional_config / functional_from_config):

* `OpLayer(node, graph)`: an op node seen as the one-call "layer" Keras lists;
* `op.entry(graph)`: its config entry;
* `is_op_entry(entry)` / `deserialize_op(entry)`: an OpCall that replays the call;
* `call_arguments(...)`: the call's positional arguments, which an op may have
  several of (a layer takes one).

An op is recognized by its primitive (the function its graph node runs), found once
by calling each public op on a symbolic tensor; nothing is ever imported by a name
from a config. Ops that hold weights (`ops.dense` with Variables) or primitives of
the user's own have no entry: a NotImplementedError says which.
"""
import numpy as np

from cydl import graph

_NN, _NUMPY, _CORE = "keras.src.ops.nn", "keras.src.ops.numpy", "keras.src.ops.core"

# class name -> (module, cydl.ops function, config keys: the op's keyword arguments)
_UNARY = {"Exp": "exp", "Log": "log", "Log1p": "log1p", "Sqrt": "sqrt", "Square": "square",
          "Negative": "negative", "Absolute": "absolute", "Sin": "sin", "Cos": "cos"}
_BINARY = {"Add": "add", "Subtract": "subtract", "Multiply": "multiply", "Divide": "divide",
           "Maximum": "maximum", "Minimum": "minimum", "Power": "power", "Matmul": "matmul",
           "Equal": "equal", "NotEqual": "not_equal", "Less": "less",
           "LessEqual": "less_equal", "Greater": "greater", "GreaterEqual": "greater_equal"}
# a named activation (the `activation` primitive's `name`) -> Keras' op class
_ACTIVATIONS = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "softplus": "Softplus",
                "softsign": "Softsign", "selu": "Selu", "swish": "Silu", "mish": "Mish",
                "relu6": "Relu6", "hard_sigmoid": "HardSigmoid", "softmax": "Softmax",
                "elu": "Elu", "leaky_relu": "LeakyRelu", "gelu": "Gelu", "gelu_tanh": "Gelu"}
_MODULES = {"Tanh": _NUMPY, "StopGradient": _CORE, "Cast": _CORE, "Activation": "cydl.ops"}
_PRIMS = None       # primitive -> class name, made on first use


def _ops():
    from cydl import ops
    return ops


def _prims():
    """Each public op's primitive, found by calling it once on a symbolic tensor."""
    global _PRIMS
    if _PRIMS is not None:
        return _PRIMS
    ops = _ops()
    x = graph.KerasTensor((None, 2), "float32")
    sq = graph.KerasTensor((2, 2), "float32")
    found = {}
    with np.errstate(all="ignore"):     # log / sqrt of the zeros the trace runs on
        for cls, name in _UNARY.items():
            found[getattr(ops, name)(x).node.operation] = cls
        for cls, name in _BINARY.items():
            found[getattr(ops, name)(x, sq if name == "matmul" else x).node.operation] = cls
        calls = {"Sum": lambda: ops.sum(x), "Mean": lambda: ops.mean(x),
                 "Reshape": lambda: ops.reshape(x, (-1, 1, 2)),
                 "Transpose": lambda: ops.transpose(x),
                 "Concatenate": lambda: ops.concatenate([x, x]),
                 "Stack": lambda: ops.stack([x, x]), "GetItem": lambda: ops.getitem(x, 0),
                 "Clip": lambda: ops.clip(x, 0.0, 1.0),
                 "Where": lambda: ops.where(ops.greater(x, x), x, x),
                 "StopGradient": lambda: ops.stop_gradient(x),
                 "Cast": lambda: ops.cast(x, "float64"),
                 "Activation": lambda: ops.relu(x)}
        for cls, call in calls.items():
            found[call().node.operation] = cls
    _PRIMS = found
    return found


# ---------------------------------------------------------------- constants
def _constant(value, what):
    """A constant argument as a config holds it (Keras' forms for arrays and slices)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if isinstance(value, np.ndarray):
        return {"class_name": "__numpy__",
                "config": {"value": value.tolist(), "dtype": value.dtype.name}}
    if isinstance(value, slice):
        return {"class_name": "__slice__", "config": {
            "start": _constant(value.start, what), "stop": _constant(value.stop, what),
            "step": _constant(value.step, what)}}
    if value is Ellipsis:
        return {"class_name": "__ellipsis__", "config": {}}
    if isinstance(value, (list, tuple)):
        return [_constant(v, what) for v in value]
    if getattr(value, "_is_variable", False):
        raise NotImplementedError(
            f"get_config: the op {what!r} takes a weight ({getattr(value, 'path', value)!r})"
            f" directly; a config cannot hold it. Make the op part of a layer (a custom "
            f"layer with get_config) instead")
    raise NotImplementedError(f"get_config: the op {what!r} has an argument of type "
                              f"{type(value).__name__} that a config cannot hold: {value!r}")


def _from_constant(value):
    if isinstance(value, dict):
        kind = value.get("class_name")
        config = value.get("config") or {}
        if kind == "__numpy__":
            return np.asarray(config["value"], dtype=np.dtype(config["dtype"]))
        if kind == "__slice__":
            return slice(*(_from_constant(config.get(k)) for k in ("start", "stop", "step")))
        if kind == "__ellipsis__":
            return Ellipsis
        raise ValueError(f"Unknown constant in an op's arguments: {value!r}")
    if isinstance(value, list):
        return [_from_constant(v) for v in value]
    return value


# ---------------------------------------------------------------- to a config
def _describe(node):
    """(class name, config without the name, args) of an op node, Keras' way."""
    prim = node.operation
    cls = _prims().get(prim)
    name = getattr(prim, "op_name", None) or getattr(prim, "__name__", repr(prim))
    if cls is None:
        raise NotImplementedError(
            f"get_config: the op {name!r} of this graph has no config form (cydl writes "
            f"the public cydl.ops functions: {', '.join(sorted(_public_names()))}). Use "
            f"a layer for it (a Lambda or a custom layer with get_config)")
    attrs = dict(node.attrs or {})
    args = list(node.args)
    if cls == "Activation":
        act, alpha = attrs["name"], attrs.get("alpha")
        cls = _ACTIVATIONS.get(act, "Activation")
        if cls == "LeakyRelu":
            return cls, {"negative_slope": 0.2 if alpha is None else float(alpha)}, args
        if cls == "Elu":
            return cls, {"alpha": 1.0 if alpha is None else float(alpha)}, args
        if cls == "Gelu":
            return cls, {"approximate": act == "gelu_tanh"}, args
        if cls == "Softmax":
            return cls, {"axis": -1}, args
        if cls == "Activation":      # a kernel activation with no op of its own
            return cls, {"activation": act, "alpha": alpha}, args
        return cls, {}, args
    if cls in ("Sum", "Mean"):
        axis = attrs.get("axis")
        return cls, {"axis": list(axis) if isinstance(axis, tuple) else axis,
                     "keepdims": bool(attrs.get("keepdims", False))}, args
    if cls == "Reshape":
        return cls, {"newshape": list(attrs["shape"])}, args
    if cls == "Transpose":
        axes = attrs.get("axes")
        return cls, {"axes": None if axes is None else list(axes)}, args
    if cls in ("Concatenate", "Stack"):
        return cls, {"axis": int(attrs["axis"])}, [args]
    if cls == "GetItem":
        return cls, {}, args + [attrs["item"]]
    if cls == "Clip":
        return cls, {"x_min": attrs["lo"], "x_max": attrs["hi"]}, args
    if cls == "Cast":
        return cls, {"dtype": np.dtype(attrs["dtype"]).name}, args
    return cls, {}, args


def _public_names():
    from cydl.ops import __all__ as public
    return public


def _snake(cls):
    from cydl._registry import snake_case
    return snake_case(cls)


class OpLayer:
    """An op node of a graph as Keras lists it: a "layer" with one call, named
    uniquely among the graph's layers and its other ops (Keras' automatic op names:
    "add", "add_1", ...)."""

    def __init__(self, node, g):
        self.node = node
        self.class_name, self.config, self.args = _describe(node)
        taken = getattr(g, "_op_names", None)
        if taken is None:
            taken = {layer.name for layer in g.fn.layers()} | \
                {t._input_layer.name for t in g.fn.inputs if getattr(t, "_input_layer", None)}
            g._op_names = taken
        base = _snake(self.class_name)
        name, k = base, 1
        while name in taken:
            name, k = f"{base}_{k}", k + 1
        taken.add(name)
        self.name = name
        for value in graph.flatten(self.args):      # refused now, not when written
            if not isinstance(value, graph.KerasTensor):
                _constant(value, name)

    def entry(self, g):
        """The config entry; `g` gives each input tensor's keras_history."""
        def arg(value):
            if isinstance(value, graph.KerasTensor):
                return {"class_name": "__keras_tensor__",
                        "config": {"shape": list(value.shape), "dtype": value.dtype,
                                   "keras_history": g.history(value)}}
            if isinstance(value, (list, tuple)) and any(
                    isinstance(v, graph.KerasTensor) for v in graph.flatten(value)):
                return [arg(v) for v in value]
            return _constant(value, self.name)
        cls = self.class_name
        module = _MODULES.get(cls, _NN if cls in _ACTIVATIONS.values() else _NUMPY)
        return {"module": module, "class_name": cls,
                "config": {"name": self.name, **self.config}, "registered_name": cls,
                "name": self.name,
                "inbound_nodes": [{"args": [arg(a) for a in self.args], "kwargs": {}}]}

    def __repr__(self):
        return f"<OpLayer {self.class_name} name={self.name}>"


# ---------------------------------------------------------------- from a config
def is_op_entry(entry):
    """Whether a functional config entry is an op call (Keras' op modules, or cydl's)."""
    module = entry.get("module") or ""
    return module.startswith("keras.src.ops") or module == "cydl.ops"


class OpCall:
    """A deserialized op entry: called on the entry's resolved args, as functional
    from_config calls a layer, it replays the op."""

    def __init__(self, entry):
        self.class_name = entry["class_name"]
        self.config = dict(entry.get("config") or {})
        self.name = entry.get("name") or self.config.get("name") or _snake(self.class_name)
        if self.class_name not in _BUILDERS:
            raise ValueError(f"Unknown op class {self.class_name!r} (module "
                             f"{entry.get('module')!r}) in the config; cydl rebuilds "
                             f"{', '.join(sorted(_BUILDERS))}")

    def __call__(self, args, **kwargs):
        if kwargs:
            raise ValueError(f"op {self.name!r}: unexpected call keywords {sorted(kwargs)}")
        args = [a if isinstance(a, graph.KerasTensor) else _from_constant(a)
                for a in (args if isinstance(args, (list, tuple)) else [args])]
        config = {k: v for k, v in self.config.items() if k != "name"}
        return _BUILDERS[self.class_name](_ops(), args, config)

    def __repr__(self):
        return f"<OpCall {self.class_name} name={self.name}>"


def deserialize_op(entry):
    """The OpCall of an op entry (is_op_entry)."""
    return OpCall(entry)


def call_arguments(node, legacy, ref, name):
    """(positional arguments, kwargs) of an op entry's call: its tensors (resolved
    with ref(keras_history), which raises LookupError while one is not made yet) and
    constants, in order. Same signature as config._call_arguments."""
    def tensors(x):
        if isinstance(x, dict) and x.get("class_name") == "__keras_tensor__":
            return ref((x.get("config") or {}).get("keras_history"))
        if isinstance(x, list):
            return [tensors(v) for v in x]
        return x
    if not isinstance(node, dict) or not isinstance(node.get("args", []), list):
        raise ValueError(f"Malformed call of op {name!r}: {node!r}")
    return tensors(node.get("args", [])), dict(node.get("kwargs") or {})


def _activation(name, **fixed):
    return lambda ops, a, c: getattr(ops, name)(a[0], **{**fixed, **c})


def _getitem(ops, a, c):
    key = a[1]
    # a config holds a tuple key as a list; as a NumPy index a list would be a gather
    if isinstance(key, list) and not any(isinstance(k, (list, np.ndarray)) for k in key):
        key = tuple(key)
    return ops.getitem(a[0], key)


_BUILDERS = {
    **{cls: (lambda name: lambda ops, a, c: getattr(ops, name)(a[0]))(name)
       for cls, name in _UNARY.items()},
    **{cls: (lambda name: lambda ops, a, c: getattr(ops, name)(a[0], a[1]))(name)
       for cls, name in _BINARY.items()},
    "TrueDivide": lambda ops, a, c: ops.divide(a[0], a[1]),
    "Relu": _activation("relu"), "Sigmoid": _activation("sigmoid"),
    "Tanh": _activation("tanh"), "Softplus": _activation("softplus"),
    "Softsign": _activation("softsign"), "Selu": _activation("selu"),
    "Silu": _activation("silu"), "Mish": _activation("mish"), "Relu6": _activation("relu6"),
    "HardSigmoid": _activation("hard_sigmoid"), "Softmax": _activation("softmax"),
    "Elu": _activation("elu"), "LeakyRelu": _activation("leaky_relu"),
    "Gelu": _activation("gelu"),
    "Activation": lambda ops, a, c: ops.activation(a[0], c["activation"], c.get("alpha")),
    "Sum": lambda ops, a, c: ops.sum(a[0], axis=c.get("axis"), keepdims=c.get("keepdims")),
    "Mean": lambda ops, a, c: ops.mean(a[0], axis=c.get("axis"),
                                       keepdims=c.get("keepdims")),
    "Reshape": lambda ops, a, c: ops.reshape(a[0], tuple(c["newshape"])),
    "Transpose": lambda ops, a, c: ops.transpose(a[0], c.get("axes")),
    "Concatenate": lambda ops, a, c: ops.concatenate(list(a[0]), axis=c.get("axis", -1)),
    "Stack": lambda ops, a, c: ops.stack(list(a[0]), axis=c.get("axis", 0)),
    "GetItem": _getitem,
    "Clip": lambda ops, a, c: ops.clip(a[0], c["x_min"], c["x_max"]),
    "Where": lambda ops, a, c: ops.where(a[0], a[1], a[2]),
    "StopGradient": lambda ops, a, c: ops.stop_gradient(a[0]),
    "Cast": lambda ops, a, c: ops.cast(a[0], c["dtype"]),
}
