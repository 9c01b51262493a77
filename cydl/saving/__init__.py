"""Saving and loading models in Keras 3's `.keras` format.

`model.save("my_model.keras")` writes what Keras 3 writes (a zip of
`metadata.json`, `config.json` and `model.weights.h5`), so `keras.models.load_model`
reads it; `cydl.models.load_model` reads the files Keras 3 writes, for the layers,
losses, metrics and optimizers both libraries have, and the files cydl wrote before
0.2. A reloaded cydl model trains on bit for bit: the optimizer's step count and
slots, the learning-rate schedule's position (the step count), Nadam's running
product and each Dropout and noise layer's seed and call count are saved.

Loading never unpickles, never runs code and never imports a name read from a
file: classes are cydl's own, or come from `custom_objects`, a
`custom_object_scope` or `register_keras_serializable`. Hostile or truncated files
are ValueErrors. A save writes a temporary file and renames it over the target, so
a crash during a save leaves the previous file whole.

Writing needs only NumPy (cydl writes HDF5 itself); reading an HDF5 file that
another program wrote needs h5py: `pip install 'cydl[h5]'`.

Example:
>>> model.save("my_model.keras")
>>> model = cydl.models.load_model("my_model.keras")
"""
from cydl.saving import _auto_config  # noqa: F401  (records custom constructors' arguments)
from cydl.saving._format import load_model, load_weights, save_model, save_weights
from cydl.saving._registration import (CustomObjectScope, custom_object_scope,
                                       get_custom_objects, get_registered_name,
                                       get_registered_object, register_keras_serializable)


def serialize_keras_object(obj):
    """obj as Keras serializes it: {"module", "class_name", "config",
    "registered_name"} for a layer, model or other object with a config."""
    from cydl.layers.base import Layer
    from cydl.saving import _layers, _objects
    if isinstance(obj, Layer):
        return _layers.serialize_layer(obj)
    return _objects.serialize(obj, "object")


def deserialize_keras_object(config, custom_objects=None):
    """The layer or model a Keras-serialized config describes."""
    from cydl.saving import _layers
    return _layers.deserialize_layer(config, custom_objects)


__all__ = ["save_model", "load_model", "save_weights", "load_weights",
           "register_keras_serializable", "get_custom_objects", "get_registered_name",
           "get_registered_object", "custom_object_scope", "CustomObjectScope",
           "serialize_keras_object", "deserialize_keras_object"]
