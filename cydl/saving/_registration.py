"""Registering custom classes and functions by name, as `keras.saving` does.

A saved file names its custom objects; loading finds them in `custom_objects`, in
an active `custom_object_scope`, or among the objects registered with
`register_keras_serializable` (under "package>name"). Nothing is ever imported by
a name read from a file.
"""
import threading

# "package>name" -> object, and the reverse: what Keras keeps in
# keras.saving.get_custom_objects()
_GLOBAL_CUSTOM_OBJECTS = {}
_GLOBAL_CUSTOM_NAMES = {}
_scopes = threading.local()


def register_keras_serializable(package="Custom", name=None):
    """Register a class or function under "package>name", so that a saved model
    that uses it loads without `custom_objects`.

    Args:
        package: the package part of the registered name (default "Custom").
        name: the name part (default: the object's `__name__`).

    Example:
    >>> @cydl.saving.register_keras_serializable(package="my_package")
    ... class WideAndDeepModel(cydl.Model):
    ...     ...
    >>> model = cydl.models.load_model("my_model.keras")     # no custom_objects
    """
    if not isinstance(package, str) or ">" in package:
        raise ValueError(f"`package` must be a string without '>'. Received: "
                         f"package={package!r}")

    def decorator(arg):
        class_name = name if name is not None else getattr(arg, "__name__", None)
        if not isinstance(class_name, str) or not class_name:
            raise ValueError(f"Cannot register {arg!r}: give it a `name`")
        registered = f"{package}>{class_name}"
        if isinstance(arg, type) and not hasattr(arg, "get_config"):
            raise ValueError(f"Cannot register {arg.__name__}: a class needs a "
                             f"get_config() method (every cydl layer, model, loss, "
                             f"metric and schedule has one)")
        if registered in _GLOBAL_CUSTOM_OBJECTS and \
                _GLOBAL_CUSTOM_OBJECTS[registered] is not arg:
            # re-running a module (a notebook cell) re-registers: the newest wins, as
            # in Keras
            _GLOBAL_CUSTOM_NAMES.pop(_GLOBAL_CUSTOM_OBJECTS[registered], None)
        _GLOBAL_CUSTOM_OBJECTS[registered] = arg
        _GLOBAL_CUSTOM_NAMES[arg] = registered
        return arg
    return decorator


def get_registered_name(obj):
    """The name `obj` was registered under, else its `__name__`."""
    try:
        found = _GLOBAL_CUSTOM_NAMES.get(obj)
    except TypeError:                      # unhashable
        found = None
    return found if found is not None else getattr(obj, "__name__", None)


def get_custom_objects():
    """The registry as a dict {"package>name": object} (edits change it, as in Keras)."""
    return _GLOBAL_CUSTOM_OBJECTS


def _scope_objects():
    merged = {}
    for scope in getattr(_scopes, "stack", ()):
        merged.update(scope)
    return merged


def get_registered_object(name, custom_objects=None, module_objects=None):
    """The object a saved name refers to: from `custom_objects`, an active
    `custom_object_scope`, the registry, or `module_objects`; None if unknown."""
    for table in (custom_objects or {}, _scope_objects(), _GLOBAL_CUSTOM_OBJECTS,
                  module_objects or {}):
        if isinstance(name, str) and name in table:
            return table[name]
    return None


class CustomObjectScope:
    """Within this `with` block, loading also finds these custom objects.

    Example:
    >>> with cydl.saving.custom_object_scope({"my_loss": my_loss}):
    ...     model = cydl.models.load_model("m.keras")
    """

    def __init__(self, *custom_objects):
        self.custom_objects = {}
        for objects in custom_objects:
            self.custom_objects.update(objects or {})

    def __enter__(self):
        if not hasattr(_scopes, "stack"):
            _scopes.stack = []
        _scopes.stack.append(self.custom_objects)
        return self

    def __exit__(self, *exc):
        _scopes.stack.pop()


custom_object_scope = CustomObjectScope


def all_custom_objects(custom_objects=None):
    """custom_objects merged over the scopes: what a load may use by plain name."""
    return {**_scope_objects(), **(custom_objects or {})}
