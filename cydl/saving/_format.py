"""The `.keras` file, as Keras 3 writes and reads it.

A zip (members stored, not compressed) of:

    metadata.json     {"keras_version": "3.15.1", "date_saved": ..., "cydl_version": ...}
    config.json       the model as Keras serializes it, with "build_config" and
                      "compile_config" (optimizer, loss, metrics, loss_weights, ...)
    model.weights.h5  the weights by object path (layers/dense/vars/0, ...), the
                      optimizer's variables (optimizer/vars/0, ...), and cydl's
                      own training state under _cydl_state/ (see _weights)

Keras 3 loads the files cydl writes, and cydl loads the files Keras 3 writes for
the layers, losses, metrics and optimizers both have. Loading reads JSON and
numeric arrays only: no pickle, no code, no import of a name from the file.
"""
import datetime
import io
import json
import os
import warnings
import zipfile

from cydl._version import __version__
from cydl.saving import (_archive, _h5read, _h5write, _legacy, _objects, _optimizer,
                         _resolve, _weights)

# the Keras release whose layout these files follow (Keras reads metadata.json for
# information only)
KERAS_VERSION = "3.15.1"
CONFIG, METADATA, WEIGHTS = "config.json", "metadata.json", "model.weights.h5"


# ---------------------------------------------------------------- saving
def compile_config(model):
    """The compile arguments as Keras' `get_compile_config` writes them."""
    cc = model._compile_config
    return {"optimizer": _objects.serialize(model.optimizer, "optimizer"),
            "loss": _objects.serialize(cc.loss_spec, "loss"),
            "loss_weights": _objects.serialize(cc.weights_spec, "loss weight"),
            "metrics": _objects.serialize(cc.metrics_spec, "metric"),
            "weighted_metrics": _objects.serialize(getattr(cc, "weighted_spec", None),
                                                   "weighted metric"),
            "run_eagerly": bool(model._force_general),
            "steps_per_execution": 1, "jit_compile": "auto"}


def weights_bytes(model, include_optimizer=True):
    """model.weights.h5 of the model: weights, optimizer state, cydl's state."""
    root = _h5write.Group()
    opt = None
    if include_optimizer and getattr(model, "compiled", False):
        opt = _optimizer.state_arrays(model)
    _weights.write_tree(model, root, opt)
    return _h5write.write(root)


def save_model(model, filepath, overwrite=True, include_optimizer=True):
    """Save a model as Keras 3 does: structure, weights, compile arguments and the
    optimizer's state, in a `.keras` zip that Keras 3 loads too.

    Args:
        model: a built cydl model: Sequential, functional, or subclassed (its
            constructor arguments are recorded automatically when they are plain
            values; otherwise give it get_config()).
        filepath: a path ending in `.keras`.
        overwrite: replace an existing file (the default); False raises instead.
        include_optimizer: also save the optimizer's step count and slots.

    Example:
    >>> model.save("my_model.keras")
    """
    path = os.fspath(filepath)
    if not path.endswith(".keras"):
        raise ValueError(f"The file name must end in .keras. Received: filepath={path!r} "
                         f"(use save_weights() for a .weights.npz or .weights.h5 file)")
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"{path!r} exists and overwrite=False")
    if not model.built:
        raise ValueError(f"Model {model.name!r} is not built yet: call it on data (or fit) "
                         f"before saving")
    from cydl.saving import _layers
    entry = _layers.serialize_layer(model)
    if getattr(model, "compiled", False):
        entry["compile_config"] = compile_config(model)
    # everything that can fail is done before the file is touched
    config_json = json.dumps(entry, default=_not_json)
    weights = weights_bytes(model, include_optimizer)
    meta = json.dumps({"keras_version": KERAS_VERSION,
                       "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
                       "cydl_version": __version__})

    def write(f):
        with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as z:
            z.writestr(METADATA, meta)
            z.writestr(CONFIG, config_json)
            z.writestr(WEIGHTS, weights)
    _archive.atomic_write(path, write)


def _not_json(obj):
    raise ValueError(f"Cannot save {obj!r} of type {type(obj).__name__} in a model config: "
                     f"a config holds JSON values (numbers, strings, lists, dicts)")


