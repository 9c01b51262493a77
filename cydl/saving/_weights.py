"""Where each weight lives in a Keras 3 weights file, and reading and writing them.

Keras 3 walks a model's object tree and stores each layer's own variables under
the path it reached the layer by: `layers/<snake_case class name, numbered>/vars/<i>`
for the layers of a Sequential or functional model (the second Dense is
`layers/dense_1` whatever its name), the attribute name for the layers a
subclassed model or custom layer holds (`hidden1/vars/0`), `optimizer/vars/<i>`
for the optimizer. `layer_paths` repeats that walk on a cydl model
(keras.src.saving.saving_lib._walk_saveable and _save_container_state): attributes
in sorted order with private ones last, a layer reached twice stored once, at its
first path.

The variables of one layer go in Keras' order: the trainable ones, then the
others, each in creation order (Normalization adds the `count` Keras keeps).

cydl's own state that Keras has no place for (each Dropout and noise layer's seed
and training-call count) goes under `_cydl_state/<layer path>`, a group Keras never
reads.
"""
import re

import numpy as np

STATE_GROUP = "_cydl_state"
# cydl's attributes that hold layers for its own bookkeeping, not as the user's
# attributes (Keras skips its own the same way)
_INTERNAL = frozenset({"_tracked", "_layers", "_input_layer", "_input_layers"})


def snake_case(name):
    """Keras' naming.to_snake_case: 'PReLU' -> 'p_re_lu', 'Dense' -> 'dense'."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def keras_class_name(layer):
    """The class name Keras gives this layer: its own, but "Functional" for a
    functional model (keras.Model(inputs, outputs) makes a Functional)."""
    from cydl.models.model import Model
    return "Functional" if type(layer) is Model else type(layer).__name__


def _join(path, name):
    return f"{path}/{name}" if path else name


def _holds_layers(value, depth=0):
    from cydl.layers.base import Layer
    if isinstance(value, Layer):
        return True
    if depth < 8 and isinstance(value, (list, tuple)):
        return any(_holds_layers(v, depth + 1) for v in value)
    if depth < 8 and isinstance(value, dict):
        return any(_holds_layers(v, depth + 1) for v in value.values())
    return False


def keras_layers(layer):
    """The layers Keras lists in `layer.layers`, in its order, for a Sequential
    (InputLayer left out) or functional model; None for other layers."""
    from cydl.layers.base import Layer
    from cydl.models.model import Model
    from cydl.models.sequential import Sequential
    if isinstance(layer, Sequential):
        return list(layer.layers)
    if isinstance(layer, Model) and layer._is_graph and layer._function is not None:
        from cydl.models._keras_graph import KerasGraph
        # (raw op calls are in the graph's list but, as in Keras, not layers)
        return [op for op in KerasGraph(layer._function).keras_order() if isinstance(op, Layer)]
    return None


def _children(layer):
    """(attribute name, value) pairs Keras' walk visits, in its order."""
    from cydl.models.model import Model
    structural = keras_layers(layer)
    out = [] if structural is None else [("layers", structural)]
    attrs = {k: v for k, v in vars(layer).items()
             if k not in _INTERNAL and not k.startswith("__") and _holds_layers(v)}
    if isinstance(layer, Model) and structural is None:
        attrs["layers"] = list(layer.layers)              # Keras' Model.layers
    for name in sorted(attrs, key=lambda k: "~" + k[1:] if k.startswith("_") else k):
        out.append((name, attrs[name]))
    return out


def layer_paths(model):
    """[(path, layer)] for every layer Keras' saving walk reaches, the model itself
    first at path ""."""
    from cydl.layers.base import Layer
    out, seen = [], set()

    def walk(layer, path):
        if id(layer) in seen:
            return
        seen.add(id(layer))
        out.append((path, layer))
        for name, value in _children(layer):
            visit(value, _join(path, name))

    def visit(value, path, depth=0):
        if isinstance(value, Layer):
            walk(value, path)
        elif isinstance(value, (list, tuple, dict)) and depth < 8:
            used = {}
            for item in (value.values() if isinstance(value, dict) else value):
                if isinstance(item, Layer):
                    base = snake_case(keras_class_name(item))
                elif isinstance(item, (list, tuple, dict)):
                    base = "container"
                else:
                    continue
                n = used.get(base)
                used[base] = 0 if n is None else n + 1
                visit(item, _join(path, base if n is None else f"{base}_{n + 1}"), depth + 1)
    walk(model, "")
    return out


