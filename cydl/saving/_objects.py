"""Keras 3's serialized form of the objects a model config holds (for reading
them back, see _resolve).

Keras writes an object as {"module", "class_name", "config", "registered_name"}:
`{"module": "keras.initializers", "class_name": "GlorotUniform", ...}` for its own
classes, `{"module": "builtins", "class_name": "function", "config": "relu", ...}`
for its own functions, and the class's module and (registered) name for custom
ones. `serialize` writes cydl's initializers, regularizers, constraints, losses,
metrics, optimizers and schedules under the names Keras uses for the same things
(`tables`), and what Keras does not have under cydl's own module names, which only
cydl reads back.
"""
import inspect

import numpy as np

from cydl.saving import _registration

KINDS = {"initializer": "keras.initializers", "regularizer": "keras.regularizers",
         "constraint": "keras.constraints", "loss": "keras.losses",
         "metric": "keras.metrics", "optimizer": "keras.optimizers",
         "schedule": "keras.optimizers.schedules"}

# what Keras calls a schedule when no name was given
_SCHEDULE_NAMES = {"PiecewiseConstantDecay": "PiecewiseConstant"}
# what Keras' optimizers write that cydl's do not have, at Keras' defaults
_OPTIMIZER_EXTRAS = {"use_ema": False, "ema_momentum": 0.99, "ema_overwrite_frequency": None,
                     "loss_scale_factor": None, "gradient_accumulation_steps": None}


def tables():
    """{kind: {Keras class name: cydl class}} of the classes both libraries have."""
    global _TABLES
    try:
        return _TABLES
    except NameError:
        pass
    from cydl import constraints, initializers, losses, metrics, optimizers, regularizers
    from cydl.optimizers import schedules

    def by_name(module, *names):
        # (getattr: a class cydl does not have yet is simply not mapped)
        found = (getattr(module, n, None) for n in names)
        return {c.__name__: c for c in found if isinstance(c, type)}
    _TABLES = {
        "initializer": by_name(initializers, "Zeros", "Ones", "Constant", "RandomNormal",
                               "RandomUniform", "TruncatedNormal", "VarianceScaling",
                               "GlorotUniform", "GlorotNormal", "HeNormal", "HeUniform",
                               "LecunNormal", "LecunUniform"),
        "regularizer": by_name(regularizers, "L1", "L2", "L1L2"),
        "constraint": by_name(constraints, "MaxNorm", "NonNeg", "UnitNorm", "MinMaxNorm"),
        "loss": by_name(losses, "MeanSquaredError", "MeanAbsoluteError", "Huber",
                        "BinaryCrossentropy", "CategoricalCrossentropy",
                        "SparseCategoricalCrossentropy"),
        "metric": by_name(metrics, "SparseCategoricalAccuracy", "CategoricalAccuracy",
                          "BinaryAccuracy", "Accuracy", "MeanAbsoluteError", "MeanSquaredError",
                          "RootMeanSquaredError", "Mean", "TopKCategoricalAccuracy",
                          "SparseTopKCategoricalAccuracy", "MeanAbsolutePercentageError",
                          "MeanSquaredLogarithmicError"),
        "optimizer": by_name(optimizers, "SGD", "Adam", "AdamW", "Adamax", "Nadam", "RMSprop",
                             "Adagrad"),
        "schedule": by_name(schedules, "ExponentialDecay", "InverseTimeDecay",
                            "PiecewiseConstantDecay", "PolynomialDecay", "CosineDecay",
                            "CosineDecayRestarts"),
    }
    return _TABLES


def cydl_class(kind, name):
    """A public class of cydl's own module for this kind (one Keras does not have,
    such as a OneCycle schedule), looked up by name in that module only and only
    if it is a class of that kind; None otherwise."""
    import cydl
    from cydl.optimizers import schedules
    namespace, base = {
        "initializer": (cydl.initializers, cydl.initializers.Initializer),
        "regularizer": (cydl.regularizers, cydl.regularizers.Regularizer),
        "constraint": (cydl.constraints, cydl.constraints.Constraint),
        "loss": (cydl.losses, cydl.losses.Loss), "metric": (cydl.metrics, cydl.metrics.Metric),
        "optimizer": (cydl.optimizers, cydl.optimizers.Optimizer),
        "schedule": (schedules, schedules.LearningRateSchedule),
        "layer": (cydl.layers, cydl.layers.Layer),
    }.get(kind, (None, None))
    if namespace is None or not isinstance(name, str) or name.startswith("_"):
        return None
    cls = getattr(namespace, name, None)
    return cls if isinstance(cls, type) and issubclass(cls, base) else None


def _builtin_kind(obj):
    """(kind, Keras class name) when obj is exactly one of the tabled cydl classes."""
    for kind, table in tables().items():
        name = type(obj).__name__
        if table.get(name) is type(obj):
            return kind, name
    return None, None


