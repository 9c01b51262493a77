"""Layer entries in Keras 3's format, both ways.

cydl's built-in layers are written as the Keras layers of the same name
({"module": "keras.layers", "class_name": "Dense", "config": {...}}), with the
keys Keras writes (a DTypePolicy for `dtype`, `quantization_config`, ...), so that
Keras rebuilds them; Keras' entries are mapped back to cydl's classes, and a
setting cydl does not have (BatchNormalization `renorm`) is a
ValueError that names it rather than a model that computes something else.

Custom layers and models are written under their class's module and name with
their config (their get_config(), else the recorded constructor arguments), and
found again only through custom_objects, a scope or the registry.
"""
import inspect

from cydl.saving import _auto_config, _objects, _registration, _resolve

# Keys Keras writes for these layers that cydl has no use for, at the only values
# cydl can honour.
KERAS_EXTRAS = {
    "Dense": {"quantization_config": None},
    "Flatten": {"data_format": "channels_last"},
    "BatchNormalization": {"renorm": False, "renorm_clipping": None, "renorm_momentum": 0.99},
    "InputLayer": {"sparse": False, "ragged": False, "optional": False},
}
_READ_ONLY_DEFAULTS = {"Dense": {"lora_rank": None, "lora_alpha": None},
                       "Lambda": {"mask": None}}
_OBJECT_KEYS = (("_initializer", "initializer"), ("_regularizer", "regularizer"),
                ("_constraint", "constraint"))


def builtins():
    """{Keras class name: cydl class} of the layers both libraries have."""
    from cydl import layers as L
    classes = (L.InputLayer, L.Dense, L.Flatten, L.Reshape, L.Activation, L.LeakyReLU,
               L.ReLU, L.ELU, L.Softmax, L.PReLU, L.BatchNormalization, L.Dropout,
               L.AlphaDropout, L.Normalization, L.Concatenate, L.Add, L.Subtract,
               L.Multiply, L.Average, L.Maximum, L.Minimum, L.GaussianNoise,
               L.GaussianDropout, L.Rescaling, L.Identity, L.UnitNormalization, L.Lambda)
    return {c.__name__: c for c in classes}


def _policy(dtype):
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": dtype},
            "registered_name": None}


def _shape_list(shape):
    from cydl.models.config import _shape_list
    return _shape_list(shape)


# ---------------------------------------------------------------- to Keras
def serialize_layer(layer, memory=False):
    """A layer or model as Keras writes it in a model config.

    Args:
        layer: the layer.
        memory: the config stays in memory (get_config, clone_model), so it may keep
            a Lambda's function object instead of its name.
    """
    from cydl.models.model import Model
    from cydl.models import config as config_mod
    cls = type(layer)
    what = f"layer {layer.name!r}"
    if builtins().get(cls.__name__) is cls:
        entry = {"module": "keras.layers", "class_name": cls.__name__,
                 "config": _keras_config(layer, memory), "registered_name": None}
    elif isinstance(layer, Model) and cls.__module__.startswith("cydl."):
        config = config_mod.model_config(layer, memory)
        if cls.__name__ == "Sequential":
            entry = {"module": "keras", "class_name": "Sequential", "config": config,
                     "registered_name": None}
        else:                                   # as Keras writes its functional models
            entry = {"module": "keras.src.models.functional", "class_name": "Functional",
                     "config": config, "registered_name": "Functional"}
    else:
        entry = {"module": cls.__module__, "class_name": cls.__name__,
                 "config": _objects.serialize(custom_config(layer), what, memory),
                 "registered_name": _registration.get_registered_name(cls)}
    shape = getattr(layer, "input_shape", None)
    if layer.built and shape is not None and cls.__name__ != "InputLayer":
        entry["build_config"] = {"input_shape": _shape_list(shape)}
    return entry


def custom_config(layer):
    """A custom layer's or model's config: its own get_config(), else the recorded
    constructor arguments (ValueError saying what to add when they are objects)."""
    from cydl.models.model import Model
    try:
        if isinstance(layer, Model):
            from cydl.models import config as config_mod
            if type(layer).get_config is Model.get_config:
                return config_mod.model_config(layer)
            return layer.get_config()
        if _auto_config._default_get_config(layer):
            return _auto_config.auto_config(layer)
        return layer.get_config()
    except NotImplementedError as e:
        raise ValueError(f"Cannot save {type(layer).__name__} {layer.name!r}: {e}") from None


