"""Optimizers with Keras' names and defaults, each one fused kernel call per step."""
from cydl._registry import lookup
from cydl.optimizers import schedules
from cydl.optimizers.adagrad import Adagrad
from cydl.optimizers.adam import Adam, AdamW
from cydl.optimizers.adamax import Adamax
from cydl.optimizers.base import Optimizer
from cydl.optimizers.nadam import Nadam
from cydl.optimizers.rmsprop import RMSprop
from cydl.optimizers.sgd import SGD

_ALIASES = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "adamax": Adamax, "nadam": Nadam,
            "rmsprop": RMSprop, "adagrad": Adagrad}
for _cls in (SGD, Adam, AdamW, Adamax, Nadam, RMSprop, Adagrad):
    _ALIASES[_cls.__name__] = _cls


def get(identifier):
    """An Optimizer from a name ("sgd", "Adam"), a config dict or an instance."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, type):
        # Keras raises here too; accepting the class would only fail at fit()
        raise TypeError(f"`optimizer` must be an Optimizer instance or a name. Received the "
                        f"class {identifier.__name__}: use optimizer={identifier.__name__}() "
                        f"or optimizer={identifier.__name__.lower()!r}")
    if isinstance(identifier, str):
        identifier = identifier if identifier in _ALIASES else identifier.lower()
    if not isinstance(identifier, (str, dict)):
        raise TypeError(f"Could not interpret optimizer identifier: {identifier!r} of type "
                        f"{type(identifier).__name__}. Use a name such as 'sgd' or an "
                        f"Optimizer instance")
    return lookup(identifier, _ALIASES, "optimizer", instantiate=True)


__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "Adamax", "Nadam", "RMSprop", "Adagrad",
           "schedules", "get"]
