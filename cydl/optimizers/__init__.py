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
    if isinstance(identifier, str):
        identifier = identifier if identifier in _ALIASES else identifier.lower()
    return lookup(identifier, _ALIASES, "optimizer", instantiate=True)


__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "Adamax", "Nadam", "RMSprop", "Adagrad",
           "schedules", "get"]
