"""Keras 3's serialized objects read back as cydl's: names resolved to classes.

A Keras config names its objects by module and class ({"module":
"keras.initializers", "class_name": "GlorotUniform", ...}) or, for functions, by
name ({"class_name": "function", "config": "relu"}). `deserialize` maps Keras'
names to cydl's classes (cydl._objects.tables), cydl's own names to cydl's
classes, and anything else to what `custom_objects`, an active
`custom_object_scope` or the registry gives for it. A module named in a file is
never imported, a marshalled lambda never loaded: an unknown name or a special
form that carries code is a ValueError that names it.
"""
import inspect

import numpy as np

from cydl.saving import _registration
from cydl.saving._objects import KINDS, cydl_class, tables  # noqa: F401  (KINDS: _layers)


def lookup_custom(spec, custom_objects):
    """The custom class or function a spec names, from custom_objects, a scope or
    the registry (by registered name, then class name); None if unknown."""
    names = [spec.get("registered_name"), spec.get("class_name")]
    if spec.get("class_name") == "function":
        names = [spec.get("config"), spec.get("registered_name")]
    merged = _registration.all_custom_objects(custom_objects)
    for name in names:
        if isinstance(name, str) and name not in ("function", ""):
            found = _registration.get_registered_object(name, merged)
            if found is not None:
                return found
    return None


def unknown(spec, what):
    name = spec.get("config") if spec.get("class_name") == "function" else \
        spec.get("class_name")
    module = spec.get("module")
    where = f" (module {module!r})" if module else ""
    kind = "function" if spec.get("class_name") == "function" else "class"
    return ValueError(
        f"Unknown {what} {kind} {name!r}{where} in the saved file: cydl has no such "
        f"built-in, and loading never imports code named in a file. If it is yours, "
        f"pass it in custom_objects={{{name!r}: ...}} or register it with "
        f"cydl.saving.register_keras_serializable()")


def check_spec(spec, what):
    """Refuse the special forms that carry code or need a backend."""
    name = spec.get("class_name")
    if not isinstance(name, str):
        raise ValueError(f"Malformed {what} in the saved file: class_name {name!r}")
    if name == "__lambda__":
        raise ValueError(
            f"The saved file holds Python code for the {what} (a marshalled lambda). cydl "
            f"never runs code from a file. Replace the lambda with a named function and "
            f"pass it in custom_objects")
    if name in ("__typespec__", "__tensor__", "__bytes__", "__slice__", "__ellipsis__"):
        raise ValueError(f"The {what} in the saved file is a {name}, which cydl cannot read")


def decode_value(value, what):
    """A config value with Keras' special forms decoded (__numpy__ arrays as lists)."""
    if isinstance(value, list):
        return [decode_value(v, what) for v in value]
    if isinstance(value, dict):
        if value.get("class_name") == "__numpy__":
            cfg = value.get("config") or {}
            dtype = np.dtype(str(cfg.get("dtype", "float32")))
            if dtype.kind not in "biuf":
                raise ValueError(f"The {what} holds an array of dtype {dtype}")
            return np.array(cfg.get("value"), dtype).tolist()
        if "class_name" in value:
            check_spec(value, what)
        return {k: decode_value(v, what) for k, v in value.items()}
    return value


def construct(cls, config, what):
    """cls(**config) from a Keras config: Keras-only keys left at their defaults are
    dropped, and anything cydl does not support is a ValueError saying what."""
    config = dict(config)
    if isinstance(config.get("dtype"), dict):           # a DTypePolicy
        config["dtype"] = policy_name(config["dtype"], what)
    params = inspect.signature(cls.__init__).parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        for key in list(config):
            if key not in params:
                value = config.pop(key)
                if value not in (None, False, 0, 0.0, "", [], {}):
                    raise ValueError(f"The {what} in the saved file sets {key}={value!r}, "
                                     f"which cydl's {cls.__name__} does not support")
    try:
        if hasattr(cls, "from_config"):
            return cls.from_config(config)
        return cls(**config)
    except (TypeError, NotImplementedError) as e:
        raise ValueError(f"Cannot rebuild the {what} {cls.__name__} from the saved file: "
                         f"{e}") from None


