"""Reading the files cydl wrote before it wrote Keras 3's format (cydl < 0.2).

Those `.keras` files are zips of `metadata.json` ({"format": "cydl.keras",
"format_version": 1}), `config.json` (cydl's own config, compile arguments and
optimizer config), `model.weights.npz` and `optimizer.npz` (.npy arrays: the
weights in `model.weights` order; the step count and slots). Their `.weights.h5`
files held the weights as flat datasets `w00000`, `w00001`, ... They load as
before, training state included, with a FutureWarning: this reader goes away in
the next release, so load such files and save them again.
"""
import io
import json
import warnings

import numpy as np

FORMAT = "cydl.keras"
FORMAT_VERSION = 1


def warn(what):
    warnings.warn(f"{what} is in the format cydl wrote before 0.2, which the next release "
                  f"will no longer read: load it and save it again to write the Keras 3 "
                  f"format", FutureWarning, stacklevel=4)


def load_npz(data, what):
    """The arrays of .npz bytes, never unpickling."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except ValueError as e:        # object arrays need pickle: refused
        raise ValueError(f"{what} holds data that only pickle can read; cydl never "
                         f"unpickles ({e})") from None
    except (OSError, EOFError) as e:
        raise ValueError(f"{what} is not a readable .npz file ({e})") from None


def is_legacy(names):
    return "model.weights.npz" in names and "model.weights.h5" not in names


def load_model(read, names, path, custom_objects, compile):
    """A model from a cydl < 0.2 `.keras` file; `read(name)` gives a member's bytes."""
    from cydl.models.config import as_shape
    from cydl.saving import _layers
    if not {"metadata.json", "config.json", "model.weights.npz"} <= names:
        raise ValueError(f"{path!r} is not a .keras file saved by cydl (it holds "
                         f"{sorted(names)})")
    meta = _json(read("metadata.json"), path)
    if meta.get("format") != FORMAT or meta.get("format_version", 0) > FORMAT_VERSION:
        raise ValueError(f"{path!r}: unknown format {meta.get('format')!r} version "
                         f"{meta.get('format_version')!r}")
    warn(repr(path))
    doc = _json(read("config.json"), path)
    weights = load_npz(read("model.weights.npz"), "model.weights.npz")
    opt_state = load_npz(read("optimizer.npz"), "optimizer.npz") \
        if "optimizer.npz" in names else None
    model = _layers.deserialize_layer(doc, custom_objects)
    if not model.built and doc.get("build_input_shape") is not None:
        model.build(as_shape(doc["build_input_shape"]))
    model.set_weights([weights[k] for k in sorted(weights)])
    states = doc.get("dropout_states") or []
    for layer, (seed, steps) in zip(_dropouts(model), states):
        layer._seed, layer.steps = seed, steps
    cc = doc.get("compile_config")
    if compile and cc:
        _compile(model, cc, custom_objects)
        if opt_state:
            _restore_optimizer(model, [opt_state[k] for k in sorted(opt_state)])
    return model


def _json(data, path):
    try:
        doc = json.loads(data)
    except ValueError as e:
        raise ValueError(f"{path!r}: a JSON member is malformed ({e})") from None
    if not isinstance(doc, dict):
        raise ValueError(f"{path!r}: a JSON member is not an object")
    return doc


def _dropouts(model):
    """The Dropout layers in the order cydl < 0.2 saved their states."""
    from cydl.layers.regularization import Dropout
    out, seen = [], set()

    def walk(layer):
        for sub in layer._sublayers():
            if id(sub) in seen:
                continue
            seen.add(id(sub))
            if isinstance(sub, Dropout):
                out.append(sub)
            walk(sub)
    walk(model)
    return out


def _find(name, kind, custom_objects):
    from cydl import losses, metrics
    from cydl.saving import _objects, _registration
    found = _registration.get_registered_object(name, custom_objects)
    if found is None:
        found = _objects.tables().get(kind, {}).get(name)
    if found is None and kind == "loss" and name in losses._ALIASES:
        found = name
    if found is None and kind == "metric" and name in metrics._ALIASES:
        found = name
    if found is None:
        raise ValueError(f"Unknown {kind} {name!r} in the saved file: pass it in "
                         f"custom_objects={{{name!r}: ...}}")
    return found


def _deserialize(spec, kind, custom_objects):
    """cydl < 0.2's {"class_name", "config"} / {"function": name} forms."""
    if isinstance(spec, list):
        return [_deserialize(s, kind, custom_objects) for s in spec]
    if not isinstance(spec, dict):
        return spec
    if "function" in spec:
        return _find(spec["function"], kind, custom_objects)
    if "class_name" in spec:
        cls = _find(spec["class_name"], kind, custom_objects)
        config = {k: _deserialize(v, kind, custom_objects)
                  for k, v in (spec.get("config") or {}).items()}
        return cls.from_config(config) if hasattr(cls, "from_config") else cls(**config)
    return {k: _deserialize(v, kind, custom_objects) for k, v in spec.items()}


def _compile(model, cc, custom_objects):
    opt_spec = cc["optimizer"]
    config = dict(opt_spec["config"])
    config["learning_rate"] = _deserialize(config["learning_rate"], "schedule",
                                           custom_objects)
    cls = _find(opt_spec["class_name"], "optimizer", custom_objects)
    model.compile(optimizer=cls.from_config(config),
                  loss=_deserialize(cc["loss"], "loss", custom_objects),
                  metrics=_deserialize(cc["metrics"], "metric", custom_objects),
                  loss_weights=cc.get("loss_weights"), run_eagerly=cc.get("run_eagerly", False))


def _restore_optimizer(model, state):
    opt = model.optimizer
    opt.build(model._current_store())
    own = opt._state_arrays()
    if len(state) != len(own) or any(a.shape != b.shape for a, b in zip(state, own)):
        raise ValueError("The saved optimizer state does not fit this model's weights")
    for dst, saved in zip(own, state):
        dst[...] = saved


def flat_weights(tree):
    """The arrays of a cydl < 0.2 `.weights.h5` (datasets w00000, ...), or None."""
    names = sorted(tree.datasets)
    if names and not tree.groups and all(n.startswith("w") and n[1:].isdigit()
                                         for n in names):
        return [tree.datasets[n] for n in names]
    return None
