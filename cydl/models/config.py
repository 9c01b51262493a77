"""get_config / from_config of Sequential, functional and subclassed models, in
Keras 3's format.

A Sequential config lists its layers as Keras serializes them ({"module",
"class_name", "config", "registered_name", "build_config"}). A functional config
lists the layers in the order Keras 3 keeps them (by depth from the outputs, then
by first visit: `keras.src.ops.function.map_graph`), each with its calls as
{"args": [...], "kwargs": {...}} where a tensor is {"class_name": "__keras_tensor__",
"config": {"shape", "dtype", "keras_history": [layer name, node index, tensor
index]}}; rebuilding replays the calls, each once its inputs exist. The order
matters beyond looks: Keras names the weights of the n-th Dense in that order
`layers/dense_<n>` in a `.keras` file, so cydl must list them as Keras would.

Classes are found among cydl's layers and models or in `custom_objects`; nothing
is imported by name. Configs written by earlier cydl versions (no "module" keys,
calls as [layer name, node index, tensor index]) still load.
"""
import inspect

from cydl import graph
from cydl.models import _op_config
from cydl.models._keras_graph import KerasGraph, call_offset


def _policy(dtype):
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": dtype},
            "registered_name": None}


def _shape_list(shape):
    if isinstance(shape, (list, tuple)) and shape and \
            all(isinstance(s, (list, tuple, dict)) for s in shape):
        return [_shape_list(s) for s in shape]
    if isinstance(shape, dict):
        return {k: _shape_list(v) for k, v in shape.items()}
    return list(shape)


def as_shape(s):
    """A saved input shape back as tuples: [None, 8] -> (None, 8); lists of shapes
    stay lists."""
    if isinstance(s, list) and all(v is None or isinstance(v, int) for v in s):
        return tuple(s)
    if isinstance(s, dict):
        return {k: as_shape(v) for k, v in s.items()}
    return [as_shape(v) for v in s] if isinstance(s, list) else s


# ---------------------------------------------------------------- Sequential
def sequential_config(model, memory=True):
    from cydl.saving import _layers
    entries = []
    if model._input_layer is not None:
        entries.append(_layers.serialize_layer(model._input_layer, memory))
    entries += [_layers.serialize_layer(layer, memory) for layer in model._layers]
    config = {"name": model.name, "trainable": model.trainable,
              "dtype": _policy(model.dtype), "layers": entries}
    if model.built:
        config["build_input_shape"] = _shape_list(model.input_shape)
    return config


def sequential_from_config(cls, config, custom_objects=None):
    from cydl.saving import _layers, _resolve
    kwargs = {"name": config.get("name")}
    if config.get("dtype") is not None:
        kwargs["dtype"] = _resolve.policy_name(config["dtype"], "Sequential model")
    model = cls(**kwargs)
    for entry in config.get("layers") or []:
        model.add(_layers.deserialize_layer(entry, custom_objects))
    shape = config.get("build_input_shape")
    if not model.built and shape is not None:
        model.build(as_shape(shape))
    if config.get("trainable") is False:
        model.trainable = False
    return model


# ---------------------------------------------------------------- functional
def _node_data(g, key, memory):
    from cydl.saving import _objects
    node = g.nodes[key]

    def tensor(t):
        if isinstance(t, graph.KerasTensor):
            return {"class_name": "__keras_tensor__",
                    "config": {"shape": list(t.shape), "dtype": t.dtype,
                               "keras_history": g.history(t)}}
        return _objects.serialize(t, "layer call argument", memory)
    return {"args": [graph.map_structure(tensor, node.args)],
            "kwargs": {k: _objects.serialize(v, "layer call argument", memory)
                       for k, v in node.kwargs.items()}}


