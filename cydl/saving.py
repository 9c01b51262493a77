"""Saving and loading models: JSON for the structure, NumPy arrays for the numbers.

A `.keras` file is a zip holding `metadata.json`, `config.json` (the model's
config, its compile arguments and its optimizer's config) and `.npy`-format
arrays in `model.weights.npz` and `optimizer.npz` (the step count and the slots,
so training goes on where it stopped). Loading reads JSON and arrays only
(`allow_pickle=False`): no pickle, no import of a name read from the file. Classes
are looked up among cydl's own or in `custom_objects`.

A save writes a temporary file next to the target and renames it over the
target at the end, so a crash during a save leaves the previous file whole.
"""
import io
import json
import os
import tempfile
import zipfile

import numpy as np

from cydl._version import __version__

FORMAT = "cydl.keras"
FORMAT_VERSION = 1


# ---------------------------------------------------------------- atomic writes
def _atomic_write(path, write):
    """write(file object) into a temporary file beside path, then rename it over path."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".",
                               suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _npz_bytes(arrays):
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _load_npz(data, what):
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except ValueError as e:        # object arrays need pickle: refused
        raise ValueError(f"{what} holds data that only pickle can read; cydl never "
                         f"unpickles ({e})") from None


# ---------------------------------------------------------------- objects <-> JSON
def _serialize(obj, what):
    """A compile or optimizer argument as JSON: names stay names, objects become
    {"class_name", "config"}; a custom function or class is saved by name and must
    come back through custom_objects."""
    if obj is None or isinstance(obj, (str, bool, int, float)):
        return obj
    if isinstance(obj, (list, tuple)):
        return [_serialize(o, what) for o in obj]
    if isinstance(obj, dict):
        return {str(k): _serialize(v, what) for k, v in obj.items()}
    if hasattr(obj, "get_config") and not isinstance(obj, type):
        return {"class_name": type(obj).__name__, "config": _serialize(obj.get_config(), what)}
    name = getattr(obj, "__name__", None)
    if name is not None:
        return {"function": name}
    raise ValueError(f"Cannot save the {what} {obj!r}: give it get_config(), or use a name")


def _deserialize(spec, table, custom_objects, what):
    """The inverse of _serialize, classes and functions from `table` (cydl's own,
    by name) or custom_objects."""
    if isinstance(spec, list):
        return [_deserialize(s, table, custom_objects, what) for s in spec]
    if not isinstance(spec, dict):
        return spec
    if "function" in spec or "class_name" in spec:
        name = spec.get("function") or spec["class_name"]
        found = (custom_objects or {}).get(name) or table(name)
        if found is None:
            raise ValueError(f"Unknown {what} {name!r} in the saved file: pass it in "
                             f"custom_objects={{{name!r}: ...}}")
        if "function" in spec:
            return found
        config = {k: _deserialize(v, table, custom_objects, what)
                  for k, v in spec.get("config", {}).items()}
        return found.from_config(config) if hasattr(found, "from_config") else found(**config)
    return {k: _deserialize(v, table, custom_objects, what) for k, v in spec.items()}


def _finder(*modules):
    def find(name):
        for mod in modules:
            obj = getattr(mod, name, None)
            if obj is not None and not name.startswith("_"):
                return obj
        return None
    return find


def _compile_config(model):
    cc = model._compile_config
    opt = model.optimizer
    opt_config = dict(opt.get_config())
    lr = opt._learning_rate
    if callable(lr) and hasattr(lr, "get_config"):
        opt_config["learning_rate"] = _serialize(lr, "learning rate schedule")
    elif callable(lr) and not hasattr(lr, "value"):
        raise ValueError(f"Cannot save the learning rate {lr!r}: use a "
                         f"cydl.optimizers.schedules.LearningRateSchedule (it has get_config)")
    return {"optimizer": {"class_name": type(opt).__name__, "config": opt_config},
            "loss": _serialize(cc.loss_spec, "loss"),
            "metrics": _serialize(cc.metrics_spec, "metric"),
            "loss_weights": _serialize(cc.weights_spec, "loss weight"),
            "run_eagerly": bool(model._force_general)}


# ---------------------------------------------------------------- whole models
def save_model(model, filepath, overwrite=True, include_optimizer=True):
    """Save a model's structure, weights, compile arguments and optimizer state.

    Args:
        model: a built cydl model (Sequential, functional, or a subclass with
            get_config()).
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
    try:
        config = model.get_config()
    except NotImplementedError as e:
        raise ValueError(f"Cannot save {type(model).__name__}: {e}. Or save only its "
                         f"weights with save_weights()") from None
    kind = type(model).__name__
    if kind == "Model":
        kind = "Functional"
    doc = {"class_name": kind, "config": config,
           "build_input_shape": getattr(model, "input_shape", None),   # tuples: JSON lists
           "compile_config": _compile_config(model) if model.compiled else None,
           # dropout masks follow each layer's seed and call count: saved, so that
           # training goes on with the masks it would have drawn
           "dropout_states": [[layer._seed, layer.steps] for layer in _dropouts(model)]}
    weights = {f"w{i:05d}": v.numpy() for i, v in enumerate(model.weights)}
    opt = {}
    if include_optimizer and model.compiled and model.optimizer._layout is not None:
        opt = {f"v{i:05d}": np.array(a) for i, a in
               enumerate(model.optimizer._state_arrays())}
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "cydl_version": __version__}

    def write(f):
        with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as z:
            z.writestr("metadata.json", json.dumps(meta))
            z.writestr("config.json", json.dumps(doc))
            z.writestr("model.weights.npz", _npz_bytes(weights))
            if opt:
                z.writestr("optimizer.npz", _npz_bytes(opt))
    _atomic_write(path, write)


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Load a model saved by `model.save()`.

    Args:
        filepath: the `.keras` file.
        custom_objects: {name: class or function} for custom layers, models,
            losses, metrics and schedules the file names.
        compile: compile the model as it was saved (optimizer state included).
        safe_mode: accepted for Keras compatibility; cydl's files hold no code, so
            loading is always safe.

    Example:
    >>> model = cydl.models.load_model("my_model.keras")
    """
    from cydl.models import config as config_mod
    path = os.fspath(filepath)
    try:
        z = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise ValueError(f"{path!r} is not a .keras file saved by cydl (not a zip)") from None
    with z:
        names = set(z.namelist())
        if not {"metadata.json", "config.json", "model.weights.npz"} <= names:
            raise ValueError(f"{path!r} is not a .keras file saved by cydl (it holds "
                             f"{sorted(names)})")
        meta = json.loads(z.read("metadata.json"))
        if meta.get("format") != FORMAT or meta.get("format_version", 0) > FORMAT_VERSION:
            raise ValueError(f"{path!r}: unknown format {meta.get('format')!r} version "
                             f"{meta.get('format_version')!r}")
        doc = json.loads(z.read("config.json"))
        weights = _load_npz(z.read("model.weights.npz"), "model.weights.npz")
        opt_state = _load_npz(z.read("optimizer.npz"), "optimizer.npz") \
            if "optimizer.npz" in names else None
    model = config_mod.deserialize_layer(doc, custom_objects)
    if not model.built and doc.get("build_input_shape") is not None:
        model.build(_shape(doc["build_input_shape"]))
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


def _dropouts(model):
    """The model's Dropout layers (AlphaDropout included), in a fixed order."""
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


