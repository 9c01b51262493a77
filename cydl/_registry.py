"""Helpers shared by the API modules: name lookup for the Keras-style `get()`
functions, snake_case names, and positive-int arguments."""
import re

import numpy as np


def snake_case(name):
    """'MeanSquaredError' -> 'mean_squared_error' (Keras' default object names)."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


def positive_int(value, name, allow_none=False):
    """value as an int, or a ValueError naming it (None passes if allow_none)."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"Received an invalid value for `{name}`, expected a positive "
                         f"integer. Received: {name}={value!r}")
    return int(value)


def serialize(obj):
    """{"class_name": ..., "config": ...} for objects with get_config()."""
    return {"class_name": type(obj).__name__, "config": obj.get_config()}


def lookup(identifier, table, kind, instantiate):
    """Resolve a string, a {"class_name", "config"} dict, or a callable."""
    if isinstance(identifier, str):
        try:
            obj = table[identifier]
        except KeyError:
            known = ", ".join(sorted(k for k in table if k.islower()))
            raise ValueError(f"Unknown {kind}: {identifier!r}. Known: {known}") from None
        return obj() if instantiate and isinstance(obj, type) else obj
    if isinstance(identifier, dict):
        name = identifier.get("class_name")
        if name not in table or not isinstance(table[name], type):
            raise ValueError(f"Unknown {kind} class_name: {name!r}")
        cls = table[name]
        config = identifier.get("config", {}) or {}
        return cls.from_config(config) if hasattr(cls, "from_config") else cls(**config)
    if callable(identifier):
        return identifier
    raise TypeError(f"Could not interpret {kind} identifier: {identifier!r}")
