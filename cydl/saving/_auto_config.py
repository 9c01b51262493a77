"""A custom layer's or subclassed model's config from the constructor arguments that
cydl.layers.base.Layer.__new__ recorded (cydl/layers/_init_args.py), as Keras 3's
`_auto_config`.

A custom layer or subclassed model that defines no `get_config()` still saves: its
`__init__` arguments were recorded when it was made, and when they are plain
values (numbers, strings, bools, None, and lists, tuples and dicts of these) they
are its config, so loading calls `cls(**config)`. The book's
`WideAndDeepModel(30, activation="relu", name="my_cool_model")` saves this way.
Arguments that are objects cannot be written to a file that holds no code, and
saving says which ones and what to add.
"""
import inspect

from cydl.layers._init_args import _python
from cydl.layers.base import Layer


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