def _shape(s):
    if isinstance(s, list) and s and all(v is None or isinstance(v, int) for v in s):
        return tuple(s)
    return [_shape(v) for v in s] if isinstance(s, list) else s


def _compile(model, cc, custom_objects):
    import cydl
    from cydl import losses, metrics
    from cydl.optimizers import schedules
    find_loss = _finder(losses)
    opt_spec = dict(cc["optimizer"])
    config = dict(opt_spec["config"])
    config["learning_rate"] = _deserialize(config["learning_rate"], _finder(schedules),
                                           custom_objects, "learning rate schedule")
    cls = (custom_objects or {}).get(opt_spec["class_name"]) or \
        _finder(cydl.optimizers)(opt_spec["class_name"])
    if cls is None:
        raise ValueError(f"Unknown optimizer {opt_spec['class_name']!r}: pass it in "
                         f"custom_objects")
    model.compile(optimizer=cls.from_config(config),
                  loss=_deserialize(cc["loss"], find_loss, custom_objects, "loss"),
                  metrics=_deserialize(cc["metrics"], _finder(metrics, losses),
                                       custom_objects, "metric"),
                  loss_weights=cc.get("loss_weights"), run_eagerly=cc.get("run_eagerly", False))


def _restore_optimizer(model, state):
    opt = model.optimizer
    opt.build(model._current_store())
    own = opt._state_arrays()
    if len(state) != len(own) or any(a.shape != b.shape for a, b in zip(state, own)):
        raise ValueError("The saved optimizer state does not fit this model's weights")
    for dst, saved in zip(own, state):
        dst[...] = saved


# ---------------------------------------------------------------- weights only
def save_weights(model, filepath, overwrite=True):
    """Save the weights only, as `.weights.npz` (NumPy) or `.weights.h5` (needs h5py).

    Example:
    >>> model.save_weights("my_model.weights.npz")
    """
    path = os.fspath(filepath)
    if not path.endswith((".weights.npz", ".weights.h5")):
        raise ValueError(f"The file name must end in .weights.npz or .weights.h5. "
                         f"Received: filepath={path!r}")
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"{path!r} exists and overwrite=False")
    arrays = {f"w{i:05d}": v.numpy() for i, v in enumerate(model.weights)}
    if path.endswith(".h5"):
        h5py = _h5py()

        def write(f):
            with h5py.File(f, "w") as h:
                for k, a in arrays.items():
                    h.create_dataset(k, data=a)
                h.attrs["format"] = FORMAT
        _atomic_write(path, write)
    else:
        _atomic_write(path, lambda f: f.write(_npz_bytes(arrays)))


def load_weights(model, filepath):
    """Load weights saved by save_weights (or the weights of a `.keras` file) into a
    model of the same structure."""
    path = os.fspath(filepath)
    if path.endswith(".keras"):
        with zipfile.ZipFile(path) as z:
            arrays = _load_npz(z.read("model.weights.npz"), path)
    elif path.endswith(".h5"):
        h5py = _h5py()
        with h5py.File(path, "r") as h:
            arrays = {k: h[k][()] for k in h.keys()}
    else:
        with open(path, "rb") as f:
            arrays = _load_npz(f.read(), path)
    model.set_weights([arrays[k] for k in sorted(arrays)])


def _h5py():
    try:
        import h5py
    except ImportError:
        raise ImportError("A .weights.h5 file needs h5py: pip install 'cydl[h5]', or use a "
                          ".weights.npz file") from None
    return h5py