def function_name(fn, strict=False):
    """The name a file can give fn, or None.

    A loss, metric or activation is saved by its name and found again by that name
    in custom_objects, as in Keras, so any named function will do (the book's
    `create_huber(2.0)` closure, loaded with custom_objects={"huber_fn": ...}). A
    Lambda layer's function (strict) must be a plain module-level function.
    """
    from cydl.layers.lambda_layer import savable_name
    if strict:
        return savable_name(fn)
    name = getattr(fn, "__name__", None)
    if savable_name(fn) or (inspect.isfunction(fn) and name and name != "<lambda>"):
        return name
    return None


def _cydl_function(fn):
    """Whether fn is one of cydl's activations or ops (Keras has them by name)."""
    from cydl.layers.lambda_layer import _cydl_name
    return _cydl_name(fn) is not None


# ---------------------------------------------------------------- to Keras
def serialize(obj, what, memory=False):
    """obj as Keras writes it in a config: plain values as they are, objects as
    {"module", "class_name", "config", "registered_name"}.

    Args:
        obj: the value.
        what: what it is, for error messages ("kernel_initializer of layer 'dense'").
        memory: the config stays in memory (get_config, clone_model): an object
            that a file cannot hold (a lambda) is kept as it is instead of refused.
    """
    if obj is None or isinstance(obj, (str, bool, int, float)):
        return obj
    if isinstance(obj, (np.integer, np.floating, np.bool_)):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (list, tuple)):
        return [serialize(o, what, memory) for o in obj]
    if isinstance(obj, dict):
        return {str(k): serialize(v, what, memory) for k, v in obj.items()}
    kind, name = _builtin_kind(obj)
    if kind is not None:
        return {"module": KINDS[kind], "class_name": name,
                "config": serialize(_keras_config(kind, obj), what, memory),
                "registered_name": None}
    from cydl import losses, metrics
    if type(obj) is losses.LossFunctionWrapper and not obj.kwargs:
        return serialize(obj.fn, what, memory)
    if type(obj) is metrics.MeanMetricWrapper:
        return serialize(obj.fn, what, memory)
    if hasattr(obj, "get_config") and not isinstance(obj, type):
        cls = type(obj)
        return {"module": cls.__module__, "class_name": cls.__name__,
                "config": serialize(obj.get_config(), what, memory),
                "registered_name": _registration.get_registered_name(cls)}
    if callable(obj):
        if memory:                   # a config in memory keeps the function itself
            return obj
        name = function_name(obj)
        if name is not None:
            if _cydl_function(obj):
                return {"module": "builtins", "class_name": "function", "config": name,
                        "registered_name": "function"}
            # as Keras: the registered name ("package>name"), else the plain name
            registered = _registration.get_registered_name(obj) or name
            return {"module": obj.__module__, "class_name": "function", "config": registered,
                    "registered_name": registered}
        if memory:
            return obj
        raise ValueError(
            f"Cannot save the {what} {obj!r}: a saved file holds no code (it is never "
            f"pickled, and loading imports nothing), so only a module-level function, "
            f"found again by name through custom_objects, can be written. Use a named "
            f"function, or an object with get_config(); or save only the weights with "
            f"save_weights()")
    if memory:
        return obj
    raise ValueError(f"Cannot save the {what} {obj!r} of type {type(obj).__name__}: give it "
                     f"get_config(), or use a name")


def _keras_config(kind, obj):
    config = dict(obj.get_config())
    if kind == "initializer" and type(obj).__name__ not in ("Zeros", "Ones", "Constant"):
        config.setdefault("seed", None)
    elif kind == "metric":
        config.setdefault("dtype", "float32" if obj.dtype is None else obj.dtype)
        if hasattr(obj, "threshold"):
            config["threshold"] = obj.threshold
    elif kind == "optimizer":
        lr = obj._learning_rate          # (the property gives the current rate)
        if callable(lr) and not hasattr(lr, "value"):
            if _builtin_kind(lr)[0] != "schedule" and not hasattr(lr, "get_config"):
                raise ValueError(f"Cannot save the learning rate {lr!r} of "
                                 f"{type(obj).__name__}: use a cydl.optimizers.schedules."
                                 f"LearningRateSchedule (it has get_config)")
            config["learning_rate"] = lr
        config = {**config, **_OPTIMIZER_EXTRAS}
    elif kind == "schedule":
        config = {k: v for k, v in config.items() if not k.startswith("_")}
        config.setdefault("name", _SCHEDULE_NAMES.get(type(obj).__name__,
                                                      type(obj).__name__))
    return config


def activation(fn, what, memory=False):
    """A layer's activation as Keras writes it: the name of a built-in ("relu"), or
    a function reference for a custom one."""
    from cydl import activations
    name, param = activations.spec(fn)
    if name is None:
        return serialize(fn, what, memory)
    default = {"leaky_relu": 0.2, "elu": 1.0, "relu": 0.0}.get(name)
    if name == "gelu_tanh":
        return {"module": "cydl.activations", "class_name": "gelu",
                "config": {"approximate": True}, "registered_name": "cydl>gelu"}
    if param is None or param == default:
        return name
    # Keras' activation strings carry no parameter: this one only cydl reads back
    key = "alpha" if name == "elu" else "negative_slope"
    return {"module": "cydl.activations", "class_name": name, "config": {key: param},
            "registered_name": f"cydl>{name}"}