def _keras_config(layer, memory):
    name = type(layer).__name__
    what = f"layer {layer.name!r}"
    if name == "InputLayer":
        return {"batch_shape": [layer.batch_size, *layer.sample_shape], "dtype": layer.dtype,
                "sparse": False, "ragged": False, "name": layer.name, "optional": False}
    out = {"name": layer.name, "trainable": layer.trainable, "dtype": _policy(layer.dtype)}
    for key, value in layer.get_config().items():
        if key in ("name", "trainable", "dtype", "input_shape"):
            continue
        if key.endswith(("_initializer", "_regularizer", "_constraint")):
            value = _objects.serialize(getattr(layer, key), f"{key} of {what}", memory)
        elif key == "activation":
            value = _objects.activation(layer.activation, f"activation of {what}", memory)
        elif name == "Lambda" and key in ("function", "output_shape"):
            if value is None:
                continue
            if callable(value):
                value = _lambda_function(value, what, memory)
            else:
                value = _objects.serialize(value, what, memory)
        else:
            value = _objects.serialize(value, f"{key} of {what}", memory)
        out[key] = value
    out.update(KERAS_EXTRAS.get(name, {}))
    return out


def _lambda_function(fn, what, memory):
    if memory:
        return fn
    if _objects.function_name(fn, strict=True) is None:
        # (the words the Lambda's own documentation uses, so that users find them)
        raise ValueError(
            f"Cannot save the function {fn!r} of the Lambda {what}: a cydl file holds no "
            f"code (it is never pickled, and loading imports nothing), so a lambda, a "
            f"closure or a method cannot be written to it. Write a custom layer with "
            f"get_config() instead (load it with custom_objects), use a module-level "
            f"function (also given in custom_objects), or save only the weights with "
            f"model.save_weights()")
    # as Keras' Lambda writes any named function: found again by name, in
    # custom_objects first, then among the built-in functions
    return {"module": "builtins", "class_name": "function",
            "config": _objects.function_name(fn, strict=True), "registered_name": "function"}


# ---------------------------------------------------------------- from Keras
def deserialize_layer(entry, custom_objects=None):
    """The layer or model an entry describes (Keras' format, or cydl's before 0.2)."""
    if not isinstance(entry, dict) or not isinstance(entry.get("class_name"), str):
        raise ValueError(f"Malformed layer entry in the saved config: {str(entry)[:200]}")
    _resolve.check_spec(entry, "layer")
    config = entry.get("config")
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise ValueError(f"The config of layer class {entry['class_name']!r} must be a dict")
    name, module = entry["class_name"], entry.get("module")
    what = f"layer {config.get('name', name)!r} ({name})"
    custom = _resolve.lookup_custom(entry, custom_objects)
    if custom is not None:
        return _custom(custom, config, custom_objects, what)
    if "module" not in entry:
        return _legacy(name, config, custom_objects)
    if isinstance(module, str) and module.startswith("cydl.") and \
            _objects.cydl_class("layer", name) is not None:
        # one of cydl's layers that Keras has no twin of: cydl reads it back
        return _custom(_objects.cydl_class("layer", name), config, custom_objects, what)
    if module == "keras" or (isinstance(module, str) and module.startswith("keras.")):
        if name in ("Sequential", "Functional", "Model"):
            import cydl
            cls = cydl.Sequential if name == "Sequential" else cydl.Model
            return cls.from_config(config, custom_objects)
        cls = builtins().get(name)
        if cls is None:
            raise ValueError(
                f"The saved model uses the Keras layer {name!r}, which cydl does not have "
                f"(cydl has {', '.join(sorted(builtins()))})")
        return _from_keras(cls, config, custom_objects, what)
    raise _resolve.unknown(entry, "layer")


def accepted(cls):
    """The keyword arguments cls(...) takes: its __init__'s, and its bases' while
    each passes **kwargs on."""
    names = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        params = inspect.signature(init).parameters
        names |= {n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD,
                                                             p.KEYWORD_ONLY)}
        if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
            return names - {"self"}
    return None


def _pop_defaults(config, defaults, cls_name, what):
    for key, default in defaults.items():
        if key in config:
            value = config.pop(key)
            if value != default:
                raise ValueError(f"The {what} sets {key}={value!r}; cydl's {cls_name} "
                                 f"supports only {key}={default!r}")


