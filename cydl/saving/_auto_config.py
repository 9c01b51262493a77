"""Constructor arguments recorded at construction, as Keras 3's `_auto_config`.

A custom layer or subclassed model that defines no `get_config()` still saves: its
`__init__` arguments were recorded when it was made, and when they are plain
values (numbers, strings, bools, None, and lists, tuples and dicts of these) they
are its config, so loading calls `cls(**config)`. The book's
`WideAndDeepModel(30, activation="relu", name="my_cool_model")` saves this way.
Arguments that are objects cannot be written to a file that holds no code, and
saving says which ones and what to add.

The recording is a `__new__` on cydl.layers.Layer, installed when cydl.saving is
imported (cydl imports it). It costs one signature binding per construction of a
class defined outside cydl; cydl's own classes have their get_config and skip it.
"""
import copy
import inspect

import numpy as np

from cydl.layers.base import Layer


def _plain(value):
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


def _python(value):
    """Plain values with NumPy scalars as Python numbers, tuples as lists (as JSON)."""
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_python(v) for v in value]
    if isinstance(value, dict):
        return {k: _python(v) for k, v in value.items()}
    return value


def capture(cls, args, kwargs):
    """(config, names of the arguments that are not plain values) of a call
    cls(*args, **kwargs), defaults included; None when they do not fit __init__."""
    try:
        signature = inspect.signature(cls.__init__)
        bound = signature.bind(None, *args, **kwargs)
    except (TypeError, ValueError):
        return None
    bound.apply_defaults()
    config, bad = {}, []
    for i, (name, value) in enumerate(bound.arguments.items()):
        if i == 0:
            continue                                   # self
        kind = signature.parameters[name].kind
        if kind is inspect.Parameter.VAR_KEYWORD:
            config.update(value)
        elif kind is inspect.Parameter.VAR_POSITIONAL:
            if value:
                bad.append(f"*{name}")
        else:
            config[name] = value
    bad += [k for k, v in config.items() if not _plain(v)]
    plain = {k: copy.deepcopy(v) for k, v in config.items() if k not in bad}
    return plain, bad


def _new(cls, *args, **kwargs):
    obj = object.__new__(cls)
    if not cls.__module__.startswith("cydl."):
        object.__setattr__(obj, "_auto_config", capture(cls, args, kwargs))
    return obj


if "__new__" not in Layer.__dict__:
    Layer.__new__ = staticmethod(_new)


def _default_get_config(obj):
    """Whether obj's get_config is cydl's generic one (Layer's or Model's), which
    knows nothing of a subclass's own arguments."""
    from cydl.models.model import Model
    method = type(obj).get_config
    return method is Layer.get_config or method is Model.get_config


def auto_config(obj):
    """The config of a custom layer or model from its recorded constructor
    arguments: {name, trainable, dtype} and every argument of `__init__`.

    Raises:
        NotImplementedError: an argument is not a plain value, or none was recorded;
            the message says what to add and why.
    """
    cls = type(obj).__name__
    record = obj.__dict__.get("_auto_config")
    fix = (f"Add a get_config() method to {cls} that returns its constructor arguments "
           f"as plain values (numbers, strings, bools, None, and lists or dicts of these), "
           f"and a from_config(cls, config) classmethod if they need rebuilding into "
           f"objects; or save only the weights with save_weights()")
    if record is None:
        raise NotImplementedError(
            f"{cls} has no get_config(), and its constructor arguments were not "
            f"recorded (they do not fit its __init__ signature). {fix}")
    config, bad = record
    if bad:
        raise NotImplementedError(
            f"{cls} has no get_config(), and its constructor arguments "
            f"{', '.join(repr(b) for b in bad)} are not plain values, so they cannot be "
            f"recorded automatically: a saved file holds no code and no Python objects "
            f"(loading calls {cls}(**config) with what the file holds). {fix}")
    out = _python(config)
    out.update(name=obj.name, trainable=obj.trainable, dtype=obj.dtype)
    params = inspect.signature(type(obj).__init__).parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        for key in ("name", "trainable", "dtype"):
            if key not in params:
                out.pop(key)
    return out