def functional_config(model, memory=True):
    from cydl.saving import _layers
    fn = model._function
    if fn is None or not model._is_graph:
        raise NotImplementedError(
            f"{type(model).__name__} is a subclassed model: its config is its constructor "
            f"arguments (see Model.get_config)")
    g = KerasGraph(fn)
    entries = []
    for layer in g.keras_order():
        if isinstance(layer, _op_config.OpLayer):
            entries.append(layer.entry(g))
            continue
        entry = _layers.serialize_layer(layer, memory)
        entry["name"] = layer.name
        entry["inbound_nodes"] = [_node_data(g, key, memory) for key in g.calls[id(layer)]
                                  if key[0] == "node"]
        entries.append(entry)
    return {"name": model.name, "trainable": model.trainable, "layers": entries,
            "input_layers": _triples(g, fn.input_structure),
            "output_layers": _triples(g, fn.outputs)}


def _triples(g, structure):
    if isinstance(structure, graph.KerasTensor):
        return g.history(structure, outer=True)
    if isinstance(structure, dict):
        return {k: _triples(g, v) for k, v in structure.items()}
    return [_triples(g, v) for v in structure]


def functional_from_config(config, custom_objects=None, cls=None):
    """Rebuild a functional model: make the layers, then replay their calls in the
    order of the list, each call once the tensors it takes exist (a layer shared at
    several depths waits for its later inputs, as in Keras)."""
    import cydl
    from cydl.saving import _layers
    cls = cls or cydl.Model
    entries = config.get("layers")
    if not isinstance(entries, list) or not entries:
        raise ValueError("A functional model config needs a list of `layers`")
    made, pending, outputs_of, calls, ops = {}, {}, {}, {}, set()
    # cydl < 0.2 numbered a nested model's calls from 0 everywhere
    legacy = all(isinstance(e, dict) and "module" not in e for e in entries)
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise ValueError(f"Malformed layer entry in a functional config: {entry!r}")
        name = entry["name"]
        if name in made:
            raise ValueError(f"The layer name {name!r} appears twice in the config")
        if _op_config.is_op_entry(entry):
            layer = _op_config.deserialize_op(entry)       # a raw op call, replayed
            ops.add(name)
        else:
            layer = _layers.deserialize_layer(entry, custom_objects)
        made[name] = layer
        nodes = entry.get("inbound_nodes") or []
        if not isinstance(nodes, list):
            raise ValueError(f"Malformed inbound_nodes of layer {name!r}")
        pending[name] = list(nodes)
        calls[name] = 0
        if isinstance(layer, cydl.layers.InputLayer):
            outputs_of[(name, 0)] = [layer.output]
            calls[name] = 1

    def ref(history, outer=False):
        if not (isinstance(history, (list, tuple)) and len(history) == 3 and
                isinstance(history[0], str) and all(isinstance(v, int) for v in history[1:])):
            raise ValueError(f"Malformed tensor reference in the config: {history!r}")
        name, k, j = history
        if name not in made:
            raise ValueError(f"The config refers to an unknown layer {name!r}")
        outs = outputs_of.get((name, k - (call_offset(made[name]) if outer and not legacy
                                          else 0)))
        if outs is None:
            raise LookupError
        if not 0 <= j < len(outs):
            raise ValueError(f"The config refers to output {j} of layer {name!r}, which "
                             f"has {len(outs)}")
        return outs[j]

    progress = True
    while progress and any(pending.values()):
        progress = False
        for entry in entries:
            name = entry["name"]
            while pending[name]:
                node = pending[name][0]
                arguments = _op_config.call_arguments if name in ops else _call_arguments
                try:
                    args, kwargs = arguments(node, legacy, ref, name)
                except LookupError:
                    break                        # an input is not made yet
                out = made[name](args, **kwargs)
                outputs_of[(name, calls[name])] = graph.flatten(out)
                calls[name] += 1
                pending[name].pop(0)
                progress = True
    if any(pending.values()):
        stuck = sorted(n for n, p in pending.items() if p)
        raise ValueError(f"The functional config's graph has a cycle or calls whose "
                         f"inputs never appear (layers {stuck})")

    def find(x):
        if isinstance(x, list) and len(x) == 3 and isinstance(x[0], str):
            try:
                return ref(x, outer=True)
            except LookupError:
                raise ValueError(f"The config's inputs or outputs refer to a call that "
                                 f"was never made: {x!r}") from None
        if isinstance(x, dict):
            return {k: find(v) for k, v in x.items()}
        if isinstance(x, list):
            return [find(v) for v in x]
        raise ValueError(f"Malformed input_layers or output_layers entry: {x!r}")
    model = cls(inputs=find(config.get("input_layers")),
                outputs=find(config.get("output_layers")), name=config.get("name"))
    if config.get("trainable") is False:
        model.trainable = False
    return model


