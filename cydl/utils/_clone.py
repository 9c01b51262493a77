"""Private copies of a model for the diagnostics, and the state they must not leave
behind: the diagnostics train, perturb and probe, and the user's model must come
out of them as it went in.

A copy is `copy.deepcopy`, which every cydl model supports (custom layers,
subclassed and eager models included, with no `custom_objects` needed, unlike a
copy through `get_config`): it owns its weights, its optimizer state and its noise
layers' counters.
"""
import copy

import numpy as np

from cydl import _config


def walk_layers(layer):
    """`layer` and every layer inside it (nested models, tracked sublayers), each once."""
    seen, out, stack = set(), [], [layer]
    while stack:
        item = stack.pop(0)
        if id(item) in seen:
            continue
        seen.add(id(item))
        out.append(item)
        stack += list(item._sublayers())
        stack += [l for l in getattr(item, "_input_layers", None) or () if l is not None]
    return out


def noise_layers(model):
    """The layers that draw training-mode randomness from a call counter (Dropout,
    AlphaDropout, GaussianNoise, GaussianDropout, and custom ones built the same
    way): a settable `steps` property."""
    return [l for l in walk_layers(model)
            if isinstance(getattr(type(l), "steps", None), property)
            and type(l).steps.fset is not None]


class Snapshot:
    """Every value a training step or a training-mode call changes in place, to put
    back: all weights (moving statistics included) and the noise counters."""

    def __init__(self, model, trainable=True):
        self.model = model
        weights = model.weights if trainable else model.non_trainable_weights
        self.weights = [(v, np.array(v.value, copy=True)) for v in weights]
        self.noise = [(l, l.steps) for l in noise_layers(model)]

    def restore(self, weights=True):
        if weights:
            for v, value in self.weights:
                v.value[...] = value      # in place: compiled runners hold these buffers
        for layer, steps in self.noise:
            layer.steps = steps


def float64_copy(model):
    """A deep copy of `model` whose layers and weights are float64 (the fused plan and
    the graph runner both run in float64; the copy's runners are its own)."""
    clone = copy.deepcopy(model)
    for layer in walk_layers(clone):
        layer._dtype = "float64"
        for v in layer._variables:
            v._value = np.array(v.value, np.float64, order="F" if v.ndim == 2 else "C")
    # weights not owned by a layer's _variables (rare) are cast through the model
    for v in clone.weights:
        if v.dtype != np.float64:
            v._value = np.array(v.value, np.float64, order="F" if v.ndim == 2 else "C")
    clone._store = None
    clone._invalidate()
    return clone


class KeepGlobalRNG:
    """A context in which cydl's global generator may be used (fit shuffles with it)
    and comes back to the state it had: a diagnostic leaves the user's next
    `fit` as it would have been."""

    def __enter__(self):
        self.rng = _config.rng()
        self.state = self.rng.bit_generator.state
        return self

    def __exit__(self, *exc):
        self.rng.bit_generator.state = self.state
        return False


def as_model(model, owner):
    from cydl.models.model import Model
    if not isinstance(model, Model):
        raise TypeError(f"{owner} expects a cydl model. Received {type(model).__name__}")
    return model


def check_compiled(model, owner):
    if not getattr(model, "compiled", False) or model._compile_config is None:
        raise ValueError(f"{owner} needs the model's loss: call model.compile(loss=...) "
                         f"first")