def policy_name(policy, what):
    """"float32" from a Keras DTypePolicy (or a dtype string)."""
    if policy is None or isinstance(policy, str):
        name = policy
    elif isinstance(policy, dict):
        name = (policy.get("config") or {}).get("name")
    else:
        name = None
    if name is not None and name not in ("float32", "float64"):
        raise ValueError(f"The {what} uses the dtype policy {name!r}; cydl computes in "
                         f"float32 or float64 only")
    return name


def deserialize(spec, kind, what, custom_objects=None):
    """The cydl object (or name, for cydl's getters) a Keras-serialized value means.

    Args:
        spec: the value from the file.
        kind: "initializer", "regularizer", "constraint", "loss", "metric",
            "optimizer", "schedule" or "activation".
        what: for error messages.
        custom_objects: the user's {name: class or function}.
    """
    if spec is None or isinstance(spec, (bool, int, float)):
        return spec
    if isinstance(spec, str):
        found = _registration.all_custom_objects(custom_objects).get(spec)
        return found if found is not None else spec
    if isinstance(spec, list):
        return [deserialize(s, kind, what, custom_objects) for s in spec]
    if not isinstance(spec, dict):
        if callable(spec) or hasattr(spec, "get_config"):
            return spec              # a config made in memory (get_config, clone_model)
        raise ValueError(f"Malformed {what} in the saved file: {spec!r}")
    if "class_name" not in spec:          # e.g. losses by output name
        return {str(k): deserialize(v, kind, f"{what} {k!r}", custom_objects)
                for k, v in spec.items()}
    check_spec(spec, what)
    custom = lookup_custom(spec, custom_objects)
    name, module = spec["class_name"], spec.get("module") or ""
    config = spec.get("config")
    if custom is not None:
        if name == "function" or not isinstance(custom, type):
            return custom
        return construct(custom, decode_value(config or {}, what), what)
    if name == "function":
        if not isinstance(config, str):
            raise ValueError(f"Malformed function reference for the {what}: {spec!r}")
        if module == "builtins" or module.split(".")[0] in ("keras", "cydl"):
            return _builtin_function(config, kind, spec, what)
        raise unknown(spec, what)
    if module.split(".")[0] == "cydl" and kind == "activation":
        return _cydl_activation(name, config, spec, what)
    if module.split(".")[0] == "cydl" and cydl_class(kind, name) is not None:
        return construct(cydl_class(kind, name), decode_value(config or {}, what), what)
    if module == "keras" or module.startswith("keras.") or module == "":
        cls = tables().get(kind, {}).get(name)
        if cls is not None:
            config = decode_value(config or {}, what)
            if kind == "optimizer":
                config = dict(config)
                for key, ok in (("use_ema", (False, None)),
                                ("loss_scale_factor", (None, 1, 1.0)),
                                ("gradient_accumulation_steps", (None, 1))):
                    if config.get(key) not in ok:
                        raise ValueError(f"The {what} {name} in the saved file sets "
                                         f"{key}={config[key]!r}, which cydl's optimizers "
                                         f"do not support")
                    config.pop(key, None)
                for key in ("ema_momentum", "ema_overwrite_frequency"):  # (use_ema's)
                    config.pop(key, None)
                config["learning_rate"] = deserialize(config.get("learning_rate", 0.001),
                                                      "schedule", f"learning rate of {what}",
                                                      custom_objects)
            return construct(cls, config, what)
    raise unknown(spec, what)


def _builtin_function(name, kind, spec, what):
    """A function Keras names as built-in: cydl's function of that name."""
    from cydl import activations, losses, metrics
    if kind == "activation":
        if name in activations._BY_NAME:
            return name
    elif kind == "loss":
        if name in losses._ALIASES:
            return name
    elif kind == "metric":
        if name in metrics._ALIASES or name in ("accuracy", "acc") or \
                name in losses._ALIASES:
            return name
    elif kind == "function":
        from cydl.layers.lambda_layer import find_function
        try:
            return find_function(name, None, what)
        except ValueError:
            pass
    raise unknown(spec, what)


def _cydl_activation(name, config, spec, what):
    from cydl import activations
    config = config or {}
    if name == "gelu" and config == {"approximate": True}:
        import functools
        return functools.partial(activations.gelu, approximate=True)
    key = {"leaky_relu": "negative_slope", "elu": "alpha"}.get(name)
    if key is None or set(config) != {key}:
        raise unknown(spec, what)
    return [name, config[key]]