def _from_keras(cls, config, custom_objects, what):
    name = cls.__name__
    config = _resolve.decode_value(dict(config), what)
    _pop_defaults(config, {**KERAS_EXTRAS.get(name, {}), **_READ_ONLY_DEFAULTS.get(name, {})},
                  name, what)
    if "dtype" in config:
        config["dtype"] = _resolve.policy_name(config["dtype"], what)
    if name == "InputLayer":
        shape = config.pop("batch_shape", None) or config.pop("batch_input_shape", None)
        if shape is not None:
            if not isinstance(shape, list) or not shape:
                raise ValueError(f"The {what} has a malformed batch_shape {shape!r}")
            config["batch_size"], config["shape"] = shape[0], tuple(shape[1:])
    for key in list(config):
        for suffix, kind in _OBJECT_KEYS:
            if key.endswith(suffix):
                config[key] = _resolve.deserialize(config[key], kind, f"{key} of the {what}",
                                                   custom_objects)
        if key == "activation":
            config[key] = _resolve.deserialize(config[key], "activation",
                                               f"activation of the {what}", custom_objects)
        if name == "Lambda" and key in ("function", "output_shape"):
            value = config[key]
            if isinstance(value, dict):
                config[key] = _resolve.deserialize(value, "function", f"{key} of the {what}",
                                                   custom_objects)
            elif isinstance(value, list):
                config[key] = tuple(value)
    if name == "Lambda" and isinstance(config.get("function"), str):
        raise ValueError(f"The {what} names its function as a plain string; pass it in "
                         f"custom_objects={{{config['function']!r}: ...}}")
    return _construct(cls, config, what)


def _construct(cls, config, what):
    names = accepted(cls)
    if names is not None:
        for key in list(config):
            if key not in names:
                value = config.pop(key)
                if value not in (None, False, 0, 0.0, "", [], {}):
                    raise ValueError(f"The {what} sets {key}={value!r}, which cydl's "
                                     f"{cls.__name__} does not support")
    try:
        return cls.from_config(config)
    except (TypeError, NotImplementedError) as e:
        raise ValueError(f"Cannot rebuild the {what} from the saved file: {e}") from None


def _revive(value, custom_objects, what):
    """A value of a custom layer's config with Keras' serialized forms made cydl's:
    a dtype policy as its name; an initializer, regularizer or constraint as the
    object (cydl's getters take objects; Keras' configs of them hold keys cydl's
    constructors do not, such as `input_axes`)."""
    if not isinstance(value, dict):
        return value
    if value.get("class_name") == "DTypePolicy":
        return _resolve.policy_name(value, what)
    module = value.get("module")
    for kind in ("initializer", "regularizer", "constraint"):
        if module == _objects.KINDS[kind]:
            return _resolve.deserialize(value, kind, what, custom_objects)
    if "class_name" in value:
        _resolve.check_spec(value, what)
    return value


def _custom(cls, config, custom_objects, what):
    from cydl.layers.base import Layer
    if not (isinstance(cls, type) and issubclass(cls, Layer)):
        raise ValueError(f"custom_objects gives {cls!r} for the {what}, which is not a "
                         f"cydl Layer or Model class")
    from cydl.models.model import Model
    if not issubclass(cls, Model):        # a model's config holds whole layer entries
        config = {k: _revive(v, custom_objects, what) for k, v in config.items()}
    elif isinstance(config.get("dtype"), dict):
        config = dict(config, dtype=_resolve.policy_name(config["dtype"], what))
    try:
        return _call_from_config(cls, config, custom_objects)
    except TypeError as e:
        raise ValueError(f"Cannot rebuild the {what} with {cls.__name__}.from_config: {e}. "
                         f"Its config holds {sorted(config)}; a class that takes other "
                         f"arguments needs a get_config() that returns them") from None


def _call_from_config(cls, config, custom_objects):
    try:         # from_config(cls, config) or, as models' and Lambda's, with custom_objects
        inspect.signature(cls.from_config).bind(config, custom_objects)
    except TypeError:
        return cls.from_config(config)
    return cls.from_config(config, custom_objects)


def _legacy(name, config, custom_objects):
    """An entry of a config written by cydl before 0.2: cydl's class names, cydl's
    own config values."""
    import cydl
    cls = {"Sequential": cydl.Sequential, "Model": cydl.Model,
           "Functional": cydl.Model}.get(name) or builtins().get(name)
    if cls is None:
        raise ValueError(f"Unknown layer class {name!r}: pass it in custom_objects")
    return _call_from_config(cls, dict(config), custom_objects)
