"""Checks of the arguments of compile, fit, evaluate and predict.

They run before any data is converted or any step is taken, so a bad argument
costs nothing (no epoch trained, no workspace reserved) and leaves the model as it
was. Each returns the normalized values the loops use. The loops call each check
once, on their first line, so the engine can change without these moving.
"""
import collections.abc
import math

import numpy as np

from cydl import optimizers
from cydl._checks import integer, is_number
from cydl._registry import positive_int
from cydl.callbacks.base import Callback


def check_verbose(verbose, auto):
    """verbose as an int in {0, 1, 2}; "auto" becomes `auto`. bool is accepted
    (verbose=False is common and Keras takes it)."""
    if isinstance(verbose, str):
        if verbose == "auto":
            return auto
    elif isinstance(verbose, (bool, np.bool_)):
        return int(verbose)
    elif isinstance(verbose, (int, np.integer)) and 0 <= verbose <= 2:
        return int(verbose)
    raise ValueError(f"`verbose` must be 'auto', 0, 1 or 2. Received: verbose={verbose!r}")


def check_batch_size(batch_size, default):
    return positive_int(default if batch_size is None else batch_size, "batch_size")


def check_callbacks(callbacks):
    """callbacks as a list of Callback instances."""
    if callbacks is None:
        return []
    if isinstance(callbacks, Callback):
        raise TypeError(f"`callbacks` must be a list of Callback instances. Received a single "
                        f"{type(callbacks).__name__}: use callbacks=[...]")
    if not isinstance(callbacks, (list, tuple)):
        raise TypeError(f"`callbacks` must be a list of Callback instances. Received: "
                        f"callbacks={callbacks!r} of type {type(callbacks).__name__}")
    for i, cb in enumerate(callbacks):
        if isinstance(cb, type) and issubclass(cb, Callback):
            raise TypeError(f"`callbacks[{i}]` is the class {cb.__name__}, not an instance: "
                            f"use {cb.__name__}(...)")
        if not isinstance(cb, Callback):
            raise TypeError(f"`callbacks[{i}]` must be a Callback instance. Received: {cb!r} "
                            f"of type {type(cb).__name__}")
    return list(callbacks)


def check_class_weight(class_weight):
    if class_weight is None:
        return None
    if not isinstance(class_weight, collections.abc.Mapping):
        raise TypeError(f"`class_weight` must be a dict mapping class indices to weights. "
                        f"Received: class_weight={class_weight!r}")
    for k, w in class_weight.items():
        if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)) or k < 0:
            raise ValueError(f"`class_weight` keys must be class indices (ints >= 0). "
                             f"Received the key {k!r} in class_weight={class_weight!r}")
        if not is_number(w) or not 0 <= float(w) < math.inf:
            raise ValueError(f"`class_weight` must map each class to a finite number >= 0. "
                             f"Received class_weight[{k!r}]={w!r}")
    return class_weight


def check_model(model, what):
    """The model can run at all, and (for fit) its output can learn."""
    from cydl.layers.input_layer import InputLayer
    layers = [layer for layer in model.layers if not isinstance(layer, InputLayer)]
    if not layers:
        raise ValueError(f"Model {model.name!r} has no layers: add layers before calling "
                         f"{what}()")
    if what not in ("fit", "train_on_batch") or not model.built:
        return
    from cydl.models._batches import _final_activations, _output_shapes
    for act, shape in zip(_final_activations(model), _output_shapes(model)):
        if act == "softmax" and shape[-1] == 1:
            raise ValueError(
                f"Model {model.name!r} ends with a softmax over a single unit: its "
                f"output is always 1.0, so the loss cannot change and nothing is "
                f"learned. For two classes use Dense(1, activation='sigmoid') with "
                f"loss='binary_crossentropy', or Dense(n_classes, activation='softmax')")


def check_fit_args(model, batch_size, epochs, callbacks, validation_split, validation_data,
                   shuffle, class_weight, initial_epoch, steps_per_epoch, validation_batch_size,
                   validation_freq):
    """(batch_size, epochs, callbacks, validation_split, class_weight, initial_epoch,
    steps_per_epoch, validation_batch_size, validation_freq), checked and normalized.
    verbose is checked by check_verbose in Model.fit, before this runs."""
    check_model(model, "fit")
    batch_size = check_batch_size(batch_size, 32)
    epochs = positive_int(epochs, "epochs")
    initial_epoch = integer(initial_epoch, "initial_epoch", low=0)
    if not is_number(validation_split) or not 0 <= validation_split < 1:
        raise ValueError(f"`validation_split` must be a number in [0, 1). "
                         f"Received: validation_split={validation_split!r}")
    if not isinstance(shuffle, (bool, np.bool_)):
        raise TypeError(f"`shuffle` must be True or False. Received: shuffle={shuffle!r}")
    # Keras also takes a list of epochs; cydl validates every validation_freq epochs
    validation_freq = positive_int(validation_freq, "validation_freq")
    steps_per_epoch = positive_int(steps_per_epoch, "steps_per_epoch", allow_none=True)
    validation_batch_size = positive_int(validation_batch_size, "validation_batch_size",
                                         allow_none=True)
    if validation_data is not None and (not isinstance(validation_data, (tuple, list))
                                        or len(validation_data) not in (2, 3)):
        raise ValueError(f"`validation_data` must be a tuple (x_val, y_val) or (x_val, y_val, "
                         f"sample_weight_val). Received: {type(validation_data).__name__}"
                         + (f" of length {len(validation_data)}"
                            if isinstance(validation_data, (tuple, list)) else ""))
    return (batch_size, epochs, check_callbacks(callbacks), float(validation_split),
            check_class_weight(class_weight), initial_epoch, steps_per_epoch,
            validation_batch_size, validation_freq)


def check_evaluate_args(model, batch_size):
    """batch_size (default 256), after checking the model can run."""
    check_model(model, "evaluate")
    return check_batch_size(batch_size, 256)


def check_predict_args(model, batch_size):
    check_model(model, "predict")
    return check_batch_size(batch_size, 256)


def check_optimizer_arg(optimizer):
    """An Optimizer instance from a name, a config dict or an instance; the class
    itself, or anything else, is a TypeError naming it."""
    return optimizers.get(optimizer)


def check_compile_args(optimizer, run_eagerly, steps_per_execution):
    """The Optimizer instance compile() installs."""
    if not isinstance(run_eagerly, (bool, np.bool_)):
        raise TypeError(f"`run_eagerly` must be True or False. Received: "
                        f"run_eagerly={run_eagerly!r}")
    positive_int(steps_per_execution, "steps_per_execution")
    return check_optimizer_arg(optimizer)


def check_predict_call(batch_size, verbose):
    """Model.predict's verbose ("auto" is silent), after checking batch_size, which
    its fast path compares with len(x) before run_predict sees it."""
    if batch_size is not None:
        check_batch_size(batch_size, None)
    return check_verbose(verbose, auto=0)
