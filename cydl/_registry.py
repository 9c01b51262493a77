"""Name lookup shared by the Keras-style `get()` functions."""


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
