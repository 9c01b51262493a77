"""Constructor arguments recorded at construction, as Keras 3's `_auto_config`.

Layer.__new__ records, for classes defined outside cydl, the arguments of the
`__init__` call, so that a custom layer or subclassed model without a
`get_config()` still saves when they are plain values (cydl/saving/_auto_config.py
turns the record into a config, or into an error that says what to add).
"""
import copy
import inspect

import numpy as np


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
