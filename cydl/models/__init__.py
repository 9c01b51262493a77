"""Models: Model (functional) and Sequential; loading and cloning."""
from cydl.models.model import Model
from cydl.models.sequential import Sequential
from cydl.saving import load_model


def clone_model(model, custom_objects=None):
    """A new model with the same structure and freshly initialized weights.

    Args:
        model: a Sequential or functional model (or a subclass with get_config()).
        custom_objects: {name: class} for custom layers in it.

    Example:
    >>> model_b = cydl.models.clone_model(model_a)
    >>> model_b.set_weights(model_a.get_weights())
    """
    from cydl.models import config as config_mod
    entry = {"class_name": "Functional" if type(model) is Model else type(model).__name__,
             "config": model.get_config()}
    clone = config_mod.deserialize_layer(entry, {type(model).__name__: type(model),
                                                 **(custom_objects or {})})
    if not clone.built and getattr(model, "built", False):
        clone.build(model.input_shape)
    return clone


__all__ = ["Model", "Sequential", "load_model", "clone_model"]
