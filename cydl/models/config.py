"""get_config / from_config for Sequential, functional and nested models.

A functional config lists the layers (class name and config) and, for each layer
call, the calls it takes its inputs from, as Keras does: [layer name, node index,
tensor index]. Rebuilding replays the calls in order. Classes are found among
cydl's layers and models or in `custom_objects`; nothing is imported by name.
"""
import inspect

from cydl import graph


def _layer_entry(layer, inbound=None):
    entry = {"class_name": type(layer).__name__, "name": layer.name,
             "config": layer.get_config()}
    if inbound is not None:
        entry["inbound_nodes"] = inbound
    return entry


def sequential_config(model):
    layers = []
    if model._input_layer is not None:
        layers.append(_layer_entry(model._input_layer))
    layers += [_layer_entry(layer) for layer in model._layers]
    return {"name": model.name, "layers": layers}


def functional_config(model):
    fn = model._function
    if fn is None or not model._is_graph:
        raise NotImplementedError(
            f"{type(model).__name__} is a subclassed model: give it get_config() returning "
            "its constructor arguments (Keras does the same)")
    where = {}            # id(KerasTensor) -> [layer name, node index, tensor index]
    counts, layers, seen = {}, [], set()
    for i, t in enumerate(fn.inputs):
        layer = t._input_layer
        where[id(t)] = [layer.name, 0, 0]
        layers.append(_layer_entry(layer, []))
        seen.add(id(layer))
    entries = {}
    for node in fn.nodes:
        if not node.is_layer:
            raise NotImplementedError("get_config of graphs with raw cydl.ops calls: use "
                                      "the layer forms (e.g. layers.Concatenate)")
        layer = node.operation
        k = counts.get(id(layer), 0)
        counts[id(layer)] = k + 1
        args = graph.map_structure(lambda t: where[id(t)], node.args)
        if id(layer) not in seen:
            seen.add(id(layer))
            entries[id(layer)] = _layer_entry(layer, [])
            layers.append(entries[id(layer)])
        entries[id(layer)]["inbound_nodes"].append({"args": args, "kwargs": node.kwargs})
        for j, t in enumerate(graph.flatten(node.outputs)):
            where[id(t)] = [layer.name, k, j]
    outs = graph.map_structure(lambda t: where[id(t)], fn.outputs)
    ins = graph.map_structure(lambda t: where[id(t)], fn.input_structure)
    return {"name": model.name, "layers": layers, "input_layers": ins, "output_layers": outs}


def deserialize_layer(entry, custom_objects=None):
    import cydl
    name = entry["class_name"]
    cls = (custom_objects or {}).get(name) or getattr(cydl.layers, name, None) or \
        {"Sequential": cydl.Sequential, "Model": cydl.Model, "Functional": cydl.Model}.get(name)
    if cls is None:
        raise ValueError(f"Unknown layer class {name!r}: pass it in custom_objects")
    config = dict(entry["config"])
    if isinstance(cls, type) and issubclass(cls, cydl.Model):
        try:         # a subclass may define from_config(cls, config) only
            inspect.signature(cls.from_config).bind(config, custom_objects)
        except TypeError:
            return cls.from_config(config)
        return cls.from_config(config, custom_objects)
    return cls.from_config(config)


def sequential_from_config(cls, config, custom_objects=None):
    model = cls(name=config.get("name"))
    for entry in config["layers"]:
        model.add(deserialize_layer(entry, custom_objects))
    return model


def functional_from_config(config, custom_objects=None):
    import cydl
    made, outputs_of = {}, {}
    for entry in config["layers"]:
        made[entry["name"]] = deserialize_layer(entry, custom_objects)
    for entry in config["layers"]:          # layers are listed in call order
        layer = made[entry["name"]]
        if not entry.get("inbound_nodes"):
            if isinstance(layer, cydl.layers.InputLayer):
                outputs_of[(layer.name, 0)] = [layer.output]
            continue
        for k, call in enumerate(entry["inbound_nodes"]):
            args = _map_refs(lambda ref: outputs_of[(ref[0], ref[1])][ref[2]],
                             _as_refs(call["args"]))
            out = layer(args, **call.get("kwargs", {}))
            outputs_of[(layer.name, k)] = graph.flatten(out)

    def find(ref):
        return outputs_of[(ref[0], ref[1])][ref[2]]
    ins = _map_refs(find, _as_refs(config["input_layers"]))
    outs = _map_refs(find, _as_refs(config["output_layers"]))
    return cydl.Model(inputs=ins, outputs=outs, name=config.get("name"))


class _Ref(tuple):
    pass


def _as_refs(x):
    """Nested lists with [name, node, tensor] triples as leaves -> _Ref leaves."""
    if isinstance(x, (list, tuple)) and len(x) == 3 and isinstance(x[0], str):
        return _Ref(x)
    if isinstance(x, (list, tuple)):
        return [_as_refs(v) for v in x]
    if isinstance(x, dict):
        return {k: _as_refs(v) for k, v in x.items()}
    return x


def _map_refs(fn, x):
    if isinstance(x, _Ref):
        return fn(x)
    if isinstance(x, (list, tuple)):
        return [_map_refs(fn, v) for v in x]
    if isinstance(x, dict):
        return {k: _map_refs(fn, v) for k, v in x.items()}
    return x