def own_variables(layer):
    """A layer's own variables in Keras' order: trainable ones, then the others."""
    own = layer.__dict__.get("_variables", [])
    return [v for v in own if v.trainable] + [v for v in own if not v.trainable]


def _is_adapted_normalization(layer):
    from cydl.layers.preprocessing import Normalization
    return isinstance(layer, Normalization) and layer.built and layer.input_mean is None


def layer_arrays(layer):
    """What Keras stores for this layer: its variables' values, in order."""
    arrays = [np.array(v.numpy(), order="C") for v in own_variables(layer)]
    if _is_adapted_normalization(layer):
        arrays.append(np.array(0, np.int32))     # Keras' `count`, which it no longer uses
    return arrays


def noise_layers(model):
    """[(path, layer)] of the layers that draw from a seed and a call count."""
    from cydl.layers.regularization import Dropout
    try:
        from cydl.layers.noise import SeededNoise
    except ImportError:                          # (a cydl without noise layers)
        SeededNoise = Dropout
    return [(p, layer) for p, layer in layer_paths(model)
            if isinstance(layer, (Dropout, SeededNoise))]


def write_tree(model, root, optimizer_arrays=None):
    """Fill the _h5write.Group `root` with the model's weights (and optimizer)."""
    for path, layer in layer_paths(model):
        group = root.group(_join(path, "vars"))
        group.attrs["name"] = layer.name
        for i, a in enumerate(layer_arrays(layer)):
            group.children[str(i)] = a
    if optimizer_arrays is not None:
        group = root.group("optimizer/vars")
        group.attrs["name"] = model.optimizer.name
        for i, a in enumerate(optimizer_arrays):
            group.children[str(i)] = np.asarray(a)
    state = root.group(STATE_GROUP)
    state.attrs["format"] = "cydl.keras"
    state.attrs["format_version"] = "2"
    for path, layer in noise_layers(model):
        if layer._seed is not None:
            group = state.group(path or "model")
            group.children["seed"] = np.uint64(layer._seed)
            group.children["steps"] = np.uint64(layer.steps)


def _vars_group(tree, path):
    group = tree.get(path)
    return None if group is None else group.groups.get("vars")


def load_tree(model, tree, what):
    """Assign the weights of `tree` (an _h5read.H5Group) to the model's layers,
    all or none: every count and shape is checked before the first assignment."""
    plan = []
    for path, layer in layer_paths(model):
        variables = own_variables(layer)
        extra = 1 if _is_adapted_normalization(layer) else 0
        group = _vars_group(tree, path)
        stored = {} if group is None else group.datasets
        where = f"layer {layer.name!r} (at {path or 'the root'!r} in {what})"
        if not variables and not stored:
            continue
        if len(stored) not in (len(variables), len(variables) + extra) or \
                any(str(i) not in stored for i in range(len(variables))):
            raise ValueError(f"{where}: the file has {len(stored)} arrays "
                             f"({sorted(stored)}), the layer {len(variables)} variables "
                             f"({[v.name for v in variables]})")
        for i, var in enumerate(variables):
            a = stored[str(i)]
            if a.shape != var.shape:
                raise ValueError(f"{where}: variable {var.name!r} has shape {var.shape}, "
                                 f"the file's array {i} has shape {a.shape}")
            if a.dtype.kind not in "iuf":
                raise ValueError(f"{where}: array {i} holds {a.dtype}, not numbers")
            plan.append((var, a))
    for var, a in plan:
        var.assign(a)


def load_noise_state(model, tree):
    """Each Dropout and noise layer's seed and call count, when the file has them."""
    state = tree.get(STATE_GROUP)
    if state is None:
        return
    for path, layer in noise_layers(model):
        group = state.get(path or "model")
        if group is None:
            continue
        seed, steps = group.datasets.get("seed"), group.datasets.get("steps")
        for a in (seed, steps):
            if a is None or a.shape != () or a.dtype.kind not in "iu":
                raise ValueError(f"The saved state of layer {layer.name!r} is malformed")
        if int(seed) >= 2 ** 63 or int(seed) < 0:
            raise ValueError(f"The saved seed of layer {layer.name!r} is out of range")
        layer._seed, layer.steps = int(seed), int(steps)
