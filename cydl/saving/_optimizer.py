"""An optimizer's state as Keras 3 stores it: `optimizer/vars/0`, `1`, ...

Keras' order is: the step count (`iteration`), the learning rate when it is a
number rather than a schedule, then the slots of each optimizer, per trainable
variable in the order of `model.trainable_variables`:

    SGD      momentum (with momentum > 0)
    Adam     momentum, velocity of each variable in turn; then velocity_hat (amsgrad)
    Adamax   momentum, norm in turn
    Nadam    momentum, velocity in turn; then the running product of the u's
    RMSprop  velocity; then momentum (momentum > 0); then average_gradient (centered)
    Adagrad  accumulator

cydl keeps each slot as one flat buffer laid out like the model's parameters; the
conversion cuts it per variable (2-D weights are column-major in the buffer) and
back. The values are written at cydl's precision (the step count as int64, the
rate and Nadam's product as float64): Keras casts them to its variables' dtypes,
and cydl reads them back bit for bit, so a reloaded model trains on exactly.
"""
import numpy as np

from cydl.variables import Variable

# [groups]: a group's slots interleave per variable; absent slots skip the group
_LAYOUTS = {
    "SGD": [("momentum",)],
    "Adam": [("momentum", "velocity"), ("velocity_hat",)],
    "AdamW": [("momentum", "velocity"), ("velocity_hat",)],
    "Adamax": [("momentum", "norm")],
    "Nadam": [("momentum", "velocity")],
    "RMSprop": [("velocity",), ("momentum",), ("average_gradient",)],
    "Adagrad": [("accumulator",)],
}


def trainable_order(model):
    """The model's trainable variables in the order of Keras'
    `model.trainable_variables`: each layer's own, then its sublayers' (a
    Sequential's and a functional model's in Keras' layer order)."""
    from cydl.saving._weights import keras_layers, own_variables
    trainable = {id(v) for v in model.trainable_weights}
    out, seen, visited = [], set(), set()

    def walk(layer):
        if id(layer) in visited:
            return
        visited.add(id(layer))
        for v in own_variables(layer):
            if id(v) in trainable and id(v) not in seen:
                seen.add(id(v))
                out.append(v)
        subs = keras_layers(layer)
        for sub in (layer._sublayers() if subs is None else subs):
            walk(sub)
    walk(model)
    return out


def _groups(opt):
    present = {name for name in opt.slot_names if name}
    layout = _LAYOUTS.get(type(opt).__name__) or [(name,) for name in opt.slot_names if name]
    return [g for g in layout if all(name in present for name in g)]


def _segments(opt, model):
    """[(variable, offset)] of the optimizer's slot layout, in Keras' order."""
    if opt._layout is None:
        return []
    offsets = {id(v): off for v, off in opt._layout}
    ordered = [v for v in trainable_order(model) if id(v) in offsets]
    seen = {id(v) for v in ordered}
    ordered += [v for v, _ in opt._layout if id(v) not in seen]
    return [(v, offsets[id(v)]) for v in ordered]


def _views(opt, model, names=None):
    """Views into the optimizer's state, in Keras' order (writable, same memory);
    `names`, a list, receives what each one is (Keras' variable names end so)."""
    names = [] if names is None else names
    views = [opt.iterations._value]
    names.append("iteration")
    if isinstance(opt._learning_rate, Variable):
        views.append(opt._learning_rate._value)
        names.append("learning_rate")
    segments = _segments(opt, model)
    slots = dict(zip(opt.slot_names, opt._slots))
    for group in _groups(opt) if segments else []:
        for var, off in segments:
            for name in group:
                flat = slots[name]
                views.append(flat[off:off + var.size].reshape(
                    var.shape, order="F" if var.ndim == 2 else "C"))
                names.append(f"{var.path}/{name}")
    if segments and hasattr(opt, "_u_product"):
        views.append(opt._u_product)
        names.append("u_product")
    return views


def state_names(model):
    """What each of state_arrays(model) is: "iteration", "learning_rate",
    "<variable path>/<slot>", "u_product"."""
    names = []
    _views(model.optimizer, model, names)
    return names


def state_arrays(model):
    """The compiled model's optimizer state as Keras lists it (copies)."""
    return [np.array(v, order="C") for v in _views(model.optimizer, model)]


def restore(model, arrays, what):
    """Load Keras-ordered optimizer arrays into the model's optimizer.

    Returns:
        None when they were restored, else the reason they were not (the file's
        optimizer has other variables: another optimizer, or another model).
    """
    opt = model.optimizer
    opt.build(model._current_store())
    views = _views(opt, model)
    prefix = 2 if isinstance(opt._learning_rate, Variable) else 1
    if len(arrays) == prefix < len(views):
        # saved before its first step (Keras builds optimizers lazily): the step
        # count and the rate, no slots yet
        views = views[:prefix]
    if len(arrays) != len(views):
        return (f"{what} has {len(arrays)} optimizer variables, {type(opt).__name__} here "
                f"has {len(views)}")
    for i, (a, v) in enumerate(zip(arrays, views)):
        if a.shape != v.shape or a.dtype.kind not in "iuf":
            return (f"{what}: optimizer variable {i} has shape {a.shape} ({a.dtype}), "
                    f"{type(opt).__name__} here has {v.shape}")
    for a, v in zip(arrays, views):
        v[...] = a
    return None