def _call_arguments(node, legacy, ref, name):
    """(inputs, kwargs) of one recorded call."""
    def tensors(x):
        if legacy and isinstance(x, list) and len(x) == 3 and isinstance(x[0], str):
            return ref(x)
        if isinstance(x, dict):
            if x.get("class_name") == "__keras_tensor__":
                return ref((x.get("config") or {}).get("keras_history"))
            return {k: tensors(v) for k, v in x.items()}
        if isinstance(x, list):
            return [tensors(v) for v in x]
        return x
    if isinstance(node, list):             # Keras 2's [[name, node, tensor, kwargs], ...]
        raise ValueError(f"Layer {name!r} is saved in the Keras 2 (tf.keras) format, "
                         f"which cydl cannot read: re-save the model with Keras 3")
    if not isinstance(node, dict):
        raise ValueError(f"Malformed call of layer {name!r}: {node!r}")
    args, kwargs = node.get("args", []), dict(node.get("kwargs") or {})
    if legacy:
        return tensors(args), kwargs
    if not isinstance(args, list) or len(args) != 1:
        count = len(args) if isinstance(args, list) else repr(args)
        raise ValueError(f"Layer {name!r} is called with {count} positional arguments in "
                         f"the file; cydl layers take one (the inputs)")
    if kwargs.pop("mask", None) is not None:
        raise ValueError(f"Layer {name!r} is called with a mask; cydl has no masking")
    return tensors(args[0]), {k: tensors(v) for k, v in kwargs.items()}


# ---------------------------------------------------------------- any model
def model_config(model, memory=True):
    """The config Keras' get_config gives: the structure of a Sequential or
    functional model, a subclassed model's constructor arguments."""
    from cydl.models.sequential import Sequential
    from cydl.saving import _auto_config
    if isinstance(model, Sequential) and type(model).get_config is Sequential.get_config:
        return sequential_config(model, memory)
    if model._is_graph and model._function is not None:
        return functional_config(model, memory)
    if not _auto_config._default_get_config(model):
        # a subclass's own get_config calling super().get_config(), as in Keras: the
        # base entries, to which it adds its arguments
        return {"name": model.name, "trainable": model.trainable, "dtype": model.dtype}
    return _auto_config.auto_config(model)


def model_from_config(cls, config, custom_objects=None):
    """cls rebuilt from its config: the structure when the config holds one and cls
    can take it, else cls(**config), as Keras' Model.from_config."""
    from cydl.models.model import Model
    functional = all(k in config for k in ("layers", "input_layers", "output_layers"))
    spec = inspect.getfullargspec(cls.__init__)
    revivable = cls is Model or spec.args[1:4] == ["inputs", "outputs", "name"] or \
        (spec.varargs is not None and spec.varkw is not None)
    if functional and revivable:
        return functional_from_config(config, custom_objects, cls)
    config = dict(config)
    if isinstance(config.get("dtype"), dict):
        from cydl.saving import _resolve
        config["dtype"] = _resolve.policy_name(config["dtype"], cls.__name__)
    return cls(**config)


def deserialize_layer(entry, custom_objects=None):
    """A layer or model from its entry (Keras' format, or cydl's before 0.2)."""
    from cydl.saving import _layers
    return _layers.deserialize_layer(entry, custom_objects)
