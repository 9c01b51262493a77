"""The model a wrapper trains: made by the user's build function, or cloned (or, for
a warm start, copied) from the compiled model it was given."""
import copy
import inspect
from collections.abc import Mapping

from cydl.models import Model, clone_model


def as_kwargs(value, name):
    """A dict copy of `model_kwargs` / `fit_kwargs` (None: empty). A copy, so that
    neither fit's keyword arguments nor the build function can change the parameter."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TypeError(f"`{name}` must be a dict or None. Received: {name}={value!r} of "
                        f"type {type(value).__name__}")
    return dict(value)


def check_model(model, what):
    # Keras' _check_model: the same condition, type and message
    if not getattr(model, "compiled", False) or not model.loss or not model.optimizer:
        raise RuntimeError(f"Given model needs to be compiled, and have a loss and an "
                           f"optimizer. {what} is not compiled: call model.compile(loss=..., "
                           f"optimizer=...) before handing it over")


def clone_compiled(model):
    """Keras' clone_model of a compiled model: the same layers with freshly initialized
    weights, compiled with the same loss, metrics and a fresh copy of the optimizer."""
    clone = clone_model(model)
    cc = model._compile_config
    optimizer = copy.deepcopy(model.optimizer)
    # the copy keeps the settings (schedule included); its step count starts again, and
    # its slots are laid out anew for the clone's variables at the first step
    optimizer.iterations.assign(0)
    clone.compile(optimizer=optimizer, loss=copy.deepcopy(cc.loss_spec),
                  metrics=copy.deepcopy(cc.metrics_spec), loss_weights=cc.weights_spec,
                  weighted_metrics=copy.deepcopy(cc.weighted_spec),
                  run_eagerly=bool(getattr(model, "_force_general", False)))
    return clone


def _takes(fn, name):
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):     # no signature to read: pass everything, as Keras
        return True
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def build_model(est, X, y):
    """A new compiled model for a cold fit of `est` on (X, y), y as the wrapper encodes it."""
    model, kwargs = est.model, as_kwargs(est.model_kwargs, "model_kwargs")
    if isinstance(model, Model):
        if kwargs:
            raise ValueError(f"`model_kwargs` go to a build function, but `model` is a "
                             f"Model instance. Received: model_kwargs={est.model_kwargs!r}")
        check_model(model, f"The model {model.name!r}")
        # warm_start=True trains on from the given weights (a copy: parameters are not
        # changed by fit); otherwise the clone starts from fresh weights, as in Keras
        return copy.deepcopy(model) if est.warm_start else clone_compiled(model)
    if not callable(model):
        raise TypeError(f"`model` must be a compiled cydl Model or a callable that returns "
                        f"one. Received: model={model!r} of type {type(model).__name__}")
    for name, value in (("X", X), ("y", y)):
        if name in kwargs:
            raise ValueError(f"`model_kwargs` must not hold {name!r}: the wrapper passes the "
                             f"training data to the build function itself")
        # Keras always passes X= and y=; a function that takes neither is called without
        if _takes(model, name):
            kwargs[name] = value
    built = model(**kwargs)
    what = f"The model returned by {getattr(model, '__name__', repr(model))}"
    if not isinstance(built, Model):
        raise TypeError(f"The build function must return a compiled cydl Model. "
                        f"{getattr(model, '__name__', repr(model))} returned {built!r} of "
                        f"type {type(built).__name__}")
    check_model(built, what)
    return built