# ---------------------------------------------------------------- loading
def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Load a model saved by `model.save()`, by Keras 3's `model.save()`, or by
    cydl before 0.2.

    Args:
        filepath: the `.keras` file.
        custom_objects: {name: class or function} for the custom layers, models,
            losses, metrics and schedules the file names (also found through
            `custom_object_scope` and `register_keras_serializable`).
        compile: compile the model as it was saved (optimizer state included).
        safe_mode: accepted for Keras compatibility; cydl never runs code from a
            file (a Keras lambda in a file is refused in any mode).

    Reading a file written by Keras needs h5py (`pip install 'cydl[h5]'`); cydl's
    own files load without it.

    Example:
    >>> model = cydl.models.load_model("my_model.keras")
    """
    path = os.fspath(filepath)
    with _archive.open_zip(path, repr(path)) as z:
        names = set(z.namelist())

        def read(name):
            return _archive.read_member(z, name, repr(path))
        if _legacy.is_legacy(names):
            return _legacy.load_model(read, names, path, custom_objects, compile)
        missing = {CONFIG, WEIGHTS} - names
        if missing:
            raise ValueError(f"{path!r} is not a complete .keras file: it lacks "
                             f"{sorted(missing)} (it holds {sorted(names)})")
        config = _parse_json(read(CONFIG), path)
        tree = _h5read.read(read(WEIGHTS), f"{WEIGHTS} of {path!r}")
    return build_model(config, tree, custom_objects, compile, repr(path))


def _parse_json(data, path):
    try:
        doc = json.loads(data)
    except ValueError as e:
        raise ValueError(f"{path!r}: config.json is not valid JSON ({e})") from None
    if not isinstance(doc, dict) or "class_name" not in doc:
        raise ValueError(f"{path!r}: config.json does not describe a model")
    return doc


def build_model(config, tree, custom_objects, compile, what):
    """The model a config and a weights tree describe, compiled as saved."""
    from cydl.models.config import as_shape
    from cydl.models.model import Model
    from cydl.saving import _layers
    model = _layers.deserialize_layer(config, custom_objects)
    if not isinstance(model, Model):
        raise ValueError(f"{what} holds a {type(model).__name__}, not a model")
    build = config.get("build_config") or {}
    if not model.built and build.get("input_shape") is not None:
        model.build(as_shape(build["input_shape"]))
    if not model.built:
        raise ValueError(f"{what}: the model cannot be built (the file gives no input "
                         f"shape)")
    _weights.load_tree(model, tree, what)
    _weights.load_noise_state(model, tree)
    cc = config.get("compile_config")
    if compile and cc:
        compile_from_config(model, cc, custom_objects, what)
        stored = tree.get("optimizer/vars")
        if stored is not None and stored.datasets:
            arrays = _ordered(stored.datasets, f"the optimizer variables of {what}")
            why = _optimizer.restore(model, arrays, what)
            if why is not None:
                warnings.warn(f"Skipping the optimizer state: {why}", stacklevel=3)
    return model


def _ordered(datasets, what):
    keys = sorted(datasets, key=lambda k: int(k) if k.isdigit() else -1)
    if keys != [str(i) for i in range(len(keys))]:
        raise ValueError(f"{what} are not numbered 0..{len(keys) - 1}: {sorted(datasets)}")
    return [datasets[k] for k in keys]


def compile_from_config(model, cc, custom_objects, what):
    """model.compile(...) with the arguments Keras' compile_config holds."""
    if not isinstance(cc, dict):
        raise ValueError(f"{what}: compile_config is not a dict")
    args = dict(
        optimizer=_resolve.deserialize(cc.get("optimizer", "rmsprop"), "optimizer",
                                       "optimizer", custom_objects),
        loss=_resolve.deserialize(cc.get("loss"), "loss", "loss", custom_objects),
        metrics=_resolve.deserialize(cc.get("metrics"), "metric", "metric", custom_objects),
        weighted_metrics=_resolve.deserialize(cc.get("weighted_metrics"), "metric",
                                              "weighted metric", custom_objects),
        loss_weights=cc.get("loss_weights"), run_eagerly=bool(cc.get("run_eagerly", False)))
    try:
        model.compile(**args)
    except NotImplementedError as e:
        raise ValueError(f"{what} is compiled with a setting cydl does not support ({e}): "
                         f"load it with compile=False and compile it anew") from None


# ---------------------------------------------------------------- weights only
def save_weights(model, filepath, overwrite=True):
    """Save the weights, as Keras 3's `.weights.h5` (with the optimizer's state when
    the model is compiled, as Keras does), or as NumPy's `.weights.npz`.

    Example:
    >>> model.save_weights("my_model.weights.h5")
    """
    import numpy as np
    path = os.fspath(filepath)
    if not path.endswith((".weights.npz", ".weights.h5")):
        raise ValueError(f"The file name must end in .weights.npz or .weights.h5. "
                         f"Received: filepath={path!r}")
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"{path!r} exists and overwrite=False")
    if path.endswith(".h5"):
        data = weights_bytes(model)
        _archive.atomic_write(path, lambda f: f.write(data))
    else:
        buf = io.BytesIO()
        np.savez(buf, **{f"w{i:05d}": v.numpy() for i, v in enumerate(model.weights)})
        _archive.atomic_write(path, lambda f: f.write(buf.getvalue()))


def load_weights(model, filepath):
    """Load the weights of a `.weights.h5` (Keras 3's or cydl's), `.weights.npz` or
    `.keras` file into a model of the same structure: all or none."""
    path = os.fspath(filepath)
    what = repr(path)
    if path.endswith(".keras"):
        with _archive.open_zip(path, what) as z:
            names = set(z.namelist())
            if _legacy.is_legacy(names):
                _legacy.warn(what)
                arrays = _legacy.load_npz(_archive.read_member(z, "model.weights.npz", what),
                                          what)
                model.set_weights([arrays[k] for k in sorted(arrays)])
                return
            if WEIGHTS not in names:
                raise ValueError(f"{what} holds no {WEIGHTS} (it holds {sorted(names)})")
            data = _archive.read_member(z, WEIGHTS, what)
    elif path.endswith(".h5"):
        with open(path, "rb") as f:
            data = f.read()
    else:
        with open(path, "rb") as f:
            arrays = _legacy.load_npz(f.read(), what)
        model.set_weights([arrays[k] for k in sorted(arrays)])
        return
    tree = _h5read.read(data, what)
    flat = _legacy.flat_weights(tree)
    if flat is not None:
        _legacy.warn(what)
        model.set_weights(flat)
        return
    if not model.built:
        raise ValueError(f"Model {model.name!r} is not built yet: build it before loading "
                         f"weights")
    _weights.load_tree(model, tree, what)
    _weights.load_noise_state(model, tree)
    stored = tree.get("optimizer/vars")
    if stored is not None and stored.datasets and getattr(model, "compiled", False):
        why = _optimizer.restore(model, _ordered(stored.datasets, what), what)
        if why is not None:
            warnings.warn(f"Skipping the optimizer state: {why}", stacklevel=3)
